"""Frames in shared memory (PROTOCOL.md 3): the client's segment (framewire.shared_memory)
on its own; the client's side of the protocol against an in-process fake server that writes
into the offered segment as a worker on this host would; and REAL servers (``framewire
serve`` and framewire-broker + 2 framewire-worker on loopback), whose frames must be the
same with shared memory on or off and equal to ffmpeg's."""

from __future__ import annotations

import fcntl
import gc
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import framewire
from framewire import shared_memory as shm
from framewire.client import _is_local
from framewire.proto.RequestKind import RequestKind
import fw_helpers
from conftest import BUILD_DIR, have_binaries
from fw_helpers import build_reply, md5, psnr

pytestmark = pytest.mark.skipif(not shm.available(), reason="needs os.memfd_create (Linux)")

MiB = 1 << 20


def lease_of(array):
    """The shared memory lease at the end of ``array``'s base chain, or None."""
    while array is not None and not isinstance(array, shm._Lease):
        array = getattr(array, "base", None)
    return array


def address(array) -> int:
    return array.__array_interface__["data"][0]


# ---- the arena on its own ----------------------------------------------------------------

def test_segment_header_seals_and_size():
    a = shm.SharedArena(3 * MiB + 1)
    assert a.size == 3 * MiB + 4096  # whole pages
    assert os.fstat(a.fd).st_size == a.size
    assert os.readlink(a.path).startswith(f"/memfd:framewire-{a.token}")
    assert len(a.token) == 32 and int(a.token, 16) >= 0
    header = os.pread(a.fd, shm.HEADER_SIZE, 0)
    assert header == shm.MAGIC + a.token.encode() + bytes(shm.HEADER_SIZE - 48)
    seals = fcntl.fcntl(a.fd, fcntl.F_GET_SEALS)
    want = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
    assert seals & want == want
    with pytest.raises(PermissionError):
        os.ftruncate(a.fd, 4096)
    assert a.offer() == [(4096, a.size - 4096)]
    with pytest.raises(ValueError):
        shm.SharedArena(4096)  # no room after the header


def test_another_process_opens_the_segment_by_its_path():
    a = shm.SharedArena(MiB)
    code = ("import sys; f = open(sys.argv[1], 'r+b'); print(f.read(48).decode('latin-1')); "
            "f.seek(8192); f.write(b'from the other side')")
    out = subprocess.run([sys.executable, "-c", code, a.path], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == (shm.MAGIC + a.token.encode()).decode("latin-1")
    seen = a.claim(8192, 19, a.offer())
    assert bytes(seen) == b"from the other side"


def test_offer_claim_release():
    a = shm.SharedArena(4 * MiB)
    offered = a.offer()
    first = a.claim(4096, 100_000, offered)
    second = a.claim(4096 + 200_000, 100_000, offered)
    assert first.dtype == np.uint8 and first.shape == (100_000,)
    assert address(first) == a.address + 4096 and a.contains(address(second))
    assert lease_of(first).arena is a
    assert a.in_use == 200_000
    # Lowest first; the 100 kB hole between the claims is offered (nothing under 64 KiB is).
    assert a.offer() == [(104_096, 100_000), (304_096, a.size - 304_096)]
    assert a.offer(max_extents=1) == [(104_096, 100_000)]
    assert a.offer(min_length=200_000) == [(304_096, a.size - 304_096)]
    first[:] = 7
    view = first[10:20]  # a view keeps the bytes claimed
    del first
    gc.collect()
    assert a.in_use == 200_000
    assert (view == 7).all()
    del view
    assert a.in_use == 100_000
    del second
    assert a.offer() == [(4096, a.size - 4096)] and a.in_use == 0


def test_overlapping_claims_of_one_request():
    # A restarted stream places the same frame at the same offset again; the range stays
    # taken until both copies are gone.
    a = shm.SharedArena(MiB)
    offered = a.offer()
    one = a.claim(8192, 70_000, offered)
    again = a.claim(8192, 70_000, offered)
    inner = a.claim(10_000, 1000, offered)
    assert a.in_use == 70_000
    del one, inner
    assert a.in_use == 70_000
    assert a.offer()[0] == (78_192, a.size - 78_192)
    del again
    assert a.offer() == [(4096, a.size - 4096)]


def test_a_claim_outside_the_offered_extents_is_a_protocol_error():
    a = shm.SharedArena(MiB)
    offered = [(4096, 100_000), (200_000, 100_000)]
    for offset, size in [(0, 100), (4000, 200), (100_000, 10_000), (104_000, 200_000),
                         (a.size - 10, 100), (8192, 0)]:
        with pytest.raises(framewire.ProtocolError):
            a.claim(offset, size, offered)
    with pytest.raises(framewire.ProtocolError):
        a.claim(8192, 10, [])  # nothing offered
    assert a.in_use == 0
    a.claim(200_000, 100_000, offered)


def test_leases_released_on_another_thread():
    a = shm.SharedArena(8 * MiB)
    held = [a.claim(4096 + k * 100_000, 100_000, a.offer()) for k in range(20)]
    assert a.in_use == 2_000_000
    t = threading.Thread(target=held.clear)
    t.start()
    t.join()
    assert a.in_use == 0 and a.offer() == [(4096, a.size - 4096)]


def test_the_segment_lives_while_its_frames_do():
    a = shm.SharedArena(MiB)
    frame = a.claim(4096, 65536, a.offer())
    frame[:] = 42
    closed = a._close_fd
    del a
    gc.collect()
    assert closed.alive  # the lease holds the arena, the arena the mapping and the fd
    assert (frame == 42).all()
    del frame
    gc.collect()
    assert not closed.alive


# ---- the client against a fake server ----------------------------------------------------

W, H = 64, 128
FRAME_BYTES = W * H * 3  # 24 KiB


def reply_with(request_id, indices, placed, *, position=0, more=False, worker="fake-worker"):
    """A reply header for rgb24 frames ``indices``, frame k in payload part k, with
    ``placed`` as Reply.shared_parts (None: no shared parts)."""
    frames = [{"index": index, "width": W, "height": H, "format": "rgb24", "size": FRAME_BYTES,
               "planes": [(k, 0, W * 3, W * 3, H)]} for k, index in enumerate(indices)]
    return build_reply(request_id, frames=frames, worker=worker, more=more, position=position,
                       shared_parts=placed)


def offer_of(req):
    """(path, token, size, [(offset, length)]) of a request's offer, or None."""
    sm = req.SharedMemory()
    if sm is None:
        return None
    return (sm.Path().decode(), sm.Token().decode(), sm.Size(),
            [(sm.Free(i).Offset(), sm.Free(i).Length()) for i in range(sm.FreeLength())])


def placing(req, *, position=0, count=None, more=False, share=lambda k: True, shift=0):
    """A message as a worker on this host makes it: frames ``position..`` of the request,
    each filled with its index. Request position k goes first fit into the offered extents
    (at 64-byte aligned offsets) when ``share(k)`` says so, in the message otherwise; the
    placement depends only on the request, so every message of it (and a restart) agrees.
    ``shift`` is added to the offsets the reply states (a lying worker)."""
    everything = [int(i) for i in req.FramesAsNumpy()]
    count = len(everything) - position if count is None else count
    path, token, size, extents = offer_of(req)
    cursor = {off: off for off, _ in extents}  # next free byte per extent
    spots = []
    for k in range(len(everything)):
        spot = None
        if share(k):
            for off, length in extents:
                at = -(-cursor[off] // 64) * 64
                if at + FRAME_BYTES <= off + length:
                    spot, cursor[off] = at, at + FRAME_BYTES
                    break
        spots.append(spot)
    fd = os.open(path, os.O_RDWR)
    try:
        assert os.pread(fd, 48, 0) == shm.MAGIC + token.encode()
        assert os.fstat(fd).st_size == size
        placed, parts = [], []
        for k in range(position, position + count):
            pixels = bytes([everything[k] % 256]) * FRAME_BYTES
            if spots[k] is None:
                placed.append((0, 0))
                parts.append(pixels)
            else:
                os.pwrite(fd, pixels, spots[k])
                placed.append((spots[k] + shift, FRAME_BYTES))
                parts.append(b"")
    finally:
        os.close(fd)
    indices = everything[position:position + count]
    return [reply_with(req.Id(), indices, placed, position=position, more=more)] + parts


def fill(frame) -> int:
    values = np.unique(frame.array)
    assert len(values) == 1, values
    return int(values[0])


def test_frames_written_into_the_segment_are_views_on_it(fake, socket_type):
    s = fake(lambda req, n: placing(req))
    with framewire.Client(s.endpoint, timeout=2, retries=0, socket_type=socket_type) as c:
        assert c.shared_memory == framewire.client.DEFAULT_SHARED_MEMORY  # loopback: on
        frames = c.get_frames("m.mov", [3, 1, 2])
        single = c.get_frame("m.mov", 9)
        arena = c._arena
    assert [fill(f) for f in frames + [single]] == [3, 1, 2, 9]
    for f in frames + [single]:
        assert isinstance(f.parts[0], np.ndarray)
        assert lease_of(f.array).arena is arena
        assert arena.contains(address(f.array))
    path, token, size, extents = offer_of(s.requests[0])
    assert (path, token, size) == (arena.path, arena.token, arena.size)
    assert path == f"/proc/{os.getpid()}/fd/{arena.fd}"
    assert extents == [(4096, size - 4096)]
    # The second request is offered only what the first one's frames do not hold.
    assert offer_of(s.requests[1])[3][0][0] >= 4096 + 3 * FRAME_BYTES


def test_frames_hold_their_bytes_and_give_them_back_when_dropped(fake):
    s = fake(lambda req, n: placing(req))
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        kept = c.get_frames("m.mov", [5, 6])
        gone = c.get_frames("m.mov", [7, 8])
        assert offer_of(s.requests[1])[3][0][0] >= 4096 + 2 * FRAME_BYTES
        del gone
        again = c.get_frames("m.mov", [9, 10])  # where [7, 8] were
        assert offer_of(s.requests[2])[3] == offer_of(s.requests[1])[3]
        assert [fill(f) for f in kept + again] == [5, 6, 9, 10]
        arena = c._arena
        assert arena.in_use == 4 * FRAME_BYTES
        del kept, again
        c.get_frame("m.mov", 1)
        assert offer_of(s.requests[3])[3] == [(4096, arena.size - 4096)]
        assert len({offer_of(r)[1] for r in s.requests}) == 1  # one segment throughout


def test_parts_that_do_not_fit_come_in_the_message(fake):
    s = fake(lambda req, n: placing(req, share=lambda k: k % 2 == 0))
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        frames = c.get_frames("m.mov", list(range(6)))
    assert [fill(f) for f in frames] == list(range(6))
    assert [lease_of(f.array) is not None for f in frames] == [True, False] * 3


def test_a_segment_of_a_given_size(fake):
    s = fake(lambda req, n: placing(req))
    with framewire.Client(s.endpoint, timeout=2, retries=0, shared_memory=MiB) as c:
        frames = c.get_frames("m.mov", list(range(60)))  # 1.4 MiB: does not all fit
    assert offer_of(s.requests[0])[2] == MiB
    assert [fill(f) for f in frames] == list(range(60))
    shared = [lease_of(f.array) is not None for f in frames]
    assert shared[0] and not shared[-1]


def test_placements_the_request_did_not_offer_are_protocol_errors(fake):
    cases = {
        "header": lambda req: placing(req, shift=-4096),  # first part over the header
        "past the offer": lambda req: placing(req, shift=1 << 40),
        "count": lambda req: placing(req)[:-1],  # a payload part fewer than shared_parts
        "part in both": lambda req: placing(req)[:1] + [b"x"] + placing(req)[2:],
        "not offered": lambda req: [reply_with(req.Id(), [1, 2], [(4096, FRAME_BYTES), (0, 0)]),
                                    b"", bytes(FRAME_BYTES)],
    }
    for what, make in cases.items():
        s = fake(lambda req, n: make(req) if req.FramesLength() == 2 else placing(req))
        off = what == "not offered"
        with framewire.Client(s.endpoint, timeout=2, retries=0, shared_memory=not off) as c:
            with pytest.raises(framewire.ProtocolError):
                c.get_frames("m.mov", [1, 2])
            if not off:
                assert c._arena is None  # retired: the reply cannot be trusted
                assert fill(c.get_frame("m.mov", 4)) == 4
                assert offer_of(s.requests[1])[1] != offer_of(s.requests[0])[1]


def test_off_means_no_offer(fake):
    s = fake(lambda req, n: placing(req) if req.SharedMemory() else
             [reply_with(req.Id(), [int(i) for i in req.FramesAsNumpy()], None)] +
             [bytes([int(i)]) * FRAME_BYTES for i in req.FramesAsNumpy()])
    for off in (False, 0):
        with framewire.Client(s.endpoint, timeout=2, retries=0, shared_memory=off) as c:
            assert c.shared_memory == 0
            assert [fill(f) for f in c.get_frames("m.mov", [1, 2])] == [1, 2]
            assert c._arena is None
    assert [r.SharedMemory() for r in s.requests] == [None, None]


def test_only_local_endpoints_are_offered_shared_memory_by_default():
    local = ["ipc:///tmp/fw.sock", "inproc://fw", "tcp://127.0.0.1:5555", "tcp://127.0.1.1:9",
             "tcp://localhost:5555", "tcp://[::1]:5555", "tcp://::1:5555",
             "tcp://eth0;127.0.0.1:5555"]
    remote = ["tcp://10.0.0.7:5555", "tcp://example.org:5555", "tcp://[2001:db8::1]:5555",
              "tcp://127.0.0.1;10.0.0.7:5555", "pgm://eth0;239.192.1.1:5555"]
    assert all(_is_local(e) for e in local)
    assert not any(_is_local(e) for e in remote)
    with framewire.Client("tcp://10.255.255.1:5555") as c:
        assert c.shared_memory == 0
    with framewire.Client("tcp://10.255.255.1:5555", shared_memory=True) as c:
        assert c.shared_memory == framewire.client.DEFAULT_SHARED_MEMORY
    with framewire.Client("tcp://10.255.255.1:5555", shared_memory=64 * MiB) as c:
        assert c.shared_memory == 64 * MiB
    with pytest.raises(ValueError):
        framewire.Client("tcp://127.0.0.1:5555", shared_memory=-1)


def test_info_list_and_stats_carry_no_offer(fake):
    def answer(req, n):
        if req.Kind() == RequestKind.LIST:
            return [build_reply(req.Id(), entries=[("m.mov", 10)])]
        return [build_reply(req.Id(), info=dict(num_frames=10, width=W, height=H))]
    s = fake(answer)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        c.list("")
        c.info("m.mov")
        assert c._arena is None  # made at the first FRAMES request
    assert [r.SharedMemory() for r in s.requests] == [None, None]


def test_a_retry_offers_a_new_segment_and_the_call_retires_it(fake):
    # The first attempt's worker is silent (it may still write into what it was offered): the
    # retry must offer other memory, and the next call yet another segment, because the late
    # worker could still be at work in the second one's extents too.
    s = fake(lambda req, n: None if n == 1 else placing(req))
    with framewire.Client(s.endpoint, timeout=0.4, retries=1) as c:
        frames = c.get_frames("m.mov", [1, 2])
        assert c._arena is None
        later = c.get_frames("m.mov", [3, 4])
        assert c._arena is not None
        c.get_frames("m.mov", [5, 6])
    tokens = [offer_of(r)[1] for r in s.requests]  # paths: a closed fd's number is reused
    assert len(set(tokens[:3])) == 3 and tokens[3] == tokens[2]
    assert [fill(f) for f in frames + later] == [1, 2, 3, 4]


def test_a_call_that_gives_up_retires_the_segment(fake):
    s = fake(lambda req, n: None if n <= 2 else placing(req))
    with framewire.Client(s.endpoint, timeout=0.3, retries=1) as c:
        with pytest.raises(framewire.Timeout):
            c.get_frames("m.mov", [1, 2])
        assert c._arena is None
        assert [fill(f) for f in c.get_frames("m.mov", [3, 4])] == [3, 4]
    assert len({offer_of(r)[1] for r in s.requests}) == 3


def test_a_restarted_stream_retires_the_segment(fake):
    def handler(req, n):
        if n > 1:
            return placing(req)
        # Positions 0-1, then a second worker from position 0 again (same offsets).
        return ("messages", [(0, placing(req, count=2, more=True)), (0.02, placing(req))])
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        frames = c.get_frames("m.mov", [7, 8, 9])
        assert [fill(f) for f in frames] == [7, 8, 9]
        assert c._arena is None
        kept_arena = lease_of(frames[0].array).arena
        assert kept_arena.in_use == 3 * FRAME_BYTES  # both copies of 7 and 8 at the same place
        c.get_frames("m.mov", [1, 2])
    assert offer_of(s.requests[1])[1] != offer_of(s.requests[0])[1]


def test_a_stream_in_several_messages_keeps_the_segment(fake):
    s = fake(lambda req, n: ("messages", [(0, placing(req, count=2, more=True)),
                                          (0.02, placing(req, position=2, count=2, more=True)),
                                          (0.04, placing(req, position=4))]))
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        frames = c.get_frames("m.mov", [0, 1, 2, 3, 4])
        assert c._arena is not None
    assert [fill(f) for f in frames] == [0, 1, 2, 3, 4]


def test_error_answers(fake):
    # A worker's error ends its dispatch: the segment stays. The broker's TIMEOUT does not
    # (a worker may still be decoding the request): the segment is retired.
    def handler(req, n):
        frames = [int(i) for i in req.FramesAsNumpy()]
        if frames == [98]:
            return [build_reply(req.Id(), status=2, message="no frame 98", worker="w1")]
        if frames == [99]:
            return [build_reply(req.Id(), status=6, message="no worker answered", worker="")]
        return placing(req)
    s = fake(handler)
    with framewire.Client(s.endpoint, timeout=2, retries=0) as c:
        c.get_frame("m.mov", 1)
        arena = c._arena
        with pytest.raises(framewire.OutOfRange):
            c.get_frame("m.mov", 98)
        assert c._arena is arena
        with pytest.raises(framewire.Timeout):
            c.get_frame("m.mov", 99)
        assert c._arena is None


def test_frames_outlive_close_and_retirement(fake):
    s = fake(lambda req, n: placing(req))
    c = framewire.Client(s.endpoint, timeout=2, retries=0)
    frames = c.get_frames("m.mov", [11, 12])
    c.close()
    assert c._arena is None
    gc.collect()
    assert [fill(f) for f in frames] == [11, 12]


# ---- real servers ------------------------------------------------------------------------

def in_segment(frame):
    """The arena every payload part of ``frame`` lies in, or None when any came in the
    message."""
    arenas = set()
    for pl in frame.layout:
        lease = lease_of(frame.parts[pl.part])
        if lease is None:
            return None
        assert lease.arena.contains(address(frame.parts[pl.part]))
        arenas.add(lease.arena)
    assert len(arenas) == 1
    return arenas.pop()


@pytest.fixture(params=["prores", "h264"])
def movie(request, media):
    return getattr(media, request.param)


def test_real_frames_are_the_same_with_shared_memory_on_and_off(server, movie, socket_type):
    wanted = [movie.num_frames - 1, 0, 13, 13, 2, 30, 31, 7]
    with framewire.Client(server.endpoint, timeout=15, retries=1, socket_type=socket_type,
                          shared_memory=False) as off, \
            framewire.Client(server.endpoint, timeout=15, retries=1, socket_type=socket_type,
                             shared_memory=True) as on:
        for fmt in ("native", "rgb24", "gray16"):
            without = off.get_frames(movie.rel, wanted, format=fmt)
            with_ = on.get_frames(movie.rel, wanted, format=fmt)
            single = on.get_frame(movie.rel, 5, format=fmt)
            assert all(in_segment(f) is None for f in without)
            arenas = {in_segment(f) for f in with_ + [single]}
            assert arenas == {on._arena}, f"{fmt}: frames not in the client's segment"
            for i, a, b in zip(wanted, with_, without):
                assert a.tobytes() == b.tobytes(), f"{fmt} frame {i}"
                for field in ("index", "pts", "time", "keyframe", "width", "height", "format",
                              "pixel_format", "encoding", "sample_bytes", "size"):
                    assert getattr(a, field) == getattr(b, field), (fmt, i, field)
                assert a.worker and b.worker
                if fmt == "native":
                    assert md5(a.tobytes()) == movie.md5s[i]
            # Asked for again: into memory the first ones do not hold.
            again = on.get_frames(movie.rel, wanted, format=fmt)
            assert [f.tobytes() for f in again] == [f.tobytes() for f in with_]


def test_real_cache_tiers_and_workers_as_without_shared_memory(server, media):
    m = media.prores
    crop = (16, 16, 128, 96)  # no other test asks for it: the first request decodes
    with framewire.Client(server.endpoint, timeout=15, retries=1, shared_memory=True) as on, \
            framewire.Client(server.endpoint, timeout=15, retries=1, shared_memory=False) as off:
        first = on.get_frame(m.rel, 17, crop=crop)
        again = on.get_frame(m.rel, 17, crop=crop)
        sent = off.get_frame(m.rel, 17, crop=crop)
        assert (first.cached, again.cached, sent.cached) == (None, "memory", "memory")
        assert in_segment(first) is in_segment(again) is on._arena
        assert in_segment(sent) is None
        if server.kind == "distributed":  # affinity: the movie's worker process answers
            assert first.worker == again.worker == sent.worker
        assert first.timings.decode > 0 and again.timings.decode == 0
        assert first.array.shape == (96, 128, 3)
        assert np.array_equal(first.array, again.array)
        assert np.array_equal(first.array, sent.array)
        assert psnr(first.array, m.rgb24[17][16:112, 16:144]) >= 40.0


def test_real_frames_held_are_not_overwritten(server, media):
    m = media.h264
    with framewire.Client(server.endpoint, timeout=15, retries=1, shared_memory=True) as c:
        first = c.get_frames(m.rel, list(range(0, 20)))
        copies = [f.array.copy() for f in first]
        second = c.get_frames(m.rel, list(range(20, 40)))
        assert all(in_segment(f) is c._arena for f in first + second)
        for i, (f, copy) in enumerate(zip(first, copies)):
            assert np.array_equal(f.array, copy), f"frame {i} changed under its holder"
        spans = sorted((address(f.array), address(f.array) + f.nbytes) for f in first + second)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "frames overlap"
        for i, f in enumerate(first + second):
            assert psnr(f.array, m.rgb24[i]) >= 40.0, f"frame {i}"


def test_real_batch_larger_than_the_segment(server, media):
    m = media.prores
    wanted = list(range(m.num_frames))  # 48 rgb24 frames of 225 KiB: 10.5 MiB
    with framewire.Client(server.endpoint, timeout=30, retries=1, shared_memory=2 * MiB) as on, \
            framewire.Client(server.endpoint, timeout=30, retries=1, shared_memory=False) as off:
        frames = on.get_frames(m.rel, wanted)
        shared = [in_segment(f) is not None for f in frames]
        assert any(shared) and not all(shared), shared
        reference = off.get_frames(m.rel, wanted)
        for i, (a, b) in enumerate(zip(frames, reference)):
            assert np.array_equal(a.array, b.array), f"frame {i}"
        assert sum(shared) * frames[0].nbytes <= 2 * MiB


def test_real_default_is_on_for_loopback(client, media):
    assert client.shared_memory == framewire.client.DEFAULT_SHARED_MEMORY
    f = client.get_frame(media.prores.rel, 3)
    assert in_segment(f) is client._arena


def test_real_uncached_frames_are_converted_straight_into_the_segment(media, log_dir):
    """Without a cache the worker converts frames only into the client's segment, with no
    buffer of its own: the same frames as through the socket, in every converted format, with
    crops and resizes (swscale writes there too, and DeepYuvToRgb for ProRes)."""
    if not have_binaries("framewire"):
        pytest.skip("framewire (serve) not built")
    cluster = fw_helpers.start_embedded(BUILD_DIR, media.root, log_dir, workers=2, extra=["--cache-bytes", "0"])
    try:
        with framewire.Client(cluster.endpoint, timeout=15, retries=1, shared_memory=True) as on, \
                framewire.Client(cluster.endpoint, timeout=15, retries=1, shared_memory=False) as off:
            wanted = [5, 0, 5, 9]
            for m in (media.prores, media.h264):
                for fields in (dict(format="rgb24"), dict(format="bgr24"), dict(format="rgba"),
                               dict(format="gray8"), dict(format="gray16"),
                               dict(format="rgb24", crop=(2, 4, 100, 60)),
                               dict(format="bgr24", width=161, height=91)):
                    with_ = on.get_frames(m.rel, wanted, **fields)
                    without = off.get_frames(m.rel, wanted, **fields)
                    assert {in_segment(f) for f in with_} == {on._arena}, (m.rel, fields)
                    for i, a, b in zip(wanted, with_, without):
                        assert a.tobytes() == b.tobytes(), (m.rel, fields, i)
                        assert a.array.shape == b.array.shape
            shared = on.stats()["total"]["shared_memory"]
            assert shared["parts_written_in_place"] == shared["parts_placed"] > 0
    finally:
        cluster.stop()
