"""Worker memory over many movies (issue 4): one ``framewire serve`` (RAM frame cache off, so
what is measured is indexes, demuxers and decoders) reads one frame of each of 50 movies, one
after another (50 hard links to the benchmark movie: 50 distinct movies to the server, no
extra disk). Indexes and open decoders are LRU-bounded (``--max-open-movies``, default 8), so
the server's resident memory must level off instead of growing with every movie; it is
recorded after each request (notes: RSS after 1, 10, ... 50 movies).

Issue 4 target: worker memory stays bounded with 50 movies opened one after another.
"""

from __future__ import annotations

import os
from typing import Optional

from ..methods.framewire_cold import ManyMoviesClient
from ..runner import Lane, Phase
from . import Context, scenario

MOVIES = 50


@scenario("memory", order=60)
def build(ctx: Context) -> Optional[Phase]:
    if "serve" not in ctx.servers or ctx.build_dir is None:
        return None
    folder = ctx.movie.path.parent.parent / f"memory-{MOVIES}-{ctx.movie.key}"
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(MOVIES):
        name = f"{ctx.movie.key}-{i:02d}{ctx.movie.path.suffix}"
        link = folder / name
        if link.exists() and link.stat().st_ino != ctx.movie.path.stat().st_ino:
            link.unlink()  # a link to an older version of the movie
        if not link.exists():
            os.link(ctx.movie.path, link)
        names.append(name)
    notes = []
    method = ManyMoviesClient("framewire-many-movies", f"framewire serve, {MOVIES} movies one after another",
                              ctx.build_dir, folder, names, ctx.log_dir, notes, ["--cache-bytes", "0"],
                              socket_type=ctx.socket_type)
    pool = ctx.plan.random or [0]
    requests = [[pool[i % len(pool)]] for i in range(MOVIES)]
    phase = Phase(key="memory", title=f"{MOVIES} movies opened one after another (server RSS)",
                  lanes=[Lane([method], requests)], warm_frame=ctx.plan.warm,
                  baseline="framewire-many-movies", plot="cdf",
                  time_limit_s=ctx.profile.budget("memory"), min_rounds=MOVIES)
    phase.notes = notes
    return phase
