"""faults.inject: the transient model of the DESIGN.md contract."""

import numpy as np
import pytest

from accelsim.errors import UserError
from accelsim.faults import inject


def test_flip_count_and_independence():
    words = np.zeros((100_000, 1), dtype=np.uint64)
    out = inject(words, 1e-3, seed=1, width=64)
    flips = int(np.bitwise_count(out).sum())
    mean, sd = 6.4e6 * 1e-3, np.sqrt(6.4e6 * 1e-3)
    assert abs(flips - mean) < 5 * sd
    # each bit position is hit about equally often
    per_bit = np.unpackbits(out.view(np.uint8), axis=1, bitorder="little").sum(axis=0)
    assert per_bit.min() > 60 and per_bit.max() < 150


def test_width_limits_flips_to_low_bits_and_spans_lanes():
    words = np.zeros((50_000, 2), dtype=np.uint64)
    out = inject(words, 1e-2, seed=2, width=72)
    assert np.all(out[:, 1] >> np.uint64(8) == 0)
    assert out[:, 1].any()
    out32 = inject(np.zeros(50_000, dtype=np.uint64), 1e-2, seed=2, width=32)
    assert out32.shape == (50_000,) and np.all(out32 >> np.uint64(32) == 0)


def test_same_seed_same_bits_and_input_untouched():
    words = np.arange(1000, dtype=np.uint64).reshape(-1, 1)
    a = inject(words, 1e-2, seed=7, width=64)
    b = inject(words, 1e-2, seed=7, width=64)
    c = inject(words, 1e-2, seed=8, width=64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(words, np.arange(1000, dtype=np.uint64).reshape(-1, 1))
    # pinned values, so that a change of sampling algorithm (and of results) is noticed
    assert int(np.bitwise_count(a ^ words).sum()) == 639
    assert np.flatnonzero((a ^ words).ravel())[:5].tolist() == [3, 5, 7, 11, 14]


def test_ber_zero_and_one():
    words = np.full((10, 1), 0x0F, dtype=np.uint64)
    assert np.array_equal(inject(words, 0.0, seed=0, width=64), words)
    assert np.all(inject(words, 1.0, seed=0, width=8) == np.uint64(0xF0))


@pytest.mark.parametrize("ber", [-0.1, 1.5, float("nan")])
def test_bad_ber(ber):
    with pytest.raises(UserError, match="ber"):
        inject(np.zeros(4, dtype=np.uint64), ber, seed=0, width=64)


def test_bad_words_and_width():
    with pytest.raises(UserError, match="uint64"):
        inject(np.zeros(4, dtype=np.int32), 0.1, seed=0, width=32)
    with pytest.raises(UserError, match="width = 65"):
        inject(np.zeros(4, dtype=np.uint64), 0.1, seed=0, width=65)
