"""Random access: random frames, each fetched once by every method (uncached), plus
framewire fetching the same frame again right after (a cache hit once the frame cache of
issue 5 exists; the report says how each reply was served), against the in-process and
command-line peers and the transport floor. Ratios are to PyAV with the container held open.

Issue 4 targets here: framewire serve p50 <= PyAV held (ProRes and H.264, also p90 for H.264)
and >= 3x faster than PyAV opening per request. Issue 5: "again" p50 within 1.25x of the
zmq floor once the RAM cache exists.
"""

from __future__ import annotations

from ..methods.ffmpeg_cli import FFmpegPerFrame
from ..methods.framewire_client import FramewireClient
from ..methods.opencv_seek import OpenCVSeek
from ..methods.pyav_reader import PyAVHeld, PyAVPerRequest
from ..methods.zmq_floor import ZmqRoundTrip
from ..runner import Lane, Phase
from . import SERVER_TITLES, Context, scenario


@scenario("random", order=10)
def build(ctx: Context) -> Phase:
    movie, plan = ctx.movie, ctx.plan
    every = [[n] for n in plan.random]
    slow = every[:ctx.profile.slow_count]
    lanes = []
    for key, server in ctx.framewire_servers():
        title = SERVER_TITLES[key]
        methods = [FramewireClient(f"framewire-{key}", f"{title}: random frame", server.endpoint,
                                   movie.rel, socket_type=ctx.socket_type)]
        if key == "serve":  # the embedded server stands for both here: time is scarce
            methods.append(FramewireClient(f"framewire-{key}-again", f"{title}: same frame again",
                                           server.endpoint, movie.rel, socket_type=ctx.socket_type))
        lanes.append(Lane(methods, every))
    lanes.append(Lane([PyAVHeld(movie)], every))
    lanes.append(Lane([PyAVPerRequest(movie)], every))
    lanes.append(Lane([OpenCVSeek(movie)], slow))
    lanes.append(Lane([FFmpegPerFrame(movie)], slow))
    if "echo" in ctx.servers:
        lanes.append(Lane([ZmqRoundTrip(ctx.servers["echo"].endpoint, (movie.height, movie.width, 3),
                                        ctx.socket_type or "dealer")], every))
    return Phase(key="random", title="random frames, one request each (rgb24 numpy)",
                 lanes=lanes, warm_frame=plan.warm, baseline="pyav-held", plot="cdf",
                 time_limit_s=ctx.profile.budget("random"), min_rounds=ctx.profile.min_rounds)
