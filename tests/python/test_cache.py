"""Frame caches as the Python client sees them: ``Frame.cached`` (None, "memory", "disk"),
``Client.stats()``, and a disk cache that survives a worker restart. Against real servers
(conftest.py) and, for the decoding of the header fields, hand-built replies."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest

import framewire
from framewire import protocol
from framewire.proto import Reply as RP
from fw_helpers import build_reply, psnr, start_distributed

import conftest


# ---- decoding ---------------------------------------------------------------------------------

def _frames_with_tiers(tiers):
    specs = [dict(index=i, width=2, height=1, format="gray8", planes=[(0, 2 * i, 2, 2, 1)], cached=t)
             for i, t in enumerate(tiers)]
    reply = protocol.parse_reply_header(build_reply(1, frames=specs))
    return protocol.frames_from_reply(reply, [bytes(2 * len(tiers))])


def test_cached_maps_the_cache_tier():
    frames = _frames_with_tiers([0, 1, 2])
    assert [f.cached for f in frames] == [None, "memory", "disk"]


def test_stats_reply_is_parsed_json():
    b = flatbuffers.Builder(256)
    text = b.CreateString('{"broker": {"routing": "affinity"}, "workers": [], "total": {}}')
    RP.ReplyStart(b)
    RP.ReplyAddId(b, 3)
    RP.ReplyAddStatsJson(b, text)
    b.Finish(RP.ReplyEnd(b))
    stats = protocol.stats_from_reply(protocol.parse_reply_header(bytes(b.Output())))
    assert stats["broker"]["routing"] == "affinity"
    empty = protocol.parse_reply_header(build_reply(4))
    with pytest.raises(framewire.ProtocolError):
        protocol.stats_from_reply(empty)


# ---- real servers -----------------------------------------------------------------------------

def test_a_repeated_frame_is_a_memory_hit(server, media):
    with framewire.Client(server.endpoint, timeout=15.0, retries=1) as c:
        # A crop no other test asks for: this entry is new to the shared server.
        first = c.get_frame(media.prores.rel, 9, format="gray8", crop=(8, 8, 64, 48))
        again = c.get_frame(media.prores.rel, 9, format="gray8", crop=(8, 8, 64, 48))
        assert first.cached is None
        assert again.cached == "memory"
        if server.kind == "distributed":  # affinity: the movie's worker process holds it
            assert again.worker == first.worker
        np.testing.assert_array_equal(first.array, again.array)
        assert again.array.base is not None  # still a view on the received message
        other = c.get_frame(media.prores.rel, 9, format="gray8", crop=(8, 8, 64, 50))
        assert other.cached is None  # another crop is another entry


def test_stats_describe_the_workers_and_their_caches(server, media):
    with framewire.Client(server.endpoint, timeout=15.0, retries=1) as c:
        c.get_frame(media.prores.rel, 11, format="gray8", crop=(0, 0, 32, 32))
        c.get_frame(media.prores.rel, 11, format="gray8", crop=(0, 0, 32, 32))
        stats = c.stats()
    assert stats["broker"]["routing"] == "affinity"
    assert stats["broker"]["stats_requests"] >= 1
    groups = 2 if server.kind == "distributed" else 1
    assert len(stats["workers"]) == groups
    for w in stats["workers"]:
        assert "error" not in w, w
        assert w["stats"]["memory"]["capacity_bytes"] > 0
        assert len(w["connections"]) >= 1
    memory = stats["total"]["memory"]
    assert memory["hits"] >= 1 and memory["misses"] >= 1
    assert 0.0 < memory["hit_rate"] < 1.0
    assert memory["bytes"] <= memory["capacity_bytes"]


def test_disk_cache_survives_a_worker_restart(media, log_dir, tmp_path):
    if not conftest.have_binaries("framewire-broker", "framewire-worker"):
        pytest.skip("framewire-broker/framewire-worker not built")
    args = ["--disk-cache", str(tmp_path / "disk"), "--cache-bytes", "0", "--name", "disk-worker"]

    def fetch():
        cluster = start_distributed(conftest.BUILD_DIR, media.root, log_dir, workers=1,
                                    tag="disk-cache", extra_worker_args=args)
        try:
            with framewire.Client(cluster.endpoint, timeout=15.0, retries=1) as c:
                return c.get_frame(media.h264.rel, 13, format="rgb24")
        finally:
            cluster.stop()  # SIGTERM: the worker writes what it queued for the disk

    first = fetch()
    assert first.cached is None
    second = fetch()
    assert second.cached == "disk"
    np.testing.assert_array_equal(first.array, second.array)
    expected = media.h264.rgb24[13]
    assert second.array.shape == expected.shape
    assert psnr(second.array, expected) >= 40.0  # the right frame, not just the same bytes
