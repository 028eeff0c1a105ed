"""Remote movies through the Python client: ``framewire serve --remote-base`` reading movies
from a REAL nginx (and from ``python -m http.server``, which ignores Range requests) with
HTTP range requests. Frames are checked against ``ffmpeg -f framemd5``; the allow-list,
NOT_FOUND, LIST over autoindex pages, overlays, a server that stops and comes back and a file
replaced on the server are exercised against the real processes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import framewire
import fw_helpers as H
from conftest import BUILD_DIR, PRORES_PATH, have_binaries
from nginx_fixture import NginxServer, RangeIgnoringServer

pytestmark = pytest.mark.skipif(not NginxServer.available(), reason="nginx is not installed")

H264_REMOTE = "h264/bframes.mp4"
OVERLAID = "overlaid/deep/other.mov"   # on the server a ProRes movie; in the flat overlay an H.264 one
REPLACED = "replace/me.mov"


class Site:
    """The served folder, the overlay folder and the oracles."""

    def __init__(self, base: Path, media):
        self.www = base / "www"
        self.flat = base / "flat"
        self.empty_root = base / "root"
        for d in (self.www, self.flat, self.empty_root):
            d.mkdir(parents=True)
        self.media = media
        self._place(media.prores.path, self.www / PRORES_PATH)
        self._place(media.h264.path, self.www / H264_REMOTE)
        self._place(media.prores.path, self.www / OVERLAID)
        self._place(media.prores.path, self.www / REPLACED)
        self._place(media.h264.path, self.flat / Path(OVERLAID).name)

    @staticmethod
    def _place(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


@pytest.fixture(scope="module")
def site(tmp_path_factory, media):
    return Site(tmp_path_factory.mktemp("framewire-remote"), media)


@pytest.fixture(scope="module")
def nginx(site):
    server = NginxServer(site.www)
    yield server
    server.close()


def _serve(site, log_dir, base_url, *extra):
    if not have_binaries("framewire"):
        pytest.skip(f"framewire not built in {BUILD_DIR}/bin")
    listen = f"tcp://127.0.0.1:{H.free_port()}"
    proc = H.Proc("serve-remote", [str(BUILD_DIR / "bin" / "framewire"), "serve", "--root", str(site.empty_root),
                                   "--remote-base", base_url, "--remote-revalidate-ms", "100",
                                   "--listen", listen, "--workers", "2", *extra], log_dir)
    cluster = H.Cluster("embedded", listen, {"serve": proc}, site.www)
    try:
        H.wait_until_serving(cluster)
    except Exception:
        proc.stop(grace=2)
        raise
    return cluster


@pytest.fixture(scope="module")
def remote(site, nginx, log_dir):
    """framewire serve reading nginx, with the flat overlay."""
    cluster = _serve(site, log_dir, nginx.url(), "--file-overlay", str(site.flat), "--file-overlay-flatten")
    yield cluster
    cluster.stop()


@pytest.fixture
def rc(remote):
    with framewire.Client(remote.endpoint, timeout=15.0, retries=0) as c:
        yield c


def test_frames_over_http_match_the_oracle(rc, site):
    prores, h264 = site.media.prores, site.media.h264
    info = rc.info(PRORES_PATH)
    assert info.num_frames == prores.num_frames
    assert info.file_size == prores.path.stat().st_size
    for n in [0, prores.num_frames - 1, 13, 12, 30]:
        f = rc.get_frame(PRORES_PATH, n, format="native")
        assert H.md5(f.tobytes()) == prores.md5s[n], f"frame {n}"
    for n in [h264.num_frames - 1, 0, 25, 24]:
        f = rc.get_frame(H264_REMOTE, n, format="native")
        assert H.md5(f.tobytes()) == h264.md5s[n], f"frame {n}"
    rgb = rc.get_frame(PRORES_PATH, 3)
    assert rgb.array.shape == (prores.height, prores.width, 3)
    assert H.psnr(rgb.array, prores.rgb24[3]) >= 40


def test_full_url_under_the_base(rc, site, nginx):
    f = rc.get_frame(nginx.url(PRORES_PATH), 7, format="native")
    assert H.md5(f.tobytes()) == site.media.prores.md5s[7]


def test_urls_outside_the_base_are_forbidden(rc, nginx):
    port = nginx.port
    refused = [
        f"http://127.0.0.2:{port}/{PRORES_PATH}",       # other host
        f"http://localhost:{port}/{PRORES_PATH}",       # other name for it
        f"http://127.0.0.1:{port + 1}/{PRORES_PATH}",   # other port
        f"http://127.0.0.1:{port}/../etc/passwd",       # outside the base
        f"http://127.0.0.1:{port}/h264/%2e%2e/%2E%2E/etc/passwd",
        f"http://user@127.0.0.1:{port}/{H264_REMOTE}",  # userinfo
        f"http://127.0.0.1:{port}@evil.example/{H264_REMOTE}",
        "file:///etc/passwd",
    ]
    nginx.clear_log()
    for url in refused:
        with pytest.raises(framewire.Forbidden):
            rc.get_frame(url, 0)
    rc.list("")  # a request that does reach nginx, so the log is current
    assert not any("passwd" in e["uri"] for e in nginx.access_log())


def test_missing_remote_movie_is_not_found(rc, nginx):
    with pytest.raises(framewire.NotFound) as caught:
        rc.info("RS03ASHS/missing.mov")
    assert nginx.url("RS03ASHS/missing.mov") in str(caught.value)


def test_list_over_autoindex(rc, site):
    names = [e.name for e in rc.list("")]
    assert names == ["RS03ASHS/", "h264/", "overlaid/", "replace/"]
    folder = os.path.dirname(PRORES_PATH)
    entries = rc.list(folder)
    assert [(e.name, e.size) for e in entries] == [(os.path.basename(PRORES_PATH),
                                                    site.media.prores.path.stat().st_size)]
    with pytest.raises(framewire.NotFound):
        rc.list("no/such/folder")


def test_flattened_overlay_copy_wins(rc, site, nginx):
    nginx.clear_log()
    f = rc.get_frame(OVERLAID, 9, format="native")
    assert H.md5(f.tobytes()) == site.media.h264.md5s[9]   # the overlay's movie, not the server's
    f = rc.get_frame(nginx.url(OVERLAID), 10, format="native")
    assert H.md5(f.tobytes()) == site.media.h264.md5s[10]
    rc.list("")
    assert not any("other.mov" in e["uri"] for e in nginx.access_log(at_least=1))


def test_server_stopped_is_unavailable_then_recovers(rc, site, nginx):
    prores = site.media.prores
    rc.get_frame(PRORES_PATH, 1, format="native")
    nginx.stop()
    try:
        time.sleep(0.15)  # past --remote-revalidate-ms: the worker has to ask the server
        with pytest.raises(framewire.Unavailable) as caught:
            rc.get_frame(PRORES_PATH, 44, format="native")
        assert nginx.url() in str(caught.value)
    finally:
        nginx.start()
    f = rc.get_frame(PRORES_PATH, 44, format="native")
    assert H.md5(f.tobytes()) == prores.md5s[44]


def test_replaced_file_serves_new_frames(rc, site):
    assert H.md5(rc.get_frame(REPLACED, 5, format="native").tobytes()) == site.media.prores.md5s[5]
    shutil.copyfile(site.media.h264.path, site.www / REPLACED)
    time.sleep(0.15)  # past --remote-revalidate-ms
    assert H.md5(rc.get_frame(REPLACED, 5, format="native").tobytes()) == site.media.h264.md5s[5]
    assert rc.info(REPLACED).num_frames == site.media.h264.num_frames


def test_server_ignoring_range_requests(site, log_dir):
    server = RangeIgnoringServer(site.www)
    try:
        cluster = _serve(site, log_dir, server.url())
        try:
            with framewire.Client(cluster.endpoint, timeout=15.0, retries=0) as c:
                for n in [0, 40, 3]:
                    f = c.get_frame(PRORES_PATH, n, format="native")
                    assert H.md5(f.tobytes()) == site.media.prores.md5s[n]
        finally:
            cluster.stop()
    finally:
        server.close()
