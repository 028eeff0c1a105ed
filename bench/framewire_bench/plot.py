"""The plot beside the table: per movie and scenario, the CDF of per-frame latency of every
method (log time axis), or for batch scenarios the frames/s of each method as bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {
    "framewire-serve": "#d62728", "framewire-serve-again": "#ff9896",
    "framewire-dist": "#9467bd", "framewire-dist-again": "#c5b0d5",
    "pyav-held": "#1f77b4", "pyav-open": "#17becf", "opencv": "#2ca02c",
    "ffmpeg-ss": "#8c564b", "floor-zmq": "#7f7f7f", "floor-ffmpeg-decode": "#bcbd22",
    "floor-ffmpeg-decode-auto": "#dbdb8d",
}


def _color(name: str, i: int):
    return COLORS.get(name, plt.cm.tab20(i % 20))


def write(res: dict, path: Path) -> None:
    movies = list(res["movies"].items())
    scen_keys = []
    for _, movie in movies:
        for k in movie["scenarios"]:
            if k not in scen_keys:
                scen_keys.append(k)
    if not movies or not scen_keys:
        return
    fig, axes = plt.subplots(len(movies), len(scen_keys), squeeze=False,
                             figsize=(6.2 * len(scen_keys), 4.4 * len(movies)))
    for i, (mkey, movie) in enumerate(movies):
        for j, skey in enumerate(scen_keys):
            ax = axes[i][j]
            sc = movie["scenarios"].get(skey)
            if sc is None:
                ax.set_visible(False)
                continue
            ax.set_title(f"{mkey}: {sc['title']}", fontsize=9)
            if sc["plot"] == "bar":
                _bars(ax, sc)
            else:
                _cdf(ax, sc)
    fig.suptitle(f"framewire benchmark, {res['machine']['date']}, {res['machine']['cores']} cores "
                 f"({res['machine']['cpu_model']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _cdf(ax, sc: dict) -> None:
    lo, hi = float("inf"), 0.0
    for k, (name, r) in enumerate(sc["rows"].items()):
        lat = [t / max(f, 1) * 1e3 for t, f in zip(r["latencies_s"], r["frames"])]
        if not lat:
            continue
        lo, hi = min(lo, min(lat)), max(hi, max(lat))
        xs = np.sort(lat)
        ys = np.arange(1, len(xs) + 1) / len(xs)
        style = "--" if name.startswith("floor") else "-"
        label = r["label"] + (" [WRONG]" if r["wrong"] else "")
        ax.step(xs, ys, where="post", linestyle=style, color=_color(name, k), label=label)
    if hi > 10 * lo:   # a log axis only when the methods span more than a decade
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("ms per frame (log)")
    else:
        ax.set_xlabel("ms per frame")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5, loc="lower right")


def _bars(ax, sc: dict) -> None:
    names, values, colors = [], [], []
    for k, (name, r) in enumerate(sc["rows"].items()):
        fps = r["stats"]["frames_per_s"]
        if fps is None:
            continue
        names.append(r["label"] + (" [WRONG]" if r["wrong"] else ""))
        values.append(fps)
        colors.append(_color(name, k))
    y = np.arange(len(names))
    ax.barh(y, values, color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("frames/s (higher is better)")
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:.0f}", va="center", fontsize=7)
    ax.grid(True, axis="x", alpha=0.3)
