"""The frame oracle: what frame n of a movie looks like as rgb24, according to ffmpeg.

Reference frames come from one ffmpeg pass over the movie's first video stream with
``-fps_mode passthrough`` and a ``select`` filter on the decoded frame number ``n`` (frame n
is the n-th frame ffmpeg decodes, in presentation order, as in proto/PROTOCOL.md), converted
to rgb24 by ffmpeg's own swscale.

A method's frame is right when its PSNR against the reference is at least 40 dB (swscale
flags and chroma upsampling differ between tools, so no bit-exact match is demanded). On
these noisy test movies neighbouring frames are about 20 dB apart, so a wrong frame cannot
pass. To keep memory small (hundreds of 1080p frames), only a fixed grid of pixels (every
4th row and column) is kept and compared; a wrong frame differs all over the picture.
"""

from __future__ import annotations

import dataclasses
import subprocess
from typing import Dict, List, Optional, Sequence

import numpy as np

from .movies import Movie, ranges

PSNR_MIN_DB = 40.0
GRID = 4


@dataclasses.dataclass
class Verdict:
    ok: bool
    psnr_db: float
    reason: str = ""          # for wrong frames: what was wrong ("shape ...", "looks like frame m")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float32) - b.astype(np.float32)
    mse = float(np.mean(d * d))
    return 100.0 if mse == 0 else float(10.0 * np.log10(255.0 * 255.0 / mse))


class Oracle:
    """Reference rgb24 (grid-sampled) for a set of frames of one movie."""

    def __init__(self, movie: Movie, refs: Dict[int, np.ndarray]):
        self.movie = movie
        self.refs = refs

    @classmethod
    def extract(cls, movie: Movie, frames: Sequence[int]) -> "Oracle":
        wanted = sorted(set(frames))
        expr = "+".join(f"between(n\\,{a}\\,{b})" for a, b in ranges(wanted))
        w, h = movie.width, movie.height
        size = w * h * 3
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2", "-i", str(movie.path),
               "-map", "0:v:0", "-vf", f"select='{expr}'", "-fps_mode", "passthrough",
               "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        refs = {}
        try:
            for n in wanted:
                buf = _read_exact(proc.stdout, size)
                if buf is None:
                    break
                refs[n] = np.frombuffer(buf, np.uint8).reshape(h, w, 3)[::GRID, ::GRID].copy()
            rest = proc.stdout.read()
        finally:
            err = proc.stderr.read().decode(errors="replace")
            proc.wait()
        if proc.returncode != 0 or len(refs) != len(wanted) or rest:
            raise RuntimeError(
                f"oracle for {movie.path.name}: ffmpeg returned {len(refs)} of {len(wanted)} "
                f"frames (+{len(rest) if rest else 0} extra bytes), exit {proc.returncode}: {err[-500:]}")
        return cls(movie, refs)

    def check(self, n: int, frame: Optional[np.ndarray]) -> Verdict:
        shape = (self.movie.height, self.movie.width, 3)
        if frame is None:
            return Verdict(False, 0.0, "no frame")
        if frame.shape != shape or frame.dtype != np.uint8:
            return Verdict(False, 0.0, f"shape {frame.shape} {frame.dtype}, expected {shape} uint8")
        grid = frame[::GRID, ::GRID]
        db = psnr(grid, self.refs[n])
        if db >= PSNR_MIN_DB:
            return Verdict(True, db)
        return Verdict(False, db, self._looks_like(grid, n, db))

    def _looks_like(self, grid: np.ndarray, n: int, db: float) -> str:
        best, best_db = None, db
        for m in range(n - 8, n + 9):
            if m != n and m in self.refs:
                d = psnr(grid, self.refs[m])
                if d > best_db:
                    best, best_db = m, d
        if best is not None and best_db >= PSNR_MIN_DB:
            return f"got frame {best} ({best_db:.1f} dB) instead of {n} ({db:.1f} dB)"
        return f"{db:.1f} dB against frame {n}"


def _read_exact(stream, size: int) -> Optional[bytes]:
    chunks: List[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
