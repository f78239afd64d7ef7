"""BER(V) curves, nested persistent chip maps, stuck-at/asymmetric faults, measured maps,
float bit errors."""

import numpy as np
import pytest
import yaml

from accelsim.errors import UserError
from accelsim.faults import ChipFaultMap, curve_from_dict, inject_asymmetric, inject_float, load_curve


def test_default_curve_values_and_inverse():
    c = load_curve()
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
    with pytest.raises(UserError, match="mv_per_decade = 'steep' is not a number"):
        load_curve(p)


def test_chip_maps_are_nested_sparse_and_follow_the_curve():
    c = load_curve()
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
