"""Forward-sequential single requests: frames n, n+1, n+2, ... one request each, against
PyAV held open decoding forward (sequential decode + convert in-process).

Issue 4 target: framewire's per-frame cost within 1.2x of sequential decode+convert.
"""

from __future__ import annotations

from ..methods.framewire_client import FramewireClient
from ..methods.pyav_reader import PyAVHeld
from ..runner import Lane, Phase
from . import SERVER_TITLES, Context, scenario


@scenario("sequential", order=20)
def build(ctx: Context) -> Phase:
    movie, plan = ctx.movie, ctx.plan
    requests = [[n] for n in plan.sequential]
    lanes = [Lane([FramewireClient(f"framewire-{key}", f"{SERVER_TITLES[key]}: next frame",
                                   server.endpoint, movie.rel, socket_type=ctx.socket_type)],
                  requests)
             for key, server in ctx.framewire_servers()]
    lanes.append(Lane([PyAVHeld(movie)], requests))
    lanes[-1].methods[0].label = "PyAV, held open, decoding forward"
    first, last = plan.sequential[0], plan.sequential[-1]
    return Phase(key="sequential",
                 title=f"forward-sequential single requests, frames {first}..{last}",
                 lanes=lanes, warm_frame=plan.warm, baseline="pyav-held", plot="cdf",
                 time_limit_s=ctx.profile.budget("sequential"), min_rounds=ctx.profile.min_rounds)
