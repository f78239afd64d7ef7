"""The cycle-level path's functional result: the weight SRAM applies the chip's faults at
its voltage (or transient draws) burst by burst, the ECC stage decodes them, and the
weights that reach the PE array are bit-identical to the fast numpy path's
(faults -> layout.unpack -> integer inference); counts against the truth; policies."""

import numpy as np
import pytest

from accelsim.errors import UserError
from accelsim.faults import ChipFaultMap, inject, load_curve, map_to_nominal
from accelsim.hw import parse_config, simulate
from accelsim.hw.ecc_stage import data_mask
from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.nn import load_digits_split

# the default (measured, nominal 1.0 V) curve as the packaged accelerator reads it (scale to 0.9 V)
CURVE = map_to_nominal(load_curve(), 0.9, "scale")
VDD = 0.48   # BER 1.8e-3 there: corrections, detections and a few miscorrections


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("hwf") / "lenet")


@pytest.fixture(scope="module")
def digits():
    data = load_digits_split()
    return data.x_test.numpy()[:200]


def fast_path(image, read, x):
    weights, _ = decode_weights(image, read)
    return weights, IntegerNetwork(image).forward(x, weights)


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype == np.int8 and np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize("dataflow,mode", [("ws", "persistent"), ("os", "persistent"), ("ws", "stuck"),
                                           ("ws", "clustered"), ("os", "clustered")])
def test_chip_map_bit_identical_to_fast_path(lenet, digits, dataflow, mode):
    """Also under the structured chip model (Vmin shift, clustering, 1->0 only)."""
    from accelsim.faults.chip_model import PRESETS
    chip, seed = 3, 11
    model = PRESETS["clustered"] if mode == "clustered" else None
    fmap = ChipFaultMap.sample(CURVE, n_words=lenet.words.shape[0], width=64, chip=chip, seed=seed, v_low=VDD,
                               mode="stuck" if mode == "stuck" else "flip", model=model)
    read = fmap.apply(lenet.words, VDD)
    weights, logits = fast_path(lenet, read, digits)
    r = simulate(lenet, {"pe_array": {"dataflow": dataflow}}, vdd=VDD, chip=chip, seed=seed,
                 fault_model="persistent" if mode == "clustered" else mode, chip_model=model)
    _, dec = lenet.layout.unpack_detail(read)
    assert np.array_equal(r.decoded_words, dec.data) and np.array_equal(r.status, dec.status)
    assert_same_weights(r.weights, weights)
    assert np.array_equal(IntegerNetwork(lenet).forward(digits, r.weights), logits)
    assert r.faults["faulty_cells"] == fmap.cell.size > 0
    # every read of a persistent fault sees the same bits: os streams the weights several times
    passes = [s.weight_passes for s in r.layers]
    flipped = int(np.bitwise_count(read ^ lenet.words).sum(axis=1) @ np.repeat(passes, [l.n_words for l in lenet.layers]))
    assert r.faults["faulty_bits_read"] == flipped
    # the counts against the truth are the fast path's
    wrong = np.bitwise_count((dec.data ^ lenet.words) & data_mask(lenet.layout)).sum(axis=1) > 0
    totals = {k: sum(getattr(s, k) for s in r.layers) for k in ("corrected", "detected", "miscorrected")}
    assert totals["detected"] == np.count_nonzero(dec.status == 2) > 0
    assert totals["corrected"] > 0
    assert totals["miscorrected"] == np.count_nonzero((dec.status == 1) & wrong)
    assert totals["corrected"] + totals["miscorrected"] == np.count_nonzero(dec.status == 1)


def test_nested_maps_one_chip_several_voltages(lenet):
    """With a fixed v_low the same chip loses cells as vdd rises (maps are nested)."""
    low = simulate(lenet, vdd=0.46, chip=1, v_low=0.46)
    high = simulate(lenet, vdd=0.49, chip=1, v_low=0.46)
    assert 0 < high.faults["faulty_cells"] < low.faults["faulty_cells"]
    assert 0 < high.faults["faulty_bits_read"] < low.faults["faulty_bits_read"]
    # flip faults: every word read wrong at 0.49 V is read wrong at 0.46 V too
    fmap = ChipFaultMap.sample(CURVE, n_words=lenet.words.shape[0], width=64, chip=1, seed=0, v_low=0.46)
    bad = [np.any(fmap.apply(lenet.words, v) != lenet.words, axis=1) for v in (0.46, 0.49)]
    assert np.all(bad[0][bad[1]]) and bad[1].sum() < bad[0].sum()
    assert sum(s.corrected + s.detected + s.miscorrected for s in high.layers) < \
        sum(s.corrected + s.detected + s.miscorrected for s in low.layers)


def test_transient_first_read_is_fast_path_draw(lenet, digits):
    ber, seed = 3e-3, 5
    read = inject(lenet.words, ber, seed=seed, width=64)
    weights, logits = fast_path(lenet, read, digits)
    r = simulate(lenet, vdd=0.6, ber=ber, seed=seed)
    assert r.faults == {"model": "transient", "ber": ber, "seed": seed,
                        "faulty_bits_read": int(np.bitwise_count(read ^ lenet.words).sum())}
    assert_same_weights(r.weights, weights)
    assert np.array_equal(IntegerNetwork(lenet).forward(digits, r.weights), logits)


def test_transient_later_passes_are_fresh_draws(lenet):
    """Output stationary reads each weight once per row fold: under transient faults every
    pass after the first is a new draw (the functional weights are the first pass's)."""
    ber, seed = 1e-2, 5
    cfg = parse_config({"pe_array": {"dataflow": "os", "rows": 4, "cols": 4}})
    r = simulate(lenet, cfg, ber=ber, seed=seed)
    read = inject(lenet.words, ber, seed=seed, width=64)
    _, dec = lenet.layout.unpack_detail(read)
    assert np.array_equal(r.decoded_words, dec.data)
    first_bits = int(np.bitwise_count(read ^ lenet.words).sum())
    reads = sum(s.sram_read_words for s in r.layers)
    # conv1 (M=64) is streamed 16 times, conv2 (M=16) 4 times, the linear layers once
    assert reads == lenet.words.shape[0] + 15 * 10 + 3 * 54
    # the later passes flip about ber * bits each (Binomial): well above zero, not a copy of the first pass
    later = r.faults["faulty_bits_read"] - first_bits
    expected = ber * 64 * (reads - lenet.words.shape[0])
    assert abs(later - expected) < 5 * np.sqrt(expected)


def test_policies_zero_and_reread(lenet):
    read = ChipFaultMap.sample(CURVE, n_words=lenet.words.shape[0], width=64, chip=0, seed=0, v_low=0.46).apply(
        lenet.words, 0.46)
    _, dec = lenet.layout.unpack_detail(read)
    detected = np.flatnonzero(dec.status == 2)
    assert detected.size > 0
    zero = simulate(lenet, {"ecc": {"policy": "zero"}}, vdd=0.46, chip=0, v_low=0.46)
    assert np.all(zero.decoded_words[detected] == 0)
    wpw = lenet.layout.weights_per_word
    q_all = np.concatenate([zero.weights[layer.name].reshape(-1) for layer in lenet.layers])
    word_of = np.concatenate([layer.word_offset + np.arange(layer.n_weights) // wpw for layer in lenet.layers])
    assert np.all(q_all[np.isin(word_of, detected)] == 0)
    reread = simulate(lenet, {"ecc": {"policy": "reread", "max_retries": 3}}, vdd=0.46, chip=0, v_low=0.46)
    assert sum(s.rereads for s in reread.layers) == 3 * detected.size   # persistent: every retry fails
    assert np.array_equal(reread.decoded_words, dec.data)
    assert sum(s.reread_stall_cycles for s in reread.layers) >= 3 * detected.size // 8
    assert reread.total_cycles > simulate(lenet, vdd=0.46, chip=0, v_low=0.46).total_cycles


def test_transient_reread_recovers_words(lenet):
    r = simulate(lenet, {"ecc": {"policy": "reread", "max_retries": 3}}, ber=1e-2, seed=2)
    _, dec = lenet.layout.unpack_detail(inject(lenet.words, 1e-2, seed=2, width=64))
    first = np.count_nonzero(dec.status == 2)
    rereads = sum(s.rereads for s in r.layers)
    assert first > 0 and rereads >= first
    assert sum(s.detected for s in r.layers) < first   # fresh draws mostly decode


def test_no_code_layout_has_no_decoder(tmp_path):
    img = export_checkpoint("models/lenet5-int8", "none-8b", tmp_path / "n8")
    r = simulate(img, vdd=0.48, chip=2)
    assert sum(s.ecc_decodes for s in r.layers) == 0
    read = ChipFaultMap.sample(CURVE, n_words=img.words.shape[0], width=64, chip=2, seed=0, v_low=0.48).apply(
        img.words, 0.48)
    assert np.array_equal(r.decoded_words, read)
    assert sum(s.undetected for s in r.layers) == np.count_nonzero(np.any(read != img.words, axis=1)) > 0


@pytest.mark.parametrize("kwargs,match", [
    ({"fault_model": "cosmic"}, "fault_model 'cosmic'"),
    ({"fault_model": "persistent"}, "needs a chip"),
    ({"chip": 1, "ber": 1e-3}, "transient faults take ber .* not a chip"),
    ({"chip": 1, "fault_model": "persistent", "ber": 1e-3}, "ber = 0.001 is a transient fault rate"),
    ({"ber": 2.0}, "ber = 2.0 is not a probability"),
    ({"vdd": -0.5}, "vdd = -0.5 V must be a positive voltage"),
    ({"vdd": 0.2, "chip": 1}, "outside the BER curve's domain"),
    ({"read_words": np.zeros((3, 1), np.uint64)}, "read words have shape"),
])
def test_bad_fault_arguments(lenet, kwargs, match):
    with pytest.raises(UserError, match=match):
        simulate(lenet, **kwargs)
