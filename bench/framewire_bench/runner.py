"""Runs a scenario's methods interleaved, times them and verifies every frame they return.

A :class:`Phase` (what a scenario builds for one movie) is a list of :class:`Lane` s. A lane
is a list of requests (each a list of frame numbers) and the methods that serve them; within
a lane the methods run one after the other on the same request (so "the same frame again"
follows the first fetch of that frame). The phase runs in rounds: in each round every lane
that has a request scheduled runs it, lanes in an order rotated by one each round. Lanes
with fewer requests (slow peers) are spread evenly over the rounds. A phase with a time
budget stops after the round that spends it (all methods then have had the same share of
the run). So machine drift and
noise from other users hit all methods alike, and only ratios within one phase matter.

Only the ``fetch`` call is timed (``time.perf_counter``); verification against the oracle,
garbage collection and progress output happen between samples.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import time
import traceback
from typing import Dict, List, Optional

import numpy as np

from .methods import Method
from .oracle import Oracle

MAX_CONSECUTIVE_ERRORS = 3


@dataclasses.dataclass
class Lane:
    methods: List[Method]
    requests: List[List[int]]


@dataclasses.dataclass
class Phase:
    key: str                       # scenario id: "random", "sequential", "batch", ...
    title: str                     # what the scenario measures, one line
    lanes: List[Lane]
    warm_frame: int
    baseline: str = "pyav-held"    # method name the ratio column divides by
    plot: str = "cdf"              # "cdf" of per-frame latency, or "bar" of frames/s
    time_limit_s: float = 0.0      # stop after the round that passes this (0 = no limit)
    min_rounds: int = 3            # ... but run at least this many rounds
    settle_s: float = 0.0          # untimed pause after each sample: work a method left running
                                   # in the background (read-ahead, decoder threads) ends before
                                   # the next method is timed
    notes: List[str] = dataclasses.field(default_factory=list)

    def frames(self) -> List[int]:
        s = {self.warm_frame}
        for lane in self.lanes:
            for req in lane.requests:
                s.update(req)
        return sorted(s)

    def methods(self) -> List[Method]:
        return [m for lane in self.lanes for m in lane.methods]


@dataclasses.dataclass
class Row:
    """Everything measured for one method in one phase."""

    method: str
    label: str
    config: str
    returns_frames: bool
    latencies_s: List[float] = dataclasses.field(default_factory=list)   # per request
    frames: List[int] = dataclasses.field(default_factory=list)          # frames per request
    checked: int = 0
    ok: int = 0
    wrong: int = 0
    min_psnr_db: Optional[float] = None
    wrong_examples: List[str] = dataclasses.field(default_factory=list)
    errors: int = 0
    error_messages: List[str] = dataclasses.field(default_factory=list)
    setup_error: str = ""
    requests_planned: int = 0
    meta: List[dict] = dataclasses.field(default_factory=list)

    def per_frame_ms(self) -> np.ndarray:
        if not self.latencies_s:
            return np.array([])
        return np.array([t / max(f, 1) for t, f in zip(self.latencies_s, self.frames)]) * 1e3

    def stats(self) -> Dict[str, Optional[float]]:
        pf = self.per_frame_ms()
        if pf.size == 0:
            return {"p50_ms": None, "p90_ms": None, "mean_ms": None, "min_ms": None,
                    "max_ms": None, "frames_per_s": None}
        return {
            "p50_ms": float(np.percentile(pf, 50)), "p90_ms": float(np.percentile(pf, 90)),
            "mean_ms": float(pf.mean()), "min_ms": float(pf.min()), "max_ms": float(pf.max()),
            "frames_per_s": float(sum(self.frames) / sum(self.latencies_s)),
        }

    def note_error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < 3 and message not in self.error_messages:
            self.error_messages.append(message)


def _schedule(count: int, rounds: int) -> Dict[int, int]:
    """round -> request number, `count` requests spread evenly over `rounds` rounds."""
    return {(j * rounds) // count: j for j in range(count)} if count else {}


def run_phase(phase: Phase, oracle: Oracle, log=lambda s: print(s, file=sys.stderr)) -> List[Row]:
    rows: Dict[int, Row] = {}
    for m in phase.methods():
        rows[id(m)] = Row(method=m.name, label=m.label, config="", returns_frames=m.returns_frames)
    lanes_by_method = {id(m): lane for lane in phase.lanes for m in lane.methods}
    for m in phase.methods():
        rows[id(m)].requests_planned = len(lanes_by_method[id(m)].requests)

    live = []
    for m in phase.methods():
        row = rows[id(m)]
        try:
            m.open()
            m.warm(phase.warm_frame)
            live.append(m)
        except Exception as e:  # a method that cannot start is reported, not fatal
            row.setup_error = _short(e)
            log(f"    {m.name}: setup failed: {row.setup_error}")
        row.config = _safe_describe(m)
    alive = {id(m) for m in live}
    consecutive_errors = {id(m): 0 for m in live}

    rounds = max((len(l.requests) for l in phase.lanes), default=0)
    schedules = [_schedule(len(l.requests), rounds) for l in phase.lanes]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    started = time.monotonic()
    try:
        for r in range(rounds):
            order = list(range(len(phase.lanes)))
            k = r % max(len(order), 1)
            order = order[k:] + order[:k]
            for li in order:
                j = schedules[li].get(r)
                if j is None:
                    continue
                request = phase.lanes[li].requests[j]
                for m in phase.lanes[li].methods:
                    if id(m) not in alive:
                        continue
                    ok = _sample(m, request, rows[id(m)], oracle)
                    if phase.settle_s:
                        time.sleep(phase.settle_s)
                    if not ok:
                        consecutive_errors[id(m)] += 1
                        if consecutive_errors[id(m)] >= MAX_CONSECUTIVE_ERRORS:
                            alive.discard(id(m))
                            log(f"    {m.name}: {MAX_CONSECUTIVE_ERRORS} errors in a row, stopped")
                    else:
                        consecutive_errors[id(m)] = 0
            gc.collect()
            elapsed = time.monotonic() - started
            if phase.time_limit_s and elapsed > phase.time_limit_s and r + 1 < rounds \
                    and r + 1 >= phase.min_rounds:
                log(f"    time budget of {phase.time_limit_s:.0f} s spent after {r + 1} of "
                    f"{rounds} rounds")
                phase.notes.append(f"stopped by its time budget ({phase.time_limit_s:.0f} s) "
                                   f"after {r + 1} of {rounds} rounds")
                break
            if sys.stderr.isatty():
                print(f"\r    round {r + 1}/{rounds} ({time.monotonic() - started:.0f} s)",
                      end="", file=sys.stderr, flush=True)
        if sys.stderr.isatty():
            print("", file=sys.stderr)
    finally:
        if gc_was_enabled:
            gc.enable()
        for m in phase.methods():
            try:
                m.close()
            except Exception:
                pass
    return [rows[id(m)] for m in phase.methods()]


def _sample(m: Method, request: List[int], row: Row, oracle: Oracle) -> bool:
    """One timed fetch, then verification of what it returned. False if it raised."""
    m.timed_s = None
    m.sample_meta = None
    try:
        t0 = time.perf_counter()
        arrays = m.fetch(request)
        elapsed = time.perf_counter() - t0
    except Exception as e:
        row.note_error(_short(e))
        return False
    row.latencies_s.append(m.timed_s if m.timed_s is not None else elapsed)
    row.frames.append(len(request))
    if m.sample_meta is not None:
        row.meta.append(m.sample_meta)
    if not m.returns_frames:
        return True
    if arrays is None or len(arrays) != len(request):
        row.checked += len(request)
        row.wrong += len(request)
        _add_example(row, f"returned {0 if arrays is None else len(arrays)} frames for {len(request)}")
        return True
    for n, arr in zip(request, arrays):
        v = oracle.check(n, arr)
        row.checked += 1
        if v.ok:
            row.ok += 1
        else:
            row.wrong += 1
            _add_example(row, f"frame {n}: {v.reason}")
        if v.psnr_db and (row.min_psnr_db is None or v.psnr_db < row.min_psnr_db):
            row.min_psnr_db = v.psnr_db
    return True


def _add_example(row: Row, text: str) -> None:
    if len(row.wrong_examples) < 5:
        row.wrong_examples.append(text)


def _short(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    if isinstance(e, (AssertionError, AttributeError, TypeError, KeyError, IndexError)):
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            text += f" (at {tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})"
    return text.splitlines()[0][:300] if text else type(e).__name__


def _safe_describe(m: Method) -> str:
    try:
        return m.describe()
    except Exception:
        return ""
