"""The report's plots (matplotlib, Agg backend), each a function of campaign rows or of
their statistics, each written as PNG and as SVG beside it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from accelsim.campaign.analyses import expected_residual_fraction  # noqa: E402

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), one
# marker per scheme as well, dashes for the unprotected layouts
SCHEME_STYLE = {
    "none-4b": ("#D55E00", "--", "v"), "inplace-4b-64": ("#E69F00", "-", "o"), "inplace-4b-32": ("#CC79A7", "-", "s"),
    "none-8b": ("#0072B2", "--", "^"), "inplace-8b-64": ("#009E73", "-", "D"), "ecc-8b-72": ("#56B4E9", "-", "P"),
}
COMPONENT_COLOURS = {"sram_dynamic": "#0072B2", "sram_leakage": "#56B4E9", "mac": "#E69F00", "registers": "#F0E442",
                     "accumulators": "#009E73", "buffers": "#CC79A7", "ecc": "#D55E00", "dram": "#999999"}
COMPONENT_LABELS = {"sram_dynamic": "weight SRAM, dynamic", "sram_leakage": "weight SRAM, leakage", "mac": "MAC",
                    "registers": "PE flip-flops", "accumulators": "accumulators", "buffers": "input/output buffers",
                    "ecc": "ECC decode", "dram": "DRAM"}



def energy_unit(pj_values) -> tuple[str, float]:
    """(unit, pJ per unit) that keeps the largest of ``pj_values`` at 1 to 999 units."""
    peak = max((abs(float(v)) for v in pj_values), default=0.0)
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if peak >= scale:
            return unit, scale
    return "pJ", 1.0

def _style(scheme):
    colour, dash, _ = SCHEME_STYLE.get(scheme, ("#333333", "-", "o"))
    return colour, dash


def _marker(scheme):
    return SCHEME_STYLE.get(scheme, ("", "", "o"))[2]


def _save(fig, path: Path) -> Path:
    """Write ``path`` (PNG) and the same figure as SVG beside it (vector, for papers)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    # no timestamp and element ids salted by the file's name (matplotlib draws them from
    # uuid4 otherwise): the same rows give the same SVG bytes
    with plt.rc_context({"svg.hashsalt": path.stem}):
        fig.savefig(path.with_suffix(".svg"), metadata={"Date": None})
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


def accuracy_vs_voltage(rows, models, path: Path, stats=None) -> Path:
    """Mean accuracy per scheme against voltage; band: the 95 % bootstrap interval over chips
    and inputs (``stats`` of analyses.point_statistics), else the min-max over chips."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    ci = {(s["model"], s["scheme"], s["vdd"]): (s["ci_lo"], s["ci_hi"]) for s in stats or []}
    for ax, model in zip(axes[0], models):
        pos = _voltage_axis(ax, rows, model)
        for scheme, pts in _series(rows, model, "accuracy").items():
            v, mean, lo, hi = map(np.array, zip(*pts))
            if ci:
                lo, hi = map(np.array, zip(*(ci.get((model, scheme, val), (m, m)) for val, m in zip(v, mean))))
            x = [pos[val] for val in v]
            c, ls = _style(scheme)
            ax.plot(x, mean * 100, ls, color=c, marker=_marker(scheme), ms=3, label=scheme)
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
        series = _series(rows, model, "energy_pj")
        unit, scale = energy_unit(m for pts in series.values() for _, m, _, _ in pts)
        for scheme, pts in series.items():
            v, mean, _, _ = map(np.array, zip(*pts))
            c, ls = _style(scheme)
            ax.plot(v, mean / scale, ls, color=c, marker="o", ms=3, label=scheme)
        ax.set_title(model)
        ax.set_xlabel("weight-SRAM supply voltage (V)")
        ax.set_ylabel(f"energy per inference ({unit})")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def pareto(rows, models, path: Path) -> Path:
    """Accuracy against energy for every (scheme, voltage), each point labelled with its
    voltage; the front is outlined."""
    fig, axes = plt.subplots(1, len(models), figsize=(6.2 * len(models), 4.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        points = []
        energies = _series(rows, model, "energy_pj")
        unit, scale = energy_unit(m for pts in energies.values() for _, m, _, _ in pts)
        for k, (scheme, pts) in enumerate(sorted(_series(rows, model, "accuracy").items())):
            energy = dict((v, m) for v, m, _, _ in energies.get(scheme, []))
            c, _ = _style(scheme)
            xs = [(energy[v] / scale, m * 100, v) for v, m, _, _ in pts if v in energy]
            if xs:
                ax.scatter([e for e, _, _ in xs], [a for _, a, _ in xs], color=c, marker=_marker(scheme), s=22,
                           label=scheme, zorder=3)
                points += [(e, a, v, c) for e, a, v in xs]
        if points:
            front, best = [], -1.0
            for e, a, v, c in sorted(points):
                if a > best:
                    front.append((e, a, v, c))
                    best = a
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", lw=1,
                    label="Pareto front")
            for i, (e, a, v, c) in enumerate(front):   # the front's points carry their voltage
                ax.annotate(f"{v:.3g} V", (e, a), textcoords="offset points", xytext=(5, -10 if i % 2 else 4),
                            fontsize=7, color=c, fontweight="bold")
        ax.set_title(f"{model} (front labelled with the weight-SRAM voltage)", fontsize=10)
        ax.set_xlabel(f"energy per inference ({unit})")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def residual_vs_ber(table, path: Path) -> Path:
    """Measured residual faulty data bits (share) against BER, log-log, with the closed form.
    Error bars: +-1.96 standard errors; a BER where no residual bit was seen is drawn as an
    upper bound (a down-pointing marker at 3 / data bits, the 95 % bound of zero counts)."""
    fig, ax = plt.subplots(figsize=(10.5, 4.8))
    schemes = sorted({t["scheme"] for t in table})
    lo = max(min(t["ber"] for t in table), 1e-7)   # below that nothing is measurable
    for scheme in schemes:
        c, ls = _style(scheme)
        seen = sorted((t["ber"], t["measured"], t["stderr"]) for t in table if t["scheme"] == scheme and t["measured"] > 0)
        if seen:
            b, m, se = map(np.array, zip(*seen))
            ax.errorbar(b, m, yerr=[np.minimum(1.96 * se, m * 0.999), 1.96 * se], fmt=_marker(scheme), color=c,
                        ms=4, capsize=2, lw=1, label=f"{scheme} measured")
        zeros = sorted((t["ber"], 3.0 / t["data_bits"]) for t in table
                       if t["scheme"] == scheme and t["measured"] == 0 and t["ber"] >= lo)
        if zeros:
            ax.scatter(*zip(*zeros), marker="v", facecolors="none", edgecolors=c, s=22,
                       label=f"{scheme} none seen (95 % upper bound)")
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
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _save(fig, path)


def _layer_order(rows, model) -> list[str]:
    """The model's layers in network order (the order of a trial's per-layer counts)."""
    for r in rows:
        if r["model"] == model and r.get("per_layer"):
            return list(r["per_layer"])
    return []


def _sensitivity_grid(rows, model, scheme):
    """(grid layers x points, layer names, x labels, x title, colour label, colour map)."""
    layers = _layer_order(rows, model)
    single = [r for r in rows if r["model"] == model and r["scheme"] == scheme and r["layers"] in layers]
    if single:
        xkey = "vdd" if any(r.get("point") == "vdd" for r in single) else "ber"
        xs = sorted({r[xkey] for r in single}, reverse=(xkey == "vdd"))
        grid = np.full((len(layers), len(xs)), np.nan)
        for i, name in enumerate(layers):
            for j, x in enumerate(xs):
                acc = [r["accuracy"] for r in single if r["layers"] == name and r[xkey] == x]
                if acc:
                    grid[i, j] = 100 * (single[0]["baseline_accuracy"] - float(np.mean(acc)))
        return (grid, layers, [f"{x:.2f}" if xkey == "vdd" else f"{x:.0e}" for x in xs],
                "weight-SRAM supply voltage (V)" if xkey == "vdd" else "bit error rate",
                "accuracy drop (points),\nfaults in this layer only", "viridis_r")
    sel = [r for r in rows if r["model"] == model and r["scheme"] == scheme and r["layers"] == "all"]
    xs = sorted({r["vdd"] for r in sel}, reverse=True)
    grid = np.zeros((len(layers), len(xs)))
    for j, v in enumerate(xs):
        rs = [r for r in sel if r["vdd"] == v]
        for i, name in enumerate(layers):
            grid[i, j] = np.mean([r["per_layer"][name]["residual_bits"] / max(r["per_layer"][name]["words"], 1)
                                  for r in rs])
    return (grid, layers, [f"{v:.2f}" for v in xs], "weight-SRAM supply voltage (V)",
            "residual faulty bits per word\n(whole-image faults)", "magma_r")


def layer_sensitivity(rows, models, scheme, path: Path) -> tuple[Path, str]:
    """Per-layer sensitivity, one panel per model, layers in network order (rows, input at
    top) against the sweep point (columns). With trials that fault one layer at a time: the
    accuracy drop (points) when only that layer's words are faulty; otherwise residual
    faulty bits per word of each layer in whole-image trials. Returns (path, what the
    colour encodes)."""
    models = [models] if isinstance(models, str) else list(models)
    panels = [(m, _sensitivity_grid(rows, m, scheme)) for m in models]
    panels = [(m, p) for m, p in panels if p[1]]
    tallest = max((len(p[1]) for _, p in panels), default=1)
    widest = max((len(p[2]) for _, p in panels), default=1)
    fig, axes = plt.subplots(1, max(len(panels), 1), squeeze=False,
                             figsize=(max(5.5, 0.55 * widest + 3.6) * max(len(panels), 1), max(3.0, 0.3 * tallest + 1.8)))
    label = "no layer data"
    for ax, (model, (grid, layers, xlabels, xtitle, label, cmap)) in zip(axes[0], panels):
        im = ax.imshow(grid, aspect="auto", cmap=cmap)
        ax.set_xticks(range(len(xlabels)), xlabels, rotation=45)
        ax.set_yticks(range(len(layers)), layers, fontsize=7)
        ax.set_xlabel(xtitle)
        ax.set_title(f"{model} / {scheme}", fontsize=10)
        bar = fig.colorbar(im, ax=ax)
        bar.set_label(label, fontsize=8)
    axes[0][0].set_ylabel("layer (network order, input at top)")
    return _save(fig, path), label


def energy_breakdown(bars: list[dict], models, path: Path, note: str = "") -> Path:
    """Stacked bars of energy per inference by component: per model, two bars per scheme
    (nominal voltage and the scheme's safe voltage). ``bars``: dicts with model, scheme,
    label, and one pJ value per component."""
    from accelsim.energy import COMPONENTS

    widest = max((sum(b["model"] == m for b in bars) for m in models), default=1)
    fig, axes = plt.subplots(len(models), 1, figsize=(max(7.0, 0.55 * widest + 3.5), 3.6 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        mine = [b for b in bars if b["model"] == model]
        x = np.arange(len(mine))
        bottom = np.zeros(len(mine))
        unit, scale = energy_unit(b["total"] for b in mine)
        for comp in COMPONENTS:
            vals = np.array([b.get(comp, 0.0) or 0.0 for b in mine]) / scale
            if vals.any():
                ax.bar(x, vals, bottom=bottom, color=COMPONENT_COLOURS[comp], label=COMPONENT_LABELS[comp], width=0.7)
                bottom += vals
        ax.set_xticks(x, [f"{b['scheme']}\n{b['label'].replace(' ', chr(10), 1)}" for b in mine], fontsize=7)
        ax.set_ylabel(f"energy per inference ({unit})")
        ax.set_title(f"{model}{note}")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def energy_relative(rel: dict, rows, models, path: Path) -> Path:
    """Each scheme's energy per inference relative to the unprotected layout of the same
    weight width at the same voltage (``rel``: {(model, scheme): [(vdd, ratio)]})."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        pos = _voltage_axis(ax, rows, model)
        for (m, scheme), pts in sorted(rel.items()):
            if m != model or not pts:
                continue
            c, ls = _style(scheme)
            ax.plot([pos[v] for v, _ in pts], [100 * r for _, r in pts], ls, color=c, marker=_marker(scheme), ms=3,
                    label=scheme)
        ax.axhline(100, color="black", lw=0.8)
        ax.set_title(model)
        ax.set_ylabel("energy vs unprotected, same V (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)
