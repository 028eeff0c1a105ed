"""Unit tests of the client's protocol code, without sockets: requests it builds and replies
it parses (built here with the generated FlatBuffers builder code)."""

from __future__ import annotations

import fractions
import pickle

import numpy as np
import pytest

import framewire
from framewire import protocol
from framewire.proto.Request import Request
from fw_helpers import build_reply


def parse(header: bytes, payload=(), requested=None):
    reply = protocol.parse_reply_header(header)
    protocol.check_status(reply)
    return protocol.frames_from_reply(reply, list(payload), requested=requested)


# ---- requests ----------------------------------------------------------------------------

def test_request_round_trip():
    body = protocol.build_request(42, protocol.RequestKind.FRAMES, "a/b/c.mov", frames=[5, 1, 9, 1],
                                  format="gray16", encoding="jpeg", quality=80,
                                  crop=(2, 4, 100, 50), width=64, height=32, timeout_ms=2500)
    r = Request.GetRootAs(body, 0)
    assert r.Id() == 42
    assert r.Kind() == protocol.RequestKind.FRAMES
    assert r.Movie() == b"a/b/c.mov"
    assert list(r.FramesAsNumpy()) == [5, 1, 9, 1]
    assert r.Format() == b"gray16" and r.Encoding() == b"jpeg" and r.Quality() == 80
    c = r.Crop()
    assert (c.X(), c.Y(), c.Width(), c.Height()) == (2, 4, 100, 50)
    assert (r.Width(), r.Height(), r.TimeoutMs()) == (64, 32, 2500)


def test_request_defaults_are_left_to_the_server():
    r = Request.GetRootAs(protocol.build_request(1, protocol.RequestKind.INFO, "m.mov"), 0)
    assert r.Kind() == protocol.RequestKind.INFO
    assert r.Format() is None and r.Encoding() is None and r.Crop() is None
    assert r.FramesIsNone() and r.Quality() == 0 and r.TimeoutMs() == 0


def test_request_numpy_indices_and_negative_indices():
    body = protocol.build_request(1, protocol.RequestKind.FRAMES, "m", frames=np.array([3, -1], np.int32))
    assert list(Request.GetRootAs(body, 0).FramesAsNumpy()) == [3, -1]
    with pytest.raises(TypeError):
        protocol.build_request(1, protocol.RequestKind.FRAMES, "m", frames=[1.5])
    with pytest.raises(ValueError):
        protocol.build_request(1, protocol.RequestKind.FRAMES, "m", frames=[1], crop=(1, 2, 3))


# ---- replies: packed formats -------------------------------------------------------------

def test_rgb24_with_row_padding_is_a_strided_view():
    h, w, stride, off = 4, 5, 32, 7
    buf = bytearray(off + stride * h)
    ref = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    for r in range(h):
        buf[off + r * stride: off + r * stride + w * 3] = ref[r].tobytes()
    header = build_reply(3, frames=[dict(index=7, pts=700, time=0.29, keyframe=True, width=w,
                                         height=h, format="rgb24", planes=[(0, off, stride, w * 3, h)],
                                         size=len(buf), timings=(1, 2, 3, 4, 5, 6))])
    [f] = parse(header, [buf], requested=[7])
    assert (f.index, f.pts, f.keyframe, f.width, f.height) == (7, 700, True, w, h)
    assert f.time == pytest.approx(0.29)
    a = f.array
    assert a.shape == (h, w, 3) and a.dtype == np.uint8
    assert a.strides == (stride, 3, 1)
    np.testing.assert_array_equal(a, ref)
    assert f.tobytes() == ref.tobytes()
    assert np.shares_memory(a, np.frombuffer(buf, np.uint8))
    assert f.timings.queue == pytest.approx(1e-6) and f.timings.total == pytest.approx(6e-6)
    assert f.timings["decode"] == pytest.approx(3e-6) and dict(f.timings)["convert"] == f.timings.convert
    assert "encode" in f.timings and f.timings.get("nope", 0) == 0
    with pytest.raises(KeyError):
        f.timings["nope"]
    assert f.worker == "fake-worker" and f.encoding == "raw"
    np.testing.assert_array_equal(np.asarray(f), ref)
    with pytest.raises(ValueError):
        f.data  # padded rows are not one range


def test_gray16_is_little_endian_uint16():
    h, w = 3, 4
    ref = (np.arange(h * w, dtype=np.uint16) * 1000).reshape(h, w)
    buf = b"\0" + ref.astype("<u2").tobytes()  # odd offset: an unaligned view still works
    header = build_reply(1, frames=[dict(width=w, height=h, format="gray16", pixel_format="gray16le",
                                         sample_bytes=2, planes=[(0, 1, w * 2, w * 2, h)])])
    [f] = parse(header, [buf])
    assert f.array.shape == (h, w) and f.array.dtype == np.dtype("<u2")
    np.testing.assert_array_equal(f.array, ref)
    assert bytes(f.data) == ref.astype("<u2").tobytes()


@pytest.mark.parametrize("fmt,comps", [("gray8", 1), ("rgba", 4), ("bgr24", 3)])
def test_packed_shapes(fmt, comps):
    h, w = 2, 3
    buf = bytes(range(h * w * comps))
    header = build_reply(1, frames=[dict(width=w, height=h, format=fmt,
                                         planes=[(0, 0, w * comps, w * comps, h)])])
    [f] = parse(header, [buf])
    assert f.array.shape == ((h, w) if comps == 1 else (h, w, comps))
    assert f.tobytes() == buf and bytes(f.data) == buf


# ---- replies: planar, shared parts, encoded ----------------------------------------------

def test_planar_yuv420p_planes_in_separate_padded_parts():
    w, h = 6, 4
    y = np.arange(w * h, dtype=np.uint8).reshape(h, w)
    u = np.full((h // 2, w // 2), 100, np.uint8)
    v = np.full((h // 2, w // 2), 200, np.uint8)
    parts = []
    for plane, stride in ((y, 16), (u, 8), (v, 8)):
        buf = bytearray(stride * plane.shape[0])
        for r in range(plane.shape[0]):
            buf[r * stride: r * stride + plane.shape[1]] = plane[r].tobytes()
        parts.append(bytes(buf))
    header = build_reply(1, frames=[dict(width=w, height=h, format="native", pixel_format="yuv420p",
                                         planes=[(0, 0, 16, w, h), (1, 0, 8, w // 2, h // 2),
                                                 (2, 0, 8, w // 2, h // 2)])])
    [f] = parse(header, parts)
    assert [p.shape for p in f.planes] == [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
    for got, want in zip(f.planes, (y, u, v)):
        np.testing.assert_array_equal(got, want)
    assert f.tobytes() == y.tobytes() + u.tobytes() + v.tobytes()
    assert f.nbytes == len(f.tobytes())
    with pytest.raises(ValueError):
        f.array  # planar: no single array


def test_planar_10bit_and_frames_sharing_one_part():
    w, h = 4, 2
    # Two frames of yuv422p10le back to back in one part, each plane unpadded.
    frames, blob, specs = [], b"", []
    for k in range(2):
        planes = [np.arange(w * h, dtype="<u2").reshape(h, w) + 1000 * k,
                  np.full((h, w // 2), 512 + k, "<u2"), np.full((h, w // 2), 64 + k, "<u2")]
        layout = []
        for p in planes:
            layout.append((0, len(blob), p.shape[1] * 2, p.shape[1] * 2, h))
            blob += p.tobytes()
        frames.append(planes)
        specs.append(dict(index=10 + k, width=w, height=h, format="native",
                          pixel_format="yuv422p10le", sample_bytes=2, planes=layout))
    got = parse(build_reply(1, frames=specs), [blob], requested=[10, 11])
    for f, planes in zip(got, frames):
        assert [p.dtype for p in f.planes] == [np.dtype("<u2")] * 3
        for a, b in zip(f.planes, planes):
            np.testing.assert_array_equal(a, b)
        assert f.tobytes() == b"".join(p.tobytes() for p in planes)
        assert bytes(f.data) == f.tobytes()  # planes back to back: one range
    assert got[0].parts is got[1].parts


def test_encoded_frame_exposes_the_file_bytes():
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 50
    buf = b"junk" + png
    header = build_reply(1, frames=[dict(width=320, height=240, format="rgb24", encoding="png",
                                         planes=[(0, 4, len(png), len(png), 1)], size=len(png))])
    [f] = parse(header, [buf])
    assert f.is_encoded and f.encoding == "png"
    assert bytes(f.data) == png and f.tobytes() == png
    assert f.array.shape == (len(png),) and f.array.dtype == np.uint8


# ---- replies: info, list, errors, malformed ----------------------------------------------

def test_info_and_list_replies():
    info = dict(movie="a.mov", num_frames=48, width=320, height=240, fps=24.0, duration=2.0,
                codec="prores", pixel_format="yuv422p10le", bit_depth=10, file_size=12345,
                keyframes=48, time_base_num=1, time_base_den=24, start_time=0.0)
    reply = protocol.parse_reply_header(build_reply(1, info=info))
    mi = protocol.movie_info_from_reply(reply)
    assert (mi.num_frames, mi.width, mi.height, mi.codec, mi.pixel_format, mi.bit_depth) == \
        (48, 320, 240, "prores", "yuv422p10le", 10)
    assert mi.time_base == fractions.Fraction(1, 24) and mi.file_size == 12345
    reply = protocol.parse_reply_header(build_reply(1, entries=[("a/", 0), ("b.mov", 99)]))
    entries = protocol.entries_from_reply(reply)
    assert [e.name for e in entries] == ["a/", "b.mov"]
    assert entries[0].is_dir and not entries[1].is_dir and entries[1].size == 99


@pytest.mark.parametrize("code,cls,builtin", [
    (1, framewire.NotFound, FileNotFoundError), (2, framewire.OutOfRange, IndexError),
    (3, framewire.InvalidArgument, ValueError), (4, framewire.Forbidden, PermissionError),
    (5, framewire.Busy, None), (6, framewire.Timeout, TimeoutError),
    (7, framewire.DecodeError, None), (8, framewire.Unavailable, None),
    (9, framewire.Internal, None)])
def test_status_codes_raise_named_errors(code, cls, builtin):
    reply = protocol.parse_reply_header(build_reply(9, status=code, message="it went wrong",
                                                    worker="w1"))
    with pytest.raises(cls) as info:
        protocol.check_status(reply)
    e = info.value
    assert isinstance(e, framewire.Error)
    if builtin:
        assert isinstance(e, builtin)
    assert e.message == "it went wrong" and e.code == code and e.worker == "w1"
    assert e.status == framewire.errors.STATUS_NAMES[code] and e.request_id == 9
    assert "it went wrong" in str(e)
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is cls and copy.message == e.message and copy.status == e.status


def test_unknown_status_is_a_plain_error():
    reply = protocol.parse_reply_header(build_reply(1, status=77, message="new"))
    with pytest.raises(framewire.Error) as info:
        protocol.check_status(reply)
    assert info.value.code == 77


@pytest.mark.parametrize("planes,parts,what", [
    ([(1, 0, 12, 12, 2)], [b"\0" * 24], "missing"),
    ([(0, 8, 12, 12, 2)], [b"\0" * 24], "outside"),
    ([(0, 0, 6, 12, 2)], [b"\0" * 24], "stride"),
    ([], [b"\0" * 24], "no plane"),
])
def test_bad_plane_layouts_are_protocol_errors(planes, parts, what):
    header = build_reply(1, frames=[dict(width=4, height=2, format="rgb24", planes=planes)])
    with pytest.raises(framewire.ProtocolError, match=what):
        parse(header, parts)


def test_wrong_frame_or_count_is_a_protocol_error():
    header = build_reply(1, frames=[dict(index=3, width=1, height=1, planes=[(0, 0, 3, 3, 1)])])
    with pytest.raises(framewire.ProtocolError):
        parse(header, [b"abc"], requested=[4])
    with pytest.raises(framewire.ProtocolError):
        parse(header, [b"abc"], requested=[3, 3])


def test_garbage_headers_are_protocol_errors():
    for junk in (b"", b"abc", b"\xff" * 64, b"\x04\0\0\0" + b"\xff" * 8):
        with pytest.raises(framewire.ProtocolError):
            reply = protocol.parse_reply_header(junk)
            protocol.check_status(reply)
            protocol.frames_from_reply(reply, [])


def test_split_reply_framing():
    hdr = build_reply(1)
    assert protocol.split_reply([b"", b"FWC01", hdr, b"p"], True) == (hdr, [b"p"])
    assert protocol.split_reply([b"FWC01", hdr], False) == (hdr, [])
    for bad, delim in (([b"FWC01", hdr], True), ([b"", b"FWC02", hdr], True), ([b"FWC01"], False)):
        with pytest.raises(framewire.ProtocolError):
            protocol.split_reply(bad, delim)
