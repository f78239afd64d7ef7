"""Analyses over campaign rows, and the closed-form expectations they are checked against.

Rows are the dicts of :meth:`Store.rows` (or any list of dicts with the same keys).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from dataclasses import dataclass

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


def _faulted_bits(r: dict) -> tuple[int, int]:
    """(residual bits, data bits) of the words a trial faulted: a single-layer trial counts
    that layer's words only (its other layers hold no fault and would dilute the share)."""
    one = (r.get("per_layer") or {}).get(r.get("layers"))
    if r.get("layers") != "all" and one is not None:
        return one["residual_bits"], one["data_bits"]
    return r["residual_bits"], r["data_bits"]


def residual_fraction(rows) -> list[dict]:
    """Measured residual data-bit share per scheme and BER, with the closed form.

    ``stderr`` treats trials as the independent units (residual bits cluster within a word
    and a word's errors are not independent of its neighbours' decoding): the standard
    error of the ratio estimator sum(residual) / sum(data bits) over trials, floored by the
    Poisson spread of the expected count when too few residual bits were seen to estimate
    it. ``z`` = (measured - closed form) / stderr."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["scheme"], r["ber"])].append(_faulted_bits(r))
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


def berzad(rows, keys=("model", "scheme", "layers"), *, metric: str = "accuracy", tolerance: float = 0.0) -> list[dict]:
    """BERZAD: the highest BER at which the mean accuracy (over chips and repeats) shows
    zero degradation from the fault-free model, with every lower BER also clean.
    ``metric="sdc"`` (its analogue for unlabelled inputs): the highest BER whose mean top-1
    SDC rate is at most ``tolerance``, with every lower BER too."""
    column = "accuracy" if metric == "accuracy" else "sdc_top1"
    by = defaultdict(lambda: defaultdict(list))
    base = {}
    for r in rows:
        if r.get(column) is None:    # unlabelled inputs: no accuracy to keep
            continue
        g = tuple(r[k] for k in keys)
        by[g][r["ber"]].append(r[column])
        base[g] = r["baseline_accuracy"] if metric == "accuracy" else 0.0
    out = []
    for g, points in sorted(by.items()):
        best, trials = 0.0, 0
        for ber in sorted(points):
            ok = (np.mean(points[ber]) >= base[g] - 1e-12 if metric == "accuracy"
                  else np.mean(points[ber]) <= tolerance + 1e-12)
            if not ok:
                break
            best, trials = ber, len(points[ber])
        out.append({**dict(zip(keys, g)), "berzad": best, "repeats": trials, "baseline": base[g], "metric": metric})
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
# --- statistics a paper can stand on: intervals, yield, and whether the sample suffices ---

Z95 = 1.959963984540054          # two-sided 95 % normal quantile
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Metric:
    """A per-trial figure of merit the statistics work on, metric-agnostic.

    column: the trial's value (share of inputs); mask: the per-input outcome (hex of packed
    bits, ``accelsim.campaign.trial.pack_mask``) whose mean is ``column``; baseline: the
    fault-free value's column (None: 0); higher: whether higher is better. A chip is within
    the tolerance when its value is at most ``tolerance`` worse than the baseline."""

    name: str
    column: str
    mask: str | None
    baseline: str | None
    higher: bool = True

    def within(self, value: float, baseline: float, tolerance: float) -> bool:
        eps = 1e-12   # values are shares of a finite input count: compare without float dust
        return value >= baseline - tolerance - eps if self.higher else value <= baseline + tolerance + eps


METRICS = {"accuracy": Metric("accuracy", "accuracy", "correct", "baseline_accuracy", True),
           # top-1 SDC rate: lower is better, the fault-free value is 0 (no per-input mask stored)
           "sdc": Metric("sdc", "sdc_top1", None, None, False)}


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial share k / n (0, 1 for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # the bounds are exactly 0 at k = 0 and 1 at k = n; keep float dust out of them
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def chips_for_yield(target: float, z: float = Z95) -> int:
    """Fewest chips whose Wilson lower bound reaches ``target`` when every chip passes:
    n / (n + z^2) >= target."""
    return math.ceil(z * z * target / (1 - target) - 1e-9) if target < 1 else 10 ** 9


def _resample_counts(rng: np.random.Generator, resamples: int, n: int) -> np.ndarray:
    """(resamples, n) float64: how often each of n units is drawn in each resample of n."""
    draws = rng.integers(0, n, (resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def bootstrap_mean_ci(values: np.ndarray, *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES,
                      level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi) of a (chips, inputs) matrix of per-input outcomes, resampling chips and
    inputs with replacement, independently and jointly (the same inputs for every chip in a
    resample, as every chip saw the same inputs). Percentile interval."""
    m = np.asarray(values, dtype=np.float64)
    chips, inputs = m.shape
    rng = np.random.default_rng(seed)
    chip_w = _resample_counts(rng, resamples, chips)
    input_w = _resample_counts(rng, resamples, inputs)
    per_chip = m @ input_w.T                                 # (chips, resamples): correct count per chip
    means = np.einsum("bc,cb->b", chip_w, per_chip) / (chips * inputs)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return float(m.mean()), float(lo), float(hi)


def _outcomes(rows, metric: Metric) -> np.ndarray:
    """(trials, inputs) per-input outcomes; rows without a mask contribute a row of their
    value (no input resampling then)."""
    from accelsim.campaign.trial import unpack_mask

    n = max(int(r.get("samples") or 1) for r in rows)
    if metric.mask and all(r.get(metric.mask) for r in rows):
        return np.stack([unpack_mask(r[metric.mask], int(r["samples"])) for r in rows]).astype(np.float64)
    return np.array([[float(r[metric.column])] * n for r in rows])


def _variance_parts(m: np.ndarray) -> tuple[float, float]:
    """(between-chip variance of the chip means, per-input variance) of a (chips, inputs)
    outcome matrix: var(mean) ~ between / chips + per_input / inputs."""
    chip_means = m.mean(axis=1)
    p = float(m.mean())
    per_input = p * (1 - p) if set(np.unique(m)) <= {0.0, 1.0} else float(m.var())
    within = per_input / m.shape[1]
    between = max(float(chip_means.var(ddof=1)) - within, 0.0) if len(chip_means) > 1 else 0.0
    return between, per_input


def point_statistics(rows, *, tolerance: float = 0.01, metric: str | Metric = "accuracy",
                     seed: int = 0) -> list[dict]:
    """Per (model, scheme, vdd), whole-image faults: the metric's mean with a 95 % bootstrap
    interval over chips and inputs, and the yield (share of chips within ``tolerance`` of the
    fault-free value) with its Wilson interval. A chip is one (chip, repeat) trial."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):   # small matrix products: BLAS threads cost more than they save
        return _point_statistics(rows, tolerance, METRICS[metric] if isinstance(metric, str) else metric, seed)


def _point_statistics(rows, tolerance: float, metric: Metric, seed: int) -> list[dict]:
    from accelsim.seeds import derive

    groups = defaultdict(list)
    for r in rows:
        if r["layers"] == "all" and r.get(metric.column) is not None:
            # a BER sweep off the curve has no voltage: its points are told apart by BER
            groups[(r["model"], r["scheme"], r["vdd"], None if r["vdd"] is not None else r.get("ber"))].append(r)
    out = []
    for (model, scheme, vdd, _), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], *_descending(kv[0][2], kv[0][3]))):
        rs = sorted(rs, key=lambda r: (r.get("chip", 0), r.get("repeat", 0)))
        m = _outcomes(rs, metric)
        point = vdd if vdd is not None else rs[0].get("ber")
        mean, lo, hi = bootstrap_mean_ci(m, seed=derive(seed, "bootstrap", model, scheme, point, metric.name))
        base = float(rs[0][metric.baseline]) if metric.baseline else 0.0
        passing = sum(metric.within(float(r[metric.column]), base, tolerance) for r in rs)
        y_lo, y_hi = wilson_interval(passing, len(rs))
        between, per_input = _variance_parts(m)
        # a mean over chips hides a few broken ones: the median and the worst chip beside it
        chip_values = np.array([float(r[metric.column]) for r in rs])
        worst = float(chip_values.min() if metric.higher else chip_values.max())
        out.append({"model": model, "scheme": scheme, "vdd": vdd, "ber": rs[0].get("ber"), "metric": metric.name,
                    "mean": mean, "ci_lo": lo, "ci_hi": hi, "median_chip": float(np.median(chip_values)),
                    "worst_chip": worst, "baseline": base, "chips": len(rs),
                    "inputs": int(m.shape[1]), "passing": int(passing), "yield": passing / len(rs),
                    "yield_lo": y_lo, "yield_hi": y_hi, "var_between": between, "var_input": per_input})
    return out


def _descending(vdd, ber) -> tuple:
    """Sort key: highest voltage (lowest BER) first; points without a voltage after, by BER."""
    return (0, -vdd, 0.0) if vdd is not None else (1, 0.0, ber or 0.0)


def yield_headline(stats: list[dict], target: float = 0.95) -> list[dict]:
    """Per model and scheme: the lowest voltage whose yield reaches ``target`` with every
    higher voltage too (point estimate), and the same for the Wilson lower bound (the
    voltage a paper can claim at 95 % confidence); None when no voltage qualifies."""
    by = defaultdict(list)
    for s in stats:
        by[(s["model"], s["scheme"])].append(s)
    out = []
    for (model, scheme), pts in sorted(by.items()):
        pts = sorted(pts, key=lambda s: _descending(s["vdd"], s["ber"]))
        point = lower = None
        for s in pts:
            if s["yield"] < target:
                break
            point = s
        for s in pts:
            if s["yield_lo"] < target:
                break
            lower = s
        out.append({"model": model, "scheme": scheme, "metric": pts[0]["metric"], "baseline": pts[0]["baseline"],
                    "target": target, "v_nominal": pts[0]["vdd"], "chips": pts[0]["chips"],
                    "inputs": pts[0]["inputs"], "vmin_yield": point["vdd"] if point else None,
                    "at_point": point, "vmin_yield_lower": lower["vdd"] if lower else None, "at_lower": lower})
    return out


def _needed(a: dict, b: dict) -> tuple[int, int] | None:
    """(chips, inputs) with which the 95 % intervals of points a and b would no longer
    overlap, from their variance parts (var(mean) ~ between / chips + per_input / inputs);
    None when the means are equal (nothing to separate)."""
    d = abs(a["mean"] - b["mean"])
    if d < 1e-12:
        return None
    budget = (d / (2 * Z95)) ** 2          # each point's variance must stay below this
    between = max(a["var_between"], b["var_between"])
    per_input = max(a["var_input"], b["var_input"])
    inputs = a["inputs"]
    if per_input / inputs > budget / 2:     # the inputs alone already use the budget: more of both
        inputs = math.ceil(2 * per_input / budget)
    rest = budget - per_input / inputs
    chips = max(a["chips"], math.ceil(between / rest)) if between > 0 else a["chips"]
    return chips, inputs


def _overlap(a: dict, b: dict) -> bool:
    return a["ci_lo"] <= b["ci_hi"] and b["ci_lo"] <= a["ci_hi"]


def _need_text(needs: list[tuple[int, int]], now: tuple[int, int]) -> str:
    """'about C chips x I inputs' for half of the pairs and for all of them."""
    needs = sorted(needs, key=lambda t: (t[0] * t[1], t))
    mid, top = needs[(len(needs) - 1) // 2], (max(c for c, _ in needs), max(i for _, i in needs))
    text = f"about {mid[0]} chips x {mid[1]} inputs" + (" for half of them, " if len(needs) > 1 else "")
    if len(needs) > 1:
        text += f"{top[0]} chips x {top[1]} inputs for all"
    return text + f" (now {now[0]} x {now[1]})"


def sample_warnings(stats: list[dict], head: list[dict], target: float = 0.95, tolerance: float = 0.01) -> list[str]:
    """Plain-language warnings, at most three per model, when chips or inputs are too few:
    the yield's lower bound cannot reach the target; adjacent voltage steps, or schemes at
    their safe voltages, whose means differ by at least half the tolerance (a difference the
    headline decides on) but whose 95 % intervals overlap. Each says how many chips and
    inputs would separate them (for half of such pairs, and for all)."""
    relevant = max(tolerance / 2, 1e-9)
    warnings = []
    need = chips_for_yield(target)
    by_model = defaultdict(list)
    for h in head:
        by_model[h["model"]].append(h)
    pts = defaultdict(dict)
    for s in stats:
        if s["vdd"] is not None:   # steps of a voltage sweep (a BER-only sweep has no voltage steps)
            pts[(s["model"], s["scheme"])][s["vdd"]] = s
    for model, hs in sorted(by_model.items()):
        few = min(h["chips"] for h in hs)
        if few < need:
            warnings.append(f"{model}: {few} chip{'' if few == 1 else 's'} per point: the yield's 95 % lower bound cannot reach "
                            f"{target * 100:g} % even if every chip passes; that needs >= {need} chips")
        steps = []
        for h in hs:
            series = pts[(model, h["scheme"])]
            vdds = sorted(series, reverse=True)
            steps += [(h["scheme"], series[v1], series[v2]) for v1, v2 in zip(vdds, vdds[1:])
                      if abs(series[v1]["mean"] - series[v2]["mean"]) >= relevant and _overlap(series[v1], series[v2])]
        if steps:
            scheme, a, b = steps[0]
            warnings.append(f"{model}: {len(steps)} adjacent voltage steps differ by >= {100 * relevant:g} points but "
                            f"overlap in their 95 % intervals (e.g. {scheme} {a['vdd']:g} V vs {b['vdd']:g} V); "
                            f"separating them needs {_need_text([_needed(a, b) for _, a, b in steps], (a['chips'], a['inputs']))}")
        pairs = []
        schemes = [h["scheme"] for h in hs]
        for v in sorted({h["vmin_yield"] for h in hs if h["vmin_yield"] is not None}, reverse=True):
            for i, s1 in enumerate(schemes):
                for s2 in schemes[i + 1:]:
                    a, b = pts[(model, s1)].get(v), pts[(model, s2)].get(v)
                    if a and b and abs(a["mean"] - b["mean"]) >= relevant and _overlap(a, b):
                        pairs.append((v, s1, s2, a, b))
        if pairs:
            v, s1, s2, a, b = pairs[0]
            warnings.append(f"{model}: {len(pairs)} pairs of schemes at their safe voltages differ by >= "
                            f"{100 * relevant:g} points but overlap in their 95 % intervals (e.g. {s1} "
                            f"{100 * a['mean']:.1f} % vs {s2} {100 * b['mean']:.1f} % at {v:g} V); separating them "
                            f"needs {_need_text([_needed(a, b) for *_, a, b in pairs], (a['chips'], a['inputs']))}")
    return warnings
