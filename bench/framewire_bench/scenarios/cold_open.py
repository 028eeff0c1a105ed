"""Cold open of a long movie (issue 4): a 1080p ProRes HQ movie of 2,000 frames (~2 GB, made
by stream-copying the benchmark's ProRes movie in a loop) that a freshly started server has
never seen. Its metadata (INFO) needs the movie's index: built from the moov atom's sample
tables, not by reading the movie. Two rows: without a state folder (the index is built), and
restarted with ``--state-dir`` over a folder where an earlier server stored the index.

Issue 4 target: index ready after reading at most the moov atom + 2 MiB, and within 0.2 s;
both are reported per sample (notes) and as targets (worst sample of bytes, p50 of time).
"""

from __future__ import annotations

import sys
from typing import Optional

from ..methods.framewire_cold import ColdOpenClient
from ..movies import looped_movie
from ..runner import Lane, Phase
from . import Context, scenario

LONG_FRAMES = 2000


@scenario("cold-open", order=50)
def build(ctx: Context) -> Optional[Phase]:
    if ctx.movie.key != "prores" or "serve" not in ctx.servers or ctx.build_dir is None:
        return None
    folder = ctx.movie.path.parent.parent / "cold-open"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"long-{LONG_FRAMES}f-{ctx.movie.path.stem}.mov"
    looped_movie(ctx.movie, LONG_FRAMES, folder, name, log=lambda m: print(m, file=sys.stderr, flush=True))
    samples = 5 if ctx.profile.name.startswith("full") else 3
    notes = []
    fresh = ColdOpenClient("framewire-cold-open", "framewire serve, first open (index built from the moov)",
                           ctx.build_dir, folder, name, ctx.log_dir, notes, socket_type=ctx.socket_type)
    stored = ColdOpenClient("framewire-cold-open-stored",
                            "framewire serve restarted with --state-dir (index stored before)",
                            ctx.build_dir, folder, name, ctx.log_dir, notes,
                            state_dir=folder / "state", socket_type=ctx.socket_type)
    requests = [[0]] * samples  # frame 0 of the loop is frame 0 of the benchmark movie: verified
    phase = Phase(key="cold-open", title=f"cold open of a {LONG_FRAMES}-frame 1080p ProRes movie "
                                          "(INFO round trip = index ready)",
                  lanes=[Lane([fresh], requests), Lane([stored], requests)], warm_frame=ctx.plan.warm,
                  baseline="framewire-cold-open", plot="cdf",
                  time_limit_s=ctx.profile.budget("cold-open"), min_rounds=1)
    phase.notes = notes
    return phase
