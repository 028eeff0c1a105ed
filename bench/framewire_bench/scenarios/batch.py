"""One batch request of consecutive frames (``get_frames``), per-frame cost, against PyAV
decoding the same frames forward and the decode floor (``ffmpeg -threads 2 ... -f null``
over the same frames).

Issue 4 target: batch frames/s at least 0.9x the ffmpeg decode floor.
"""

from __future__ import annotations

from ..methods.ffmpeg_cli import FFmpegDecodeFloor
from ..methods.framewire_client import FramewireClient
from ..methods.pyav_reader import PyAVHeld
from ..runner import Lane, Phase
from . import SERVER_TITLES, Context, scenario


@scenario("batch", order=30)
def build(ctx: Context) -> Phase:
    movie, plan = ctx.movie, ctx.plan
    requests = [list(b) for b in plan.batches]
    size = len(requests[0]) if requests else 0
    lanes = [Lane([FramewireClient(f"framewire-{key}", f"{SERVER_TITLES[key]}: get_frames x{size}",
                                   server.endpoint, movie.rel, batch=True,
                                   socket_type=ctx.socket_type)], requests)
             for key, server in ctx.framewire_servers()]
    pyav = PyAVHeld(movie)
    pyav.label = f"PyAV, held open, {size} frames forward"
    lanes.append(Lane([pyav], requests))
    lanes.append(Lane([FFmpegDecodeFloor(movie)], requests))
    return Phase(key="batch", title=f"one batch of {size} consecutive frames (per-frame cost)",
                 lanes=lanes, warm_frame=plan.warm, baseline="pyav-held", plot="bar",
                 time_limit_s=ctx.profile.budget("batch"), min_rounds=1)
