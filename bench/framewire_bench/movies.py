"""Benchmark movies: generated with the ffmpeg command line into a cache folder, then probed.

A :class:`MovieSpec` says how to make a movie (codec, size, frame count, encoder arguments);
its file name carries a hash of those arguments, so a changed spec never reuses a stale file
and an unchanged one is generated once and reused (the cache folder is gitignored).

:func:`probe` reads the movie's packet table with ffprobe (no decoding) into a
:class:`MovieIndex`: the pts of frame n in presentation order and keyframe flags. The
peers (PyAV, ``ffmpeg -ss``) use it to address frame n exactly. The oracle (oracle.py)
decodes fully and fails loudly if a frame of the plan (always including the last one) is
missing, and every method's frames are checked against it, so an index error cannot hide.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import os
import struct
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

# 1080p ProRes 422 HQ of a noisy picture, like the OOI CamHD archive (about 1 MB a frame).
PRORES_NOISE = 12
# prores_ks' own rate control reaches ~0.96 MB/frame here but encodes at ~1 s/frame on this
# 2-core machine; a fixed quantiser (-q:v) encodes ~25x faster. We calibrate it on a few
# frames to land at about 1 MB/frame, which is what decoding cost depends on.
PRORES_TARGET_FRAME_BYTES = 1_000_000
PRORES_FIRST_Q = 20


@dataclasses.dataclass(frozen=True)
class MovieSpec:
    """How to generate one benchmark movie."""

    key: str                 # short id used in tables and JSON: "prores", "h264"
    title: str               # human description for the report
    codec: str               # ffmpeg codec name expected in the file ("prores", "h264")
    width: int
    height: int
    frames: int
    fps: int
    container: str           # file extension: "mov", "mp4"
    source_filter: str       # -vf applied to testsrc2 ("" = none)
    encoder_args: tuple      # everything after the input and filter, before -frames:v
    target_frame_bytes: int = 0   # >0: calibrate "-q:v" so bytes/frame land near this
    first_q: int = 0

    @property
    def source(self) -> List[str]:
        args = ["-f", "lavfi", "-i", f"testsrc2=size={self.width}x{self.height}:rate={self.fps}"]
        if self.source_filter:
            args += ["-vf", self.source_filter]
        return args

    def file_name(self) -> str:
        digest = hashlib.sha1(repr(dataclasses.astuple(self)).encode()).hexdigest()[:8]
        return (f"{self.key}-{self.width}x{self.height}-{self.frames}f-{self.fps}fps-{digest}."
                f"{self.container}")


def prores_spec(width: int = 1920, height: int = 1080, frames: int = 600, fps: int = 30) -> MovieSpec:
    calibrate = width * height >= 1920 * 1080
    return MovieSpec(
        key="prores", title="ProRes 422 HQ, 10-bit 4:2:2, noise (CamHD-like), intra-only",
        codec="prores", width=width, height=height, frames=frames, fps=fps, container="mov",
        source_filter=f"noise=alls={PRORES_NOISE}:allf=t",
        encoder_args=("-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"),
        target_frame_bytes=PRORES_TARGET_FRAME_BYTES if calibrate else 0,
        first_q=PRORES_FIRST_Q if calibrate else 0)


def h264_spec(width: int = 1920, height: int = 1080, frames: int = 600, fps: int = 30,
              gop: int = 60) -> MovieSpec:
    return MovieSpec(
        key="h264", title=f"H.264 High, 4:2:0, GOP {gop} (fixed), 3 B-frames",
        codec="h264", width=width, height=height, frames=frames, fps=fps, container="mp4",
        source_filter="",
        encoder_args=("-c:v", "libx264", "-preset", "fast", "-g", str(gop), "-bf", "3",
                      "-sc_threshold", "0", "-pix_fmt", "yuv420p"))


SPECS = {"prores": prores_spec, "h264": h264_spec}


@dataclasses.dataclass
class MovieIndex:
    """Frame table of a movie's first video stream, in presentation order (from packets)."""

    time_base: Fraction
    start_pts: int
    pts: List[int]                 # pts of frame n
    keyframe: List[bool]           # frame n is a keyframe
    keyframes: List[int] = dataclasses.field(init=False)   # frame numbers of keyframes

    def __post_init__(self):
        self.keyframes = [n for n, k in enumerate(self.keyframe) if k]

    @property
    def num_frames(self) -> int:
        return len(self.pts)

    def keyframe_at_or_before(self, n: int) -> int:
        i = bisect.bisect_right(self.keyframes, n) - 1
        return self.keyframes[max(i, 0)]

    def time_of(self, n: int) -> float:
        """Seconds from the start of the file (what ffmpeg -ss counts) of frame n."""
        return float((self.pts[n] - self.start_pts) * self.time_base)

    def time_us_ceil(self, n: int) -> int:
        """Frame n's time in microseconds, rounded up (exact rational arithmetic)."""
        t = (self.pts[n] - self.start_pts) * self.time_base * 1_000_000
        return -((-t.numerator) // t.denominator)

    def max_gop(self) -> int:
        kfs = self.keyframes + [self.num_frames]
        return max(b - a for a, b in zip(kfs, kfs[1:]))


@dataclasses.dataclass
class Movie:
    """A generated movie on disk and what we know about it."""

    spec: MovieSpec
    path: Path                     # absolute
    rel: str                       # path relative to the movie root (what framewire is asked)
    index: MovieIndex
    codec: str
    pixel_format: str
    file_size: int
    generated_s: float             # seconds spent generating (0 when reused from the cache)
    quantiser: Optional[int] = None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def width(self) -> int:
        return self.spec.width

    @property
    def height(self) -> int:
        return self.spec.height

    @property
    def num_frames(self) -> int:
        return self.index.num_frames

    @property
    def bytes_per_frame(self) -> float:
        return self.file_size / max(self.num_frames, 1)

    @property
    def rgb24_bytes(self) -> int:
        return self.width * self.height * 3

    @property
    def intra_only(self) -> bool:
        return all(self.index.keyframe)

    def describe(self) -> dict:
        return {
            "key": self.key, "title": self.spec.title, "file": self.path.name, "codec": self.codec,
            "pixel_format": self.pixel_format, "width": self.width, "height": self.height,
            "frames": self.num_frames, "fps": self.spec.fps, "file_size": self.file_size,
            "bytes_per_frame": round(self.bytes_per_frame), "keyframes": len(self.index.keyframes),
            "max_gop": self.index.max_gop(), "intra_only": self.intra_only,
            "generate_command": " ".join(generate_command(self.spec, "OUT", self.quantiser)),
            "quantiser": self.quantiser,
        }


def generate_command(spec: MovieSpec, out: str, q: Optional[int], frames: Optional[int] = None) -> List[str]:
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y"] + spec.source
    args += ["-frames:v", str(frames or spec.frames)] + list(spec.encoder_args)
    if q:
        args += ["-q:v", str(q)]
    return args + [out]


def _calibrate_q(spec: MovieSpec, work: Path, log) -> int:
    """Fixed quantiser giving about spec.target_frame_bytes per frame (3 tries on 8 frames)."""
    q = spec.first_q
    probe_frames = 8
    tmp = work / f".calibrate-{spec.key}.{spec.container}"
    for _ in range(3):
        subprocess.run(generate_command(spec, str(tmp), q, probe_frames), check=True)
        per_frame = tmp.stat().st_size / probe_frames
        log(f"  calibrating {spec.key}: -q:v {q} -> {per_frame / 1e6:.2f} MB/frame")
        ratio = per_frame / spec.target_frame_bytes
        if 0.92 <= ratio <= 1.08:
            break
        # bytes/frame ~ q^-0.77 for prores_ks on this content (measured); step towards target.
        q = max(1, min(224, round(q * ratio ** (1 / 0.77))))
    tmp.unlink(missing_ok=True)
    return q


def ensure_movie(spec: MovieSpec, movie_root: Path, log=print) -> Movie:
    """The movie for spec under movie_root, generated unless a finished copy exists."""
    movie_root.mkdir(parents=True, exist_ok=True)
    path = (movie_root / spec.file_name()).resolve()
    meta_path = path.with_suffix(path.suffix + ".json")
    generated_s = 0.0
    q = None
    if not path.exists() or not meta_path.exists():
        import time
        t0 = time.monotonic()
        log(f"generating {path.name} ({spec.frames} frames {spec.width}x{spec.height}) ...")
        if spec.target_frame_bytes:
            q = _calibrate_q(spec, movie_root, log)
        partial = path.with_name(".partial-" + path.name)
        subprocess.run(generate_command(spec, str(partial), q), check=True)
        os.replace(partial, path)
        meta_path.write_text(json.dumps({"quantiser": q}))
        generated_s = time.monotonic() - t0
        log(f"  done in {generated_s:.0f} s, {path.stat().st_size / spec.frames / 1e6:.2f} MB/frame")
    else:
        q = json.loads(meta_path.read_text()).get("quantiser")
    info = _stream_info(path)
    return Movie(spec=spec, path=path, rel=path.name, index=probe(path), codec=info["codec_name"],
                 pixel_format=info["pix_fmt"], file_size=path.stat().st_size,
                 generated_s=generated_s, quantiser=q)


def _stream_info(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,pix_fmt,time_base,start_pts", "-of", "json", str(path)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]


def probe(path: Path) -> MovieIndex:
    """Packet table -> frames in presentation order. No decoding."""
    info = _stream_info(path)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts,flags", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True).stdout
    packets = []
    for line in out.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 2 or fields[0] in ("", "N/A"):
            continue
        pts, flags = int(fields[0]), fields[1]
        if "D" in flags:  # discarded by the container (edit list): not a frame
            continue
        packets.append((pts, "K" in flags))
    packets.sort()
    num, den = info["time_base"].split("/")
    start = info.get("start_pts")
    return MovieIndex(
        time_base=Fraction(int(num), int(den)),
        start_pts=int(start) if start not in (None, "N/A") else (packets[0][0] if packets else 0),
        pts=[p[0] for p in packets],
        keyframe=[p[1] for p in packets])


def looped_movie(clip: Movie, frames: int, movie_root: Path, name: str, log=print) -> Path:
    """A long movie made by stream-copying `clip` in a loop (for cold-open/index scenarios).

    Frames repeat with the clip's period, so use it for open/index costs, not for frame
    identity checks.
    """
    out = movie_root / name
    if not out.exists():
        loops = frames // max(clip.num_frames, 1) + 1
        partial = out.with_name(".partial-" + out.name)
        log(f"generating {name} by looping {clip.path.name} {loops}x ...")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", str(loops - 1),
                        "-i", str(clip.path), "-map", "0:v:0", "-c", "copy", "-frames:v", str(frames),
                        str(partial)], check=True)
        os.replace(partial, out)
    return out


def plan_frames(index: MovieIndex, *, random_count: int, sequential_runs: int,
                sequential_run_length: int, batches: int, batch_size: int, seed: int) -> "FramePlan":
    """Disjoint frame sets for the scenarios (see FramePlan)."""
    return FramePlan.make(index, random_count=random_count, sequential_runs=sequential_runs,
                          sequential_run_length=sequential_run_length, batches=batches,
                          batch_size=batch_size, seed=seed)


# Frames left unused after each sequential run: framewire's read-ahead decodes a window of
# frames after a forward reader's last request (6 by default, untimed), so the frames after a
# run must belong to no scenario, or they would be decoded ahead there.
RUN_GUARD = 8


@dataclasses.dataclass
class FramePlan:
    """Which frames each scenario reads, chosen once per movie and shared by every method.

    The sets are disjoint, so a frame cache on the server (issue 5) cannot turn one
    scenario's frames into hits for another:

    - ``sequential_runs``: runs of consecutive frames, each starting at a keyframe (so every
      method pays one seek per run and decodes the run forward); after each run
      ``RUN_GUARD`` frames belong to nobody (server read-ahead may decode them untimed);
    - ``batches``: consecutive frames, starting at keyframes, after the runs;
    - ``random``: drawn from what is left;
    - ``warm``: the last frame, kept for warm-ups (opening the movie, building indexes)
      before measuring.

    When the movie has no keyframe left where a run or batch would start (short movies,
    custom sizes), it starts right after the previous one instead; runs and batches that
    would reach the warm frame are shortened, empty ones dropped.
    """

    warm: int
    random: List[int]
    sequential_runs: List[List[int]]
    batches: List[List[int]]

    @classmethod
    def make(cls, index: MovieIndex, *, random_count: int, sequential_runs: int,
             sequential_run_length: int, batches: int, batch_size: int,
             seed: int) -> "FramePlan":
        import random as _random
        total = index.num_frames
        warm = total - 1
        kfs = index.keyframes

        def next_start(cursor: int, length: int) -> int:
            later = [k for k in kfs if k >= cursor and k + length <= warm]
            return later[0] if later else cursor

        cursor = 0
        guard = set()
        runs = []
        for _ in range(sequential_runs):
            start = next_start(cursor, sequential_run_length)
            frames = list(range(start, min(start + sequential_run_length, warm)))
            if not frames:
                break
            runs.append(frames)
            after = range(frames[-1] + 1, min(frames[-1] + 1 + RUN_GUARD, warm))
            guard.update(after)
            cursor = frames[-1] + 1 + RUN_GUARD
        batch_lists = []
        for _ in range(batches):
            start = next_start(cursor, batch_size)
            frames = list(range(start, min(start + batch_size, warm)))
            if frames:
                batch_lists.append(frames)
                cursor = frames[-1] + 1
        used = ({n for r in runs for n in r} | guard | {n for b in batch_lists for n in b}
                | {warm})
        pool = [n for n in range(total) if n not in used]
        rng = _random.Random(seed)
        rnd = rng.sample(pool, min(random_count, len(pool)))
        return cls(warm=warm, random=rnd, sequential_runs=runs, batches=batch_lists)

    def sequential_frames(self) -> List[int]:
        return sorted({n for r in self.sequential_runs for n in r})

    def all_frames(self) -> List[int]:
        s = (set(self.random) | set(self.sequential_frames())
             | {n for b in self.batches for n in b})
        return sorted(s | {self.warm})


def ranges(frames: Sequence[int]) -> List[tuple]:
    """Sorted frames as [(first, last), ...] runs of consecutive numbers."""
    out = []
    for n in sorted(set(frames)):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def moov_size(path: Path) -> int:
    """Size of the file's moov box (header included), walking the top-level boxes."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        at = 0
        while at + 8 <= size:
            f.seek(at)
            head = f.read(16)
            box, kind = struct.unpack(">I4s", head[:8])
            if box == 1:
                box = struct.unpack(">Q", head[8:16])[0]
            elif box == 0:
                box = size - at
            if kind == b"moov":
                return box
            if box < 8:
                break
            at += box
    raise ValueError(f"{path}: no moov box")
