"""Processes the benchmark starts and stops: framewire (embedded and distributed) and the
bare ZeroMQ echo server of the transport floor.

Every server listens on a free loopback port (port 0 where the program supports it), is
waited for until it prints its ready line, logs into the run's log folder, and is stopped
with SIGTERM (then SIGKILL) when the run ends, also when it fails.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

REPO = Path(__file__).resolve().parents[2]


def build_dir(arg: Optional[str]) -> Path:
    return Path(arg or os.environ.get("FRAMEWIRE_BUILD_DIR") or REPO / "build").resolve()


def missing_binaries(bdir: Path, names=("framewire", "framewire-broker", "framewire-worker")) -> List[str]:
    return [n for n in names if not os.access(bdir / "bin" / n, os.X_OK)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose stdout+stderr go to a log file."""

    def __init__(self, name: str, cmd: List[str], log_dir: Path):
        self.name = name
        self.cmd = cmd
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.log_text())
            if m:
                return m
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   f"$ {' '.join(self.cmd)}\n{self.log_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid


class Server:
    """One logical server (possibly several processes) and the endpoint clients use."""

    def __init__(self, key: str, description: str):
        self.key = key
        self.description = description
        self.endpoint = ""
        self.processes: List[Process] = []

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()

    def rss_kb(self) -> int:
        """Resident memory of all its processes now (kB), from /proc."""
        total = 0
        for p in self.processes:
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total


class Shared:
    """Something the methods of one scenario share (a server, a set of servers): started by
    the first method that acquires it and stopped when the last one releases it, so it lives
    only for its scenario."""

    def __init__(self, start: Callable[[], Any], stop: Callable[[Any], None]):
        self._start = start
        self._stop = stop
        self._users = 0
        self.value: Any = None

    def acquire(self) -> Any:
        if self.value is None:
            self.value = self._start()
        self._users += 1
        return self.value

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self.value is not None:
            value, self.value = self.value, None
            self._stop(value)


def start_listening(key: str, description: str, process_name: str, cmd: List[str], log_dir: Path) -> Server:
    """A one-process server that prints ``listening on ENDPOINT`` once it serves."""
    server = Server(key, description)
    try:
        p = Process(process_name, cmd, log_dir)
        server.processes.append(p)
        server.endpoint = p.wait_for(r"listening on (\S+)").group(1)
        return server
    except Exception:
        server.stop()
        raise


def start_serve(bdir: Path, root: Path, workers: int, log_dir: Path, extra: List[str] = ()) -> Server:
    """``framewire serve``: broker + worker threads in one process (embedded mode)."""
    return start_listening("serve", f"framewire serve --workers {workers} (one process, inproc backend)",
                           "framewire-serve",
                           [str(bdir / "bin" / "framewire"), "serve", "--root", str(root),
                            "--listen", f"tcp://127.0.0.1:{free_port()}", "--workers", str(workers), *extra],
                           log_dir)


def start_distributed(bdir: Path, root: Path, worker_processes: int, log_dir: Path,
                      extra: List[str] = ()) -> Server:
    """``framewire-broker`` + N ``framewire-worker`` processes (one connection each) over tcp."""
    server = Server("dist", f"framewire-broker + {worker_processes} framewire-worker processes "
                            "(--workers 1 each, tcp backend)")
    try:
        b = Process("framewire-broker", [str(bdir / "bin" / "framewire-broker"),
                                         "--frontend", "tcp://127.0.0.1:0",
                                         "--backend", "tcp://127.0.0.1:0"], log_dir)
        server.processes.append(b)
        m = b.wait_for(r"frontend (\S+) backend (\S+)")
        server.endpoint, backend = m.group(1), m.group(2)
        for i in range(worker_processes):
            w = Process(f"framewire-worker-{i}", [str(bdir / "bin" / "framewire-worker"),
                                                  "--broker", backend, "--root", str(root),
                                                  "--workers", "1", "--name", f"bench-worker-{i}",
                                                  *extra], log_dir)
            server.processes.append(w)
        time.sleep(0.3)
        for w in server.processes[1:]:
            if w.proc.poll() is not None:
                raise RuntimeError(f"{w.name} exited with {w.proc.returncode}:\n{w.log_text()[-2000:]}")
        return server
    except Exception:
        server.stop()
        raise


def start_echo(log_dir: Path) -> Server:
    return start_listening("echo", "bare pyzmq ROUTER echo server (separate process)", "zmq-echo",
                           [sys.executable, str(Path(__file__).with_name("echo_server.py")),
                            "--bind", "tcp://127.0.0.1:0"], log_dir)
