"""framewire reading movies over HTTP (issue 6), through its Python client, against the
servers of remote_servers.py:

- :class:`RemotePairClient`: random frames from ``framewire serve --remote-base`` (``which =
  "remote"``) or the same frames from ``framewire serve --root`` on the local file (``"local"``),
  both with the RAM frame cache off; the warm-up opens the movie (index loaded, decoder open).
- :class:`ColdRemoteClient`: each sample asks for a frame of a movie URL the server has never
  seen (a new link to the same file), so the sample is a cold open: HEAD, probe, moov, the
  frame. After the timed fetch it reads nginx's access log (untimed) and records the body
  bytes sent for that URL next to the bound of issue 6: the moov atom + the frame's packet +
  two cache blocks.
"""

from __future__ import annotations

import time
from typing import List, Sequence

import numpy as np

from ..movies import moov_size
from ..remote_servers import BLOCK_SIZE, RemotePair, bytes_fetched, packet_sizes
from .framewire_client import SharedServerClient


class RemotePairClient(SharedServerClient):
    def __init__(self, name: str, label: str, pair: RemotePair, which: str, **kwargs):
        super().__init__(name, label, pair, "", **kwargs)
        self.which = which

    def attach(self, parts) -> None:
        self.endpoint = parts[self.which].endpoint
        site = parts["site"]
        self.movie_rel = site.warm_rel if self.which == "remote" else site.name

    def describe(self) -> str:
        where = "over HTTP from nginx (--remote-base)" if self.which == "remote" else "from the local file (--root)"
        return f"framewire serve --cache-bytes 0, movie {where}; " + super().describe()


class ColdRemoteClient(RemotePairClient):
    def __init__(self, name: str, label: str, pair: RemotePair, movie_path, notes: List[str], **kwargs):
        super().__init__(name, label, pair, "remote", **kwargs)
        self.movie_path = movie_path
        self.notes = notes    # the phase's notes: a summary of the bytes goes there at close()
        self._metas = []

    def warm(self, n: int) -> None:
        pass  # every sample is a first contact

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        parts = self.shared.value
        rel = parts["site"].new_cold()
        t0 = time.perf_counter()
        got = [self.client.get_frame(rel, n, format=self.pixel_format) for n in frames]
        arrays = [f.array for f in got]
        self.timed_s = time.perf_counter() - t0  # the log reading below is not the user's wait
        entries = bytes_fetched(parts["nginx"], rel)
        sizes = packet_sizes(self.movie_path)
        moov = moov_size(self.movie_path)
        frame_bytes = sum(sizes[n] for n in frames)
        bound = moov + frame_bytes + 2 * BLOCK_SIZE
        fetched = sum(e["body_bytes"] for e in entries)
        self.sample_meta = {
            "cached": ["decoded" for _ in got],
            "fetched_bytes": fetched, "bound_bytes": bound, "moov_bytes": moov, "frame_bytes": frame_bytes,
            "block_bytes": BLOCK_SIZE, "requests": len(entries),
            "ranges": [e["range"] for e in entries],
            "header_index_mismatch": sum(1 for f, n in zip(got, frames) if f.index != n),
        }
        self._metas.append(self.sample_meta)
        return arrays

    def close(self) -> None:
        if self._metas:
            worst = max(self._metas, key=lambda m: m["fetched_bytes"] / m["bound_bytes"])
            fetched = sorted(m["fetched_bytes"] for m in self._metas)
            self.notes.append(
                f"{self.label}: bytes fetched per cold open, median {_mb(fetched[len(fetched) // 2])}, "
                f"worst {_mb(worst['fetched_bytes'])} in {worst['requests']} requests "
                f"({worst['fetched_bytes'] / worst['bound_bytes']:.2f} of the bound: moov {_mb(worst['moov_bytes'])} "
                f"+ frame {_mb(worst['frame_bytes'])} + 2 x {BLOCK_SIZE >> 10} KiB = {_mb(worst['bound_bytes'])}); "
                f"its requests: {', '.join(r if r != '-' else 'HEAD' for r in worst['ranges'])}")
            self._metas = []
        super().close()

    def describe(self) -> str:
        return ("framewire serve --remote-base, a URL it has never seen per sample (cold index, decoder "
                f"and block cache; {BLOCK_SIZE >> 10} KiB blocks); bytes from nginx's access log")


def _mb(n: int) -> str:
    return f"{n / 1e6:.3f} MB"
