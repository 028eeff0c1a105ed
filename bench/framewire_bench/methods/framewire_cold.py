"""framewire opening movies it has never seen (issue 4), through the Python client against
``framewire serve`` processes these methods start themselves:

- :class:`ColdOpenClient`: every sample starts a fresh server over a folder holding one long
  movie, asks for its metadata (INFO: the index has to be built, or loaded from the state
  folder) and counts what the server process read from files for it (``rchar`` of
  /proc/PID/io, before and after: every byte the demuxer, the sample-table parser or the index
  store read, page cache or not). The timed span is the INFO round trip ("index ready");
  frame 0 is then fetched untimed, so every sample is also checked against the oracle.
- :class:`ManyMoviesClient`: one long-lived server over a folder of N names for the same
  movie (hard links: distinct movies to the server); each sample reads one frame of the next
  name, so the samples open N movies one after another, and the server's resident memory is
  recorded after each (``VmRSS``): with LRU-bounded indexes and decoders it must level off.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..cache_servers import start_serve_with
from ..movies import moov_size
from .framewire_client import FramewireClient, _cached, _server_ms, import_client


def read_chars(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/PID/io")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ColdOpenClient(FramewireClient):
    """INFO of a movie a freshly started server has never opened; ``state_dir`` (with
    ``primed``): the server keeps indexes there, and a first server built this one's."""

    SLACK_BYTES = 2 << 20  # the target: at most the moov atom plus 2 MiB read

    def __init__(self, name: str, label: str, build_dir: Path, root: Path, movie_rel: str,
                 log_dir: Path, notes: List[str], state_dir: Optional[Path] = None, **kwargs):
        super().__init__(name, label, "", movie_rel, **kwargs)
        self.build_dir, self.root, self.log_dir = build_dir, root, log_dir
        self.notes = notes
        self.state_dir = state_dir
        self.moov = moov_size(root / movie_rel)
        self.file_size = (root / movie_rel).stat().st_size
        self._samples = 0

    def _server_args(self) -> List[str]:
        args = ["--cache-bytes", "0"]
        if self.state_dir is not None:
            args += ["--state-dir", str(self.state_dir)]
        return args

    def open(self) -> None:
        self._fw = import_client()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            server = start_serve_with(self.build_dir, self.root, self.log_dir, f"{self.name}-prime",
                                      self._server_args())
            try:
                with self._fw.Client(server.endpoint, timeout=self.timeout, retries=0) as c:
                    c.info(self.movie_rel)  # builds the index and stores it
            finally:
                server.stop()

    def warm(self, n: int) -> None:
        pass  # every sample is a first open

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        import time
        server = start_serve_with(self.build_dir, self.root, self.log_dir, f"{self.name}-{self._samples}",
                                  self._server_args())
        self._samples += 1
        try:
            pid = server.processes[0].pid
            with self._fw.Client(server.endpoint, timeout=self.timeout, retries=0) as c:
                c.list("")  # the server answers: everything but the movie is set up
                before = read_chars(pid)
                t0 = time.perf_counter()
                info = c.info(self.movie_rel)
                self.timed_s = time.perf_counter() - t0
                read = read_chars(pid) - before
                got = [c.get_frame(self.movie_rel, n, format=self.pixel_format) for n in frames]
                arrays = [np.array(f.array) for f in got]  # the server goes away: keep a copy
        finally:
            server.stop()
        bound = self.moov + self.SLACK_BYTES
        self.sample_meta = {"read_bytes": read, "moov_bytes": self.moov, "bound_bytes": bound,
                            "file_bytes": self.file_size, "num_frames": info.num_frames,
                            "info_ms": self.timed_s * 1e3, "cached": [_cached(f) for f in got],
                            "header_index_mismatch": sum(1 for f, n in zip(got, frames) if f.index != n)}
        self.notes.append(f"{self.label}: INFO in {self.timed_s * 1e3:.0f} ms, read {read / 2**20:.2f} MiB "
                          f"(moov {self.moov / 2**10:.0f} KiB; bound moov + 2 MiB = {bound / 2**20:.2f} MiB; "
                          f"file {self.file_size / 2**30:.2f} GiB, {info.num_frames} frames)")
        return arrays

    def close(self) -> None:
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def describe(self) -> str:
        state = f"--state-dir (index stored by an earlier server)" if self.state_dir else "no --state-dir"
        return f"a new framewire serve --cache-bytes 0 per sample, {state}; timed: INFO round trip"


class ManyMoviesClient(FramewireClient):
    """Frame n of movie name i, i = 0, 1, 2, ...: N movies opened one after another."""

    def __init__(self, name: str, label: str, build_dir: Path, root: Path, names: List[str],
                 log_dir: Path, notes: List[str], server_args: List[str], **kwargs):
        super().__init__(name, label, "", names[0], **kwargs)
        self.build_dir, self.root, self.log_dir = build_dir, root, log_dir
        self.names = names
        self.notes = notes
        self.server_args = server_args
        self.server = None
        self._next = 0
        self.rss_mb: List[float] = []

    def open(self) -> None:
        self.server = start_serve_with(self.build_dir, self.root, self.log_dir, self.name, self.server_args)
        self.endpoint = self.server.endpoint
        super().open()
        self.rss_start_mb = rss_kb(self.server.processes[0].pid) / 1024

    def warm(self, n: int) -> None:
        self.client.list("")

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        movie = self.names[self._next % len(self.names)]
        self._next += 1
        got = [self.client.get_frame(movie, n, format=self.pixel_format) for n in frames]
        self.rss_mb.append(rss_kb(self.server.processes[0].pid) / 1024)
        self.sample_meta = {"server_ms": _server_ms(got, False), "cached": [_cached(f) for f in got],
                            "movie": movie, "movies_opened": self._next, "rss_mb": self.rss_mb[-1],
                            "header_index_mismatch": sum(1 for f, n in zip(got, frames) if f.index != n)}
        return [f.array for f in got]

    def close(self) -> None:
        try:
            super().close()
            if self.rss_mb:
                marks = [i for i in (1, 10, 20, 30, 40, 50, len(self.rss_mb)) if i <= len(self.rss_mb)]
                steps = ", ".join(f"{i}: {self.rss_mb[i - 1]:.0f}" for i in sorted(set(marks)))
                self.notes.append(f"{self.label}: server RSS (MB) at start {self.rss_start_mb:.0f}; after "
                                  f"N movies opened one after another, N: MB = {steps}; "
                                  f"max {max(self.rss_mb):.0f}")
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None

    def describe(self) -> str:
        return (f"framewire serve {' '.join(self.server_args)}, {len(self.names)} hard links to the movie "
                "(distinct movies to the server), one frame each, in turn")
