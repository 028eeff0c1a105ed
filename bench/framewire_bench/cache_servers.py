"""framewire servers that the cache scenarios start for themselves (issue 5): ``framewire
serve`` with a disk cache and no RAM cache, and broker + 2 worker processes with small RAM
caches and a chosen routing policy. Each is started when the first method using it opens and
stopped when the last one closes (:class:`OwnedServer`, a servers.Shared), so it lives only for its scenario;
processes and log files are named after the scenario, apart from the main servers'.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable, List, Optional

from .servers import Process, Server, Shared, free_port, start_listening


def start_serve_with(bdir: Path, root: Path, log_dir: Path, tag: str, args: List[str]) -> Server:
    """``framewire serve --workers 2`` with extra ``args``, its log named ``framewire-<tag>``."""
    return start_listening(tag, f"framewire serve --workers 2 {' '.join(args)}", f"framewire-{tag}",
                           [str(bdir / "bin" / "framewire"), "serve", "--root", str(root),
                            "--listen", f"tcp://127.0.0.1:{free_port()}", "--workers", "2", *args], log_dir)


def start_cluster_with(bdir: Path, root: Path, log_dir: Path, tag: str, broker_args: List[str],
                       worker_args: List[str], workers: int = 2) -> Server:
    """``framewire-broker`` + ``workers`` ``framewire-worker --workers 1`` processes, waited for
    until every worker has registered (STATS lists them)."""
    server = Server(tag, f"framewire-broker {' '.join(broker_args)} + {workers} framewire-worker "
                         f"{' '.join(worker_args)}")
    try:
        b = Process(f"framewire-{tag}-broker", [str(bdir / "bin" / "framewire-broker"),
                                                "--frontend", "tcp://127.0.0.1:0",
                                                "--backend", "tcp://127.0.0.1:0", *broker_args], log_dir)
        server.processes.append(b)
        m = b.wait_for(r"frontend (\S+) backend (\S+)")
        server.endpoint, backend = m.group(1), m.group(2)
        for i in range(workers):
            server.processes.append(Process(
                f"framewire-{tag}-worker-{i}",
                [str(bdir / "bin" / "framewire-worker"), "--broker", backend, "--root", str(root),
                 "--workers", "1", "--name", f"{tag}-w{i}", *worker_args], log_dir))
        _wait_for_workers(server, workers)
        return server
    except Exception:
        server.stop()
        raise


def _wait_for_workers(server: Server, count: int, timeout: float = 30.0) -> None:
    from .methods.framewire_client import import_client
    fw = import_client()
    deadline = time.monotonic() + timeout
    with fw.Client(server.endpoint, timeout=2.0, retries=0) as c:
        while time.monotonic() < deadline:
            for p in server.processes:
                if p.proc.poll() is not None:
                    raise RuntimeError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_text()[-2000:]}")
            try:
                if c.stats()["broker"]["workers"] >= count:
                    return
            except fw.Error:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{server.key}: {count} workers did not register within {timeout:.0f} s")


class OwnedServer(Shared):
    """A server its scenario's methods share (servers.Shared). ``scratch`` (a folder, e.g. a
    disk cache) is emptied before the start and removed after the stop."""

    def __init__(self, start: Callable[[], Server], scratch: Optional[Path] = None):
        def start_clean() -> Server:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            return start()

        def stop(server: Server) -> None:
            server.stop()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

        super().__init__(start_clean, stop)
