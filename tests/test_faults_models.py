"""BER(V) curves, nested persistent chip maps, stuck-at/asymmetric faults, measured maps,
float bit errors."""

import numpy as np
import pytest
import yaml

from accelsim.errors import UserError
from accelsim.faults import ChipFaultMap, curve_from_dict, inject_asymmetric, inject_float, load_curve
from accelsim.faults.ber_curve import SYNTHETIC_CURVE_FILE


def test_synthetic_curve_values_and_inverse():
    c = load_curve(SYNTHETIC_CURVE_FILE)   # the log-linear law (the default is measured: test_ber_measured)
    assert c.ber(0.50) == pytest.approx(1e-2)
    assert c.ber(0.56) == pytest.approx(1e-4)          # 30 mV per decade
    assert c.vdd_for_ber(1e-3) == pytest.approx(0.53)
    assert c.ber(0.90) < 1e-15
    with pytest.raises(UserError, match=r"vdd = 0.3 V is outside .*\[0.45, 0.9\]"):
        c.ber(0.3)


def test_table_curve_interpolates_in_log(tmp_path):
    c = curve_from_dict({"table": [[0.5, 1e-2], [0.6, 1e-6], [0.7, 1e-10]]})
    assert c.ber(0.55) == pytest.approx(1e-4) and c.vdd_for_ber(1e-8) == pytest.approx(0.65)
    with pytest.raises(UserError, match="must not increase"):
        curve_from_dict({"table": [[0.5, 1e-6], [0.6, 1e-2]]})
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"mv_per_decade": "steep"}))
    with pytest.raises(UserError, match=r"c.yaml: mv_per_decade: must be a number \(got 'steep'\)"):
        load_curve(p)


def test_chip_maps_are_nested_sparse_and_follow_the_curve():
    c = load_curve(SYNTHETIC_CURVE_FILE)
    n_words = 200_000
    m = ChipFaultMap.sample(c, n_words=n_words, width=64, chip=1, seed=0, v_low=0.50)
    bits = n_words * 64
    assert abs(m.cell.size - bits * 1e-2) < 5 * np.sqrt(bits * 1e-2)
    prev = None
    for v in (0.50, 0.53, 0.56, 0.60):
        faulty = set(m.cell[m.faulty(v)].tolist())
        expect = bits * c.ber(v)
        assert abs(len(faulty) - expect) < 5 * np.sqrt(expect) + 2, v
        if prev is not None:
            assert faulty <= prev          # a higher voltage never adds faulty cells
        prev = faulty
    assert m.nbytes == m.cell.size * 17
    # the same chip is the same chip; another chip differs
    again = ChipFaultMap.sample(c, n_words=n_words, width=64, chip=1, seed=0, v_low=0.50)
    other = ChipFaultMap.sample(c, n_words=n_words, width=64, chip=2, seed=0, v_low=0.50)
    assert np.array_equal(m.cell, again.cell) and np.array_equal(m.threshold, again.threshold)
    assert not np.array_equal(m.cell[:100], other.cell[:100])


def test_apply_flip_and_stuck_at_with_offset():
    m = ChipFaultMap(n_words=4, width=8, cell=np.array([1, 9, 17, 30]), threshold=np.array([0.6, 0.6, 0.5, 0.6]),
                     kind=np.array([-1, 0, 1, 1], dtype=np.int8))
    words = np.array([[0x00], [0x02], [0x00], [0x40]], dtype=np.uint64)
    out = m.apply(words, 0.55)
    # cell 1: flip bit 1 of word 0; cell 9: stuck-at-0 on a stored 1 (word 1 bit 1);
    # cell 17 has threshold 0.5 (healthy at 0.55); cell 30: stuck-at-1 on stored 1 (no error)
    assert out[:, 0].tolist() == [0x02, 0x00, 0x00, 0x40]
    part = m.apply(words[2:], 0.45, word_offset=2)
    assert part[:, 0].tolist() == [0x02, 0x40]


def test_measured_csv_map(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("word,bit,vmin,type\n0,3,0.6,flip\n2,0,,stuck1\n")
    m = ChipFaultMap.from_csv(p, n_words=4, width=16)
    words = np.zeros((4, 1), dtype=np.uint64)
    assert m.apply(words, 0.7)[:, 0].tolist() == [0, 0, 1, 0]
    assert m.apply(words, 0.55)[:, 0].tolist() == [8, 0, 1, 0]
    p.write_text("word,bit\n9,0\n")
    with pytest.raises(UserError, match="line 2: cell \\(9, 0\\) outside"):
        ChipFaultMap.from_csv(p, n_words=4, width=16)


def test_asymmetric_transient_rates():
    zeros = np.zeros(100_000, dtype=np.uint64)
    ones = np.full(100_000, 0xFFFF, dtype=np.uint64)
    z = inject_asymmetric(zeros, 1e-2, 0.0, seed=1, width=16)
    o = inject_asymmetric(ones, 1e-2, 0.0, seed=1, width=16)
    assert abs(int(np.bitwise_count(z).sum()) - 16_000) < 600
    assert np.array_equal(o, ones)           # 1 -> 0 never happens with p10 = 0


def test_float_bit_errors():
    w = np.linspace(-1, 1, 10_000, dtype=np.float32)
    f = inject_float(w, 1e-2, seed=3)
    changed = np.bitwise_count(f.view(np.uint32) ^ w.view(np.uint32)).sum()
    assert abs(int(changed) - 3200) < 5 * np.sqrt(3200)
    assert np.any(np.abs(f) > 1e10) or np.any(~np.isfinite(f))   # exponent flips explode
    h = inject_float(w.astype(np.float16), 0.0, seed=3)
    assert np.array_equal(h, w.astype(np.float16))
    with pytest.raises(UserError, match="float32 or float16"):
        inject_float(np.zeros(3), 0.1, seed=0)


def test_fit_log_linear_through_cited_points_and_noisy_synthetic_points():
    from accelsim.faults import fit_log_linear
    # two points exactly: Sun et al. (TVLSI 2017), 65 nm: ~1.56 % at 0.50 V, ~0.23 % at 0.55 V
    fit = fit_log_linear([(0.50, 1.56e-2), (0.55, 2.3e-3)])
    assert fit.mv_per_decade == pytest.approx(60.14, abs=0.01)
    assert fit.v_ref == 0.50 and fit.ber_ref == pytest.approx(1.56e-2) and fit.rms_decades < 1e-9
    # noisy points on a known line: the fit recovers slope and level
    rng = np.random.default_rng(0)
    v = np.linspace(0.48, 0.62, 15)
    ber = 1e-2 * 10 ** ((0.50 - v) * 1000 / 30 + rng.normal(0, 0.1, v.size))
    fit = fit_log_linear(list(zip(v, ber)), v_ref=0.50)
    assert fit.mv_per_decade == pytest.approx(30, rel=0.05)
    assert np.log10(fit.ber_ref) == pytest.approx(-2, abs=0.1) and 0.05 < fit.rms_decades < 0.15


def test_curve_from_points_yaml(tmp_path):
    p = tmp_path / "measured.yaml"
    p.write_text(yaml.safe_dump({"points": [[0.50, 1.56e-2], [0.55, 2.3e-3]], "v_max": 1.0,
                                 "source": "Sun et al. 2017"}))
    c = load_curve(p)
    assert (c.v_min, c.v_max) == (0.50, 1.0)
    assert c.ber(0.55) == pytest.approx(2.3e-3) and c.ber(0.61) == pytest.approx(2.3e-3 / 10, rel=0.01)
    with pytest.raises(UserError, match="vdd = 0.45 V is outside .*\\[0.5, 1.0\\]"):
        c.ber(0.45)
    for bad, match in [({"points": [[0.5, 1e-2]]}, r"points: must have at least 2 entries"),
                       ({"points": [[0.5, 1e-4], [0.6, 1e-2]]}, "does not fall"),
                       ({"points": [[0.5, 0.7], [0.6, 1e-2]]}, r"in \(0, 0.5\]"),
                       ({"points": [[0.5, 1e-2], [0.6, 1e-4]], "mv_per_decade": 30}, "exclude"),
                       ({"points": "many"}, r"points: must be a list \(got 'many'\)"),
                       ({"points": [[0.5, float("nan")], [0.6, 1e-4]]}, r"points\[0\]\[1\]: must be a finite number"),
                       ({"v_ref": 0.5, "v_min": 0.9, "v_max": 0.5}, r"v_min = 0.9 must be below v_max = 0.5"),
                       ({"table": [[0.5, 1e-2], [0.6, 1e-4]], "v_mn": 0.4}, r"unknown field 'v_mn' \(did you mean 'v_min'\?\)")]:
        with pytest.raises(UserError, match=match):
            curve_from_dict(bad)


def test_measured_map_extent_defaults_to_its_own(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("word,bit\n7,63\n2,0\n")
    m = ChipFaultMap.from_csv(p, width=64)
    assert m.n_words == 8 and m.cell.tolist() == [2 * 64, 7 * 64 + 63]
    # a smaller image sees only its own words; offsets select the SRAM region
    out = m.apply(np.zeros((4, 1), dtype=np.uint64), 0.9, word_offset=4)
    assert out[:, 0].tolist() == [0, 0, 0, 1 << 63]
    p.write_text("word,bit\n1,3\n1,3\n")
    with pytest.raises(UserError, match=r"cell \(1, 3\) is listed twice"):
        ChipFaultMap.from_csv(p, width=64)
    p.write_text("word,bit\n1,64\n")
    with pytest.raises(UserError, match="line 2: cell \\(1, 64\\) outside words of 64 bits"):
        ChipFaultMap.from_csv(p, width=64)
