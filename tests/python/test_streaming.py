"""Streamed FRAMES replies (PROTOCOL.md 3) end to end: the Python client's DEALER asks for a
batch as a stream, REAL servers (framewire-broker + 2 framewire-worker, and ``framewire
serve``) answer it in several messages, and the frames must be exactly those of the same
request over a REQ socket (never streamed), in request order.

The movie is 1280x720 so a 40-frame rgb24 batch (about 110 MB) is well over the worker's run
size (8 MiB a message): a cold batch in presentation order must arrive in several messages.
Each server runs on its own movie root, so its caches and counters are this module's alone.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import framewire
from conftest import BUILD_DIR, have_binaries
import fw_helpers as H

W, H_ = 1280, 720
MOVIE = "stream/h264-720p.mp4"
NUM_FRAMES = 60


@pytest.fixture(scope="module")
def stream_root(tmp_path_factory):
    import shutil
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    root = tmp_path_factory.mktemp("framewire-stream-root")
    path = root / MOVIE
    path.parent.mkdir(parents=True)
    H.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H_}:rate=24",
           "-vf", "noise=alls=12:allf=t", "-frames:v", str(NUM_FRAMES), "-c:v", "libx264",
           "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "2",
           "-x264-params", "scenecut=0", str(path)])
    return root


@pytest.fixture(scope="module", params=["distributed", "embedded"])
def stream_server(request, stream_root, log_dir):
    if request.param == "distributed":
        if not have_binaries("framewire-broker", "framewire-worker"):
            pytest.skip(f"framewire-broker/framewire-worker not built in {BUILD_DIR}/bin")
        cluster = H.start_distributed(BUILD_DIR, stream_root, log_dir, workers=2, tag="stream")
    else:
        if not have_binaries("framewire"):
            pytest.skip(f"framewire (serve) not built in {BUILD_DIR}/bin")
        cluster = H.start_embedded(BUILD_DIR, stream_root, log_dir, workers=2)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def md5s(stream_root):
    return H.frame_md5s(stream_root / MOVIE)


def partials(client) -> int:
    return int(client.stats()["broker"].get("partials", 0))


def messages(frames) -> int:
    """How many reply messages the frames came in (frames of one message share its parts)."""
    return len({id(f.parts) for f in frames})


def assert_same_frames(streamed, single, wanted):
    assert [f.index for f in streamed] == wanted
    assert [f.index for f in single] == wanted
    for pos, (a, b) in enumerate(zip(streamed, single)):
        assert a.array.shape == (H_, W, 3), pos
        assert np.array_equal(a.array, b.array), f"position {pos} (frame {wanted[pos]}) differs"


def test_a_cold_batch_arrives_in_several_messages_and_matches_req(stream_server):
    wanted = list(range(40))
    with framewire.Client(stream_server.endpoint, timeout=60, retries=0) as dealer, \
            framewire.Client(stream_server.endpoint, timeout=60, retries=0, socket_type="req") as req:
        before = partials(dealer)
        streamed = dealer.get_frames(MOVIE, wanted)
        after = partials(dealer)
        single = req.get_frames(MOVIE, wanted)
    assert after > before, "the broker forwarded no PARTIAL for a cold 110 MB batch"
    assert messages(streamed) > 1
    assert messages(single) == 1
    assert_same_frames(streamed, single, wanted)
    # Every frame holds its own message's parts; its pixels are a view on them (a received
    # zmq.Frame, or the bytes of the client's shared memory a part was put in).
    for f in streamed:
        assert np.shares_memory(f.array, np.frombuffer(f.parts[f.layout[0].part], np.uint8))
    # The request's totals (from the last message) and the round trip are on every frame.
    assert all(f.timings.round_trip > 0 for f in streamed)


def test_shuffled_batch_with_duplicates_matches_req(stream_server):
    rng = random.Random(7)
    wanted = rng.sample(range(NUM_FRAMES), 30)
    wanted += [wanted[3], wanted[3], wanted[17], 0, NUM_FRAMES - 1]
    rng.shuffle(wanted)
    with framewire.Client(stream_server.endpoint, timeout=60, retries=0) as dealer, \
            framewire.Client(stream_server.endpoint, timeout=60, retries=0, socket_type="req") as req:
        streamed = dealer.get_frames(MOVIE, wanted)
        single = req.get_frames(MOVIE, wanted)
    assert_same_frames(streamed, single, wanted)


def test_streamed_native_batch_matches_ffmpeg_md5(stream_server, md5s):
    # Native yuv420p at 720p is 1.4 MB a frame: 48 frames in presentation order from the end
    # of the movie (other tests leave the start cached) still make several runs.
    wanted = list(range(NUM_FRAMES - 48, NUM_FRAMES))
    with framewire.Client(stream_server.endpoint, timeout=60, retries=0) as c:
        frames = c.get_frames(MOVIE, wanted, format="native")
    assert [f.index for f in frames] == wanted
    for f in frames:
        assert H.md5(f.tobytes()) == md5s[f.index], f"frame {f.index} differs from ffmpeg's"


def test_streamed_batch_by_time_matches_req(stream_server):
    seconds = [i / 24 + 0.01 for i in range(0, NUM_FRAMES, 2)] + [0.0, 1.0, 0.5, 1.0]
    with framewire.Client(stream_server.endpoint, timeout=60, retries=0) as dealer, \
            framewire.Client(stream_server.endpoint, timeout=60, retries=0, socket_type="req") as req:
        streamed = dealer.get_frames_at(MOVIE, seconds)
        single = req.get_frames_at(MOVIE, seconds)
    wanted = [f.index for f in single]
    assert wanted[:NUM_FRAMES // 2] == list(range(0, NUM_FRAMES, 2))
    assert_same_frames(streamed, single, wanted)


def test_error_in_a_streamed_batch_is_raised(stream_server):
    with framewire.Client(stream_server.endpoint, timeout=60, retries=0) as c:
        with pytest.raises(framewire.OutOfRange):
            c.get_frames(MOVIE, [1, 2, 3, NUM_FRAMES + 5, 4])
        # The client is in step afterwards.
        assert [f.index for f in c.get_frames(MOVIE, [5, 6])] == [5, 6]


def test_kill_9_worker_mid_stream_restarts_the_stream_and_loses_nothing(stream_root, log_dir, md5s):
    """The worker streaming a batch dies (kill -9) after its first PARTIAL: the broker re-queues
    the request, the other worker streams it again from position 0, and the client ends up
    with every frame exactly once per position, exact (PROTOCOL.md 3 and 6)."""
    import zmq
    from framewire import protocol
    from framewire.stream import StreamAssembly
    if not have_binaries("framewire-broker", "framewire-worker"):
        pytest.skip(f"framewire-broker/framewire-worker not built in {BUILD_DIR}/bin")
    # One decoder thread and no cache: the batch takes long enough that the kill lands mid-way.
    cluster = H.start_distributed(BUILD_DIR, stream_root, log_dir, workers=2, tag="stream-kill",
                                  extra_worker_args=["--decoder-threads", "1", "--convert-threads", "1",
                                                     "--cache-bytes", "0"])
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(cluster.endpoint)
        wanted = list(range(NUM_FRAMES))
        body = protocol.build_request(1, protocol.RequestKind.FRAMES, MOVIE, frames=wanted, format="native",
                                      timeout_ms=60000, stream=True)
        s.send_multipart([b"", protocol.CLIENT_PROTOCOL, body])
        assembly = StreamAssembly(len(wanted), wanted)
        positions, workers, killed = [], [], None
        while not assembly.done:
            assert s.poll(30000), f"no message for 30 s\n{cluster.logs()}"
            header, payload = protocol.split_reply(s.recv_multipart(copy=False), True)
            reply = protocol.parse_reply_header(header.bytes)
            positions.append(reply.Position())
            workers.append(reply.Worker().decode())
            assembly.add(reply, payload)
            if killed is None:
                assert reply.More(), "the first message was already the last: nothing to kill mid-stream"
                # Workers are named ROLE-HOST-PID (connections of a process add -i).
                parts = workers[0].split("-")
                killed = next(name for name, p in cluster.procs.items()
                              if name != "broker" and str(p.pid) in parts)
                cluster.procs[killed].kill9()
        frames = assembly.frames()
    finally:
        s.close(0)
        cluster.stop()
    assert positions.count(0) >= 2, f"the stream did not start again: positions {positions}"
    assert workers[-1] != workers[0], f"the dead worker answered last: {workers}"
    assert [f.index for f in frames] == wanted
    for f in frames:
        assert H.md5(f.tobytes()) == md5s[f.index], f"frame {f.index} differs from ffmpeg's"


def test_a_slow_reader_still_gets_every_message(stream_server):
    """A client that reads its stream slowly (receive queue of one message, a pause before each
    read) loses nothing: the worker waits for room instead of dropping, and a stream has at
    most 16 messages, fewer than the broker's per-client queue holds (PROTOCOL.md 3)."""
    import time
    import zmq
    from framewire import protocol
    from framewire.stream import StreamAssembly
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 1)
    s.connect(stream_server.endpoint)
    try:
        wanted = list(range(NUM_FRAMES)) + list(range(NUM_FRAMES))  # 120 positions, about 330 MB
        body = protocol.build_request(7, protocol.RequestKind.FRAMES, MOVIE, frames=wanted,
                                      format="rgb24", timeout_ms=60000, stream=True)
        s.send_multipart([b"", protocol.CLIENT_PROTOCOL, body])
        assembly = StreamAssembly(len(wanted), wanted)
        while not assembly.done:
            time.sleep(0.1)
            assert s.poll(30000), "no message for 30 s"
            header, payload = protocol.split_reply(s.recv_multipart(copy=False), True)
            assembly.add(protocol.parse_reply_header(header.bytes), payload)
        frames = assembly.frames()
    finally:
        s.close(0)
    assert 1 < assembly.messages <= 16
    assert [f.index for f in frames] == wanted
    for a, b in zip(frames[:NUM_FRAMES], frames[NUM_FRAMES:]):
        assert np.array_equal(a.array, b.array)
