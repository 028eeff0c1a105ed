"""bench/run: generate movies, start framewire, run the scenarios, write the results.

Order of a run: machine facts -> movies (generated once into the cache folder) -> servers
(framewire serve, broker + 2 workers, the zmq echo floor) -> per movie: frame plan, oracle,
page cache warm-up, scenarios (each interleaving its methods) -> latest.json, latest.md
(printed), latest.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from . import machine, movies as movies_mod, plot, report, servers as servers_mod
from .oracle import Oracle
from .profiles import choose
from .runner import run_phase
from .scenarios import SCENARIOS, Context, ordered

BENCH = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="framewire against the tools users would pick instead, side by side in one run.")
    p.add_argument("--quick", action="store_true", help="fewer samples and shorter movies (< 3 min)")
    p.add_argument("--tiny", action="store_true",
                   help="320x240 movies and a handful of samples (the test suite's smoke run)")
    p.add_argument("--size", metavar="WxH", help="movie size (default 1920x1080; --tiny: 320x240)")
    p.add_argument("--frames", type=int, metavar="N", help="frames per generated movie")
    p.add_argument("--samples", type=int, metavar="N", help="random frames per method")
    p.add_argument("--batch-size", type=int, metavar="N", help="frames per batch request")
    p.add_argument("--movies", default="prores,h264", help="comma list of: " + ",".join(movies_mod.SPECS))
    p.add_argument("--scenarios", default=None, help="comma list of: " + ",".join(SCENARIOS))
    p.add_argument("--workers", type=int, default=2, help="framewire serve --workers (default 2)")
    p.add_argument("--no-dist", action="store_true", help="skip broker + worker processes")
    p.add_argument("--no-framewire", action="store_true",
                   help="peers and floors only (when framewire is not built)")
    p.add_argument("--socket-type", default="", help="framewire client socket: dealer or req "
                   "(default: the client's default); the zmq floor uses the same")
    p.add_argument("--build-dir", default=None,
                   help="framewire build tree (default: $FRAMEWIRE_BUILD_DIR or <repo>/build)")
    p.add_argument("--cache-dir", default=str(BENCH / "cache"), help="generated movies (reused)")
    p.add_argument("--results-dir", default=str(BENCH / "results"), help="where latest.* go")
    p.add_argument("--seed", type=int, default=20240724, help="seed of the random frame choice")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    profile = choose(args.quick, args.tiny)
    overrides = {}
    if args.size:
        w, h = (int(x) for x in args.size.lower().split("x"))
        overrides.update(width=w, height=h)
    if args.frames:
        overrides["frames"] = args.frames
    if args.samples:
        overrides.update(random_count=args.samples, slow_count=min(profile.slow_count, args.samples))
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    if overrides:
        profile = dataclasses.replace(profile, name=profile.name + "+custom", **overrides)
    movie_keys = [k.strip() for k in args.movies.split(",") if k.strip()]
    for k in movie_keys:
        if k not in movies_mod.SPECS:
            log(f"bench/run: unknown movie {k!r} (known: {', '.join(movies_mod.SPECS)})")
            return 2
    scen_keys = None
    if args.scenarios:
        scen_keys = [k.strip() for k in args.scenarios.split(",") if k.strip()]
        unknown = [k for k in scen_keys if k not in SCENARIOS]
        if unknown:
            log(f"bench/run: unknown scenario(s) {unknown} (known: {', '.join(SCENARIOS)})")
            return 2

    cache = Path(args.cache_dir).resolve()
    results_dir = Path(args.results_dir).resolve()
    log_dir = cache / "logs" / time.strftime("%Y%m%d-%H%M%S")
    log_dir.mkdir(parents=True, exist_ok=True)
    _prune_logs(cache / "logs", keep=5)
    bdir = servers_mod.build_dir(args.build_dir)
    notes = []

    if not args.no_framewire:
        missing = servers_mod.missing_binaries(bdir)
        if missing:
            log(f"bench/run: framewire binaries missing in {bdir}/bin: {', '.join(missing)}\n"
                "  build them (make build, or --build-dir DIR), or run the peers alone with --no-framewire")
            return 2
        try:
            from .methods.framewire_client import import_client
            import_client()
        except Exception as e:
            log(f"bench/run: the framewire Python client is not usable: {e}")
            return 2

    mach = machine.describe()
    log(f"framewire bench ({profile.name}): {mach['cores']} cores, {mach['cpu_model']}, "
        f"load {mach['load_average_start']}")

    # Movies.
    movie_root = cache / "movies"
    movies = {}
    for key in movie_keys:
        spec = movies_mod.SPECS[key](width=profile.width, height=profile.height, frames=profile.frames)
        movies[key] = movies_mod.ensure_movie(spec, movie_root, log)
        mv = movies[key]
        if mv.num_frames != spec.frames:
            notes.append(f"{key}: the packet index has {mv.num_frames} frames, {spec.frames} were encoded")

    # Servers.
    running = {}
    results_movies = {}
    try:
        if not args.no_framewire:
            log(f"starting framewire from {bdir}")
            running["serve"] = servers_mod.start_serve(bdir, movie_root, args.workers, log_dir)
            if not args.no_dist:
                running["dist"] = servers_mod.start_distributed(bdir, movie_root, 2, log_dir)
        running["echo"] = servers_mod.start_echo(log_dir)
        socket_type = args.socket_type or _client_socket_type(running)

        for key, mv in movies.items():
            plan = movies_mod.plan_frames(mv.index, random_count=profile.random_count,
                                          sequential_runs=profile.sequential_runs,
                                          sequential_run_length=profile.sequential_run_length,
                                          batches=profile.batches,
                                          batch_size=profile.batch_size, seed=args.seed)
            ctx = Context(movie=mv, plan=plan, servers=running, profile=profile, socket_type=socket_type,
                          build_dir=bdir, log_dir=log_dir)
            phases = [ph for ph in (s.build(ctx) for s in ordered(scen_keys)) if ph is not None]
            needed = sorted({n for ph in phases for n in ph.frames()})
            log(f"{key}: oracle for {len(needed)} frames ...")
            oracle = Oracle.extract(mv, needed)
            _read_file(mv.path)   # into the page cache: no method pays the first disk read
            scen_results = {}
            for ph in phases:
                t0 = time.monotonic()
                log(f"{key}: {ph.key}: {ph.title} ({len(ph.methods())} methods)")
                rows = run_phase(ph, oracle, log)
                scen_results[ph.key] = report.phase_json(ph, rows)
                scen_results[ph.key]["seconds"] = time.monotonic() - t0
                log(f"{key}: {ph.key} done in {time.monotonic() - t0:.0f} s")
            results_movies[key] = {"movie": mv.describe(), "plan": dataclasses.asdict(plan),
                                   "generated_s": mv.generated_s, "scenarios": scen_results}
        server_info = {k: {"description": s.description, "endpoint": s.endpoint,
                           "rss_mb_end": round(s.rss_kb() / 1024, 1)} for k, s in running.items()}
    finally:
        for s in running.values():
            s.stop()

    if args.no_framewire:
        notes.append("framewire not run (--no-framewire)")
    mach["load_average_end"] = machine.load_average()
    res = report.results_json(mach, dataclasses.asdict(profile), server_info, results_movies,
                              time.monotonic() - started, notes)
    res["logs"] = str(log_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    plot_ok = True
    try:
        plot.write(res, results_dir / "latest.png")
    except Exception as e:  # the table matters more than the picture
        plot_ok = False
        log(f"bench/run: plot failed: {e}")
    md_path = report.write(results_dir, res, plot_ok)
    print(md_path.read_text())
    log(f"wrote {md_path}, {results_dir / 'latest.json'}"
        f"{', ' + str(results_dir / 'latest.png') if plot_ok else ''} in {res['duration_s']:.0f} s")
    return 0


def _client_socket_type(running) -> str:
    """The framewire client's default socket type, so the zmq floor uses the same."""
    server = running.get("serve") or running.get("dist")
    if server is None:
        return "dealer"
    try:
        from .methods.framewire_client import import_client
        fw = import_client()
        client = fw.Client(server.endpoint, timeout=5.0)
        kind = str(getattr(client, "socket_type", "dealer")).lower()
        getattr(client, "close", lambda: None)()
        return "req" if "req" in kind else "dealer"
    except Exception:
        return "dealer"


def _prune_logs(logs: Path, keep: int) -> None:
    import shutil
    runs = sorted(p for p in logs.iterdir() if p.is_dir())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _read_file(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass
