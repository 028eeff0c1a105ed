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


def _hit_rate(movie, scen, method):
    """The share of a framewire row's frames that the replies say came from the RAM cache."""
    def measure(res):
        try:
            row = res["movies"][movie]["scenarios"][scen]["rows"][method]
        except KeyError:
            return None
        served = row.get("served_from") or {}
        total = sum(served.values())
        if row.get("setup_error") or row.get("wrong") or not total:
            return None
        return served.get("memory", 0) / total
    return measure


def _worst_bytes_ratio(movie, scen, method):
    """The largest bytes-fetched / bound of a cold-open row's samples (issue 6)."""
    def measure(res):
        try:
            row = res["movies"][movie]["scenarios"][scen]["rows"][method]
        except KeyError:
            return None
        ratios = [m["fetched_bytes"] / m["bound_bytes"] for m in row.get("meta", [])
                  if m.get("bound_bytes")]
        if row.get("setup_error") or row.get("wrong") or not ratios:
            return None
        return max(ratios)
    return measure


def _meta_values(res, movie, scen, method, key):
    try:
        row = res["movies"][movie]["scenarios"][scen]["rows"][method]
    except KeyError:
        return None
    values = [m[key] for m in row.get("meta", []) if m.get(key) is not None]
    if row.get("setup_error") or row.get("wrong") or not values:
        return None
    return values


def _worst_read_ratio(movie, scen, method):
    """The largest bytes-read / bound of a cold-open row's samples (issue 4)."""
    def measure(res):
        try:
            meta = res["movies"][movie]["scenarios"][scen]["rows"][method]["meta"]
        except KeyError:
            return None
        ratios = [m["read_bytes"] / m["bound_bytes"] for m in meta if m.get("bound_bytes")]
        return max(ratios) if ratios else None
    return measure


def _rss_growth(movie, scen, method):
    """Max RSS over the second half of the movies / max RSS over the first half (issue 4).

    RSS rises while the LRU of open decoders fills (8 by default), then must stay level:
    the second 25 movies may not take the server above the peak of the first 25 (plus noise).
    """
    def measure(res):
        rss = _meta_values(res, movie, scen, method, "rss_mb")
        if not rss or len(rss) < 20:
            return None
        half = len(rss) // 2
        return max(rss[half:]) / max(rss[:half])
    return measure


# Issue 4: "Forward-sequential single requests (n, n+1, n+2, ...): per-frame cost within 1.2x
# of sequential decode+convert". Per-frame = a whole run's time / its frames (one sample per
# run, scenarios/sequential.py); sequential decode+convert = the ffmpeg decode floor over the
# same run, with FFmpeg's own thread count (as framewire's decoders; faster than -threads 2).
SEQUENTIAL = ("sequential runs, framewire serve per-frame p50 / "
              "ffmpeg (default threads) decode+convert per-frame p50")

TARGETS: List[Target] = [
    Target(4, "random frames, framewire serve p50 / PyAV held p50", "prores",
           _r("prores", "random", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.0, "<="),
    Target(4, "random frames, PyAV open-per-request p50 / framewire serve p50", "prores",
           _r("prores", "random", "pyav-open", "p50_ms", "framewire-serve", "p50_ms"), 3.0, ">="),
    Target(4, "random frames, framewire serve p50 / PyAV held p50", "h264",
           _r("h264", "random", "framewire-serve", "p50_ms", "pyav-held", "p50_ms"), 1.0, "<="),
    Target(4, "random frames, framewire serve p90 / PyAV held p90", "h264",
           _r("h264", "random", "framewire-serve", "p90_ms", "pyav-held", "p90_ms"), 1.0, "<="),
    Target(4, SEQUENTIAL, "prores",
           _r("prores", "sequential", "framewire-serve", "p50_ms", "floor-ffmpeg-decode-auto", "p50_ms"),
           1.2, "<="),
    Target(4, SEQUENTIAL, "h264",
           _r("h264", "sequential", "framewire-serve", "p50_ms", "floor-ffmpeg-decode-auto", "p50_ms"),
           1.2, "<="),
    Target(4, "batch, framewire serve frames/s / ffmpeg -threads 2 decode floor frames/s", "prores",
           _r("prores", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode", "frames_per_s"),
           0.9, ">="),
    Target(4, "batch, framewire serve frames/s / ffmpeg -threads 2 decode floor frames/s", "h264",
           _r("h264", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode", "frames_per_s"),
           0.9, ">="),
    Target(4, "batch, framewire serve frames/s / ffmpeg (default threads) decode floor frames/s "
              "(for comparison, no bound)", "prores",
           _r("prores", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode-auto", "frames_per_s"),
           0.0, ">="),
    Target(4, "batch, framewire serve frames/s / ffmpeg (default threads) decode floor frames/s "
              "(for comparison, no bound)", "h264",
           _r("h264", "batch", "framewire-serve", "frames_per_s", "floor-ffmpeg-decode-auto", "frames_per_s"),
           0.0, ">="),
    Target(4, "cold open, 2,000-frame 1080p ProRes: bytes read / (moov + 2 MiB), worst sample", "prores",
           _worst_read_ratio("prores", "cold-open", "framewire-cold-open"), 1.0, "<="),
    Target(4, "cold open, 2,000-frame 1080p ProRes: index ready (INFO round trip) p50 in ms", "prores",
           lambda res: _stat(res, "prores", "cold-open", "framewire-cold-open", "p50_ms"), 200.0, "<="),
    Target(4, "50 movies one after another: max RSS of movies 26-50 / max RSS of movies 1-25", "prores",
           _rss_growth("prores", "memory", "framewire-many-movies"), 1.15, "<="),
    Target(4, "50 movies one after another: max RSS of movies 26-50 / max RSS of movies 1-25", "h264",
           _rss_growth("h264", "memory", "framewire-many-movies"), 1.15, "<="),
    Target(5, "same frame again (RAM hit), framewire serve p50 / bare pyzmq round trip p50", "prores",
           _r("prores", "random", "framewire-serve-again", "p50_ms", "floor-zmq", "p50_ms"), 1.25, "<="),
    Target(5, "disk cache: decoding p50 / disk hit p50, same frames through the same server", "prores",
           _r("prores", "disk", "framewire-disk-decode", "p50_ms", "framewire-disk-hit", "p50_ms"), 3.0, ">="),
    Target(5, "2 workers, 8 movies: hit rate with cache-aware routing", "prores",
           _hit_rate("prores", "routing", "framewire-routing-affinity"), 0.95, ">="),
    Target(5, "2 workers, 8 movies: hit rate with plain LRU routing (for comparison, no bound)", "prores",
           _hit_rate("prores", "routing", "framewire-routing-lru"), 0.0, ">="),
    Target(6, "cold remote movie, frame 0: bytes fetched (nginx log) / (moov + frame + 2 cache blocks), worst sample",
           "prores", _worst_bytes_ratio("prores", "remote-cold", "framewire-remote-cold-first"), 1.0, "<="),
    Target(6, "warm remote random frames p50 / the same frames from the local file p50", "prores",
           _r("prores", "remote", "framewire-remote", "p50_ms", "framewire-remote-local", "p50_ms"), 1.2, "<="),
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
