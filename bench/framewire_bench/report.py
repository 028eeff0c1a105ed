"""Results: the JSON of raw numbers, the markdown tables, both written next to the plot.

The JSON (``latest.json``) holds every sample, so later issues can check their targets
(``results["movies"]["prores"]["scenarios"]["random"]["rows"]["framewire-serve"]["stats"]``)
and re-plot without re-running. The markdown (``latest.md``) is what ``make bench`` prints.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Dict, List, Optional

from . import targets as targets_mod
from .runner import Phase, Row

SCHEMA = 1


def row_json(row: Row, baseline: Optional[Row]) -> dict:
    stats = row.stats()
    base = baseline.stats() if baseline is not None else {}
    ratio = None
    if stats["p50_ms"] is not None and base.get("p50_ms"):
        ratio = stats["p50_ms"] / base["p50_ms"]
    served = collections.Counter(c for meta in row.meta for c in meta.get("cached", []))
    server_ms = _server_p50(row)
    return {
        "label": row.label, "config": row.config, "returns_frames": row.returns_frames,
        "samples": len(row.latencies_s), "planned": row.requests_planned,
        "frames_per_sample": max(row.frames) if row.frames else 0,
        "stats": stats, "ratio_p50_to_baseline": ratio,
        "checked": row.checked, "ok": row.ok, "wrong": row.wrong,
        "min_psnr_db": row.min_psnr_db, "wrong_examples": row.wrong_examples,
        "errors": row.errors, "error_messages": row.error_messages, "setup_error": row.setup_error,
        "served_from": dict(served), "server_ms_p50": server_ms,
        "header_index_mismatch": sum(m.get("header_index_mismatch", 0) for m in row.meta),
        "latencies_s": row.latencies_s, "frames": row.frames, "meta": row.meta,
    }


def _server_p50(row: Row) -> Optional[dict]:
    """Median per-frame server-side stage times (ms) of a framewire row."""
    import numpy as np
    samples = [(m["server_ms"], f) for m, f in zip(row.meta, row.frames) if "server_ms" in m]
    if not samples:
        return None
    stages = samples[0][0].keys()
    return {s: float(np.median([ms[s] / max(f, 1) for ms, f in samples])) for s in stages}


def phase_json(phase: Phase, rows: List[Row]) -> dict:
    by_name = {r.method: r for r in rows}
    baseline = by_name.get(phase.baseline)
    return {"title": phase.title, "baseline": phase.baseline, "plot": phase.plot,
            "notes": phase.notes,
            "rows": {r.method: row_json(r, baseline) for r in rows}}


def results_json(machine: dict, profile: dict, servers: dict, movies: Dict[str, dict],
                 duration_s: float, notes: List[str]) -> dict:
    res = {"schema": SCHEMA, "machine": machine, "profile": profile, "servers": servers,
           "movies": movies, "duration_s": duration_s, "notes": notes}
    res["targets"] = targets_mod.evaluate(res)
    return res


# ---- markdown -------------------------------------------------------------------------------

def _ms(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _fps(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _samples(r: dict) -> str:
    n, f = r["samples"], r["frames_per_sample"]
    text = f"{n} x {f} frames" if f > 1 else f"{n}"
    if r["planned"] and n != r["planned"]:
        text += f" of {r['planned']}"
    return text


def _verified(r: dict) -> str:
    if r["setup_error"]:
        return f"**SETUP FAILED**: {r['setup_error'][:80]}"
    parts = []
    if not r["returns_frames"]:
        parts.append("n/a (floor, no frame)")
    elif r["wrong"]:
        parts.append(f"**WRONG FRAME {r['wrong']}/{r['checked']}**")
    elif r["checked"]:
        parts.append(f"{r['ok']}/{r['checked']} ok")
    if r["errors"]:
        parts.append(f"**ERROR {r['errors']}/{r['errors'] + r['samples']}**")
    if r.get("header_index_mismatch"):
        parts.append(f"**header index wrong {r['header_index_mismatch']}**")
    return ", ".join(parts) or "-"


def _served(r: dict) -> str:
    if not r["served_from"]:
        return ""
    return ", ".join(f"{k} {v}" for k, v in sorted(r["served_from"].items()))


def movie_markdown(key: str, movie: dict) -> List[str]:
    d = movie["movie"]
    lines = [f"### {key}: {d['title']}", "",
             f"{d['codec']} {d['pixel_format']}, {d['width']}x{d['height']}, {d['frames']} frames "
             f"at {d['fps']} fps, {_bytes(d['bytes_per_frame'])}/frame "
             f"({_bytes(d['file_size'])}), {d['keyframes']} keyframes (max GOP {d['max_gop']}); "
             f"rgb24 frame = {_bytes(d['width'] * d['height'] * 3)}. `{d['file']}`", ""]
    lines += ["| scenario | method | samples | p50 ms | p90 ms | frames/s | p50 / baseline "
              "| frames verified | served from |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for skey, sc in movie["scenarios"].items():
        for name, r in sc["rows"].items():
            st = r["stats"]
            ratio = r["ratio_p50_to_baseline"]
            if name == sc["baseline"] and ratio is not None:
                ratio_text = "1.00 (baseline)"
            else:
                ratio_text = f"{ratio:.2f}" if ratio is not None else "-"
            lines.append(f"| {skey} | {r['label']} | {_samples(r)} | {_ms(st['p50_ms'])} | "
                         f"{_ms(st['p90_ms'])} | {_fps(st['frames_per_s'])} | {ratio_text} | "
                         f"{_verified(r)} | {_served(r)} |")
    lines.append("")
    # Where framewire's time goes (server-side stages vs. client round trip), medians per frame.
    stage_rows = []
    for skey, sc in movie["scenarios"].items():
        for name, r in sc["rows"].items():
            s = r.get("server_ms_p50")
            if s and r["stats"]["p50_ms"] is not None:
                stage_rows.append(
                    f"| {skey} | {r['label']} | {_ms(r['stats']['p50_ms'])} | {_ms(s.get('queue'))} | "
                    f"{_ms(s.get('read'))} | {_ms(s.get('decode'))} | {_ms(s.get('convert'))} | "
                    f"{_ms(s.get('total'))} | {_ms(r['stats']['p50_ms'] - s.get('total', 0) - s.get('queue', 0))} |")
    if stage_rows:
        lines += ["framewire, where the time goes (medians per frame, ms; server stages from the "
                  "reply headers; *outside* = client p50 - queue - worker total: transport, "
                  "broker, client):", "",
                  "| scenario | method | client p50 | queue | read | decode | convert | worker total | outside |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"] + stage_rows + [""]
    problems = []
    for skey, sc in movie["scenarios"].items():
        for note in sc.get("notes", []):
            problems.append(f"- {skey}: {note}")
        for name, r in sc["rows"].items():
            for ex in r["wrong_examples"]:
                problems.append(f"- {skey} / {r['label']}: wrong frame: {ex}")
            for msg in r["error_messages"]:
                problems.append(f"- {skey} / {r['label']}: error: {msg}")
    if problems:
        lines += ["Notes and problems seen:", ""] + problems + [""]
    return lines


def markdown(res: dict, plot_name: Optional[str]) -> str:
    m = res["machine"]
    p = res["profile"]
    v = m["versions"]
    lines = ["# framewire benchmark", "",
             f"{m['date']}, {m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB RAM, "
             f"load average {m['load_average_start']} at start, {m.get('load_average_end')} at end "
             f"(a shared machine: compare ratios within this run, not absolute times across runs). "
             f"framewire {m['framewire_git']['commit']}"
             f"{' + local changes' if m['framewire_git']['dirty_files'] else ''}, "
             f"profile `{p['name']}`, run took {res['duration_s']:.0f} s.", "",
             f"Peers: PyAV {v.get('av')}, OpenCV {v.get('cv2')}, {v.get('ffmpeg')}, "
             f"pyzmq {v.get('zmq')} (libzmq {v.get('libzmq')}), numpy {v.get('numpy')}, "
             f"Python {v.get('python')}.", ""]
    srv = res["servers"]
    if srv:
        lines.append("Servers: " + "; ".join(
            f"{s['description']} at {s['endpoint']}, resident memory at the end "
            f"{s['rss_mb_end']:.0f} MB" for s in srv.values()) + ".")
        lines.append("")
    lines += ["Every method reads the same frames; methods run interleaved (round-robin per "
              "sample). p50/p90 are per frame (a batch or sequential-run sample counts its time / "
              "its frames). p50 / baseline: this row's p50 over the p50 of the row marked "
              "(baseline) in the same scenario (PyAV held open in random and batch, the ffmpeg "
              "decode floor in sequential). "
              "frames/s = frames / total time, one request in flight. Every returned frame is "
              "compared with ffmpeg's rgb24 decode of that frame (PSNR >= 40 dB); floors return "
              "no frame.", ""]
    for key, movie in res["movies"].items():
        lines += movie_markdown(key, movie)
    if res.get("targets"):
        lines += ["### Targets of the issues (ratios from this run)", "",
                  "| issue | movie | target | bound | measured | met |",
                  "| ---: | --- | --- | --- | ---: | --- |"]
        for t in res["targets"]:
            met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
            val = "-" if t["value"] is None else f"{t['value']:.2f}"
            lines.append(f"| {t['issue']} | {t['movie']} | {t['target']} | {t['bound']} | {val} | {met} |")
        lines.append("")
    if res.get("notes"):
        lines += ["Notes:", ""] + [f"- {n}" for n in res["notes"]] + [""]
    configs = {}
    for movie in res["movies"].values():
        for sc in movie["scenarios"].values():
            for name, r in sc["rows"].items():
                if r["config"]:
                    configs.setdefault(name, set()).add(r["config"])
    if configs:
        lines += ["Method settings:", ""]
        lines += [f"- `{k}`: {'; '.join(sorted(c))}" for k, c in configs.items()] + [""]
    if plot_name:
        lines += [f"![latency CDF per method]({plot_name})", ""]
    return "\n".join(lines)


def write(results_dir: Path, res: dict, plot_ok: bool, stem: str = "latest") -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stem}.json").write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res, f"{stem}.png" if plot_ok else None)
    path = results_dir / f"{stem}.md"
    path.write_text(md)
    return path
