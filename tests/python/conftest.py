"""pytest fixtures for the framewire Python tests.

- The client is imported from client/python (put on sys.path here; no install needed).
- Test movies are generated with the ffmpeg command line into a session temp dir, in a
  hierarchy under a movie root, together with the bad inputs (a text file named bad.mov, a
  truncated movie, symlinks leading out of the root).
- Servers are REAL processes from the build tree ($FRAMEWIRE_BUILD_DIR, default
  <repo>/build): ``framewire-broker`` + 2 ``framewire-worker`` ("distributed"), and
  ``framewire serve --workers 2`` ("embedded") when that binary exists. They listen on free
  loopback ports, are polled until they answer, and are stopped at the end of the session.
  Tests that need a server are skipped when the binaries are not built.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "client" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fw_helpers as H  # noqa: E402

BUILD_DIR = Path(os.environ.get("FRAMEWIRE_BUILD_DIR", REPO / "build")).resolve()

PRORES_PATH = "RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/CAMHDA301-20160724T030000Z.mov"
H264_PATH = "tests/h264/bframes.mp4"

_LAVFI = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24", "-vf", "noise=alls=20:allf=t"]
PRORES_ARGS = _LAVFI + ["-frames:v", "48", "-c:v", "prores_ks", "-profile:v", "3",
                        "-pix_fmt", "yuv422p10le"]
H264_ARGS = _LAVFI + ["-frames:v", "72", "-c:v", "libx264", "-preset", "veryfast",
                      "-pix_fmt", "yuv420p", "-g", "12", "-bf", "3", "-x264-params", "scenecut=0"]


def binary(name: str) -> Path:
    return BUILD_DIR / "bin" / name


def have_binaries(*names: str) -> bool:
    return all(os.access(binary(n), os.X_OK) for n in names)


class Movie:
    """A generated movie: its path relative to the root and its ffmpeg oracle (lazy)."""

    def __init__(self, rel: str, path: Path, width: int, height: int, codec: str,
                 pixel_format: str):
        self.rel = rel
        self.path = path
        self.width = width
        self.height = height
        self.codec = codec
        self.pixel_format = pixel_format
        self._md5s = None
        self._rgb = None

    @property
    def md5s(self):
        if self._md5s is None:
            self._md5s = H.frame_md5s(self.path)
        return self._md5s

    @property
    def num_frames(self) -> int:
        return len(self.md5s)

    @property
    def rgb24(self):
        if self._rgb is None:
            self._rgb = H.rgb24_frames(self.path, self.width, self.height)
        return self._rgb

    def __repr__(self):
        return f"Movie({self.rel})"


class Media:
    """Everything the tests need on disk."""

    def __init__(self, base: Path):
        if shutil.which("ffmpeg") is None:
            pytest.skip("ffmpeg is not installed")
        self.base = base
        self.root = base / "root"
        self.outside = base / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        self.prores = self._generate(PRORES_PATH, PRORES_ARGS, "prores", "yuv422p10le")
        self.h264 = self._generate(H264_PATH, H264_ARGS, "h264", "yuv420p")
        # Bad inputs.
        (self.root / "bad.mov").write_text("this is not a movie\n" * 100)
        data = self.prores.path.read_bytes()  # moov at the end: cut it off
        (self.root / "truncated.mov").write_bytes(data[: len(data) * 6 // 10])
        shutil.copy(self.prores.path, self.outside / "secret.mov")
        os.symlink(self.outside / "secret.mov", self.root / "escape.mov")
        os.symlink(self.outside, self.root / "linkdir")
        # A symlink that stays inside the root is fine.
        os.symlink(Path(PRORES_PATH).name, self.prores.path.parent / "inside-link.mov")

    def _generate(self, rel: str, args, codec: str, pixel_format: str) -> Movie:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        H.run(["ffmpeg", "-y", "-v", "error", *args, str(path)])
        return Movie(rel, path, 320, 240, codec, pixel_format)

    @property
    def movies(self):
        return [self.prores, self.h264]


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(tmp_path_factory.mktemp("framewire-media"))


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("framewire-logs")


def _server(request, media, log_dir, kind):
    if kind == "distributed":
        if not have_binaries("framewire-broker", "framewire-worker"):
            pytest.skip(f"framewire-broker/framewire-worker not built in {BUILD_DIR}/bin")
        cluster = H.start_distributed(BUILD_DIR, media.root, log_dir, workers=2)
    else:
        if not have_binaries("framewire"):
            pytest.skip(f"framewire (serve) not built in {BUILD_DIR}/bin")
        cluster = H.start_embedded(BUILD_DIR, media.root, log_dir, workers=2)
    request.addfinalizer(cluster.stop)
    return cluster


@pytest.fixture(scope="session")
def distributed(request, media, log_dir):
    """framewire-broker + 2 framewire-worker processes."""
    return _server(request, media, log_dir, "distributed")


@pytest.fixture(scope="session")
def embedded(request, media, log_dir):
    """framewire serve --workers 2."""
    return _server(request, media, log_dir, "embedded")


@pytest.fixture(scope="session", params=["distributed", "embedded"])
def server(request):
    """Each server mode in turn (a mode whose binaries are missing is skipped)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def fake():
    """Starts in-process fake servers: ``fake(handler)`` -> a ``fw_helpers.FakeServer``; all
    are closed at the end of the test."""
    servers = []

    def make(handler):
        s = H.FakeServer(handler)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


@pytest.fixture(params=["dealer", "req"])
def socket_type(request):
    return request.param


@pytest.fixture
def client(server):
    import framewire
    c = framewire.Client(server.endpoint, timeout=15.0, retries=1)
    yield c
    c.close()
