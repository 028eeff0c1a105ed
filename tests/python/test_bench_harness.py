"""The benchmark harness (bench/run) must not rot: run it on tiny movies and check its output.

Runs ``bench/run --quick --tiny`` (320x240 movies, a handful of samples: seconds) against the
real framewire binaries into a temporary results folder, then checks that the table, the
JSON and the plot were written and that every frame every method returned was verified
against the ffmpeg oracle. No timing assertions: this machine is shared and noisy; the
numbers are the harness's business, not the test's.

Self-contained (its own fixtures); skipped only when the framewire binaries are not built
($FRAMEWIRE_BUILD_DIR, default <repo>/build).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH_RUN = REPO / "bench" / "run"
BUILD_DIR = Path(os.environ.get("FRAMEWIRE_BUILD_DIR", REPO / "build")).resolve()
BINARIES = ("framewire", "framewire-broker", "framewire-worker")

pytestmark = pytest.mark.skipif(
    not all(os.access(BUILD_DIR / "bin" / b, os.X_OK) for b in BINARIES),
    reason=f"framewire binaries not built in {BUILD_DIR}/bin")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """Runs the harness once for all tests of this module: (process, results dir)."""
    work = tmp_path_factory.mktemp("bench")
    results = work / "results"
    cmd = [str(BENCH_RUN), "--quick", "--tiny", "--build-dir", str(BUILD_DIR),
           "--cache-dir", str(work / "cache"), "--results-dir", str(results)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    return proc, results


@pytest.fixture(scope="module")
def results_json(bench_run):
    proc, results = bench_run
    assert proc.returncode == 0, f"bench/run failed:\n{proc.stderr[-4000:]}"
    return json.loads((results / "latest.json").read_text())


def test_run_succeeds_and_prints_the_table(bench_run):
    proc, _ = bench_run
    assert proc.returncode == 0, f"bench/run failed:\n{proc.stderr[-4000:]}"
    assert "| scenario | method | samples | p50 ms | p90 ms | frames/s |" in proc.stdout
    assert "PyAV, container held open" in proc.stdout


def test_writes_markdown_json_and_plot(bench_run):
    proc, results = bench_run
    assert proc.returncode == 0, proc.stderr[-4000:]
    md = (results / "latest.md").read_text()
    assert md.strip() == proc.stdout.strip()
    assert "cores" in md and "B/frame" in md
    png = (results / "latest.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "![latency CDF per method](latest.png)" in md


def test_covers_both_movies_all_scenarios_and_methods(results_json):
    assert set(results_json["movies"]) == {"prores", "h264"}
    for key, movie in results_json["movies"].items():
        assert movie["movie"]["frames"] > 0 and movie["movie"]["bytes_per_frame"] > 0
        assert set(movie["scenarios"]) >= {"random", "sequential", "batch"}, key
        random_rows = movie["scenarios"]["random"]["rows"]
        assert set(random_rows) >= {"framewire-serve", "framewire-serve-again", "framewire-dist",
                                    "pyav-held", "pyav-open", "opencv", "ffmpeg-ss", "floor-zmq"}
        floors = {"floor-ffmpeg-decode", "floor-ffmpeg-decode-auto"}
        assert set(movie["scenarios"]["sequential"]["rows"]) >= {"framewire-serve", "pyav-held"} | floors
        assert set(movie["scenarios"]["batch"]["rows"]) >= {"framewire-serve", "pyav-held"} | floors


def test_every_returned_frame_was_verified(results_json):
    for key, movie in results_json["movies"].items():
        for skey, scenario in movie["scenarios"].items():
            for name, row in scenario["rows"].items():
                where = f"{key}/{skey}/{name}"
                assert not row["setup_error"], f"{where}: {row['setup_error']}"
                assert row["samples"] > 0, f"{where}: no samples ({row['error_messages']})"
                assert row["stats"]["p50_ms"] is not None, where
                if row["returns_frames"]:
                    assert row["checked"] == sum(row["frames"]), where
                    assert row["ok"] + row["wrong"] == row["checked"], where
                    assert row["min_psnr_db"] is not None, where
                else:
                    assert row["checked"] == 0, where
                    assert name.startswith("floor"), where


def test_oracle_agrees_with_pyav(results_json):
    # PyAV held open is the reference peer: if it "returned wrong frames", the oracle, the
    # frame plan or the harness's seeking is broken, not PyAV.
    for key, movie in results_json["movies"].items():
        for skey, scenario in movie["scenarios"].items():
            row = scenario["rows"].get("pyav-held")
            if row is None:  # scenarios that compare framewire with itself (caches, remote)
                continue
            assert row["wrong"] == 0 and row["ok"] > 0, (key, skey, row["wrong_examples"])


def test_markdown_marks_wrong_frames(results_json, bench_run):
    # A row with wrong frames must say so in the table, never silently.
    _, results = bench_run
    md = (results / "latest.md").read_text()
    for movie in results_json["movies"].values():
        for scenario in movie["scenarios"].values():
            for row in scenario["rows"].values():
                if row["wrong"]:
                    assert f"WRONG FRAME {row['wrong']}/{row['checked']}" in md
