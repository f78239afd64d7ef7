"""SEC-DED codes: construction, the DESIGN.md codec contract, and error behaviour."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.ecc import get_code, list_codes, make_hsiao
from accelsim.errors import UserError

CODES = list_codes()
SMALL = [c for c in CODES if get_code(c).n <= 39]


def random_data(code, n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 2**64, size=(n, code.lanes_in), dtype=np.uint64)
    if code.k % 64:
        data[:, -1] &= np.uint64((1 << (code.k % 64)) - 1)
    return data


def flip(words, positions):
    out = words.copy()
    for p in positions:
        out[:, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
    return out


def test_registry_names_and_shapes():
    for name in ("hsiao-72-64", "hamming-72-64", "hsiao-64-57", "hsiao-39-32", "hsiao-32-26",
                 "hsiao-22-16", "hsiao-13-8"):
        assert name in CODES
        c = get_code(name)
        assert c.H.dtype == np.uint8 and c.H.shape == (c.r, c.n)
        assert c.r == c.n - c.k


def test_hsiao_columns_odd_weight_distinct_and_rows_balanced():
    expected_rows = {  # data-column row weights, from the construction (docs/ecc.md)
        "hsiao-72-64": [26] * 8, "hsiao-64-57": [31] * 7, "hsiao-32-26": [15] * 6,
        "hsiao-22-16": [8] * 6, "hsiao-39-32": [14] * 5 + [13] * 2, "hsiao-13-8": [5, 5, 5, 4, 5],
    }
    for name, rows in expected_rows.items():
        c = get_code(name)
        weights = c.H.sum(axis=0)
        assert np.all(weights % 2 == 1)
        assert len({tuple(col) for col in c.H.T}) == c.n
        assert np.array_equal(c.H[:, c.k:], np.eye(c.r, dtype=np.uint8))
        assert c.H[:, :c.k].sum(axis=1).tolist() == rows


def test_hsiao_72_64_uses_56_weight3_and_8_weight5_columns():
    w = get_code("hsiao-72-64").H[:, :64].sum(axis=0)
    assert (w == 3).sum() == 56 and (w == 5).sum() == 8


def test_extended_hamming_has_overall_parity_row():
    c = get_code("hamming-72-64")
    assert np.all(c.H[-1] == 1)
    data = random_data(c, 100, 1)
    cw = c.encode(data)
    total = np.bitwise_count(cw).sum(axis=1)
    assert np.all(total % 2 == 0)


@pytest.mark.parametrize("name", CODES)
def test_encode_is_systematic_and_in_null_space(name):
    c = get_code(name)
    data = random_data(c, 500, 2)
    cw = c.encode(data)
    assert cw.shape == (500, c.lanes_out) and cw.dtype == np.uint64
    assert np.array_equal(cw[:, :c.lanes_in] & c._data_mask, data)
    bits = np.unpackbits(cw.view(np.uint8), axis=1, bitorder="little")[:, :c.n]
    assert not np.any((bits.astype(int) @ c.H.T.astype(int)) % 2)
    assert np.all(c.syndrome(cw) == 0)


@pytest.mark.parametrize("name", CODES)
def test_every_single_error_corrected_at_every_position(name):
    c = get_code(name)
    data = random_data(c, 64, 3)
    cw = c.encode(data)
    for p in range(c.n):
        d = c.decode_detail(flip(cw, [p]))
        assert np.all(d.status == 1) and np.all(d.error_pos == p)
        assert np.array_equal(d.data, data)


@pytest.mark.parametrize("name", SMALL)
def test_every_double_error_detected_exhaustive(name):
    c = get_code(name)
    cw = c.encode(random_data(c, 4, 4))
    for p, q in itertools.combinations(range(c.n), 2):
        _, status = c.decode(flip(cw, [p, q]))
        assert np.all(status == 2), (p, q)


@pytest.mark.parametrize("name", [c for c in CODES if c not in SMALL])
def test_double_errors_detected_sampled(name):
    c = get_code(name)
    rng = np.random.default_rng(5)
    cw = c.encode(random_data(c, 5000, 5))
    pq = np.array([rng.choice(c.n, 2, replace=False) for _ in range(5000)])
    bad = cw.copy()
    for col in (0, 1):
        pos = pq[:, col]
        bad[np.arange(5000), pos // 64] ^= np.uint64(1) << (pos % 64).astype(np.uint64)
    _, status = c.decode(bad)
    assert np.all(status == 2)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CODES), st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_round_trip_property(name, seed, n):
    c = get_code(name)
    data = random_data(c, n, seed)
    out, status = c.decode(c.encode(data))
    assert np.array_equal(out, data) and not status.any()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CODES), st.integers(0, 2**32 - 1), st.data())
def test_single_error_property(name, seed, draw):
    c = get_code(name)
    data = random_data(c, 1, seed)
    p = draw.draw(st.integers(0, c.n - 1))
    out, status = c.decode(flip(c.encode(data), [p]))
    assert status[0] == 1 and np.array_equal(out, data)


def test_three_bit_errors_never_clean_and_miscorrection_rate():
    """3 errors: never decoded as clean; Hsiao(72,64) miscorrects a known share."""
    c = get_code("hsiao-72-64")
    rng = np.random.default_rng(6)
    n = 20000
    data = random_data(c, n, 6)
    cw = c.encode(data)
    pos = np.argsort(rng.random((n, c.n)), axis=1)[:, :3]
    bad = cw.copy()
    for col in range(3):
        p = pos[:, col]
        bad[np.arange(n), p // 64] ^= np.uint64(1) << (p % 64).astype(np.uint64)
    out, status = c.decode(bad)
    assert not np.any(status == 0)
    mis = np.mean(status == 1)
    # a "corrected" 3-bit error leaves at least two wrong bits in the codeword
    fixed = c.encode(out[status == 1])
    assert np.all(np.bitwise_count(fixed ^ cw[status == 1]).sum(axis=1) >= 2)
    assert 0.3 < mis < 0.7, mis


def test_bad_inputs_are_clear():
    c = get_code("hsiao-39-32")
    with pytest.raises(ValueError, match="uint64"):
        c.encode(np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        c.encode(np.zeros((3, 2), dtype=np.uint64))
    with pytest.raises(ValueError, match="above bit 31"):
        c.encode(np.array([[1 << 40]], dtype=np.uint64))
    with pytest.raises(UserError, match="known codes: hsiao-72-64"):
        get_code("golay-23-12")
    with pytest.raises(UserError, match="n - k"):
        get_code("hsiao-10-8")


def test_any_supported_size_builds():
    c = make_hsiao(137 - 128 + 16, 16)   # (25,16): r = 9
    assert c.r == 9 and np.all(c.H.sum(axis=0) % 2 == 1)
    data = random_data(c, 10, 7)
    assert np.array_equal(c.decode(c.encode(data))[0], data)


ENGINES = [(name, None) for name in list_codes(inverted=True)] + [
    (None, layout) for layout in ("inplace-8b-64", "inplace-4b-64", "inplace-4b-32", "ecc-8b-72")]


def _engine(name, layout):
    from accelsim.ecc import get_layout
    return get_code(name)._engine if name else get_layout(layout)._engine


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(ENGINES), st.integers(0, 2**32 - 1), st.integers(1, 300),
       st.sampled_from(["strict", "parity"]), st.integers(0, 6))
def test_compiled_decoder_equals_numpy_reference(engine, seed, n, rule, max_errors):
    """The compiled decoder gives the numpy reference's corrected words, status, syndrome
    and error position bit for bit, on codewords with 0..max_errors random bit errors (and
    on arbitrary words), under both err_o rules, for every code and layout engine."""
    eng = _engine(*engine)
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, eng.lanes), dtype=np.uint64)
    if eng.width % 64:
        words[:, -1] &= np.uint64((1 << (eng.width % 64)) - 1)
    cw = eng.encode(words)
    for i in range(n):
        for p in rng.choice(eng.width, size=rng.integers(0, max_errors + 1), replace=False):
            cw[i, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
    for batch in (cw, words):
        fast, ref = eng.decode(batch, rule), eng.decode_reference(batch, rule)
        for field in ("data", "status", "syndrome", "error_pos"):
            a, b = getattr(fast, field), getattr(ref, field)
            assert a.dtype == b.dtype and np.array_equal(a, b), field
        keep = rng.integers(0, 2**64, size=eng.lanes, dtype=np.uint64)   # the fused data-bit mask
        assert np.array_equal(eng.decode(batch, rule, keep=keep).data, ref.data & keep)
        for lanes_out in range(1, eng.lanes + 1):   # the lean pass: data lanes and status only
            lean = eng.decode(batch, rule, keep=keep[:lanes_out], detail=False, lanes_out=lanes_out)
            assert lean.syndrome is None and lean.error_pos is None
            assert np.array_equal(lean.status, ref.status)
            assert np.array_equal(lean.data, (ref.data & keep)[:, :lanes_out])


def test_compiled_decoder_mutation_is_seen():
    """A wrong table entry in the compiled path changes the result (the test above can fail)."""
    eng = get_code("hsiao-72-64")._engine
    cw = np.zeros((4, 2), dtype=np.uint64)
    cw[0, 0] ^= np.uint64(1)     # bit 0 set: byte 0 reads table entry 1
    saved = eng._byte_tables.copy()
    try:
        eng._byte_tables[0, 1] ^= np.uint16(1)
        fast = eng.decode(cw)
    finally:
        eng._byte_tables[...] = saved
    ref = eng.decode_reference(cw)
    assert not np.array_equal(fast.syndrome, ref.syndrome)
