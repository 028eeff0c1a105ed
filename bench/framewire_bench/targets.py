"""The issue targets that the measured scenarios can decide, as ratios within one run.

Each target reads the results JSON (report.results_json) and returns a measured value and
whether it meets the bound; a target whose scenario or method was not measured says so. Add
a target when a scenario for it lands (issue 4: cold open, worker memory; issue 5: disk hit,
cache-aware routing hit rate).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional


@dataclasses.dataclass
class Target:
    issue: int
    text: str
    movie: str
    measure: Callable[[dict], Optional[float]]   # the ratio, None when not measured
    bound: float
    kind: str                                     # "<=" or ">="


def _stat(results: dict, movie: str, scenario: str, method: str, stat: str) -> Optional[float]:
    try:
        row = results["movies"][movie]["scenarios"][scenario]["rows"][method]
    except KeyError:
        return None
    if row.get("setup_error") or row.get("wrong") or not row.get("samples"):
        return None
    return row["stats"].get(stat)


def _ratio(a, b) -> Optional[float]:
    return a / b if a is not None and b not in (None, 0) else None


def _r(movie, scen, m1, s1, m2, s2):
    return lambda res: _ratio(_stat(res, movie, scen, m1, s1), _stat(res, movie, scen, m2, s2))


TARGETS: List[Target] = [
    Target(4, "random frames, framewire serve p50 / PyAV held p50", "prores",
           _r("prores", "random", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.0, "<="),
    Target(4, "random frames, PyAV open-per-request p50 / framewire serve p50", "prores",
           _r("prores", "random", "pyav-open", "p50_ms", "framewire-serve", "p50_ms"), 3.0, ">="),
    Target(4, "random frames, framewire serve p50 / PyAV held p50", "h264",
           _r("h264", "random", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.0, "<="),
    Target(4, "random frames, framewire serve p90 / PyAV held p90", "h264",
           _r("h264", "random", "framewire-serve", "p90_ms", "pyav-held", "p90_ms"), 1.0, "<="),
    Target(4, "sequential, framewire serve p50 / PyAV sequential decode+convert p50", "prores",
           _r("prores", "sequential", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.2, "<="),
    Target(4, "sequential, framewire serve p50 / PyAV sequential decode+convert p50", "h264",
           _r("h264", "sequential", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.2, "<="),
    Target(4, "batch, framewire serve frames/s / ffmpeg -threads 2 decode floor frames/s", "prores",
           _r("prores", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode", "frames_per_s"),
           0.9, ">="),
    Target(4, "batch, framewire serve frames/s / ffmpeg -threads 2 decode floor frames/s", "h264",
           _r("h264", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode", "frames_per_s"),
           0.9, ">="),
    Target(5, "same frame again (RAM hit), framewire serve p50 / bare pyzmq round trip p50", "prores",
           _r("prores", "random", "framewire-serve-again", "p50_ms", "floor-zmq", "p50_ms"), 1.25, "<="),
]


def evaluate(results: dict) -> List[dict]:
    out = []
    for t in TARGETS:
        if t.movie not in results.get("movies", {}):
            continue
        value = t.measure(results)
        met = None if value is None else (value <= t.bound if t.kind == "<=" else value >= t.bound)
        out.append({"issue": t.issue, "movie": t.movie, "target": t.text,
                    "bound": f"{t.kind} {t.bound:g}", "value": value, "met": met})
    return out
