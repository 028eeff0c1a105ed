"""Failure of a worker: kill -9 one of two framewire-worker processes while 100+ requests are
in flight; every request must still be answered, correctly (the broker re-queues the dead
worker's request). Runs on its own broker and workers so the shared server is untouched."""

from __future__ import annotations

import random
import time

import pytest
import zmq

import framewire
from framewire import protocol
from conftest import BUILD_DIR, have_binaries
from fw_helpers import md5, start_distributed

N_REQUESTS = 120


@pytest.fixture
def cluster(media, log_dir):
    if not have_binaries("framewire-broker", "framewire-worker"):
        pytest.skip(f"framewire-broker/framewire-worker not built in {BUILD_DIR}/bin")
    c = start_distributed(BUILD_DIR, media.root, log_dir, workers=2, tag="failover")
    yield c
    c.stop()


def test_kill_9_worker_with_requests_in_flight(cluster, media):
    movies = media.movies
    rng = random.Random(1234)
    plan = {}
    for rid in range(1, N_REQUESTS + 1):
        m = rng.choice(movies)
        plan[rid] = (m, rng.randrange(m.num_frames))
    for m in movies:
        m.md5s

    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 0)  # this test reads replies as fast as it can
    s.connect(cluster.endpoint)
    answered = {}
    killed = None
    try:
        for rid, (m, i) in plan.items():
            body = protocol.build_request(rid, protocol.RequestKind.FRAMES, m.rel, frames=[i],
                                          format="native", timeout_ms=60000)
            s.send_multipart([b"", protocol.CLIENT_PROTOCOL, body])
        deadline = time.monotonic() + 60
        while len(answered) < N_REQUESTS and time.monotonic() < deadline:
            if not s.poll(200):
                continue
            parts = s.recv_multipart(copy=False)
            header, payload = protocol.split_reply(parts, True)
            reply = protocol.parse_reply_header(header.bytes)
            rid = reply.Id()
            assert rid in plan, f"reply to unknown request {rid}"
            assert rid not in answered, f"request {rid} answered twice"
            protocol.check_status(reply)
            m, i = plan[rid]
            [f] = protocol.frames_from_reply(reply, payload, requested=[i])
            answered[rid] = md5(f.tobytes()) == m.md5s[i]
            if killed is None:
                # Both workers are busy: the queue holds the rest of the requests.
                killed = "worker1"
                cluster.procs[killed].kill9()
                assert len(answered) < N_REQUESTS, "everything was answered before the kill"
    finally:
        s.close(0)
    missing = sorted(set(plan) - set(answered))
    assert not missing, f"{len(missing)} requests never answered: {missing[:10]}\n{cluster.logs()}"
    wrong = [rid for rid, ok in answered.items() if not ok]
    assert not wrong, f"wrong pixels for requests {wrong}"
    assert cluster.procs["broker"].alive()
    # The survivor serves on.
    with framewire.Client(cluster.endpoint, timeout=15, retries=0) as c:
        f = c.get_frame(media.prores.rel, 1, format="native")
        assert md5(f.tobytes()) == media.prores.md5s[1]
