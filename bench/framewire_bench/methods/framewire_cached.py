"""framewire through its Python client, against servers the cache scenarios own
(cache_servers.py): the same measurement as :class:`FramewireClient`, plus

- :class:`DiskHitClient`: before each timed request it waits (untimed) until the server has
  written what it queued for its disk cache, so the request that follows a decode is a disk
  hit rather than a race with the writer;
- :class:`RoutingClient`: reads frame n of one of several movies (the same content under
  several names), the movie taken in turn from a sequence both routing methods share; its
  warm-up reads the whole working set once, untimed, so the samples measure steady state.
"""

from __future__ import annotations

import random
import time
from typing import List, Sequence

import numpy as np

from ..cache_servers import OwnedServer
from .framewire_client import SharedServerClient, _cached, _server_ms


class DiskHitClient(SharedServerClient):
    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        deadline = time.monotonic() + 30
        while self.client.stats()["total"]["disk"].get("pending_writes", 0) and time.monotonic() < deadline:
            time.sleep(0.002)
        t0 = time.perf_counter()
        arrays = super().fetch(frames)
        self.timed_s = time.perf_counter() - t0
        return arrays


class RoutingClient(SharedServerClient):
    def __init__(self, name: str, label: str, owned: OwnedServer, movies: List[str],
                 sequence: List[int], working_set: List[tuple], notes: List[str], seed: int, **kwargs):
        super().__init__(name, label, owned, movies[0], **kwargs)
        self.movies = movies
        self.sequence = sequence          # movie number of the i-th timed request
        self.working_set = working_set    # (movie number, frame) pairs
        self.notes = notes
        self.seed = seed
        self._next = 0
        self._served = {}  # tier -> timed requests

    def warm(self, n: int) -> None:
        for movie in self.movies:
            self.client.info(movie)
        order = list(self.working_set)
        random.Random(self.seed).shuffle(order)
        for m, frame in order:
            self.client.get_frame(self.movies[m], frame, format=self.pixel_format)

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        movie = self.movies[self.sequence[self._next % len(self.sequence)]]
        self._next += 1
        got = [self.client.get_frame(movie, n, format=self.pixel_format) for n in frames]
        for f in got:
            self._served[_cached(f)] = self._served.get(_cached(f), 0) + 1
        self.sample_meta = {"server_ms": _server_ms(got, False), "cached": [_cached(f) for f in got],
                            "workers": sorted({str(f.worker) for f in got}), "movie": movie,
                            "header_index_mismatch": sum(1 for f, n in zip(got, frames) if f.index != n)}
        return [f.array for f in got]

    def close(self) -> None:
        try:
            if self.client is not None:
                stats = self.client.stats()
                per_worker = ", ".join(
                    f"{w['group']} {w['stats']['memory']['entries']} frames "
                    f"({w['stats']['memory']['bytes'] / 2**20:.0f} of "
                    f"{w['stats']['memory']['capacity_bytes'] / 2**20:.0f} MiB)"
                    for w in stats["workers"] if "stats" in w)
                total = sum(self._served.values())
                hits = self._served.get("memory", 0)
                rate = f"hit rate {100.0 * hits / total:.1f} % ({hits} of {total})" if total else "no samples"
                spills = ""
                if stats["broker"].get("routing") == "affinity":
                    spills = f"; {stats['broker']['affinity_spills']} requests spilled off their home worker"
                self.notes.append(f"{self.label}: {rate}; caches at the end: {per_worker}{spills}")
        except Exception as e:  # the numbers are a courtesy; the samples are what counts
            self.notes.append(f"{self.label}: no stats at the end ({e})")
        finally:
            super().close()
