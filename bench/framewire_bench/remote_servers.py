"""The remote-movie scenarios' servers (issue 6): a real nginx serving the bench movies, and
``framewire serve`` instances reading them over HTTP (``--remote-base``) or from the local
file, with the RAM frame cache off so every request decodes.

The site nginx serves is a folder of symbolic links to the generated movies: ``warm/NAME``
for the warm scenario and ``cold/K/NAME`` for cold opens (a new URL per sample: framewire
has never seen it, so its index, decoder and block cache all start cold, while nginx reads
the same bytes from the page cache). nginx logs each request's URI, status, body bytes and
Range header; :func:`bytes_fetched` sums what was sent for one URL.

Also here: the sizes the cold-open bound is made of, read from the movie itself (the moov
atom's size from the top-level box list, each frame's packet size from ffprobe).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List

from .cache_servers import start_serve_with
from .servers import Process, Server, Shared, free_port

NGINX = "/usr/sbin/nginx"
BLOCK_SIZE = 256 << 10  # framewire's remote block size (RemoteConfig::block_size)


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


class Site:
    """The folder nginx serves, with links to one movie."""

    def __init__(self, folder: Path, movie_path: Path):
        self.folder = folder
        self.movie_path = movie_path
        self.name = movie_path.name
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "warm").mkdir(parents=True)
        os.symlink(movie_path, folder / "warm" / self.name)
        self._cold = 0

    @property
    def warm_rel(self) -> str:
        return f"warm/{self.name}"

    def new_cold(self) -> str:
        """A path no framewire server has seen yet (a new link to the same movie)."""
        self._cold += 1
        rel = f"cold/{self._cold}/{self.name}"
        (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(self.movie_path, self.folder / rel)
        return rel


class Nginx:
    """nginx serving ``site`` on a free loopback port: one process, config and logs in
    ``work``, stopped by its PID."""

    def __init__(self, site: Site, work: Path, log_dir: Path):
        self.work = work
        shutil.rmtree(work, ignore_errors=True)
        (work / "tmp").mkdir(parents=True)
        self.port = free_port()
        self.access_log = work / "access.log"
        (work / "nginx.conf").write_text(f"""daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {work}/tmp/body;
  proxy_temp_path {work}/tmp/proxy;
  fastcgi_temp_path {work}/tmp/fastcgi;
  uwsgi_temp_path {work}/tmp/uwsgi;
  scgi_temp_path {work}/tmp/scgi;
  log_format ranges '$request_method $request_uri $status $bytes_sent $body_bytes_sent "$http_range"';
  access_log {self.access_log} ranges;
  server {{
    listen 127.0.0.1:{self.port};
    root {site.folder};
    autoindex on;
  }}
}}
""")
        self.process = Process("nginx-remote", [NGINX, "-p", str(work), "-c", str(work / "nginx.conf"),
                                                "-e", str(work / "error.log")], log_dir)
        deadline = time.monotonic() + 10
        import socket
        while True:
            if self.process.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(work / 'error.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not accept connections")
                time.sleep(0.02)

    def url(self, rel: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{rel}"

    def entries(self, uri_part: str) -> List[dict]:
        out = []
        text = self.access_log.read_text(errors="replace") if self.access_log.exists() else ""
        for line in text.splitlines():
            head, _, rng = line.partition(' "')
            parts = head.split()
            if len(parts) < 5 or uri_part not in parts[1]:
                continue
            out.append({"method": parts[0], "uri": parts[1], "status": int(parts[2]),
                        "bytes_sent": int(parts[3]), "body_bytes": int(parts[4]), "range": rng.rstrip('"')})
        return out

    def stop(self) -> None:
        self.process.stop()


def bytes_fetched(nginx: Nginx, rel: str, settle_s: float = 0.15, timeout_s: float = 5.0) -> List[dict]:
    """nginx's log entries for ``rel``, once no new one has come for ``settle_s`` (nginx logs a
    request after answering it, so the client can be a little ahead of the log)."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        entries = nginx.entries("/" + rel)
        if last is None or len(entries) != len(last):
            last, since = entries, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            break
        time.sleep(0.01)
    return last or []


def start_remote_pair(bdir: Path, site_dir: Path, movie_path: Path, log_dir: Path, tag: str) -> Dict[str, object]:
    """nginx + ``framewire serve --remote-base`` + ``framewire serve --root`` (both with the RAM
    frame cache off), for the remote scenarios."""
    site = Site(site_dir, movie_path)
    nginx = Nginx(site, log_dir / f"nginx-{tag}", log_dir)
    started: List[Server] = []
    try:
        empty = site_dir / "empty"
        empty.mkdir(parents=True, exist_ok=True)
        remote = start_serve_with(bdir, empty, log_dir, f"{tag}-remote",
                                  ["--cache-bytes", "0", "--remote-base", nginx.url()])
        started.append(remote)
        local = start_serve_with(bdir, movie_path.parent, log_dir, f"{tag}-local", ["--cache-bytes", "0"])
        started.append(local)
    except Exception:
        for s in started:
            s.stop()
        nginx.stop()
        raise
    return {"site": site, "nginx": nginx, "remote": remote, "local": local}


class RemotePair(Shared):
    """The servers of a remote scenario (start_remote_pair), shared by its methods
    (servers.Shared); the site folder goes with them."""

    def __init__(self, bdir: Path, site_dir: Path, movie_path: Path, log_dir: Path, tag: str):
        def stop(parts: Dict[str, object]) -> None:
            for key in ("remote", "local", "nginx"):
                parts[key].stop()
            shutil.rmtree(site_dir, ignore_errors=True)

        super().__init__(lambda: start_remote_pair(bdir, site_dir, movie_path, log_dir, tag), stop)


# ---- what the cold-open bound is made of -------------------------------------------------

_PACKET_SIZES: Dict[str, List[int]] = {}


def packet_sizes(path: Path) -> List[int]:
    """Byte size of each video packet, in presentation order (intra-only movies: frame n)."""
    key = str(path)
    if key not in _PACKET_SIZES:
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                              "packet=pts,size", "-of", "csv=p=0", str(path)],
                             check=True, capture_output=True, text=True).stdout
        rows = sorted((int(p), int(s)) for p, s in (l.split(",")[:2] for l in out.splitlines() if "," in l))
        _PACKET_SIZES[key] = [s for _, s in rows]
    return _PACKET_SIZES[key]
