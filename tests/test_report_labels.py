"""The Pareto plot's voltage labels sit clear of every marker, of the legend and of each
other (issue #21: labels sat on other schemes' markers), measured on the drawn figure."""

import numpy as np
from matplotlib.text import Text

from accelsim.report.plots import pareto, pareto_figure

# scheme -> (energy factor, fault-free accuracy, voltage where accuracy starts to fall)
SCHEMES = {"none-8b": (1.00, 0.986, 0.56), "none-4b": (0.62, 0.975, 0.58), "ecc-8b-72": (1.09, 0.986, 0.50),
           "inplace-8b-64": (1.01, 0.984, 0.505), "inplace-4b-64": (0.63, 0.973, 0.515),
           "inplace-4b-32": (0.645, 0.974, 0.51)}
VOLTAGES = [0.90, 0.80, 0.70, 0.65, 0.60, 0.58, 0.56, 0.545, 0.53, 0.515, 0.50, 0.485, 0.47]


def crowded_rows(model: str, seed: int) -> list[dict]:
    """6 schemes x 13 voltages: the 4-bit and the 8-bit schemes each nearly share their
    energies (1-5 % apart), accuracies sit on a plateau before they collapse: a crowded
    front that runs through several schemes."""
    rng = np.random.default_rng(seed)
    rows = []
    for scheme, (factor, clean, cliff) in SCHEMES.items():
        for v in VOLTAGES:
            for chip in range(2):
                acc = clean - (0.0 if v > cliff else min(0.9, (cliff - v) * 9)) + rng.normal(0, 0.001)
                rows.append({"model": model, "scheme": scheme, "vdd": v, "layers": "all", "chip": chip,
                             "accuracy": float(np.clip(acc, 0, 1)), "sdc_top1": float(np.clip(1 - acc, 0, 1)),
                             "energy_pj": 5.3e6 * (0.55 + 0.45 * (v / 0.9) ** 2) * factor})
    return rows


def _boxes_of_markers(ax):
    pt = ax.figure.dpi / 72
    out = []
    for line in ax.get_lines():
        if line.get_marker() in (None, "None", "", " "):
            continue
        half = (line.get_markersize() + line.get_markeredgewidth()) / 2 * pt
        out += [(x - half, y - half, x + half, y + half) for x, y in ax.transData.transform(line.get_xydata())]
    return out


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_pareto_labels_overlap_no_marker_legend_or_label(tmp_path):
    rows = crowded_rows("netA", 1) + crowded_rows("netB", 2)
    for metric in ("accuracy", "sdc"):
        fig = pareto_figure(rows, ["netA", "netB"], metric)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            labels = [t for t in ax.texts if t.get_text().endswith(" V")]
            assert len(labels) >= 8, [t.get_text() for t in labels]     # a crowded front
            # the text's own box (an Annotation's extent also spans its leader line)
            boxes = [tuple(Text.get_window_extent(t, renderer).extents) for t in labels]
            markers = _boxes_of_markers(ax)
            assert len(markers) == len(SCHEMES) * len(VOLTAGES)
            legend = tuple(ax.get_legend().get_window_extent(renderer).extents)
            frame = ax.get_window_extent(renderer)
            for i, box in enumerate(boxes):
                hits = [m for m in markers if _overlap(box, m)]
                assert not hits, f"{metric}: label {labels[i].get_text()!r} at {box} covers markers {hits}"
                assert not _overlap(box, legend), f"{metric}: label {labels[i].get_text()!r} on the legend"
                assert all(not _overlap(box, other) for other in boxes[i + 1:]), f"{metric}: labels overlap"
                assert frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
        # what is saved is what was measured: the layout is frozen before the labels are placed
        before = [tuple(Text.get_window_extent(t, renderer).extents) for ax in fig.axes for t in ax.texts]
        fig.savefig(tmp_path / "p.png")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert [tuple(Text.get_window_extent(t, renderer).extents) for ax in fig.axes for t in ax.texts] == before
    assert pareto(rows, ["netA", "netB"], tmp_path / "pareto.png").is_file()
    assert (tmp_path / "pareto.svg").is_file()
