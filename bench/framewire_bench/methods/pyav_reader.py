"""PyAV in-process decoding: what a Python user does without a frame server.

``PyAVHeld`` keeps the container and decoder open across requests (the strongest in-process
baseline); ``PyAVPerRequest`` opens the movie for every request (what a stateless
per-request service such as Lazycache pays).

Both address frame n exactly: seek to the pts of the keyframe at or before n (from the
packet index), decode forward and stop at the frame whose pts is frame n's; when the decoder
lands past the target (a demuxer that seeks differently), seek one keyframe further back. When the next target is ahead in the same GOP, the held reader
keeps decoding instead of seeking, as a careful user would. Decoder threads: slice threads
for intra-only codecs (frame threads only add latency to single-frame random access), FFmpeg's
automatic choice (frame + slice) otherwise; thread count = cores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import List, Sequence

import av
import av.logging
import numpy as np

from ..movies import Movie
from . import Method


def _quiet_ffmpeg_logging() -> None:
    """Let FFmpeg log through its own callback, errors only.

    PyAV 10's log callback takes the GIL from FFmpeg's decoder threads; closing a
    frame-threaded decoder (avcodec_close, called with the GIL held) then deadlocks when a
    decoder thread logs. Seen here with H.264 and PyAV opening the movie per request.
    """
    av.logging.restore_default_callback()
    name = ctypes.util.find_library("avutil")
    if name:
        try:
            ctypes.CDLL(name).av_log_set_level(16)  # AV_LOG_ERROR
        except OSError:
            pass


_quiet_ffmpeg_logging()


class FrameReader:
    """An open PyAV container positioned for exact access to frame n."""

    def __init__(self, movie: Movie, threads: int):
        self.movie = movie
        self.index = movie.index
        self.pts_to_n = {p: n for n, p in enumerate(self.index.pts)}
        self.container = av.open(str(movie.path))
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "SLICE" if movie.intra_only else "AUTO"
        self.stream.thread_count = threads
        self._frames = None     # the running decode generator
        self._last = -1         # frame number the decoder last produced

    def _stop_decoding(self) -> None:
        # Finish the suspended decode generator before seeking or closing: PyAV 10 deadlocks
        # in the garbage collector when a generator outlives its container's decoder threads.
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def _seek(self, keyframe: int) -> None:
        self._stop_decoding()
        # By pts: with MOV/MP4 edit lists the seek index is shifted so that a keyframe's pts
        # lands on it exactly (its dts would land one GOP early: measured, 2x slower on H.264).
        self.container.seek(self.index.pts[keyframe], stream=self.stream, backward=True,
                            any_frame=False)
        self._frames = self.container.decode(self.stream)
        self._last = -1

    def read(self, n: int) -> np.ndarray:
        key = self.index.keyframe_at_or_before(n)
        if self._frames is None or not (key <= self._last < n):
            self._seek(key)
        target = self.index.pts[n]
        for attempt in range(2):
            for frame in self._frames:
                m = self.pts_to_n.get(frame.pts, -1)
                self._last = m
                if frame.pts == target:
                    return frame.to_ndarray(format="rgb24")
                if frame.pts is not None and frame.pts > target:
                    break   # landed past the target: seek further back once
            if attempt == 0:
                self._seek(self.index.keyframe_at_or_before(max(key - 1, 0)))
        raise RuntimeError(f"PyAV did not reach frame {n} (pts {target})")

    def close(self) -> None:
        self._stop_decoding()
        self.container.close()


class PyAVHeld(Method):
    name = "pyav-held"
    label = "PyAV, container held open"

    def __init__(self, movie: Movie, threads: int = 0):
        super().__init__()
        self.movie = movie
        self.threads = threads or os.cpu_count() or 2
        self.reader = None

    def open(self) -> None:
        self.reader = FrameReader(self.movie, self.threads)

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        return [self.reader.read(n) for n in frames]

    def close(self) -> None:
        if self.reader:
            self.reader.close()

    def describe(self) -> str:
        kind = "slice" if self.movie.intra_only else "auto (frame+slice)"
        return f"PyAV {av.__version__}, {kind} threads x{self.threads}, to_ndarray('rgb24')"


class PyAVPerRequest(PyAVHeld):
    name = "pyav-open"
    label = "PyAV, open per request"

    def open(self) -> None:
        pass

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        reader = FrameReader(self.movie, self.threads)
        try:
            return [reader.read(n) for n in frames]
        finally:
            reader.close()

    def close(self) -> None:
        pass
