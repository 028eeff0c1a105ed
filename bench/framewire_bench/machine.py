"""Facts about the machine and the software under test, for the report header."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _run(cmd, cwd=None) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=20).stdout.strip()
    except Exception:
        return ""


def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod, attr in (("numpy", "__version__"), ("av", "__version__"), ("cv2", "__version__"),
                      ("zmq", "__version__"), ("matplotlib", "__version__")):
        try:
            out[mod] = getattr(__import__(mod), attr)
        except Exception:
            out[mod] = "missing"
    try:
        import zmq
        out["libzmq"] = zmq.zmq_version()
    except Exception:
        pass
    line = _run(["ffmpeg", "-version"]).splitlines()
    out["ffmpeg"] = line[0].split(" Copyright")[0] if line else "missing"
    return out


def git_state() -> dict:
    commit = _run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO)
    return {"commit": commit or "unknown", "dirty_files": len(dirty.splitlines()) if dirty else 0}


def describe() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_start": load_average(),
        "versions": versions(),
        "framewire_git": git_state(),
    }
