"""Weight layouts: packing contract, in-place check bits, sign-extension restore."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.ecc import get_code, get_layout, list_layouts
from accelsim.errors import UserError
from accelsim.faults import inject

LAYOUTS = list_layouts()


def valid_weights(layout, n, seed):
    rng = np.random.default_rng(seed)
    slots = np.arange(n) % layout.weights_per_word
    lo, hi = np.array([layout.weight_range(s) for s in range(layout.weights_per_word)]).T
    return rng.integers(lo[slots], hi[slots] + 1).astype(np.int8)


def test_design_card_layouts():
    expect = {  # name: (word_bits, weights/word, weight_bits, n throttled, code, range of throttled)
        "inplace-8b-64": (64, 8, 8, 7, "hsiao-64-57", (-64, 63)),
        "inplace-4b-64": (64, 16, 4, 7, "hsiao-64-57", (-4, 3)),
        "inplace-4b-32": (32, 8, 4, 6, "hsiao-32-26", (-4, 3)),
        "ecc-8b-72": (72, 8, 8, 0, "hsiao-72-64", None),
        "none-8b": (64, 8, 8, 0, None, None),
        "none-4b": (64, 16, 4, 0, None, None),
    }
    for name, (wb, wpw, bits, nthr, code, rng) in expect.items():
        lay = get_layout(name)
        assert (lay.word_bits, lay.weights_per_word, lay.weight_bits, len(lay.throttled)) == (wb, wpw, bits, nthr)
        assert (lay.code.name if lay.code else None) == code
        if rng:
            assert lay.weight_range(lay.throttled[0]) == rng
        full = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        free = [s for s in range(wpw) if s not in lay.throttled]
        assert all(lay.weight_range(s) == full for s in free)
    assert get_layout("ecc-8b-72").storage_overhead == pytest.approx(0.125)
    assert get_layout("inplace-4b-64").storage_overhead == 0


def test_physical_packing_of_plain_layout():
    lay = get_layout("none-8b")
    words = lay.pack(np.array([1, -1, 2, -2, 0, 0, 0, 127], dtype=np.int8))
    assert words.shape == (1, 1)
    assert int(words[0, 0]) == 0x7F00_0000_FE02_FF01


def test_inplace_check_bits_sit_in_throttled_msbs():
    lay = get_layout("inplace-8b-64")
    q = valid_weights(lay, 8 * 200, 1)
    words = lay.pack(q)
    code = get_code("hsiao-64-57")
    # gather the physical data bits into the code's systematic order and re-encode
    bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")
    checks = list(lay.check_positions)
    assert checks == [7, 15, 23, 31, 39, 47, 55]
    data_pos = [p for p in range(64) if p not in checks]
    systematic = np.concatenate([bits[:, data_pos], bits[:, checks]], axis=1)
    assert not np.any((systematic.astype(int) @ code.H.T.astype(int)) % 2)
    # the word's data bits are the weights with the throttled MSB replaced
    plain = get_layout("none-8b").pack(q)
    diff = words ^ plain
    mask = np.uint64(sum(1 << p for p in checks))
    assert not np.any(diff & ~mask)


@pytest.mark.parametrize("name", LAYOUTS)
def test_pack_unpack_round_trip_with_padding(name):
    lay = get_layout(name)
    n = 37 * lay.weights_per_word + 3
    q = valid_weights(lay, n, 2)
    words = lay.pack(q)
    assert words.shape == (38, lay.lanes) and words.dtype == np.uint64
    out, status = lay.unpack(words, count=n)
    assert out.dtype == np.int8 and np.array_equal(out, q)
    assert not status.any()


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(LAYOUTS), st.integers(0, 2**32 - 1), st.integers(1, 200))
def test_round_trip_property(name, seed, n):
    lay = get_layout(name)
    q = valid_weights(lay, n, seed)
    out, _ = lay.unpack(lay.pack(q), count=n)
    assert np.array_equal(out, q)


@pytest.mark.parametrize("name", [n for n in LAYOUTS if get_layout(n).code is not None])
def test_every_single_flip_in_a_word_is_corrected(name):
    lay = get_layout(name)
    q = valid_weights(lay, lay.weights_per_word * 16, 3)
    words = lay.pack(q)
    for p in range(lay.word_bits):
        bad = words.copy()
        bad[:, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
        out, status = lay.unpack(bad)
        assert np.all(status == 1) and np.array_equal(out, q), p


def test_unprotected_flip_changes_exactly_one_weight_bit():
    lay = get_layout("none-4b")
    q = np.zeros(16, dtype=np.int8)
    bad = lay.pack(q) ^ np.uint64(1 << 7)  # MSB of slot 1
    out, status = lay.unpack(bad)
    assert out[1] == -8 and np.count_nonzero(out) == 1 and status[0] == 0


def test_out_of_range_weight_is_named():
    lay = get_layout("inplace-8b-64")
    q = np.zeros(16, dtype=np.int8)
    q[10] = 64                       # slot 2: throttled to [-64, 63]
    with pytest.raises(ValueError, match=r"weight 10 = 64 \(word 1, throttled slot 2\).*\[-64, 63\]"):
        lay.pack(q)
    q[10] = 0
    q[15] = -128                     # slot 7 is not throttled: fine
    lay.pack(q)
    with pytest.raises(ValueError, match=r"weight 0 = 8 .*\[-8, 7\]"):
        get_layout("none-4b").pack(np.array([8]))


def test_bad_dtypes_shapes_and_names():
    lay = get_layout("inplace-4b-64")
    with pytest.raises(UserError, match="integers"):
        lay.pack(np.zeros(4, dtype=np.float32))
    with pytest.raises(UserError, match="1-D"):
        lay.pack(np.zeros((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match="uint64"):
        lay.unpack(np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        get_layout("ecc-8b-72").unpack(np.zeros((2, 1), dtype=np.uint64))
    with pytest.raises(UserError, match="known layouts: inplace-8b-64"):
        get_layout("inplace-3b-64")


def test_faulty_stream_statistics_match_binomial():
    """At BER 1e-3 the share of corrected and detected 64-bit words follows Binomial(64, p)."""
    lay = get_layout("inplace-4b-64")
    q = valid_weights(lay, 16 * 200_000, 4)
    words = lay.pack(q)
    bad = inject(words, 1e-3, seed=9, width=64)
    _, status = lay.unpack(bad)
    p, n = 1e-3, 64
    p1 = n * p * (1 - p) ** (n - 1)
    p2 = 1 - (1 - p) ** n - p1
    m = len(status)
    assert abs(np.mean(status == 1) - p1) < 5 * np.sqrt(p1 / m)
    assert abs(np.mean(status == 2) - p2 * 0.999) < 5 * np.sqrt(p2 / m) + 1e-4
