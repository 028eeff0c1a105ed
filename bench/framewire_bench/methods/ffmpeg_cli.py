"""The ffmpeg command line: one process per frame, and the decode floor.

``FFmpegPerFrame``: ``ffmpeg -ss T -i M -frames:v 1 -f rawvideo -pix_fmt rgb24 -`` per frame,
what a shell script does, T = frame n's time (see seek_time).

``FFmpegDecodeFloor``: ``ffmpeg [-threads N] [-ss T] -i M -frames:v K -pix_fmt rgb24 -f null -``
over the same K consecutive frames as a batch request or a sequential run: how fast this
machine can decode and convert, with both cores, with no transport at all. Two settings:
``-threads 2`` (the issue's floor for batches) and FFmpeg's own thread count (no ``-threads``:
one per core plus one), which framewire's decoders use too and which decodes faster here. Its sample time is
ffmpeg's own ``-benchmark`` ``rtime`` (the decode+convert loop; process start, probing and the
input seek happen before ffmpeg starts that clock, and counting them would flatter a server),
the wall time is kept in the sample's meta. Batches and sequential runs start at keyframes, so
the uncounted seek is an index lookup, with no frame decoded and thrown away.
"""

from __future__ import annotations

import re
import subprocess
import time
from typing import List, Optional, Sequence

import numpy as np

from ..movies import Movie
from . import Method


def seek_time(movie: Movie, n: int) -> Optional[str]:
    """-ss value that makes ffmpeg start exactly at frame n (None for frame 0).

    Frame n's exact time rounded up to the microsecond (ffmpeg's unit): the input seek then
    lands on the keyframe at or before n (a time before a keyframe's timestamp would land a
    whole GOP early: measured 2x the decoding for H.264, 1.5x for ProRes), and the accurate
    seek keeps frame n as the first frame at or after that time. Checked against the oracle
    on every sample.
    """
    us = movie.index.time_us_ceil(n)
    if n == 0 or us <= 0:
        return None
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


class FFmpegPerFrame(Method):
    name = "ffmpeg-ss"
    label = "ffmpeg -ss per frame (subprocess)"

    def __init__(self, movie: Movie):
        super().__init__()
        self.movie = movie

    def _one(self, n: int) -> np.ndarray:
        cmd = ["ffmpeg", "-nostdin", "-v", "error"]
        t = seek_time(self.movie, n)
        if t is not None:
            cmd += ["-ss", t]
        cmd += ["-i", str(self.movie.path), "-map", "0:v:0", "-frames:v", "1", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-"]
        out = subprocess.run(cmd, capture_output=True, check=True).stdout
        h, w = self.movie.height, self.movie.width
        if len(out) != h * w * 3:
            raise RuntimeError(f"ffmpeg wrote {len(out)} bytes for frame {n}, expected {h * w * 3}")
        return np.frombuffer(out, np.uint8).reshape(h, w, 3)

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        return [self._one(n) for n in frames]

    def describe(self) -> str:
        return "ffmpeg CLI, accurate input seek, default threads"


_RTIME = re.compile(r"bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s")


class FFmpegDecodeFloor(Method):
    returns_frames = False

    def __init__(self, movie: Movie, threads: Optional[int] = 2):
        """``threads``: ffmpeg's ``-threads``; None leaves FFmpeg's own choice."""
        super().__init__()
        self.movie = movie
        self.threads = threads
        if threads is None:
            self.name = "floor-ffmpeg-decode-auto"
            self.label = "floor: ffmpeg (default threads) decode+rgb24, -f null"
        else:
            self.name = "floor-ffmpeg-decode"
            self.label = f"floor: ffmpeg -threads {threads} decode+rgb24, -f null"

    def fetch(self, frames: Sequence[int]) -> None:
        first, count = min(frames), len(frames)
        if sorted(frames) != list(range(first, first + count)):
            raise ValueError("the decode floor takes consecutive frames")
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-benchmark"]
        if self.threads is not None:
            cmd += ["-threads", str(self.threads)]
        t = seek_time(self.movie, first)
        if t is not None:
            cmd += ["-ss", t]
        cmd += ["-i", str(self.movie.path), "-map", "0:v:0", "-frames:v", str(count),
                "-pix_fmt", "rgb24", "-f", "null", "-"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        m = _RTIME.search(proc.stderr)
        if proc.returncode != 0 or not m:
            raise RuntimeError(f"ffmpeg decode floor failed: {proc.stderr[-400:]}")
        decoded = re.findall(r"frame=\s*(\d+)", proc.stderr)
        if decoded and int(decoded[-1]) != count:
            raise RuntimeError(f"ffmpeg decoded {decoded[-1]} frames, expected {count}")
        self.timed_s = float(m.group(3))
        self.sample_meta = {"wall_s": wall, "utime_s": float(m.group(1)),
                            "stime_s": float(m.group(2))}
        return None

    def describe(self) -> str:
        threads = "default threads" if self.threads is None else f"-threads {self.threads}"
        return f"ffmpeg CLI, {threads}, timed by -benchmark rtime"
