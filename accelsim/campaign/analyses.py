"""Analyses over campaign rows, and the closed-form expectations they are checked against.

Rows are the dicts of :meth:`Store.rows` (or any list of dicts with the same keys).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict

import numpy as np

from accelsim.ecc import get_layout

EXACT_UP_TO = 4  # error counts per word whose decoder outcome is enumerated exactly


@functools.lru_cache(maxsize=None)
def residual_per_error_count(layout_name: str) -> tuple[int, int, tuple[float, ...]]:
    """(n physical bits, data bits, e_j): the expected wrong data bits left in a word with
    j random bit errors, after the layout's decoder, for j = 0..EXACT_UP_TO (exact, by
    enumerating every error pattern against the code's syndrome table)."""
    layout = get_layout(layout_name)
    n = layout.word_bits
    checks = set(layout.check_positions)
    is_data = np.array([p < layout.weights_per_word * layout.weight_bits and p not in checks for p in range(n)])
    k = int(is_data.sum())
    if layout.code is None:
        return n, k, tuple(float(j) * k / n for j in range(EXACT_UP_TO + 1))
    engine = layout._engine
    col = engine.columns
    out = [0.0, 0.0]
    for j in range(2, EXACT_UP_TO + 1):
        combos = np.array(list(itertools.combinations(range(n), j)), dtype=np.int64)
        syn = np.bitwise_xor.reduce(col[combos], axis=1)
        pos = engine.pos_table[syn].astype(np.int64)
        wrong = is_data[combos].sum(axis=1).astype(np.float64)
        fix = pos >= 0
        in_set = (combos == pos[:, None]).any(axis=1)
        # a "correction" at a data position un-flips it if it was an error, else adds one
        wrong += np.where(fix & is_data[np.maximum(pos, 0)], np.where(in_set, -1.0, 1.0), 0.0)
        out.append(float(wrong.mean()))
    return n, k, tuple(out)


def expected_residual_fraction(layout_name: str, ber: float) -> float:
    """Expected share of data bits still wrong after decoding, at independent bit error
    rate ``ber``: sum over j of Binomial(n, ber)(j) * e_j / k. Terms beyond EXACT_UP_TO
    use e_j = j k / n (their weight is below 1e-3 of the total for ber <= 1e-2)."""
    n, k, e = residual_per_error_count(layout_name)
    total = 0.0
    for j in range(0, n + 1):
        pj = math.comb(n, j) * ber ** j * (1 - ber) ** (n - j)
        ej = e[j] if j < len(e) else j * k / n
        total += pj * ej
    return total / k


def group_mean(rows, keys: tuple[str, ...], value: str):
    """{key tuple: (mean, std, count)} of ``value`` over rows grouped by ``keys``."""
    groups = defaultdict(list)
    for r in rows:
        if r.get(value) is not None:
            groups[tuple(r[k] for k in keys)].append(float(r[value]))
    return {g: (float(np.mean(v)), float(np.std(v)), len(v)) for g, v in groups.items()}


def accuracy_drop(rows) -> list[dict]:
    """Mean and spread of the accuracy drop per model, scheme, layer selection and point."""
    out = []
    for (model, scheme, layers, vdd, ber), (mean, std, n) in sorted(
            group_mean(rows, ("model", "scheme", "layers", "vdd", "ber"), "accuracy").items()):
        base = next(r["baseline_accuracy"] for r in rows if (r["model"], r["scheme"]) == (model, scheme))
        out.append({"model": model, "scheme": scheme, "layers": layers, "vdd": vdd, "ber": ber,
                    "accuracy": mean, "accuracy_std": std, "trials": n, "baseline": base, "drop": base - mean})
    return out


def residual_fraction(rows) -> list[dict]:
    """Measured residual data-bit share per scheme and BER, with the closed form.

    ``stderr`` treats trials as the independent units (residual bits cluster within a word
    and a word's errors are not independent of its neighbours' decoding): the standard
    error of the ratio estimator sum(residual) / sum(data bits) over trials, floored by the
    Poisson spread of the expected count when too few residual bits were seen to estimate
    it. ``z`` = (measured - closed form) / stderr."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["scheme"], r["ber"])].append((r["residual_bits"], r["data_bits"]))
    out = []
    for (scheme, ber), pairs in sorted(groups.items()):
        res = np.array(pairs, dtype=np.float64)
        bits = res[:, 1].sum()
        if not bits:
            continue
        n = len(res)
        frac = res[:, 0].sum() / bits
        closed = expected_residual_fraction(scheme, ber)
        spread = float(np.sum((res[:, 0] - frac * res[:, 1]) ** 2)) * n / max(n - 1, 1)
        stderr = max(math.sqrt(spread), math.sqrt(closed * bits)) / bits
        out.append({"scheme": scheme, "ber": ber, "measured": float(frac), "stderr": stderr,
                    "closed_form": closed, "z": (float(frac) - closed) / stderr if stderr else 0.0,
                    "trials": n, "data_bits": int(bits)})
    return out


def berzad(rows, keys=("model", "scheme", "layers")) -> list[dict]:
    """BERZAD: the highest BER at which the mean accuracy (over chips and repeats) shows
    zero degradation from the fault-free model, with every lower BER also clean."""
    by = defaultdict(lambda: defaultdict(list))
    base = {}
    for r in rows:
        if r["accuracy"] is None:    # unlabelled inputs: no accuracy to keep
            continue
        g = tuple(r[k] for k in keys)
        by[g][r["ber"]].append(r["accuracy"])
        base[g] = r["baseline_accuracy"]
    out = []
    for g, points in sorted(by.items()):
        best, trials = 0.0, 0
        for ber in sorted(points):
            if np.mean(points[ber]) >= base[g] - 1e-12:
                best, trials = ber, len(points[ber])
            else:
                break
        out.append({**dict(zip(keys, g)), "berzad": best, "repeats": trials, "baseline": base[g]})
    return out


def lowest_safe_voltage(rows, tolerance: float = 0.01, metric: str = "accuracy") -> list[dict]:
    """Per model and scheme: the lowest voltage whose mean accuracy stays within
    ``tolerance`` (absolute) of the fault-free accuracy, with every higher voltage too.
    ``metric="sdc"``: whose mean top-1 SDC rate (share of inputs whose top-1 class differs
    from the fault-free network's) stays within ``tolerance``."""
    value = "sdc_top1" if metric == "sdc" else "accuracy"
    means = group_mean([r for r in rows if r["layers"] == "all"], ("model", "scheme", "vdd"), value)
    sdc = group_mean([r for r in rows if r["layers"] == "all"], ("model", "scheme", "vdd"), "sdc_top1")
    acc = group_mean([r for r in rows if r["layers"] == "all"], ("model", "scheme", "vdd"), "accuracy")
    by = defaultdict(dict)
    for (model, scheme, vdd), (mean, _, _) in means.items():
        by[(model, scheme)][vdd] = mean
    out = []
    for (model, scheme), points in sorted(by.items()):
        base = next(r["baseline_accuracy"] for r in rows if (r["model"], r["scheme"]) == (model, scheme))
        safe = None
        for vdd in sorted(points, reverse=True):
            if (points[vdd] <= tolerance) if metric == "sdc" else (points[vdd] >= base - tolerance):
                safe = vdd
            else:
                break
        at = (model, scheme, safe)
        out.append({"model": model, "scheme": scheme, "baseline": base, "vmin_safe": safe, "metric": metric,
                    "accuracy_at_vmin": acc[at][0] if at in acc else None,
                    "sdc_at_vmin": sdc[at][0] if at in sdc else None})
    return out


def sdc_per_point(rows) -> list[dict]:
    """Mean and spread of the top-1 and top-5 SDC rates per model, scheme, layer selection
    and point (trials of stores older than the SDC columns are left out)."""
    one = group_mean(rows, ("model", "scheme", "layers", "vdd", "ber"), "sdc_top1")
    five = group_mean(rows, ("model", "scheme", "layers", "vdd", "ber"), "sdc_top5")
    return [{"model": g[0], "scheme": g[1], "layers": g[2], "vdd": g[3], "ber": g[4], "sdc_top1": m,
             "sdc_top1_std": sd, "sdc_top5": five[g][0] if g in five else None, "trials": n} for g, (m, sd, n) in sorted(one.items())]
