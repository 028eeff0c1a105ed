"""framewire.Client against an in-process fake server (a ROUTER on a thread) and against an
endpoint where nothing listens: framing for both socket types, Lazy Pirate retries, stale
replies, timeouts, zero-copy receive."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

import framewire
from framewire.proto.RequestKind import RequestKind
from fw_helpers import build_reply, free_port

W, H = 8, 4


def rgb_reply(req, fill=7):
    frames = [int(i) for i in req.FramesAsNumpy()]
    payload = bytes([fill]) * (W * H * 3 * len(frames))
    specs = [dict(index=n, width=W, height=H, format="rgb24",
                  planes=[(0, k * W * H * 3, W * 3, W * 3, H)]) for k, n in enumerate(frames)]
    return [build_reply(req.Id(), frames=specs), payload]


def answer(req, n):
    if req.Kind() == RequestKind.LIST:
        return [build_reply(req.Id(), entries=[("a/", 0), ("m.mov", 10)])]
    if req.Kind() == RequestKind.INFO:
        if req.Movie() == b"missing.mov":
            return [build_reply(req.Id(), status=1, message="no such movie")]
        return [build_reply(req.Id(), info=dict(num_frames=10, width=W, height=H, codec="prores"))]
    return rgb_reply(req)


def test_both_socket_types_speak_the_protocol(fake, socket_type):
    s = fake(answer)
    with framewire.Client(s.endpoint, timeout=2, retries=0, socket_type=socket_type) as c:
        assert [e.name for e in c.list()] == ["a/", "m.mov"]
        assert c.info("m.mov").num_frames == 10
        frames = c.get_frames("m.mov", [3, 1, 3])
        assert [f.index for f in frames] == [3, 1, 3]
        assert frames[0].array.shape == (H, W, 3)
        with pytest.raises(framewire.NotFound) as e:
            c.info("missing.mov")
        assert e.value.message == "no such movie"
        assert c.info("m.mov").width == W  # still usable after an error
    req = s.requests[2]
    assert req.Kind() == RequestKind.FRAMES and list(req.FramesAsNumpy()) == [3, 1, 3]
    assert req.Format() == b"rgb24" and req.TimeoutMs() == 1800
    assert len({r.Id() for r in s.requests}) == len(s.requests)  # fresh id per request


def test_received_frames_are_zero_copy_views(fake):
    s = fake(answer)
    with framewire.Client(s.endpoint, timeout=2) as c:
        f = c.get_frame("m.mov", 2)
    part = f.parts[0]
    assert isinstance(part, zmq.Frame)
    assert f.array.base is part or getattr(f.array.base, "obj", None) is part
    assert np.shares_memory(f.array, np.frombuffer(part.buffer, np.uint8))


def test_dealer_retries_and_ignores_a_stale_reply(fake):
    def slow_first(req, n):
        if n == 1:  # the first attempt is answered after the client has given up on it
            return ("delay", 0.6, rgb_reply(req, fill=1))
        return rgb_reply(req, fill=2) if req.Kind() == RequestKind.FRAMES else answer(req, n)
    s = fake(slow_first)
    with framewire.Client(s.endpoint, timeout=0.3, retries=2) as c:
        f = c.get_frame("m.mov", 0)
        # The first reply that belongs to this call wins: the retry's (fill 2) arrives
        # first; the late reply to attempt 1 must then not be taken for the next call.
        assert f.array[0, 0, 0] == 2
        time.sleep(0.5)
        assert [e.name for e in c.list()] == ["a/", "m.mov"]
    assert len(s.requests) == 3


def test_req_socket_is_reopened_after_a_timeout(fake):
    s = fake(lambda req, n: None if n == 1 else answer(req, n))
    with framewire.Client(s.endpoint, timeout=0.3, retries=1, socket_type="req") as c:
        assert c.info("m.mov").num_frames == 10
        assert c.info("m.mov").num_frames == 10  # the fresh REQ socket keeps working
    assert len(s.requests) == 3


@pytest.mark.parametrize("socket_type", ["dealer", "req"])
def test_timeout_when_nothing_listens(socket_type):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    timeout, retries = 0.25, 2
    with framewire.Client(endpoint, timeout=timeout, retries=retries, socket_type=socket_type) as c:
        t0 = time.monotonic()
        with pytest.raises(framewire.Timeout) as e:
            c.info("m.mov")
        elapsed = time.monotonic() - t0
        assert isinstance(e.value, TimeoutError) and e.value.status == "TIMEOUT"
        assert timeout * (retries + 1) * 0.9 <= elapsed <= timeout * (retries + 1) + 1.0
        # Still usable (and still timing out) afterwards.
        with pytest.raises(framewire.Timeout):
            c.list()


def test_silent_server_times_out_after_all_retries(fake):
    s = fake(lambda req, n: None)
    with framewire.Client(s.endpoint, timeout=0.2, retries=3) as c:
        with pytest.raises(framewire.Timeout):
            c.get_frame("m.mov", 1)
    assert len(s.requests) == 4


def test_garbage_reply_on_a_dealer_is_dropped(fake):
    def garbage_then_answer(req, n):
        return ("delay", 0.0, [b"\xff" * 40])
    s = fake(garbage_then_answer)
    with framewire.Client(s.endpoint, timeout=0.3, retries=0) as c:
        with pytest.raises(framewire.Timeout):
            c.info("m.mov")


def test_garbage_reply_on_a_req_socket_raises(fake):
    s = fake(lambda req, n: [b"\xff" * 3] if n == 1 else answer(req, n))
    with framewire.Client(s.endpoint, timeout=1, retries=0, socket_type="req") as c:
        with pytest.raises(framewire.ProtocolError):
            c.info("m.mov")
        assert c.info("m.mov").num_frames == 10


def test_client_arguments_and_close(fake):
    s = fake(answer)
    with pytest.raises(ValueError):
        framewire.Client(s.endpoint, socket_type="pub")
    with pytest.raises(ValueError):
        framewire.Client(s.endpoint, timeout=0)
    c = framewire.Client(s.endpoint, timeout=1)
    assert c.get_frames("m.mov", []) == []
    assert not s.requests  # an empty batch needs no round trip
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(ValueError):
        c.info("m.mov")


def test_server_timeout_is_sent_as_the_request_deadline(fake):
    s = fake(answer)
    with framewire.Client(s.endpoint, timeout=1.5, server_timeout=0) as c:
        c.info("m.mov")
    with framewire.Client(s.endpoint, timeout=1.5, server_timeout=7.25) as c:
        c.info("m.mov")
    assert [r.TimeoutMs() for r in s.requests] == [0, 7250]
