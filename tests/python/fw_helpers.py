"""Helpers shared by the Python tests: fake replies, the ffmpeg oracle, server processes.

Imported by conftest.py and the test modules (pytest puts tests/python on sys.path).
"""

from __future__ import annotations

import hashlib
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import flatbuffers
import numpy as np
import zmq

from framewire.proto import FrameHeader as FH
from framewire.proto import ListEntry as LE
from framewire.proto import MovieInfo as MI
from framewire.proto import Plane as PL
from framewire.proto import Reply as RP
from framewire.proto import SharedPart as SP
from framewire.proto import Timings as TM

REPO = Path(__file__).resolve().parents[2]


# ---- fake replies (the generated FlatBuffers builder code) -------------------------------

def build_reply(request_id: int, status: int = 0, message: str = "", *,
                frames: Optional[List[dict]] = None, info: Optional[dict] = None,
                entries: Optional[List[tuple]] = None, worker: str = "fake-worker",
                timings: Optional[Sequence[int]] = None, more: bool = False,
                position: int = 0, shared_parts: Optional[Sequence[tuple]] = None) -> bytes:
    """A serialized Reply. ``frames``: dicts with FrameHeader fields, ``planes`` as
    (part, offset, stride, row_bytes, rows) tuples; ``info``: MovieInfo fields;
    ``entries``: (name, size) tuples; ``timings``: six microsecond values; ``more`` and
    ``position``: a streamed reply's message (PROTOCOL.md 3); ``shared_parts``: (offset, size)
    per payload part, Reply.shared_parts (PROTOCOL.md 3, frames in shared memory)."""
    b = flatbuffers.Builder(1024)
    msg = b.CreateString(message) if message else None
    wrk = b.CreateString(worker) if worker else None
    frames_vec = None
    if frames is not None:
        offs = []
        for f in frames:
            fmt = b.CreateString(f.get("format", "rgb24"))
            pix = b.CreateString(f.get("pixel_format", f.get("format", "rgb24")))
            enc = b.CreateString(f.get("encoding", "raw"))
            planes = f["planes"]
            FH.FrameHeaderStartPlanesVector(b, len(planes))
            for p in reversed(planes):
                PL.CreatePlane(b, *p)
            planes_vec = b.EndVector()
            FH.FrameHeaderStart(b)
            FH.FrameHeaderAddIndex(b, f.get("index", 0))
            FH.FrameHeaderAddPts(b, f.get("pts", 0))
            FH.FrameHeaderAddTime(b, f.get("time", 0.0))
            FH.FrameHeaderAddKeyframe(b, f.get("keyframe", False))
            FH.FrameHeaderAddWidth(b, f["width"])
            FH.FrameHeaderAddHeight(b, f["height"])
            FH.FrameHeaderAddFormat(b, fmt)
            FH.FrameHeaderAddPixelFormat(b, pix)
            FH.FrameHeaderAddEncoding(b, enc)
            FH.FrameHeaderAddSampleBytes(b, f.get("sample_bytes", 1))
            FH.FrameHeaderAddPlanes(b, planes_vec)
            FH.FrameHeaderAddSize(b, f.get("size", 0))
            FH.FrameHeaderAddCached(b, f.get("cached", 0))
            if "timings" in f:
                FH.FrameHeaderAddTimings(b, TM.CreateTimings(b, *f["timings"]))
            offs.append(FH.FrameHeaderEnd(b))
        RP.ReplyStartFramesVector(b, len(offs))
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        frames_vec = b.EndVector()
    info_off = None
    if info is not None:
        mv = b.CreateString(info.get("movie", ""))
        codec = b.CreateString(info.get("codec", ""))
        pix = b.CreateString(info.get("pixel_format", ""))
        MI.MovieInfoStart(b)
        MI.MovieInfoAddMovie(b, mv)
        MI.MovieInfoAddNumFrames(b, info.get("num_frames", 0))
        MI.MovieInfoAddWidth(b, info.get("width", 0))
        MI.MovieInfoAddHeight(b, info.get("height", 0))
        MI.MovieInfoAddFps(b, info.get("fps", 0.0))
        MI.MovieInfoAddDuration(b, info.get("duration", 0.0))
        MI.MovieInfoAddCodec(b, codec)
        MI.MovieInfoAddPixelFormat(b, pix)
        MI.MovieInfoAddBitDepth(b, info.get("bit_depth", 0))
        MI.MovieInfoAddFileSize(b, info.get("file_size", 0))
        MI.MovieInfoAddKeyframes(b, info.get("keyframes", 0))
        MI.MovieInfoAddTimeBaseNum(b, info.get("time_base_num", 0))
        MI.MovieInfoAddTimeBaseDen(b, info.get("time_base_den", 0))
        MI.MovieInfoAddStartTime(b, info.get("start_time", 0.0))
        info_off = MI.MovieInfoEnd(b)
    entries_vec = None
    if entries is not None:
        offs = []
        for name, size in entries:
            n = b.CreateString(name)
            LE.ListEntryStart(b)
            LE.ListEntryAddName(b, n)
            LE.ListEntryAddSize(b, size)
            offs.append(LE.ListEntryEnd(b))
        RP.ReplyStartEntriesVector(b, len(offs))
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        entries_vec = b.EndVector()
    shared_vec = None
    if shared_parts is not None:
        RP.ReplyStartSharedPartsVector(b, len(shared_parts))
        for offset, size in reversed(shared_parts):
            SP.CreateSharedPart(b, offset, size)
        shared_vec = b.EndVector()
    RP.ReplyStart(b)
    RP.ReplyAddId(b, request_id)
    RP.ReplyAddStatus(b, status)
    if msg is not None:
        RP.ReplyAddMessage(b, msg)
    if info_off is not None:
        RP.ReplyAddInfo(b, info_off)
    if frames_vec is not None:
        RP.ReplyAddFrames(b, frames_vec)
    if entries_vec is not None:
        RP.ReplyAddEntries(b, entries_vec)
    if timings is not None:
        RP.ReplyAddTimings(b, TM.CreateTimings(b, *timings))
    if wrk is not None:
        RP.ReplyAddWorker(b, wrk)
    if more:
        RP.ReplyAddMore(b, True)
    if position:
        RP.ReplyAddPosition(b, position)
    if shared_vec is not None:
        RP.ReplyAddSharedParts(b, shared_vec)
    b.Finish(RP.ReplyEnd(b))
    return bytes(b.Output())


class FakeServer:
    """A ROUTER on a thread that answers client requests with ``handler(request, n)``.

    ``handler`` gets the parsed ``Request`` and the running count of requests received and
    returns a list of parts after the protocol frame ([header, payload...]), or None to stay
    silent. It may also return ("delay", seconds, parts) to answer later, or
    ("messages", [(seconds, parts), ...]) to send several messages (a streamed reply), each
    that many seconds after the request.
    """

    def __init__(self, handler):
        self.handler = handler
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.requests = []
        self._stop = threading.Event()
        self._pending = []  # (due, frames)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        from framewire.proto.Request import Request
        n = 0
        while not self._stop.is_set():
            now = time.monotonic()
            for item in [p for p in self._pending if p[0] <= now]:
                self._pending.remove(item)
                self.sock.send_multipart(item[1])
            if not self.sock.poll(10):
                continue
            frames = self.sock.recv_multipart()
            i = frames.index(b"", 1)
            envelope = frames[:i + 1]
            body = frames[i + 2]
            req = Request.GetRootAs(body, 0)
            n += 1
            self.requests.append(req)
            out = self.handler(req, n)
            if out is None:
                continue
            if isinstance(out, tuple) and out[0] == "delay":
                self._pending.append((now + out[1], envelope + [b"FWC01"] + list(out[2])))
                continue
            if isinstance(out, tuple) and out[0] == "messages":
                # Stable sort: messages due at the same moment keep their order.
                for due, parts in out[1]:
                    self._pending.append((now + due, envelope + [b"FWC01"] + list(parts)))
                self._pending.sort(key=lambda p: p[0])
                continue
            self.sock.send_multipart(envelope + [b"FWC01"] + list(out))

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close(linger=0)


# ---- the ffmpeg oracle -------------------------------------------------------------------

def run(cmd: List[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def frame_md5s(movie: Path) -> List[str]:
    """One MD5 per decoded frame in presentation order, in the native pixel format."""
    out = run(["ffmpeg", "-v", "error", "-i", str(movie), "-map", "0:v:0",
               "-fps_mode", "passthrough", "-f", "framemd5", "-"]).stdout.decode()
    return [line.split(",")[-1].strip() for line in out.splitlines()
            if line.strip() and not line.startswith("#")]


def rgb24_frames(movie: Path, width: int, height: int) -> np.ndarray:
    """Every frame converted by ffmpeg to rgb24: (n, height, width, 3) uint8."""
    raw = run(["ffmpeg", "-v", "error", "-i", str(movie), "-map", "0:v:0",
               "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def md5(data) -> str:
    return hashlib.md5(data).hexdigest()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


# ---- processes ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process with its output in a log file; stop() ends it (and only it)."""

    _started = 0

    def __init__(self, name: str, cmd: List[str], log_dir: Path):
        self.name = name
        self.cmd = cmd
        Proc._started += 1
        self.log_path = log_dir / f"{Proc._started:02d}-{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, grace: float = 5.0) -> Optional[int]:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
                self.popen.wait(10)
        self._log.close()
        return self.popen.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


class Cluster:
    """A running framewire server: its processes and the client endpoint."""

    def __init__(self, kind: str, endpoint: str, procs: Dict[str, Proc], root: Path):
        self.kind = kind
        self.endpoint = endpoint
        self.procs = procs
        self.root = root

    def logs(self) -> str:
        return "\n".join(f"--- {n} (pid {p.pid}, rc {p.popen.poll()}):\n{p.log()}"
                         for n, p in self.procs.items())

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.stop()


def wait_until_serving(cluster: Cluster, min_workers: int = 1, timeout: float = 30.0) -> None:
    """Polls the server until it answers, and until ``min_workers`` distinct workers have
    answered (probing LIST of made-up folders, so affinity routing cannot pin every probe
    to one worker); raises with the logs otherwise."""
    import framewire
    deadline = time.monotonic() + timeout
    seen = set()
    first_answer = None
    last = None
    probe = 0
    with framewire.Client(cluster.endpoint, timeout=0.5, retries=0) as c:
        while time.monotonic() < deadline:
            for name, p in cluster.procs.items():
                if not p.alive():
                    raise RuntimeError(f"{name} exited early\n{cluster.logs()}")
            probe += 1
            try:
                c.list(f"no-such-folder-{probe}")
                worker = "?"  # a server that lists a missing folder: still an answer
            except (framewire.NotFound, framewire.Forbidden, framewire.InvalidArgument) as exc:
                worker = exc.worker or "?"
            except framewire.Error as exc:
                last = exc
                time.sleep(0.05)
                continue
            seen.add(worker)
            now = time.monotonic()
            first_answer = first_answer or now
            # Unnamed workers cannot be told apart: then give the others a moment to dial in.
            if len(seen - {"?"}) >= min_workers or min_workers <= 1 or now - first_answer > 3:
                try:
                    c.list("")
                    return
                except framewire.Error as exc:
                    last = exc
    raise RuntimeError(f"server at {cluster.endpoint} not ready after {timeout} s "
                       f"(last error: {last!r}, workers seen: {sorted(seen)})\n{cluster.logs()}")


def _broker_endpoints(proc: Proc, timeout: float = 10.0):
    """The (frontend, backend) endpoints the broker prints at startup:
    ``framewire-broker: frontend tcp://... backend tcp://...``."""
    pattern = re.compile(r"framewire-broker: frontend (\S+) backend (\S+)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pattern.search(proc.log_path.read_text(errors="replace"))
        if m:
            return m.group(1), m.group(2)
        if not proc.alive():
            break
        time.sleep(0.02)
    raise RuntimeError(f"the broker did not print its endpoints (rc {proc.popen.poll()}):\n"
                       f"{proc.log()}")


def start_distributed(build_dir: Path, root: Path, log_dir: Path, workers: int = 2,
                      tag: str = "dist", extra_worker_args: Sequence[str] = ()) -> Cluster:
    """framewire-broker on free loopback ports (port 0: it binds and prints them) plus
    ``workers`` framewire-worker processes."""
    procs: Dict[str, Proc] = {}
    procs["broker"] = Proc(f"{tag}-broker", [str(build_dir / "bin" / "framewire-broker"),
                                             "--frontend", "tcp://127.0.0.1:0",
                                             "--backend", "tcp://127.0.0.1:0"], log_dir)
    try:
        front, back = _broker_endpoints(procs["broker"])
        for i in range(workers):
            procs[f"worker{i + 1}"] = Proc(
                f"{tag}-worker{i + 1}",
                [str(build_dir / "bin" / "framewire-worker"), "--broker", back,
                 "--root", str(root), *extra_worker_args], log_dir)
        cluster = Cluster("distributed", front, procs, root)
        wait_until_serving(cluster, min_workers=workers)
        return cluster
    except BaseException:
        for p in reversed(list(procs.values())):
            p.stop(grace=2)
        raise


def start_embedded(build_dir: Path, root: Path, log_dir: Path, workers: int = 2,
                   extra: Sequence[str] = ()) -> Cluster:
    """``framewire serve`` on a free loopback port (``extra``: more options)."""
    last_error = None
    for attempt in range(3):
        listen = f"tcp://127.0.0.1:{free_port()}"
        proc = Proc("serve", [str(build_dir / "bin" / "framewire"), "serve", "--root", str(root),
                              "--listen", listen, "--workers", str(workers), *extra], log_dir)
        cluster = Cluster("embedded", listen, {"serve": proc}, root)
        try:
            wait_until_serving(cluster)
            return cluster
        except Exception as exc:
            last_error = exc
            proc.stop(grace=2)
            if "exited early" not in str(exc):
                break
    raise RuntimeError(f"could not start framewire serve: {last_error}")
