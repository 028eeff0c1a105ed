"""framewire through its Python client: frames into numpy arrays, zero-copy.

One class covers the framewire scenarios; what differs is how it is driven:
- single requests (``get_frame``) per frame: random, same frame again, sequential;
- one batch request (``get_frames``) for a list of frames: batch.
The server it talks to (``framewire serve``, or a broker with worker processes) is started
by servers.py; the endpoint is all this class knows of it.

Per sample it records what the reply headers say: the worker's stage timings (queue, read,
decode, convert, total), where each frame came from (``cached``: decoded, memory, disk), the
worker's name, and whether the header's frame index matches the request.
"""

from __future__ import annotations

import inspect
from typing import List, Optional, Sequence

import numpy as np

from . import Method

STAGES = ("queue", "read", "decode", "convert", "encode", "total", "round_trip")


def import_client():
    import framewire  # client/python on sys.path (bench/run puts it there)
    if not hasattr(framewire, "Client"):
        raise RuntimeError("client/python/framewire has no Client yet")
    return framewire


class FramewireClient(Method):
    def __init__(self, name: str, label: str, endpoint: str, movie_rel: str, *,
                 batch: bool = False, pixel_format: str = "rgb24", timeout: float = 120.0,
                 socket_type: str = "", shared_memory: Optional[bool] = None,
                 warm_frames: Sequence[int] = ()):
        super().__init__()
        self.name = name
        self.label = label
        self.endpoint = endpoint
        self.movie_rel = movie_rel
        self.batch = batch
        self.pixel_format = pixel_format
        self.timeout = timeout
        self.socket_type = socket_type
        self.shared_memory = shared_memory  # None: the client's default (on for local servers)
        self.warm_frames = list(warm_frames)
        self.client = None

    def open(self) -> None:
        framewire = import_client()
        params = inspect.signature(framewire.Client).parameters
        kwargs = {"timeout": self.timeout}
        if "retries" in params:
            kwargs["retries"] = 0      # a lost reply is an error here, not a hidden retry
        if self.socket_type and "socket_type" in params:
            kwargs["socket_type"] = self.socket_type
        if self.shared_memory is not None and "shared_memory" in params:
            kwargs["shared_memory"] = self.shared_memory
        self.client = framewire.Client(self.endpoint, **kwargs)
        if not self.socket_type:
            self.socket_type = str(getattr(self.client, "socket_type", "dealer"))

    def warm(self, n: int) -> None:
        # Several requests, so that every worker behind a broker has opened the movie.
        self.client.info(self.movie_rel)
        for _ in range(4):
            self.fetch([n])
        if self.warm_frames:
            # A client that has run a while: its shared memory pages are in place (the first
            # use of each page costs a page fault, in whichever process touches it first).
            self.fetch(self.warm_frames)

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        if self.batch:
            got = list(self.client.get_frames(self.movie_rel, list(frames), format=self.pixel_format))
        else:
            got = [self.client.get_frame(self.movie_rel, n, format=self.pixel_format) for n in frames]
        arrays = [f.array for f in got]
        self.sample_meta = {
            "server_ms": _server_ms(got, self.batch),
            "cached": [_cached(f) for f in got],
            "workers": sorted({str(getattr(f, "worker", "")) for f in got}),
            "header_index_mismatch": sum(1 for f, n in zip(got, frames)
                                         if getattr(f, "index", n) != n),
        }
        return arrays

    def close(self) -> None:
        if self.client is not None:
            close = getattr(self.client, "close", None)
            if close:
                close()

    def describe(self) -> str:
        how = "get_frames (one request)" if self.batch else "get_frame per frame"
        transport = "frames in shared memory" if getattr(self.client, "shared_memory", 0) else \
            "frames through the socket"
        warm = f", warmed with {len(self.warm_frames)} other frames" if self.warm_frames else ""
        return (f"framewire Python client, {how}, {self.pixel_format}, {self.socket_type} socket, "
                f"{transport}{warm}")


def _server_ms(frames, batch: bool) -> dict:
    """Stage times of the sample in ms, summed over its requests.

    A frame of a batch carries its own timings when the server sends per-frame timings, else
    the request's totals (then every frame has the same ones: count them once). The client's
    round trip is per request.
    """
    timings = [f.timings for f in frames]
    if batch:
        per_request = len(timings) > 1 and all(t == timings[0] for t in timings)
        rt = max((_stage(t, "round_trip") for t in timings), default=0.0)
        if per_request:
            timings = timings[:1]
        out = {s: sum(_stage(t, s) for t in timings) * 1e3 for s in STAGES}
        out["round_trip"] = rt * 1e3
        return out
    return {s: sum(_stage(t, s) for t in timings) * 1e3 for s in STAGES}


def _stage(timings, stage: str) -> float:
    if timings is None:
        return 0.0
    if isinstance(timings, dict):
        return float(timings.get(stage, 0.0) or 0.0)
    return float(getattr(timings, stage, 0.0) or 0.0)


def _cached(frame) -> str:
    c = getattr(frame, "cached", None)
    return "decoded" if c in (None, "", "none", "decoded") else str(c)


class SharedServerClient(FramewireClient):
    """A FramewireClient against a server its scenario starts for itself (servers.Shared):
    acquired when the method opens, released when it closes. ``attach`` takes what the
    Shared gives (a Server, a set of servers) and sets the endpoint (and movie) to use."""

    def __init__(self, name: str, label: str, shared, movie_rel: str, **kwargs):
        super().__init__(name, label, "", movie_rel, **kwargs)
        self.shared = shared
        self._acquired = False

    def attach(self, value) -> None:
        self.endpoint = value.endpoint

    def open(self) -> None:
        value = self.shared.acquire()
        self._acquired = True
        self.attach(value)
        super().open()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._acquired:
                self._acquired = False
                self.shared.release()
