"""Remote movies (issue 6): framewire reading the movie from a real nginx with HTTP range
requests, against the same server reading the local file. Measured on the ProRes movie (the
CamHD case: large intra frames on a plain HTTP server).

- ``remote``: warm random frames (index loaded, decoder open, the frame cached nowhere: RAM
  frame cache off, frames not read before), ``framewire serve --remote-base`` and ``framewire
  serve --root`` interleaved on the same frames. Target: remote p50 within 1.2x of local.
- ``remote-cold``: the first frame served from a movie URL the server has never seen (a cold
  open per sample), bytes counted in nginx's access log. Target: at most the moov atom + that
  frame + two cache blocks, for the movie's first frame. A second row asks for a random frame
  first, which costs frame 0 too (opening reads it: see the notes of that phase).
"""

from __future__ import annotations

from typing import Optional

from ..methods.framewire_remote import ColdRemoteClient, RemotePairClient
from ..remote_servers import RemotePair, nginx_available
from ..runner import Lane, Phase
from . import Context, scenario


def _usable(ctx: Context) -> bool:
    return ctx.movie.key == "prores" and ctx.build_dir is not None and nginx_available() and "serve" in ctx.servers


def _pair(ctx: Context, tag: str) -> RemotePair:
    return RemotePair(ctx.build_dir, ctx.movie.path.parent.parent / f"remote-site-{tag}", ctx.movie.path,
                      ctx.log_dir, tag)


@scenario("remote", order=70)
def build_warm(ctx: Context) -> Optional[Phase]:
    if not _usable(ctx):
        return None
    pair = _pair(ctx, "remote")
    remote = RemotePairClient("framewire-remote", "framewire serve, movie over HTTP (nginx): random frame",
                              pair, "remote", socket_type=ctx.socket_type)
    local = RemotePairClient("framewire-remote-local", "framewire serve, same frames from the local file",
                             pair, "local", socket_type=ctx.socket_type)
    requests = [[n] for n in ctx.plan.random]
    return Phase(key="remote", title="remote: warm random frames over HTTP range requests vs the local file "
                                     "(RAM frame cache off)",
                 lanes=[Lane([remote], requests), Lane([local], requests)], warm_frame=ctx.plan.warm,
                 baseline="framewire-remote-local", plot="cdf",
                 time_limit_s=ctx.profile.budget("remote"), min_rounds=ctx.profile.min_rounds)


@scenario("remote-cold", order=71)
def build_cold(ctx: Context) -> Optional[Phase]:
    if not _usable(ctx):
        return None
    pair = _pair(ctx, "remote-cold")
    notes = []  # the clients add what they fetched when they close
    first = ColdRemoteClient("framewire-remote-cold-first", "framewire serve, cold remote movie: frame 0",
                             pair, ctx.movie.path, notes, socket_type=ctx.socket_type)
    random = ColdRemoteClient("framewire-remote-cold-random", "framewire serve, cold remote movie: a random frame",
                              pair, ctx.movie.path, notes, socket_type=ctx.socket_type)
    count = max(3, min(8, ctx.profile.slow_count))
    return Phase(key="remote-cold", title="remote: cold open + first frame over HTTP (bytes from nginx's log)",
                 lanes=[Lane([first], [[0]] * count), Lane([random], [[n] for n in ctx.plan.random[:count]])],
                 warm_frame=ctx.plan.warm, baseline="framewire-remote-cold-first", plot="cdf",
                 time_limit_s=ctx.profile.budget("remote-cold"), min_rounds=ctx.profile.min_rounds, notes=notes)
