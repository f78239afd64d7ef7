"""Intervals, yield and sample-size warnings of accelsim.campaign.analyses, on rows built
here with known answers."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from accelsim.campaign import analyses
from accelsim.campaign.trial import pack_mask, unpack_mask
from accelsim.report import headline

Z = analyses.Z95


def test_wilson_known_values_and_chips_needed():
    assert analyses.wilson_interval(2, 2) == pytest.approx((2 / (2 + Z * Z), 1.0))
    lo, hi = analyses.wilson_interval(8, 10)          # the textbook example: [0.490, 0.943]
    assert (round(lo, 3), round(hi, 3)) == (0.49, 0.943)
    assert analyses.chips_for_yield(0.95) == 73 and analyses.chips_for_yield(0.9) == 35
    assert analyses.wilson_interval(73, 73)[0] >= 0.95 > analyses.wilson_interval(72, 72)[0]


@given(st.integers(1, 500), st.data())
def test_wilson_contains_the_share_and_grows_with_k(n, data):
    k = data.draw(st.integers(0, n))
    lo, hi = analyses.wilson_interval(k, n)
    assert 0 <= lo <= k / n <= hi <= 1
    if k < n:
        lo2, hi2 = analyses.wilson_interval(k + 1, n)
        assert lo2 > lo and hi2 > hi


def test_masks_round_trip():
    m = np.random.default_rng(3).random(450) < 0.9
    assert np.array_equal(unpack_mask(pack_mask(m), 450), m) and len(pack_mask(m)) == 2 * 57


def test_bootstrap_is_seeded_and_as_wide_as_binomial_noise():
    rng = np.random.default_rng(0)
    m = np.tile(rng.random(2000) < 0.9, (4, 1))        # 4 identical chips: only the inputs vary
    a = analyses.bootstrap_mean_ci(m, seed=7)
    assert a == analyses.bootstrap_mean_ci(m, seed=7) and a != analyses.bootstrap_mean_ci(m, seed=8)
    mean, lo, hi = a
    assert lo < mean < hi
    p = m.mean()
    assert (hi - lo) / 2 == pytest.approx(Z * math.sqrt(p * (1 - p) / 2000), rel=0.15)
    assert analyses.bootstrap_mean_ci(np.ones((3, 50)), seed=1) == (1.0, 1.0, 1.0)
    # chips that differ widen the interval beyond the input noise
    spread = np.stack([rng.random(2000) < q for q in (0.8, 0.85, 0.95, 1.0)])
    _, lo2, hi2 = analyses.bootstrap_mean_ci(spread, seed=7)
    assert hi2 - lo2 > 2 * (hi - lo)


def rows_for(accuracies_by_vdd, scheme="s", samples=400, baseline=0.95, seed=0):
    """One row per chip per voltage, with a per-input mask of the given accuracy."""
    rows = []
    rng = np.random.default_rng(seed)
    for vdd, accs in accuracies_by_vdd.items():
        for chip, acc in enumerate(accs):
            mask = np.zeros(samples, dtype=bool)
            mask[rng.permutation(samples)[:round(acc * samples)]] = True
            rows.append({"model": "m", "scheme": scheme, "layers": "all", "vdd": vdd, "ber": 0.0, "chip": chip,
                         "repeat": 0, "samples": samples, "accuracy": float(mask.mean()), "correct": pack_mask(mask),
                         "baseline_accuracy": baseline, "energy_pj": None if vdd is None else 1000 * vdd})
    return rows


def test_yield_headline_point_and_lower_bound():
    n = 80
    rows = rows_for({0.9: [0.95] * n, 0.6: [0.95] * n, 0.55: [0.95] * 76 + [0.80] * 4, 0.5: [0.9] * n})
    stats = analyses.point_statistics(rows, tolerance=0.01)
    by_v = {s["vdd"]: s for s in stats}
    assert by_v[0.55]["passing"] == 76 and by_v[0.55]["yield"] == 0.95 and by_v[0.5]["yield"] == 0.0
    assert by_v[0.6]["yield_lo"] == pytest.approx(n / (n + Z * Z))
    (h,) = headline(rows, 0.01, 0.95)
    assert h["vmin_safe"] == 0.55 and h["vmin_lower"] == 0.6     # 76/80: point 0.95, lower bound 0.87
    assert h["yield_ci"][0] < 0.95 and h["accuracy_ci"][0] < h["accuracy_at_vmin"] < h["accuracy_ci"][1]
    assert h["energy_saved"] == pytest.approx(1 - 550 / 900)
    warnings = analyses.sample_warnings(stats, analyses.yield_headline(stats, 0.95), 0.95, 0.01)
    assert not any("chips per point" in w for w in warnings)     # 80 chips >= 73


def test_warnings_say_how_many_chips_and_inputs():
    rows = rows_for({0.9: [0.95, 0.95], 0.55: [0.94, 0.93], 0.5: [0.80, 0.90]}, samples=100)
    rows += rows_for({0.9: [0.95, 0.95], 0.55: [0.95, 0.95], 0.5: [0.93, 0.92]}, scheme="t", samples=100, seed=1)
    stats = analyses.point_statistics(rows, tolerance=0.01)
    head = analyses.yield_headline(stats, 0.95)
    warnings = analyses.sample_warnings(stats, head, 0.95, 0.01)
    assert warnings[0] == ("m: 2 chips per point: the yield's 95 % lower bound cannot reach 95 % even if every chip "
                           "passes; that needs >= 73 chips")
    steps = [w for w in warnings if "adjacent voltage steps" in w]
    assert steps and all("chips x" in w and "(now 2 x 100)" in w for w in steps)
    # the chips/inputs a warning asks for do separate the two points under the variance model
    a, b = next(s for s in stats if s["scheme"] == "s" and s["vdd"] == 0.9), \
        next(s for s in stats if s["scheme"] == "s" and s["vdd"] == 0.55)
    chips, inputs = analyses._needed(a, b)
    for p in (a, b):
        var = p["var_between"] / chips + p["var_input"] / inputs
        assert Z * math.sqrt(var) <= abs(a["mean"] - b["mean"]) / 2 + 1e-12


def test_ber_sweeps_without_voltage_are_reported_not_crashed():
    rows = rows_for({0.9: [0.95, 0.95]})
    for r, ber in zip(rows_for({None: [0.95, 0.90]}, seed=2) + rows_for({None: [0.80, 0.70]}, seed=3), (1e-3, 1e-3, 1e-2, 1e-2)):
        rows.append({**r, "ber": ber})
    stats = analyses.point_statistics(rows, tolerance=0.01)
    assert [(s["vdd"], s["ber"], s["chips"]) for s in stats] == [(0.9, 0.0, 2), (None, 1e-3, 2), (None, 1e-2, 2)]
    assert analyses.sample_warnings(stats, analyses.yield_headline(stats, 0.95), 0.95, 0.01)


def test_residual_share_of_single_layer_trials_counts_that_layer_only():
    per_layer = {"a": {"residual_bits": 10, "data_bits": 1000}, "b": {"residual_bits": 0, "data_bits": 9000}}
    rows = [{"scheme": "none-8b", "ber": 1e-2, "layers": "a", "residual_bits": 10, "data_bits": 10000,
             "per_layer": per_layer},
            {"scheme": "none-8b", "ber": 1e-2, "layers": "all", "residual_bits": 100, "data_bits": 10000,
             "per_layer": per_layer}]
    (t,) = analyses.residual_fraction(rows)
    assert t["measured"] == pytest.approx(110 / 11000) and t["data_bits"] == 11000
