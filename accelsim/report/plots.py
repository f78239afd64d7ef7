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
from accelsim.report.units import energy_unit  # noqa: E402,F401  (the report's unit rule)

matplotlib.rcParams.update({"axes.formatter.useoffset": False,   # no "+1e2" offsets: ticks read as values
                            "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
                            "xtick.labelsize": 7, "ytick.labelsize": 7, "savefig.dpi": 200})
PAGE_WIDTH_IN = 7.0      # a two-column paper's full text width; one panel takes 3.4 in (one column)
PANEL_HEIGHT_IN = 2.8

# Scheme styling by family: the hue says the protection (Okabe-Ito, safe for the common
# colour-vision deficiencies), the shade and the marker's fill say the weight width (8-bit
# dark and filled, 4-bit light and open), the marker's shape the protection again, so that
# a greyscale print still tells every scheme apart. Line style is left to the metric
# (solid top-1, dotted top-5).
FAMILY = {"none": ("#D55E00", "#F4A582", "v"), "inplace": ("#0072B2", "#74ADD1", "o"),
          "ecc": ("#009E73", "#7FCDBB", "s")}
SCHEME_ORDER = ("none-8b", "none-4b", "ecc-8b-72", "inplace-8b-64", "inplace-4b-64", "inplace-4b-32")
COMPONENT_COLOURS = {"sram_dynamic": "#0072B2", "sram_leakage": "#56B4E9", "mac": "#E69F00", "registers": "#F0E442",
                     "accumulators": "#009E73", "buffers": "#CC79A7", "ecc": "#D55E00", "dram": "#999999"}
COMPONENT_HATCH = {"sram_dynamic": "", "sram_leakage": "//", "mac": "", "registers": "..", "accumulators": "++",
                   "buffers": "\\\\", "ecc": "xx", "dram": "--"}
COMPONENT_LABELS = {"sram_dynamic": "weight SRAM, dynamic", "sram_leakage": "weight SRAM, leakage", "mac": "MAC",
                    "registers": "PE flip-flops", "accumulators": "accumulators", "buffers": "input/output buffers",
                    "ecc": "ECC decode", "dram": "DRAM"}


def scheme_order(scheme: str):
    """Sort key: unprotected, then ECC, then in place; 8-bit before 4-bit."""
    return (SCHEME_ORDER.index(scheme) if scheme in SCHEME_ORDER else len(SCHEME_ORDER), scheme)


def scheme_style(scheme: str) -> dict:
    """Line2D keywords of a scheme: colour (hue = protection, shade = bits), marker
    (shape = protection; 4-bit open, 8-bit filled); inplace-4b-32 a diamond."""
    family, _, rest = scheme.partition("-")
    dark, light, marker = FAMILY.get(family, ("#333333", "#999999", "o"))
    four = rest.startswith("4b")
    if scheme == "inplace-4b-32":
        marker = "D"
    colour = light if four else dark
    return {"color": colour, "marker": marker, "markerfacecolor": "white" if four else colour,
            "markeredgecolor": dark if four else colour, "markersize": 4.5}


def _style(scheme):
    """(colour, line style) of a scheme: the residual plot's lines (dashed: unprotected)."""
    return scheme_style(scheme)["color"], "--" if scheme.startswith("none") else "-"


def _marker(scheme):
    return scheme_style(scheme)["marker"]


def _save(fig, path: Path) -> Path:
    """Write ``path`` (PNG) and the same figure as SVG beside it (vector, for papers); the
    bounding box is fitted so that no label or colour-bar title is clipped."""
    fig.savefig(path, bbox_inches="tight", pad_inches=0.03)
    # no timestamp and element ids salted by the file's name (matplotlib draws them from
    # uuid4 otherwise): the same rows give the same SVG bytes
    with plt.rc_context({"svg.hashsalt": path.stem}):
        fig.savefig(path.with_suffix(".svg"), metadata={"Date": None}, bbox_inches="tight", pad_inches=0.03)
    plt.close(fig)
    return path


def _panels(n: int, height: float = PANEL_HEIGHT_IN):
    """A row of ``n`` panels on the page width (one panel: one column wide)."""
    width = 3.6 if n == 1 else min(PAGE_WIDTH_IN, 3.5 * n) if n <= 2 else PAGE_WIDTH_IN
    fig, axes = plt.subplots(1, n, figsize=(width * (1 if n <= 2 else n / 2), height), squeeze=False,
                             layout="constrained")
    return fig, axes[0]


def _series(rows, model, value):
    """scheme -> sorted [(vdd, mean, min, max)] over chips/repeats."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["model"] == model and r["layers"] == "all" and r.get(value) is not None and r["vdd"] is not None:
            acc[r["scheme"]][r["vdd"]].append(r[value])
    return {s: sorted((v, float(np.mean(x)), float(np.min(x)), float(np.max(x))) for v, x in pts.items())
            for s, pts in sorted(acc.items(), key=lambda kv: scheme_order(kv[0]))}


def volt_ticks(ax, vdds) -> None:
    """A linear volt axis, low to high left to right, ticked at the swept voltages; a tick
    closer than 4 % of the span to the last labelled one keeps its mark but no label."""
    vdds = sorted(set(vdds))
    if not vdds:
        return
    span = (vdds[-1] - vdds[0]) or 1.0
    labels, last = [], None
    for v in vdds:
        close = last is not None and v - last < 0.04 * span
        labels.append("" if close else tick_text(v))
        last = last if close else v
    ax.set_xticks(vdds, labels, rotation=90)
    ax.set_xlim(vdds[0] - 0.03 * span, vdds[-1] + 0.03 * span)
    ax.set_xlabel("weight-SRAM supply voltage (V; ticks at the swept points)")


def _swept(rows, model) -> list[float]:
    return sorted({r["vdd"] for r in rows if r["model"] == model and r["layers"] == "all" and r["vdd"] is not None})


def _legend(ax, extra=(), **kw):
    handles, labels = ax.get_legend_handles_labels()
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    if handles:
        ax.legend(handles, labels, **{"fontsize": 7, "frameon": False, **kw})


def yield_vs_voltage(stats, models, path: Path, target: float) -> Path:
    """Chip yield (share of chips within the tolerance) per scheme against voltage, with
    its 95 % Wilson band and the target as a dashed line."""
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        mine = [s for s in stats if s["model"] == model and s["vdd"] is not None]
        for scheme in sorted({s["scheme"] for s in mine}, key=scheme_order):
            pts = sorted((s["vdd"], s["yield"], s["yield_lo"], s["yield_hi"]) for s in mine if s["scheme"] == scheme)
            v, y, lo, hi = map(np.array, zip(*pts))
            st = scheme_style(scheme)
            ax.plot(v, y * 100, lw=1.2, label=scheme, **st)
            ax.fill_between(v, lo * 100, hi * 100, color=st["color"], alpha=0.15, lw=0)
        ax.axhline(target * 100, color="black", ls="--", lw=0.8, label=f"target {target * 100:g} %")
        volt_ticks(ax, [s["vdd"] for s in mine])
        ax.set_ylim(-3, 103)
        ax.set_title(model)
        ax.set_ylabel("chips within the tolerance (%)")
        ax.grid(alpha=0.3)
        _legend(ax, loc="lower right")
    return _save(fig, path)


def accuracy_vs_voltage(rows, models, path: Path, stats=None) -> Path:
    """Mean accuracy per scheme against voltage; band: the 95 % bootstrap interval over chips
    and inputs (``stats`` of analyses.point_statistics), else the min-max over chips."""
    fig, axes = _panels(len(models))
    ci = {(s["model"], s["scheme"], s["vdd"]): (s["ci_lo"], s["ci_hi"]) for s in stats or []}
    for ax, model in zip(axes, models):
        for scheme, pts in _series(rows, model, "accuracy").items():
            v, mean, lo, hi = map(np.array, zip(*pts))
            if ci:
                lo, hi = map(np.array, zip(*(ci.get((model, scheme, val), (m, m)) for val, m in zip(v, mean))))
            st = scheme_style(scheme)
            ax.plot(v, mean * 100, lw=1.2, label=scheme, **st)
            ax.fill_between(v, lo * 100, hi * 100, color=st["color"], alpha=0.15, lw=0)
        volt_ticks(ax, _swept(rows, model))
        ax.set_title(model)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        _legend(ax, loc="lower right")
    return _save(fig, path)


def sdc_vs_voltage(rows, models, path: Path, stats=None) -> Path:
    """Top-1 SDC rate (share of inputs whose top-1 class differs from the fault-free
    network's) against voltage per scheme, solid; top-5 SDC dotted. Band: the 95 %
    bootstrap interval (``stats`` of an SDC run), else the spread over chips."""
    from matplotlib.lines import Line2D

    fig, axes = _panels(len(models))
    ci = {(s["model"], s["scheme"], s["vdd"]): (s["ci_lo"], s["ci_hi"]) for s in stats or []}
    for ax, model in zip(axes, models):
        five = _series(rows, model, "sdc_top5")
        for scheme, pts in _series(rows, model, "sdc_top1").items():
            v, mean, lo, hi = map(np.array, zip(*pts))
            if ci:
                lo, hi = map(np.array, zip(*(ci.get((model, scheme, val), (m, m)) for val, m in zip(v, mean))))
            st = scheme_style(scheme)
            ax.plot(v, mean * 100, "-", lw=1.2, label=scheme, **st)
            ax.fill_between(v, lo * 100, hi * 100, color=st["color"], alpha=0.15, lw=0)
            if scheme in five:
                ax.plot([p[0] for p in five[scheme]], [p[1] * 100 for p in five[scheme]], ":", color=st["color"],
                        lw=1.2)
        extra = [(Line2D([], [], color="black", ls="-", lw=1.2), "top-1 SDC")]
        if five:
            extra.append((Line2D([], [], color="black", ls=":", lw=1.2), "top-5 SDC"))
        volt_ticks(ax, _swept(rows, model))
        ax.set_title(model)
        ax.set_ylabel("SDC rate (% of inputs)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _legend(ax, extra, loc="upper right")
    return _save(fig, path)


def energy_vs_voltage(rows, models, path: Path) -> Path:
    """Energy per inference per scheme against voltage, the axis from zero."""
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        series = _series(rows, model, "energy_pj")
        unit, scale = energy_unit(m for pts in series.values() for _, m, _, _ in pts)
        for scheme, pts in series.items():
            v, mean, _, _ = map(np.array, zip(*pts))
            ax.plot(v, mean / scale, lw=1.2, label=scheme, **scheme_style(scheme))
        volt_ticks(ax, _swept(rows, model))
        ax.set_ylim(bottom=0)
        ax.set_title(model)
        ax.set_ylabel(f"energy per inference ({unit})")
        ax.grid(alpha=0.3)
        _legend(ax, loc="lower right")
    return _save(fig, path)


# where a voltage label may sit around its marker, nearest first: (radius in points, then
# direction as (dx, dy) unit steps with the text's alignment there); far ones get a leader line
LABEL_RADII_PT = (3, 8, 14, 20, 28, 38, 50, 64)
LABEL_DIRECTIONS = ((1, 0.4, "left", "bottom"), (1, -0.4, "left", "top"), (-1, 0.4, "right", "bottom"),
                    (-1, -0.4, "right", "top"), (0, 1, "center", "bottom"), (0, -1, "center", "top"),
                    (1, 0, "left", "center"), (-1, 0, "right", "center"), (0.7, 0.7, "left", "bottom"),
                    (0.7, -0.7, "left", "top"), (-0.7, 0.7, "right", "bottom"), (-0.7, -0.7, "right", "top"))
LEADER_FROM_PT = 14
MARKER_PAD_PT = 1.0      # clearance kept between a label and any marker


def marker_boxes(ax, renderer=None) -> list[tuple[float, float, float, float]]:
    """Display-space boxes (x0, y0, x1, y1) of every marker drawn on ``ax`` (each line's
    markers: size plus edge), for label placement and its test."""
    boxes = []
    to_px = ax.figure.dpi / 72
    for line in ax.get_lines():
        if line.get_marker() in (None, "None", "", " ") or not line.get_visible():
            continue
        half = (line.get_markersize() / 2 + line.get_markeredgewidth() / 2) * to_px
        for px, py in ax.transData.transform(line.get_xydata()):
            boxes.append((px - half, py - half, px + half, py + half))
    return boxes


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _grow(box, by: float):
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _place_labels(ax, points, fontsize=7) -> int:
    """Annotate ``points`` [(x, y, text, colour)] near their markers, each at the nearest
    candidate place (LABEL_RADII_PT x LABEL_DIRECTIONS) where its measured text box overlaps
    no marker of the axes (every scheme's, not only the labelled ones), no label placed
    before, no legend, and stays inside the axes; far places get a thin leader line. A
    label with no such place is left out (a label on a marker misleads): returns how many.
    The figure's layout is frozen first, so the boxes measured here are the ones saved."""
    fig = ax.figure
    fig.canvas.draw()
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")   # constrained layout would move the axes at save time
    renderer = fig.canvas.get_renderer()
    pt = fig.dpi / 72
    frame = ax.get_window_extent(renderer)
    frame = (frame.x0, frame.y0, frame.x1, frame.y1)
    pad = MARKER_PAD_PT * pt
    blocked = [_grow(b, pad) for b in marker_boxes(ax, renderer)]
    legend = ax.get_legend()
    if legend is not None:
        blocked.append(tuple(legend.get_window_extent(renderer).extents))
    blocked += [tuple(t.get_window_extent(renderer).extents) for t in ax.texts]
    left_out = 0
    for x, y, text, colour in points:
        px, py = ax.transData.transform((x, y))
        probe = ax.text(0, 0, text, fontsize=fontsize)
        bb = probe.get_window_extent(renderer)
        w, h = bb.width, bb.height
        probe.remove()
        choice = None
        for radius in LABEL_RADII_PT:
            for dx, dy, ha, va in LABEL_DIRECTIONS:
                ox, oy = dx * radius * pt, dy * radius * pt
                ax0 = px + ox - (0 if ha == "left" else w if ha == "right" else w / 2)
                ay0 = py + oy - (0 if va == "bottom" else h if va == "top" else h / 2)
                box = (ax0, ay0, ax0 + w, ay0 + h)
                inside = box[0] >= frame[0] and box[2] <= frame[2] and box[1] >= frame[1] and box[3] <= frame[3]
                if inside and not any(_overlap(box, b) for b in blocked):
                    choice = (dx * radius, dy * radius, ha, va, radius, box)
                    break
            if choice is not None:
                break
        if choice is None:
            left_out += 1
            continue
        ox, oy, ha, va, radius, box = choice
        leader = {"arrowprops": {"arrowstyle": "-", "color": colour, "lw": 0.5, "shrinkA": 0, "shrinkB": 2}} \
            if radius >= LEADER_FROM_PT else {}
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(ox, oy), fontsize=fontsize, color=colour,
                    ha=ha, va=va, annotation_clip=False, **leader)
        blocked.append(box)
    return left_out


def pareto(rows, models, path: Path, metric: str = "accuracy") -> Path:
    """The metric (accuracy, or top-1 SDC rate) against energy for every (scheme, voltage);
    the front is outlined and its points labelled with their voltage, placed clear of
    every marker, the legend and each other. The energy axis is zoomed (it does not start
    at zero) and says so."""
    return _save(pareto_figure(rows, models, metric), path)


def pareto_figure(rows, models, metric: str = "accuracy"):
    """The figure of :func:`pareto`, not yet saved (its test measures the labels' boxes)."""
    fig, axes = _panels(len(models), height=3.2)
    column, better = ("accuracy", 1.0) if metric == "accuracy" else ("sdc_top1", -1.0)
    fronts = []
    for ax, model in zip(axes, models):
        points = []
        energies = _series(rows, model, "energy_pj")
        unit, scale = energy_unit(m for pts in energies.values() for _, m, _, _ in pts)
        for scheme, pts in _series(rows, model, column).items():
            energy = dict((v, m) for v, m, _, _ in energies.get(scheme, []))
            xs = [(energy[v] / scale, m * 100, v) for v, m, _, _ in pts if v in energy]
            if xs:
                st = scheme_style(scheme)
                ax.plot([e for e, _, _ in xs], [a for _, a, _ in xs], ls="none", label=scheme, zorder=3, **st)
                points += [(e, a, v, st["markeredgecolor"]) for e, a, v in xs]
        front = []
        if points:
            best = -np.inf
            for e, a, v, c in sorted(points, key=lambda p: (p[0], -better * p[1])):
                if better * a > best:
                    front.append((e, a, v, c))
                    best = better * a
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", lw=0.8,
                    label="Pareto front")
        ax.margins(x=0.12, y=0.1)
        ax.set_title(model)
        ax.set_xlabel(f"energy per inference ({unit}; axis zoomed, not from 0)")
        ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else "top-1 SDC rate (% of inputs)")
        ax.grid(alpha=0.3)
        _legend(ax, loc="best")
        fronts.append(front)
    fig.canvas.draw()   # the layout and the legends' places, before the labels are placed around them
    for ax, front in zip(axes, fronts):
        if front:
            left_out = _place_labels(ax, [(e, a, tick_text(v) + " V", c) for e, a, v, c in front])
            if left_out:   # said where it cannot be missed; the voltages are in results.csv
                ax.set_title(f"{ax.get_title()} ({left_out} crowded front point{'s' if left_out > 1 else ''} "
                             "not labelled)")
    return fig


def residual_vs_ber(table, path: Path) -> Path:
    """The residual plot in its own (larger) type sizes, as it was drawn before the other
    plots were sized for the page; see _residual_vs_ber."""
    keep = {k: matplotlib.rcParamsDefault[k] for k in ("font.size", "axes.titlesize", "axes.labelsize",
                                                       "legend.fontsize", "xtick.labelsize", "ytick.labelsize")}
    with matplotlib.rc_context({**keep, "savefig.dpi": 110}):
        return _residual_vs_ber(table, path)


def _residual_vs_ber(table, path: Path) -> Path:
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


def tick_text(v: float) -> str:
    """A swept voltage as a tick label: two decimals, three where the sweep steps by 5 mV."""
    text = f"{v:.3f}"
    return text[:-1] if text.endswith("0") else text


def _sensitivity_grid(rows, model, scheme, metric="accuracy"):
    """(grid layers x points, layer names, x values, x title, colour label, colour map);
    columns run from low to high voltage (high to low BER), as every voltage axis does."""
    layers = _layer_order(rows, model)
    single = [r for r in rows if r["model"] == model and r["scheme"] == scheme and r["layers"] in layers]
    if single:
        xkey = "vdd" if any(r.get("point") == "vdd" for r in single) else "ber"
        xs = sorted({r[xkey] for r in single}, reverse=(xkey == "ber"))
        labelled = metric == "accuracy" and all(r.get("accuracy") is not None for r in single)
        grid = np.full((len(layers), len(xs)), np.nan)
        for i, name in enumerate(layers):
            for j, x in enumerate(xs):
                mine = [r for r in single if r["layers"] == name and r[xkey] == x]
                if mine and labelled:
                    grid[i, j] = 100 * (mine[0]["baseline_accuracy"] - float(np.mean([r["accuracy"] for r in mine])))
                elif mine:
                    grid[i, j] = 100 * float(np.mean([r["sdc_top1"] for r in mine]))
        return (grid, layers, xs, "weight-SRAM supply voltage (V)" if xkey == "vdd" else "bit error rate",
                ("accuracy drop (points),\nfaults in this layer only" if labelled else
                 "top-1 SDC (% of inputs),\nfaults in this layer only"), "viridis_r")
    sel = [r for r in rows if r["model"] == model and r["scheme"] == scheme and r["layers"] == "all"
           and r.get("per_layer") and r["vdd"] is not None]
    xs = sorted({r["vdd"] for r in sel})
    grid = np.zeros((len(layers), len(xs)))
    for j, v in enumerate(xs):
        rs = [r for r in sel if r["vdd"] == v]
        for i, name in enumerate(layers):
            grid[i, j] = np.mean([r["per_layer"][name]["residual_bits"] / max(r["per_layer"][name]["words"], 1)
                                  for r in rs if name in r["per_layer"]] or [np.nan])
    return (grid, layers, xs, "weight-SRAM supply voltage (V)",
            "residual faulty bits per word\n(whole-image faults)", "magma_r")


def layer_sensitivity(rows, models, scheme, path: Path, metric: str = "accuracy") -> tuple[Path, str]:
    """Per-layer sensitivity of one scheme, one panel per model, layers in network order
    (rows, input at top) against the sweep point (columns, low to high voltage). With
    trials that fault one layer at a time: the accuracy drop (points; unlabelled or SDC
    runs: the top-1 SDC rate) when only that layer's words are faulty; otherwise residual
    faulty bits per word of each layer in whole-image trials. Returns (path, what the
    colour encodes)."""
    models = [models] if isinstance(models, str) else list(models)
    panels = [(m, _sensitivity_grid(rows, m, scheme, metric)) for m in models]
    panels = [(m, p) for m, p in panels if p[1] and p[2]]
    tallest = max((len(p[1]) for _, p in panels), default=1)
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, squeeze=False, layout="constrained",
                             figsize=(min(PAGE_WIDTH_IN, 3.6 * n), min(9.0, max(2.4, 0.16 * tallest + 1.4))))
    label = "no layer data"
    for ax, (model, (grid, layers, xs, xtitle, label, cmap)) in zip(axes[0], panels):
        im = ax.imshow(grid, aspect="auto", cmap=cmap)
        ax.set_xticks(range(len(xs)), [tick_text(x) if "voltage" in xtitle else f"{x:.0e}" for x in xs],
                      rotation=90)
        ax.set_yticks(range(len(layers)), layers, fontsize=6 if len(layers) > 20 else 7)
        ax.set_xlabel(xtitle + (" (columns: swept points)" if "voltage" in xtitle else ""))
        ax.set_title(f"{model} / {scheme}")
        bar = fig.colorbar(im, ax=ax)
        bar.set_label(label, fontsize=7)
    axes[0][0].set_ylabel("layer (network order, input at top)")
    return _save(fig, path), label


def energy_breakdown(bars: list[dict], models, path: Path, note: str = "") -> Path:
    """Stacked bars of energy per inference by component, from zero: per model, two bars
    per scheme (nominal voltage and the scheme's safe voltage); ``note`` follows the model
    in the title (the preset). ``bars``: dicts with model, scheme, label, and one pJ value
    per component. Components carry a hatch as well as a colour (distinct in greyscale)."""
    from accelsim.energy import COMPONENTS

    widest = max((sum(b["model"] == m for b in bars) for m in models), default=1)
    fig, axes = plt.subplots(len(models), 1, squeeze=False, layout="constrained",
                             figsize=(min(PAGE_WIDTH_IN, max(4.5, 0.5 * widest + 2.6)), 2.9 * len(models)))
    for ax, model in zip(axes[:, 0], models):
        mine = [b for b in bars if b["model"] == model]
        x = np.arange(len(mine))
        bottom = np.zeros(len(mine))
        unit, scale = energy_unit(b["total"] for b in mine)
        for comp in COMPONENTS:
            vals = np.array([b.get(comp, 0.0) or 0.0 for b in mine]) / scale
            if vals.any():
                ax.bar(x, vals, bottom=bottom, color=COMPONENT_COLOURS[comp], label=COMPONENT_LABELS[comp], width=0.7,
                       hatch=COMPONENT_HATCH[comp], edgecolor="white", linewidth=0.3)
                bottom += vals
        ax.set_xticks(x, [f"{b['scheme']}\n{b['label'].replace(' ', chr(10), 1)}" for b in mine], fontsize=6)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"energy per inference ({unit})")
        ax.set_title(f"{model}{note}")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _save(fig, path)


def energy_relative(rel: dict, rows, models, path: Path) -> Path:
    """Each scheme's extra energy per inference over the unprotected layout of the same
    weight width at the same voltage, in % (``rel``: {(model, scheme): [(vdd, ratio)]});
    the axis starts at zero."""
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        for (m, scheme), pts in sorted(rel.items(), key=lambda kv: (kv[0][0], scheme_order(kv[0][1]))):
            if m != model or not pts or scheme.startswith("none"):
                continue
            ax.plot([v for v, _ in pts], [100 * (r - 1) for _, r in pts], lw=1.2, label=scheme,
                    **scheme_style(scheme))
        volt_ticks(ax, _swept(rows, model))
        low, high = ax.get_ylim()
        ax.set_ylim(min(0.0, low), max(high, 0.0) * 1.1 or 1.0)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(model)
        ax.set_ylabel("extra energy over unprotected,\nsame V (%)")
        ax.grid(alpha=0.3)
        _legend(ax, loc="best")
    return _save(fig, path)
