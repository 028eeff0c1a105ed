"""Forward-sequential single requests, timed by the run: a client asks for frames n, n+1,
n+2, ... one request each, waiting for each reply before asking for the next. One sample is
one whole run of K consecutive frames starting at a keyframe (movies.FramePlan
``sequential_runs``), so the per-frame cost is the run's time / K, and every method pays one
seek per run and decodes the rest forward.

Methods: framewire (``get_frame`` per frame, in order, against ``framewire serve`` and the
broker with worker processes), PyAV held open decoding the run forward, and the decode
floor: ``ffmpeg [-threads 2] -ss T -i M -frames:v K -pix_fmt rgb24 -f null -`` over the same
run (decode + convert with both cores, no transport, timed by ffmpeg's ``-benchmark``
rtime). The baseline is the floor with FFmpeg's own thread count, the faster one here and
the count framewire's decoders use; the ``-threads 2`` floor is shown beside it.

Why whole runs, not one frame per sample: the runner interleaves methods sample by sample.
With single-frame samples, work that runs in the background between two samples of a method
is never timed: PyAV's frame threads decode the next frames ahead while the other methods are
being measured (PyAV "held" then showed 3 ms/frame for 1080p H.264, faster than ffmpeg's
whole decode+convert), and framewire's read-ahead decodes the frames after n after
replying to n. Inside a timed run such pipelining is legitimate and is counted; only the
little that spills past a run's end escapes the clock: PyAV's decoded-ahead frames are
dropped by the next run's seek; framewire's read-ahead of the frames after the run lands on
guard frames that no scenario reads, and an untimed pause after every sample (``settle_s``)
lets such work end before the next method is timed, so it slows nobody else down.

Issue 4 target: framewire serve's per-frame p50 within 1.2x of the floor's (sequential
decode + convert).
"""

from __future__ import annotations

from typing import Optional

from ..methods.ffmpeg_cli import FFmpegDecodeFloor
from ..methods.framewire_client import FramewireClient
from ..methods.pyav_reader import PyAVHeld
from ..runner import Lane, Phase
from . import SERVER_TITLES, Context, scenario


@scenario("sequential", order=20)
def build(ctx: Context) -> Optional[Phase]:
    movie, plan = ctx.movie, ctx.plan
    requests = [list(run) for run in plan.sequential_runs]
    if not requests:
        return None
    size = max(len(r) for r in requests)
    lanes = [Lane([FramewireClient(f"framewire-{key}",
                                   f"{SERVER_TITLES[key]}: get_frame x{size} in turn",
                                   server.endpoint, movie.rel, socket_type=ctx.socket_type)],
                  requests)
             for key, server in ctx.framewire_servers()]
    pyav = PyAVHeld(movie)
    pyav.label = "PyAV, held open, decoding the run forward"
    lanes.append(Lane([pyav], requests))
    for threads in (None, 2):
        floor = FFmpegDecodeFloor(movie, threads)
        floor.label = floor.label.replace("decode+rgb24", "decode+rgb24 of the run")
        lanes.append(Lane([floor], requests))
    phase = Phase(key="sequential",
                  title=f"sequential single requests, {len(requests)} runs x {size} frames "
                        f"(per-frame cost)",
                  lanes=lanes, warm_frame=plan.warm, baseline="floor-ffmpeg-decode-auto", plot="bar",
                  time_limit_s=ctx.profile.budget("sequential"), min_rounds=ctx.profile.min_rounds,
                  settle_s=0.3)
    phase.notes.append("runs (frames): " + ", ".join(
        f"{r[0]}..{r[-1]}" + ("" if movie.index.keyframe[r[0]] else " (NOT from a keyframe: movie too short)")
        for r in requests))
    return phase
