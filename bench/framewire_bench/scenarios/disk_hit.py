"""Disk cache hits (issue 5): ``framewire serve`` with its RAM cache off and a disk cache on,
each random frame fetched twice: first decoded (and written to the disk cache in the
background), then again, served from the disk cache (mapped, sent without a copy). Both rows
go through the same server, client and transport, so their ratio is what the disk tier saves.

Issue 5 target: disk hit p50 at least 3x faster than decoding the same 1080p ProRes HQ frame.
Measured on the ProRes movie only (the target's movie; H.264 decodes are slower still).
"""

from __future__ import annotations

from typing import Optional

from ..cache_servers import OwnedServer, start_serve_with
from ..methods.framewire_cached import DiskHitClient
from ..methods.framewire_client import SharedServerClient
from ..runner import Lane, Phase
from . import Context, scenario


@scenario("disk", order=40)
def build(ctx: Context) -> Optional[Phase]:
    if ctx.movie.key != "prores" or "serve" not in ctx.servers or ctx.build_dir is None:
        return None
    root = ctx.movie.path.parent
    scratch = root.parent / "disk-cache-scenario"
    owned = OwnedServer(lambda: start_serve_with(
        ctx.build_dir, root, ctx.log_dir, "serve-disk",
        ["--cache-bytes", "0", "--disk-cache", str(scratch), "--disk-cache-bytes", "8G"]), scratch=scratch)
    decode = SharedServerClient("framewire-disk-decode", "framewire serve, disk cache on: first fetch (decoded)",
                             owned, ctx.movie.rel, socket_type=ctx.socket_type)
    hit = DiskHitClient("framewire-disk-hit", "framewire serve, disk cache on: same frame again (disk hit)",
                        owned, ctx.movie.rel, socket_type=ctx.socket_type)
    requests = [[n] for n in ctx.plan.random]
    return Phase(key="disk", title="disk cache: decoded, then the same frame from the disk cache (RAM cache off)",
                 lanes=[Lane([decode, hit], requests)], warm_frame=ctx.plan.warm,
                 baseline="framewire-disk-decode", plot="cdf",
                 time_limit_s=ctx.profile.budget("disk"), min_rounds=ctx.profile.min_rounds)
