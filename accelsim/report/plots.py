"""The report's PNG plots (matplotlib, Agg backend), each a function of campaign rows."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from accelsim.campaign.analyses import expected_residual_fraction  # noqa: E402

SCHEME_STYLE = {  # colour by word width / bits, dashes for unprotected
    "none-4b": ("#d62728", "--"), "inplace-4b-64": ("#ff7f0e", "-"), "inplace-4b-32": ("#8c564b", "-"),
    "none-8b": ("#1f77b4", "--"), "inplace-8b-64": ("#2ca02c", "-"), "ecc-8b-72": ("#9467bd", "-"),
}


def _style(scheme):
    return SCHEME_STYLE.get(scheme, ("#333333", "-"))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _series(rows, model, value):
    """scheme -> sorted [(vdd, mean, min, max)] over chips/repeats."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["model"] == model and r["layers"] == "all" and r.get(value) is not None:
            acc[r["scheme"]][r["vdd"]].append(r[value])
    return {s: sorted((v, float(np.mean(x)), float(np.min(x)), float(np.max(x))) for v, x in pts.items())
            for s, pts in acc.items()}


def _voltage_axis(ax, rows, model):
    """Evenly spaced voltage ticks: the sweep is dense where accuracy changes, so a linear
    volt axis would squeeze it next to the nominal point."""
    vdds = sorted({r["vdd"] for r in rows if r["model"] == model and r["layers"] == "all"})
    ax.set_xticks(range(len(vdds)), [f"{v:.2f}" for v in vdds], rotation=45, fontsize=8)
    ax.set_xlabel("weight-SRAM supply voltage (V), sweep points")
    return {v: i for i, v in enumerate(vdds)}


def accuracy_vs_voltage(rows, models, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        pos = _voltage_axis(ax, rows, model)
        for scheme, pts in _series(rows, model, "accuracy").items():
            v, mean, lo, hi = map(np.array, zip(*pts))
            x = [pos[val] for val in v]
            c, ls = _style(scheme)
            ax.plot(x, mean * 100, ls, color=c, marker="o", ms=3, label=scheme)
            ax.fill_between(x, lo * 100, hi * 100, color=c, alpha=0.15)
        ax.set_title(model)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def sdc_vs_voltage(rows, models, path: Path) -> Path:
    """Top-1 SDC rate (share of inputs whose top-1 class differs from the fault-free
    network's) against voltage per scheme; band: spread over chips; dotted: top-5 SDC."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        pos = _voltage_axis(ax, rows, model)
        five = _series(rows, model, "sdc_top5")
        for scheme, pts in _series(rows, model, "sdc_top1").items():
            v, mean, lo, hi = map(np.array, zip(*pts))
            x = [pos[val] for val in v]
            c, ls = _style(scheme)
            ax.plot(x, mean * 100, ls, color=c, marker="o", ms=3, label=scheme)
            ax.fill_between(x, lo * 100, hi * 100, color=c, alpha=0.15)
            if scheme in five:
                ax.plot([pos[p[0]] for p in five[scheme]], [p[1] * 100 for p in five[scheme]], ":", color=c, lw=1)
        ax.set_title(model)
        ax.set_ylabel("SDC rate, top-1 (solid) / top-5 (dotted) (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def energy_vs_voltage(rows, models, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for scheme, pts in _series(rows, model, "energy_pj").items():
            v, mean, _, _ = map(np.array, zip(*pts))
            c, ls = _style(scheme)
            ax.plot(v, mean / 1e3, ls, color=c, marker="o", ms=3, label=scheme)
        ax.set_title(model)
        ax.set_xlabel("weight-SRAM supply voltage (V)")
        ax.set_ylabel("energy per inference (nJ)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def pareto(rows, models, path: Path) -> Path:
    """Accuracy against energy for every (scheme, voltage); the front is outlined."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        points = []
        for scheme, pts in _series(rows, model, "accuracy").items():
            energy = dict((v, m) for v, m, _, _ in _series(rows, model, "energy_pj").get(scheme, []))
            c, _ = _style(scheme)
            xs = [(energy[v] / 1e3, m * 100) for v, m, _, _ in pts if v in energy]
            if xs:
                ax.scatter(*zip(*xs), color=c, s=14, label=scheme)
                points += xs
        if points:
            front, best = [], -1.0
            for e, a in sorted(points):
                if a > best:
                    front.append((e, a))
                    best = a
            ax.step(*zip(*front), where="post", color="black", lw=1, label="Pareto front")
        ax.set_title(model)
        ax.set_xlabel("energy per inference (nJ)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def residual_vs_ber(table, path: Path) -> Path:
    """Measured residual faulty data bits (share) against BER, log-log, with the closed form."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    schemes = sorted({t["scheme"] for t in table})
    for scheme in schemes:
        pts = sorted((t["ber"], t["measured"]) for t in table if t["scheme"] == scheme and t["measured"] > 0)
        c, ls = _style(scheme)
        if pts:
            ax.scatter(*zip(*pts), color=c, s=16, label=f"{scheme} measured")
        lo = max(min(t["ber"] for t in table), 1e-7)   # below that nothing is measurable
        bers = np.logspace(np.log10(lo), np.log10(max(max(t["ber"] for t in table), lo * 10)), 40)
        ax.plot(bers, [expected_residual_fraction(scheme, b) for b in bers], ls, color=c, lw=1,
                label=f"{scheme} closed form")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(left=lo / 2)
    ax.set_ylim(bottom=1e-9)
    ax.set_xlabel("bit error rate")
    ax.set_ylabel("faulty weight bits after correction (share)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def layer_heatmap(rows, model, scheme, path: Path) -> Path:
    """Residual faulty bits per layer and voltage (mean over chips) for one model/scheme."""
    sel = [r for r in rows if r["model"] == model and r["scheme"] == scheme and r["layers"] == "all"]
    layers = list(sel[0]["per_layer"]) if sel else []
    vdds = sorted({r["vdd"] for r in sel}, reverse=True)
    grid = np.zeros((len(layers), len(vdds)))
    for j, v in enumerate(vdds):
        rs = [r for r in sel if r["vdd"] == v]
        for i, name in enumerate(layers):
            grid[i, j] = np.mean([r["per_layer"][name]["residual_bits"] / max(r["per_layer"][name]["words"], 1)
                                  for r in rs])
    fig, ax = plt.subplots(figsize=(max(5, 0.55 * len(vdds) + 2), max(2.5, 0.35 * len(layers) + 1.2)))
    im = ax.imshow(grid, aspect="auto", cmap="magma_r")
    ax.set_xticks(range(len(vdds)), [f"{v:.2f}" for v in vdds], rotation=45)
    ax.set_yticks(range(len(layers)), layers, fontsize=8)
    ax.set_xlabel("weight-SRAM supply voltage (V)")
    ax.set_title(f"{model} / {scheme}: residual faulty bits per word")
    fig.colorbar(im, ax=ax)
    return _save(fig, path)
