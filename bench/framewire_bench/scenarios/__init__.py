"""Scenarios: what is measured, one small module each, registered by key.

A scenario is a function ``build(ctx) -> Phase`` (see runner.py): for one movie it chooses
the requests (from the movie's shared FramePlan, so every method reads the same frames) and
the methods that serve them, grouped in lanes. The runner interleaves the lanes, times and
verifies; report.py turns the rows into tables, JSON and plots without knowing the scenario.

To add a scenario (e.g. the cache hit, disk hit or cold-open targets of issues 4 and 5):
write ``scenarios/<name>.py`` with a ``@scenario("<key>", order=N)`` builder, import it at
the bottom of this file, and, if it needs frames of its own, add them to FramePlan
(movies.py) so the oracle extracts them up front. ``bench/run --scenarios <key>`` runs it
alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..movies import FramePlan, Movie
from ..profiles import Profile
from ..runner import Phase


@dataclasses.dataclass
class Context:
    movie: Movie
    plan: FramePlan
    servers: Dict[str, "object"]      # "serve", "dist" (framewire), "echo" (transport floor)
    profile: Profile
    socket_type: str                  # the framewire client's socket type (the floor copies it)
    build_dir: Optional[Path] = None  # framewire binaries, for scenarios that start servers of their own
    log_dir: Optional[Path] = None    # where those servers log

    def framewire_servers(self) -> List[tuple]:
        """(key, server) for the framewire servers that are up, embedded first."""
        return [(k, self.servers[k]) for k in ("serve", "dist") if k in self.servers]


@dataclasses.dataclass
class Scenario:
    key: str
    order: int
    build: Callable[[Context], Optional[Phase]]  # None: nothing to measure for this movie


SCENARIOS: Dict[str, Scenario] = {}


def scenario(key: str, order: int):
    def register(fn: Callable[[Context], Phase]):
        SCENARIOS[key] = Scenario(key, order, fn)
        return fn
    return register


def ordered(keys=None) -> List[Scenario]:
    chosen = [s for s in SCENARIOS.values() if keys is None or s.key in keys]
    return sorted(chosen, key=lambda s: s.order)


SERVER_TITLES = {"serve": "framewire serve", "dist": "framewire broker+2 workers"}

from . import random_access, sequential, batch  # noqa: E402,F401  (registers them)
from . import disk_hit, routing  # noqa: E402,F401  (issue 5: caches)
from . import remote  # noqa: E402,F401  (issue 6: remote movies)
from . import cold_open, memory  # noqa: E402,F401  (issue 4: cold open, memory over 50 movies)
