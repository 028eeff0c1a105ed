"""The Python client against a real framewire-broker WITHOUT workers: the answers the broker
gives by itself (TIMEOUT, BUSY, UNAVAILABLE at shutdown, INVALID_ARGUMENT for malformed
messages) arrive as the right exceptions, and late or malformed traffic does not confuse
the client."""

from __future__ import annotations

import signal
import time

import pytest
import zmq

import framewire
from framewire import protocol
from conftest import BUILD_DIR, have_binaries
from fw_helpers import Proc, _broker_endpoints


@pytest.fixture
def broker(log_dir, request):
    if not have_binaries("framewire-broker"):
        pytest.skip(f"framewire-broker not built in {BUILD_DIR}/bin")
    extra = getattr(request, "param", [])
    p = Proc(f"lonely-broker-{request.node.name}".replace("/", "_")[:80],
             [str(BUILD_DIR / "bin" / "framewire-broker"), "--frontend", "tcp://127.0.0.1:0",
              "--backend", "tcp://127.0.0.1:0", *extra], log_dir)
    try:
        front, _ = _broker_endpoints(p)
        yield p, front
    finally:
        p.stop()


def dealer(endpoint):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def send_info(sock, rid, timeout_ms):
    body = protocol.build_request(rid, protocol.RequestKind.INFO, "m.mov", timeout_ms=timeout_ms)
    sock.send_multipart([b"", protocol.CLIENT_PROTOCOL, body])


def recv_reply(sock, timeout_s=5.0):
    assert sock.poll(int(timeout_s * 1000)), "no reply"
    header, _ = protocol.split_reply(sock.recv_multipart(), True)
    return protocol.parse_reply_header(header)


@pytest.mark.parametrize("socket_type", ["dealer", "req"])
def test_no_worker_gives_the_brokers_timeout(broker, socket_type):
    _, endpoint = broker
    with framewire.Client(endpoint, timeout=1.0, retries=2, socket_type=socket_type) as c:
        t0 = time.monotonic()
        with pytest.raises(framewire.Timeout) as e:
            c.info("m.mov")
        elapsed = time.monotonic() - t0
    # The broker's own answer (at 90 % of the client timeout), not the client giving up
    # after three attempts of 1 s: it says so, and no worker is named.
    assert elapsed < 2.5, elapsed
    assert e.value.worker == "" and "no reply from" not in e.value.message


def test_busy_when_the_queue_is_full(broker_small_queue):
    _, endpoint = broker_small_queue
    s = dealer(endpoint)
    try:
        for rid in (1, 2):
            send_info(s, rid, 20000)  # fill the queue (max 2), no worker to take them
        time.sleep(0.2)
        with framewire.Client(endpoint, timeout=2.0, retries=3) as c:
            t0 = time.monotonic()
            with pytest.raises(framewire.Busy) as e:
                c.info("m.mov")
            assert time.monotonic() - t0 < 1.0  # answered at once, and not retried
            assert e.value.status == "BUSY"
    finally:
        s.close(0)


@pytest.fixture
def broker_small_queue(log_dir, request):
    if not have_binaries("framewire-broker"):
        pytest.skip(f"framewire-broker not built in {BUILD_DIR}/bin")
    p = Proc("small-queue-broker", [str(BUILD_DIR / "bin" / "framewire-broker"),
                                    "--frontend", "tcp://127.0.0.1:0",
                                    "--backend", "tcp://127.0.0.1:0", "--max-queue", "2"], log_dir)
    try:
        yield p, _broker_endpoints(p)[0]
    finally:
        p.stop()


def test_queued_requests_are_unavailable_at_shutdown(broker):
    proc, endpoint = broker
    s = dealer(endpoint)
    try:
        send_info(s, 77, 20000)
        time.sleep(0.2)
        proc.popen.send_signal(signal.SIGTERM)
        reply = recv_reply(s)
        assert reply.Id() == 77
        with pytest.raises(framewire.Unavailable):
            protocol.check_status(reply)
        proc.popen.wait(10)
    finally:
        s.close(0)


def test_malformed_requests_get_invalid_argument(broker):
    _, endpoint = broker
    s = dealer(endpoint)
    try:
        for msg in ([b"", b"FWC01", b"\xff" * 40], [b"", b"FWC99", b"x"], [b"", b"FWC01"]):
            s.send_multipart(msg)
            with pytest.raises(framewire.InvalidArgument):
                protocol.check_status(recv_reply(s))
        # A request with extra parts is malformed too (PROTOCOL.md: no further parts).
        body = protocol.build_request(5, protocol.RequestKind.INFO, "m.mov", timeout_ms=500)
        s.send_multipart([b"", protocol.CLIENT_PROTOCOL, body, b"extra"])
        with pytest.raises(framewire.InvalidArgument):
            protocol.check_status(recv_reply(s))
    finally:
        s.close(0)
    with framewire.Client(endpoint, timeout=0.5, retries=0) as c:  # still serving
        with pytest.raises(framewire.Timeout):
            c.list()


def test_stale_broker_answers_are_ignored_by_a_dealer_client(broker):
    _, endpoint = broker
    with framewire.Client(endpoint, timeout=0.3, retries=0, server_timeout=0.6) as c:
        with pytest.raises(framewire.Timeout) as e:
            c.info("m.mov")  # the client gives up at 0.3 s, the broker answers at 0.6 s
        assert "no reply from" in e.value.message
        time.sleep(0.5)
        # The broker's late TIMEOUT for the first call is queued on the socket now; the next
        # call must not take it for its own answer: it times out on its own schedule.
        c.server_timeout = 0.2
        t0 = time.monotonic()
        with pytest.raises(framewire.Timeout) as e:
            c.info("other.mov")
        assert time.monotonic() - t0 >= 0.15
        assert "no reply from" not in e.value.message
