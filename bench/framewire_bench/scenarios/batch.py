"""One batch request of consecutive frames (``get_frames``), per-frame cost, against PyAV
decoding the same frames forward and the decode floor (``ffmpeg -threads 2 ... -f null``
over the same frames, and the same with FFmpeg's own thread count, which is faster here).

Issue 4 target: batch frames/s at least 0.9x the ``ffmpeg -threads 2`` decode floor (as the
issue writes it); the ratio to the default-threads floor is reported beside it.
"""

from __future__ import annotations

from ..methods.ffmpeg_cli import FFmpegDecodeFloor
from ..cache_servers import OwnedServer, start_serve_with
from ..methods.framewire_client import FramewireClient, SharedServerClient
from ..methods.pyav_reader import PyAVHeld
from ..runner import Lane, Phase
from . import SERVER_TITLES, Context, scenario


def warm_batch(requests, size: int, movie_frames: int):
    """`size` consecutive frames that no timed batch asks for (the movie's last ones, when
    free): an untimed batch of these brings a client to its steady state without putting the
    timed frames in any cache."""
    timed = {n for r in requests for n in r}
    start = movie_frames - size
    frames = list(range(max(start, 0), movie_frames))
    return frames if start >= 0 and not timed.intersection(frames) else []


@scenario("batch", order=30)
def build(ctx: Context) -> Phase:
    movie, plan = ctx.movie, ctx.plan
    requests = [list(b) for b in plan.batches]
    size = len(requests[0]) if requests else 0
    warm = warm_batch(requests, size, movie.num_frames)
    lanes = [Lane([FramewireClient(f"framewire-{key}", f"{SERVER_TITLES[key]}: get_frames x{size}",
                                   server.endpoint, movie.rel, batch=True,
                                   socket_type=ctx.socket_type, warm_frames=warm)], requests)
             for key, server in ctx.framewire_servers()]
    if ctx.build_dir is not None:
        # framewire serve again (a server of its own: no cache shared with the lanes above),
        # its frames sent through the socket: what shared memory saves.
        owned = OwnedServer(lambda: start_serve_with(ctx.build_dir, movie.path.parent, ctx.log_dir,
                                                     "serve-socket", []))
        lanes.append(Lane([SharedServerClient("framewire-serve-socket",
                                              f"framewire serve, frames through the socket: get_frames x{size}",
                                              owned, movie.rel, batch=True, socket_type=ctx.socket_type,
                                              shared_memory=False, warm_frames=warm)], requests))
    pyav = PyAVHeld(movie)
    pyav.label = f"PyAV, held open, {size} frames forward"
    lanes.append(Lane([pyav], requests))
    lanes.extend(Lane([FFmpegDecodeFloor(movie, threads)], requests) for threads in (2, None))
    return Phase(key="batch", title=f"one batch of {size} consecutive frames (per-frame cost)",
                 lanes=lanes, warm_frame=plan.warm, baseline="pyav-held", plot="bar",
                 time_limit_s=ctx.profile.budget("batch"), min_rounds=1)
