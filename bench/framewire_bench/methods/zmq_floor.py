"""The transport floor: a bare pyzmq round trip carrying as many bytes as one rgb24 frame,
over the same transport and socket type as the framewire client, to a separate process
(echo_server.py). Received without copying and viewed as an (H, W, 3) numpy array, as the
framewire client does. No decoding: framewire cannot answer faster than this."""

from __future__ import annotations

import struct
from typing import Sequence

import numpy as np
import zmq

from . import Method


class ZmqRoundTrip(Method):
    name = "floor-zmq"
    label = "floor: bare pyzmq round trip, same bytes"
    returns_frames = False

    def __init__(self, endpoint: str, shape: tuple, socket_type: str = "dealer"):
        super().__init__()
        self.endpoint = endpoint
        self.shape = shape
        self.size = int(np.prod(shape))
        self.socket_type = socket_type
        self.ctx = None
        self.sock = None

    def open(self) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER if self.socket_type == "dealer" else zmq.REQ)
        self.sock.linger = 0
        self.sock.rcvtimeo = 30000
        self.sock.connect(self.endpoint)

    def fetch(self, frames: Sequence[int]) -> None:
        request = struct.pack("<Q", self.size)
        for _ in frames:
            if self.socket_type == "dealer":
                self.sock.send_multipart([b"", request])
                parts = self.sock.recv_multipart(copy=False)
                payload = parts[1]
            else:
                self.sock.send(request)
                payload = self.sock.recv(copy=False)
            arr = np.frombuffer(payload.buffer, np.uint8).reshape(self.shape)
            if arr.nbytes != self.size:
                raise RuntimeError("short reply")
        return None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.ctx.term()

    def describe(self) -> str:
        return (f"pyzmq {zmq.pyzmq_version()} / libzmq {zmq.zmq_version()}, "
                f"{self.socket_type.upper()} -> ROUTER, {self.size} bytes, {self.endpoint.split(':')[0]}")
