"""framewire.Client and streamed FRAMES replies (PROTOCOL.md 3) against an in-process fake
server: who asks for a stream, frames placed by position, the per-message timeout, retries
that ignore an earlier attempt's stream, errors and gaps in a stream."""

from __future__ import annotations

import time

import pytest

import framewire
from framewire.proto.RequestKind import RequestKind
from fw_helpers import build_reply

W, H = 4, 2
FRAME_BYTES = W * H * 3


def message(req, position, count, *, more, fill=None, indices=None):
    """Frames ``position .. position+count-1`` of the request as one message; every pixel of a
    frame is ``fill`` (default: its index)."""
    if indices is None:
        wanted = [int(i) for i in req.FramesAsNumpy()]
        indices = wanted[position:position + count]
    specs, payload = [], bytearray()
    for k, index in enumerate(indices):
        specs.append(dict(index=index, width=W, height=H, format="rgb24",
                          planes=[(0, k * FRAME_BYTES, W * 3, W * 3, H)]))
        payload += bytes([(index if fill is None else fill) % 256]) * FRAME_BYTES
    return [build_reply(req.Id(), frames=specs, more=more, position=position), bytes(payload)]


def whole(req, fill=None):
    n = req.FramesLength() or req.TimesLength()
    indices = None if req.FramesLength() else list(range(n))
    return message(req, 0, n, more=False, fill=fill, indices=indices)


def in_pieces(req, sizes, gap=0.0, fill=None, first=0.0):
    """The request's frames in messages of ``sizes`` frames, ``gap`` seconds apart."""
    out, position, due = [], 0, first
    for k, size in enumerate(sizes):
        out.append((due, message(req, position, size, more=k < len(sizes) - 1, fill=fill)))
        position += size
        due += gap
    return ("messages", out)


def pixels(frames):
    return [int(f.array[0, 0, 0]) for f in frames]


def test_only_a_dealer_batch_asks_for_a_stream(fake):
    s = fake(lambda req, n: whole(req))
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        c.get_frames("m.mov", [1, 2])
        c.get_frame("m.mov", 1)
        c.get_frames("m.mov", [3])
        c.get_frames_at("m.mov", [0.0, 0.5])
    with framewire.Client(s.endpoint, timeout=2, retries=0, socket_type="req") as c:
        c.get_frames("m.mov", [1, 2])
        c.get_frames_at("m.mov", [0.0, 0.5])
    assert [r.Stream() for r in s.requests] == [True, False, False, True, False, False]
    assert all(r.Kind() == RequestKind.FRAMES for r in s.requests)


def test_streamed_reply_in_several_messages(fake):
    wanted = [9, 2, 2, 30, 5, 0, 7]
    s = fake(lambda req, n: in_pieces(req, [2, 1, 3, 1], gap=0.02))
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        frames = c.get_frames("m.mov", wanted)
    assert [f.index for f in frames] == wanted
    assert pixels(frames) == wanted
    assert len({id(f.parts) for f in frames}) == 4  # each frame holds its own message's parts
    assert len(s.requests) == 1


def test_streamed_reply_by_time(fake):
    def handler(req, n):
        return ("messages", [(0, message(req, 0, 1, more=True, indices=[3])),
                             (0, message(req, 1, 2, more=False, indices=[3, 8]))])
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        frames = c.get_frames_at("m.mov", [0.1, 0.12, 0.4])
    assert [f.index for f in frames] == [3, 3, 8]


def test_timeout_restarts_with_every_message(fake):
    # Eight messages 0.3 s apart take 2.2 s in all, more than twice the 1 s timeout: a stream
    # that keeps arriving must not be cut off, nor sent again. (Wide margins: the test
    # machines stall for up to half a second under load.)
    s = fake(lambda req, n: in_pieces(req, [1] * 8, gap=0.3, first=0.1))
    with framewire.Client(s.endpoint, timeout=1.0, retries=0) as c:
        t0 = time.monotonic()
        frames = c.get_frames("m.mov", list(range(8)))
        elapsed = time.monotonic() - t0
    assert [f.index for f in frames] == list(range(8))
    assert elapsed > 2.1
    assert len(s.requests) == 1
    assert all(f.timings.round_trip == pytest.approx(elapsed, abs=0.05) for f in frames)


def test_a_stalled_stream_is_sent_again_and_its_late_messages_ignored(fake):
    def handler(req, n):
        if n == 1:  # one message, then a stall longer than the timeout, then the rest
            return in_pieces(req, [1, 3], gap=1.8, fill=1)
        if n == 2:
            # The retry (sent at about 1.2 s) is answered in two messages (at 1.3 and
            # 2.2 s) around the late rest of the first attempt (at 1.8 s).
            return in_pieces(req, [2, 2], gap=0.9, first=0.1, fill=2)
        return whole(req, fill=2)
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=1.2, retries=1) as c:
        frames = c.get_frames("m.mov", [0, 1, 2, 3])
        assert pixels(frames) == [2, 2, 2, 2]
        assert [f.index for f in frames] == [0, 1, 2, 3]
        time.sleep(0.2)
        # The client is still in step: the next call gets its own reply.
        assert pixels(c.get_frames("m.mov", [5, 6])) == [2, 2]
    assert len(s.requests) == 3
    assert s.requests[0].Id() != s.requests[1].Id()


def test_a_stream_that_stops_times_out(fake):
    s = fake(lambda req, n: ("messages", [(0, message(req, 0, 1, more=True))]))
    with framewire.Client(s.endpoint, timeout=0.25, retries=1) as c:
        with pytest.raises(framewire.Timeout):
            c.get_frames("m.mov", [0, 1, 2])
    assert len(s.requests) == 2


def test_an_error_in_the_middle_of_a_stream_ends_the_call(fake):
    def handler(req, n):
        if req.FramesLength() == 1:
            return whole(req)
        return ("messages", [(0, message(req, 0, 2, more=True)),
                             (0.05, [build_reply(req.Id(), status=7, message="damaged at 40")])])
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=2) as c:
        with pytest.raises(framewire.DecodeError) as e:
            c.get_frames("m.mov", [0, 1, 40, 41])
        assert e.value.message == "damaged at 40"
        assert c.get_frame("m.mov", 3).index == 3
    assert len(s.requests) == 2  # an error is an answer, not a reason to retry


def test_a_stream_with_a_gap_is_a_protocol_error(fake):
    def handler(req, n):
        if req.FramesLength() == 1:
            return whole(req)
        return ("messages", [(0, message(req, 0, 1, more=True)),
                             (0, message(req, 2, 1, more=False))])
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        with pytest.raises(framewire.ProtocolError) as e:
            c.get_frames("m.mov", [4, 5, 6])
        assert "position(s) 1 " in str(e.value)
        assert c.get_frame("m.mov", 3).index == 3


def test_a_restarted_stream_overwrites_earlier_positions(fake):
    def handler(req, n):
        first = message(req, 0, 2, more=True, fill=1)
        again = message(req, 0, 3, more=False, fill=2)
        return ("messages", [(0, first), (0.02, again)])
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        assert pixels(c.get_frames("m.mov", [7, 8, 9])) == [2, 2, 2]
