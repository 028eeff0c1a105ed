"""How much to measure: movie length, samples and a time budget per scenario, for the full
run, --quick and --tiny (the suite's smoke test).

The machine is shared and slow peers (or a slow framewire) can take seconds per frame, so
each scenario also has a time budget per movie: it runs whole rounds (every method once)
until its samples are done or its budget is spent, then the table says "n of planned".
With these budgets the full run takes under 10 minutes and --quick under 3 on the 2-core
development machine, movies cached (generating them the first time adds about 2 minutes
for the full run, 1 for --quick).

Slow peers (OpenCV seeks, ffmpeg per frame) get ``slow_count`` samples, the first ones of
the random frames, spread evenly over the rounds.

The sequential scenario times whole runs of ``sequential_run_length`` consecutive frames
(one sample per run, ``sequential_runs`` of them, each from a keyframe); the runs, the
batches and the random frames must fit in the movie's ``frames`` (see movies.FramePlan).
"""

from __future__ import annotations

import dataclasses
from typing import Dict


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    width: int
    height: int
    frames: int            # frames per generated movie
    random_count: int      # random frames (all fast methods)
    slow_count: int        # of which OpenCV and ffmpeg -ss fetch this many
    sequential_runs: int   # forward-sequential runs (one timed sample each)
    sequential_run_length: int  # consecutive frames per run, from a keyframe
    batches: int           # batch requests
    batch_size: int        # frames per batch request
    seconds: Dict[str, float] = dataclasses.field(default_factory=dict)  # scenario -> budget
    min_rounds: int = 3    # rounds run even when the budget is spent

    def budget(self, scenario: str) -> float:
        return self.seconds.get(scenario, 60.0)


FULL = Profile("full", 1920, 1080, frames=600, random_count=100, slow_count=25, sequential_runs=4,
               sequential_run_length=30, batches=2, batch_size=100,
               seconds={"random": 100, "sequential": 25, "batch": 45, "disk": 40, "routing": 60, "remote": 45, "remote-cold": 20, "cold-open": 30, "memory": 40})
QUICK = Profile("quick", 1920, 1080, frames=240, random_count=30, slow_count=8, sequential_runs=2,
                sequential_run_length=20, batches=1, batch_size=50,
                seconds={"random": 35, "sequential": 10, "batch": 20, "disk": 20, "routing": 30, "remote": 20, "remote-cold": 10, "cold-open": 20, "memory": 25})
TINY = Profile("tiny", 320, 240, frames=150, random_count=8, slow_count=3, sequential_runs=2,
               sequential_run_length=8, batches=1, batch_size=20,
               seconds={"random": 30, "sequential": 15, "batch": 15, "disk": 15, "routing": 20, "remote": 10, "remote-cold": 10, "cold-open": 15, "memory": 20})


def choose(quick: bool, tiny: bool) -> Profile:
    if tiny:
        return TINY
    return QUICK if quick else FULL
