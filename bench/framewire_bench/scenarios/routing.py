"""Cache-aware routing (issue 5): a broker with two worker processes whose RAM caches hold 3/4
of the working set each (together 1.5x of it), requests spread over 8 movies, against the same
deployment with plain least-recently-used routing (``--routing lru``).

The 8 movies are hard links (different names, so different cache keys and routing keys) of the
scenario's movie; the working set is K frames of each. Each method first reads the whole working
set once, untimed; then both read it again, twice, in the same shuffled order. With affinity
routing a movie's requests meet the worker that cached them; with LRU routing they alternate
between workers whose caches each hold less than all of it. The served-from column and the
notes under the table give the hit rates.

Issue 5 target: hit rate with cache-aware routing >= 95 %, reported beside plain LRU routing.
Measured on the ProRes movie only.
"""

from __future__ import annotations

import os
import random
import shutil
from typing import Optional

from ..cache_servers import OwnedServer, start_cluster_with
from ..methods.framewire_cached import RoutingClient
from ..runner import Lane, Phase
from . import Context, scenario

MOVIES = 8
PASSES = 2
FRAMES_PER_MOVIE = {"full": 12, "quick": 6, "tiny": 3}


def _linked_movies(ctx: Context) -> list:
    """routing-<key>/m0..m7.<ext>: hard links of the movie (copies where links cannot be made)."""
    root = ctx.movie.path.parent
    folder = root / f"routing-{ctx.movie.key}"
    folder.mkdir(exist_ok=True)
    rels = []
    for i in range(MOVIES):
        target = folder / f"m{i}{ctx.movie.path.suffix}"
        if not target.exists() or target.stat().st_size != ctx.movie.path.stat().st_size:
            if target.exists():
                target.unlink()
            try:
                os.link(ctx.movie.path, target)
            except OSError:
                shutil.copyfile(ctx.movie.path, target)
        rels.append(str(target.relative_to(root)))
    return rels


@scenario("routing", order=50)
def build(ctx: Context) -> Optional[Phase]:
    if ctx.movie.key != "prores" or "serve" not in ctx.servers or ctx.build_dir is None:
        return None
    movies = _linked_movies(ctx)
    per_movie = FRAMES_PER_MOVIE.get(ctx.profile.name.split("+")[0], 6)
    frames = sorted(ctx.plan.random[:per_movie])
    working_set = [(m, n) for m in range(MOVIES) for n in frames]
    rng = random.Random(2024)
    timed = []
    for _ in range(PASSES):
        order = list(working_set)
        rng.shuffle(order)
        timed += order
    frame_bytes = ctx.movie.width * ctx.movie.height * 3
    # What one entry costs in the RAM cache (frame_cache.h): pages + a page + bookkeeping.
    entry_bytes = (frame_bytes + 4095) // 4096 * 4096 + 4096 + 1024
    cache_bytes = entry_bytes * len(working_set) * 3 // 4

    root = ctx.movie.path.parent
    notes = [f"{MOVIES} movies x {len(frames)} frames = {len(working_set)} rgb24 frames "
             f"({len(working_set) * frame_bytes / 2**20:.0f} MiB); each worker's RAM cache "
             f"{cache_bytes / 2**20:.0f} MiB (3/4 of it); {PASSES} timed passes after an untimed one"]

    def cluster(policy: str) -> OwnedServer:
        return OwnedServer(lambda: start_cluster_with(
            ctx.build_dir, root, ctx.log_dir, f"routing-{policy}", ["--routing", policy],
            ["--cache-bytes", str(cache_bytes)]))

    methods = [
        RoutingClient(f"framewire-routing-{policy}", f"broker ({title}) + 2 workers, 8 movies",
                      cluster(policy), movies, [m for m, _ in timed], working_set, notes, seed=7,
                      socket_type=ctx.socket_type)
        for policy, title in (("affinity", "cache-aware routing"), ("lru", "plain LRU routing"))]
    lanes = [Lane([m], [[n] for _, n in timed]) for m in methods]
    return Phase(key="routing", title=f"cache-aware vs LRU routing, 2 workers, {MOVIES} movies, "
                                      f"working set fits the combined caches",
                 lanes=lanes, warm_frame=ctx.plan.warm, baseline="framewire-routing-affinity", plot="cdf",
                 time_limit_s=ctx.profile.budget("routing"), min_rounds=ctx.profile.min_rounds, notes=notes)
