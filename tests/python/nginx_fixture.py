"""Real HTTP servers for the remote-movie tests: nginx (Debian's nginx-light) with a generated
config, and Python's ``http.server`` (which ignores Range requests and answers 200).

Both are real processes on free loopback ports, started and stopped by PID (never by name).
``NginxServer`` serves a folder with ``autoindex on`` and logs every request's method, URI,
status, bytes sent and Range header to an access log that ``access_log()`` parses; ``stop()``
and ``start()`` restart it on the same port (a server that goes away and comes back).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

NGINX = "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_accepting(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not accept connections on port {port}")


def _stop(proc: Optional[subprocess.Popen]) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class NginxServer:
    """nginx serving ``root`` on a free port of 127.0.0.1, one process (no master)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = Path(tempfile.mkdtemp(prefix="fw-nginx-"))
        (self.dir / "tmp").mkdir()
        self.port = _free_port()
        self.proc: Optional[subprocess.Popen] = None
        d = self.dir
        (d / "nginx.conf").write_text(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  log_format ranges '$request_method $request_uri $status $bytes_sent $body_bytes_sent "$http_range"';
  access_log {d}/access.log ranges;
  server {{
    listen 127.0.0.1:{self.port};
    root {self.root};
    autoindex on;
    autoindex_exact_size on;
  }}
}}
""")
        self.start()

    @staticmethod
    def available() -> bool:
        return Path(NGINX).exists()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = self.dir / "output.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e", str(self.dir / "error.log")],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_accepting(self.port, self.proc, "nginx", self.dir / "error.log")

    def stop(self) -> None:
        _stop(self.proc)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def access_log(self, at_least: int = 0, timeout: float = 5.0) -> List[dict]:
        """The logged requests; nginx logs a request after answering it, so wait for
        ``at_least`` entries (up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = []
            path = self.dir / "access.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            for line in text.splitlines():
                head, _, rng = line.partition(' "')
                parts = head.split()
                if len(parts) < 5:
                    continue
                entries.append({"method": parts[0], "uri": parts[1], "status": int(parts[2]),
                                "bytes_sent": int(parts[3]), "body_bytes": int(parts[4]),
                                "range": rng.rstrip('"')})
            if len(entries) >= at_least or time.monotonic() > deadline:
                return entries
            time.sleep(0.01)

    def clear_log(self) -> None:
        path = self.dir / "access.log"
        if path.exists():
            path.write_bytes(b"")  # nginx appends (O_APPEND): truncating in place is safe


class RangeIgnoringServer:
    """``python3 -m http.server``: a real HTTP server that answers 200 with the whole file to
    Range requests (it does not implement them)."""

    def __init__(self, root: Path):
        self.port = _free_port()
        self.log = Path(tempfile.mkstemp(prefix="fw-http-server-", suffix=".log")[1])
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root),
                 str(self.port)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_accepting(self.port, self.proc, "python -m http.server", self.log)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        _stop(self.proc)
        self.log.unlink(missing_ok=True)
