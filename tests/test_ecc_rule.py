"""The err_o rule (strict | parity) carried through the codec, the layouts, the cycle
model's ECC stage (``ecc.rule``) and the energy/area figures."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.ecc import RULES, get_code, get_layout, list_codes
from accelsim.energy import decoder_area_um2, decoder_cells, energy_of
from accelsim.errors import UserError
from accelsim.hw import parse_config, simulate
from accelsim.image import export_image
from accelsim.rtl.coverage import triple_outcomes
from accelsim.rtl.generate import unused_odd_syndromes

ALL = list_codes(inverted=True)


def flip(words, positions):
    out = words.copy()
    for p in positions:
        out[:, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
    return out


def odd_non_column_triple(code):
    """Three positions whose syndrome is odd but matches no column."""
    cols = [int(c) for c in code.columns]
    unused = set(unused_odd_syndromes(code))
    for t in itertools.combinations(range(code.n), 3):
        if cols[t[0]] ^ cols[t[1]] ^ cols[t[2]] in unused:
            return t
    raise AssertionError(f"{code.name}: no such triple")


def test_rules_differ_only_on_odd_syndromes_matching_no_column():
    for name in ALL:
        code = get_code(name)
        strict, parity = code.status_table("strict"), code.status_table("parity")
        differ = set(np.flatnonzero(strict != parity).tolist())
        assert differ == set(unused_odd_syndromes(code))
        assert all(strict[s] == 2 and parity[s] == 1 for s in differ)
    # full-length codes: the same function
    for name in ("hsiao-64-57", "hsiao-32-26", "hamming-64-57-inv"):
        assert not unused_odd_syndromes(get_code(name))


@pytest.mark.parametrize("name", ["hsiao-72-64", "hamming-39-32-inv", "hsiao-13-8"])
def test_a_triple_error_flagged_by_strict_is_miscorrected_by_parity(name):
    code = get_code(name)
    data = np.arange(1, 5, dtype=np.uint64)[:, None] * np.uint64(0x1234567)
    data &= code._data_mask
    bad = flip(code.encode(data), odd_non_column_triple(code))
    assert np.all(code.decode(bad, "strict")[1] == 2)
    out, status = code.decode(bad, "parity")
    assert np.all(status == 1) and not np.array_equal(out, data)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ALL), st.sampled_from(RULES), st.integers(0, 2**32 - 1), st.data())
def test_both_rules_correct_singles_and_flag_doubles(name, rule, seed, draw):
    code = get_code(name)
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 2**63, size=(3, code.lanes_in), dtype=np.uint64) & code._data_mask
    cw = code.encode(data)
    p, q = draw.draw(st.lists(st.integers(0, code.n - 1), min_size=2, max_size=2, unique=True))
    out, status = code.decode(cw, rule)
    assert np.array_equal(out, data) and not status.any()
    out, status = code.decode(flip(cw, [p]), rule)
    assert np.array_equal(out, data) and np.all(status == 1)
    assert np.all(code.decode(flip(cw, [p, q]), rule)[1] == 2)


def test_inverted_codes_refuse_all_zero_and_all_one_words():
    for name in list_codes(inverted=True):
        if not name.endswith("-inv"):
            continue
        code = get_code(name)
        zero = np.zeros((1, code.lanes_out), np.uint64)
        ones = flip(zero, range(code.n))
        assert code.syndrome(zero)[0] != 0 and code.syndrome(ones)[0] != 0
        assert code.decode(zero, "strict")[1][0] == 2 and code.decode(ones, "strict")[1][0] == 2
        plain = get_code(name[:-4])
        assert plain.decode(zero)[1][0] == 0   # the plain code takes the all-zero word as clean
        data = np.array([[5]], dtype=np.uint64)
        assert np.array_equal(code.decode(code.encode(data))[0], data)
        # the inverted codeword is the plain one with the inverted check bits flipped
        assert np.array_equal(code.encode(data) ^ plain.encode(data), flip(zero, np.flatnonzero(code.invert)))
        assert np.flatnonzero(code.invert).min() >= code.k     # only check bits are inverted


def test_bad_rule_is_refused():
    with pytest.raises(UserError, match="ecc rule 'lenient'"):
        get_code("hsiao-39-32").decode(np.zeros((1, 1), np.uint64), "lenient")
    with pytest.raises(UserError, match="ecc.rule"):
        parse_config({"ecc": {"rule": "lenient"}})


def test_triple_error_shares_exact():
    # hsiao-72-64: 59,640 triples; 43.7 % match no column (docs/rtl.md)
    t = triple_outcomes(get_code("hsiao-72-64"), "strict")
    assert t["triples"] == 59640 and t["flagged"] == pytest.approx(0.437, abs=5e-4)
    assert triple_outcomes(get_code("hsiao-72-64"), "parity")["flagged"] == 0.0
    assert triple_outcomes(get_code("hsiao-64-57"), "strict")["flagged"] == 0.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    return export_image(torch.nn.Sequential(torch.nn.Linear(32, 16)), tmp_path_factory.mktemp("rule") / "tiny",
                        layout="ecc-8b-72", input_shape=(32,))


def test_cycle_model_ecc_stage_follows_ecc_rule(tiny):
    code = get_layout("ecc-8b-72").code
    read = tiny.words.copy()
    read[5:6] = flip(read[5:6], odd_non_column_triple(code))
    strict = simulate(tiny, parse_config({"ecc": {"rule": "strict"}}), read_words=read)
    parity = simulate(tiny, parse_config({"ecc": {"rule": "parity"}}), read_words=read)
    assert parse_config({}).ecc_rule == "strict"
    assert (strict.layers[0].detected, strict.layers[0].miscorrected) == (1, 0)
    assert (parity.layers[0].detected, parity.layers[0].miscorrected) == (0, 1)
    assert strict.status[5] == 2 and parity.status[5] == 1
    # energy: the parity decoder of (72,64) has fewer cells, so each decode costs less
    layout = tiny.layout
    e_strict = energy_of(strict, layout, vdd=0.9).totals["ecc"]
    e_parity = energy_of(parity, layout, vdd=0.9).totals["ecc"]
    n_dec = strict.layers[0].ecc_decodes
    assert e_strict / n_dec / decoder_cells("hsiao-72-64", "strict") == pytest.approx(
        e_parity / n_dec / decoder_cells("hsiao-72-64", "parity"))
    assert decoder_cells("hsiao-72-64", "parity") < decoder_cells("hsiao-72-64", "strict")
    assert decoder_area_um2("hsiao-72-64", "parity") < decoder_area_um2("hsiao-72-64", "strict")
    assert decoder_cells("hsiao-64-57", "parity") == decoder_cells("hsiao-64-57", "strict")
