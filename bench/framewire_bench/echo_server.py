"""A bare ZeroMQ reply server: the transport floor for framewire's frame replies.

Run as a separate process (like framewire serve). A ROUTER socket answers each request
``[empty][u64 size]`` with ``[empty][size bytes]``, sending a preallocated buffer without
copying it (``copy=False``), so a round trip costs what moving that many bytes over the
transport costs, and nothing else.

    /usr/bin/python3 echo_server.py --bind tcp://127.0.0.1:0
prints ``echo: listening on EP`` once bound.
"""

import argparse
import signal
import struct
import sys

import numpy as np
import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="tcp://127.0.0.1:0")
    args = parser.parse_args()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.bind(args.bind)
    print(f"echo: listening on {sock.getsockopt_string(zmq.LAST_ENDPOINT)}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    payloads = {}
    rng = np.random.default_rng(1)
    while True:
        identity, empty, request = sock.recv_multipart()
        (size,) = struct.unpack("<Q", request)
        payload = payloads.get(size)
        if payload is None:
            payload = payloads[size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        sock.send_multipart([identity, b"", payload], copy=False)


if __name__ == "__main__":
    sys.exit(main())
