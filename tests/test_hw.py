"""The cycle-level accelerator: analytical cycle counts, memory/bank/ECC effects,
bit identity with the fast path, configuration errors."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from accelsim.campaign.trial import faulty_words
from accelsim.errors import UserError
from accelsim.faults import inject, load_curve
from accelsim.hw import load_config, parse_config, plan, simulate
from accelsim.image.commands import export_checkpoint

CURVE = load_curve()


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("hw") / "lenet")


@pytest.fixture(scope="module")
def vgg72(tmp_path_factory):
    return export_checkpoint("models/vgg-small-int8", "ecc-8b-72", tmp_path_factory.mktemp("hw") / "vgg")


def persistent_read(image, vdd, chip=0):
    params = {"fault_model": "persistent", "ber": CURVE.ber(vdd), "vdd": vdd, "chip": chip, "repeat": 0, "seed": 0,
              "v_low": 0.45, "p_stuck1": 0.5, "model": "m", "scheme": image.layout.name, "layers": "all",
              "curve": {k: getattr(CURVE, k) for k in ("v_ref", "ber_ref", "mv_per_decade", "v_min", "v_max")}}
    return faulty_words(image, params, (0, image.words.shape[0]))


def test_fold_formulas_hand_derived():
    # ws: K=25 on 16 rows -> 2 row folds, N=6 -> 1 column fold; per fold 2*16 + 16 + 64 - 2 = 110
    p = plan(64, 25, 6, 16, 16, "ws")
    assert (p.folds, p.cycles_per_fold, p.compute_cycles, p.weight_passes) == (2, 110, 220, 1)
    # os: M=64 -> 4 row folds, N=6 -> 1; per fold K + 2R + C - 2 = 25 + 32 + 16 - 2 = 71
    p = plan(64, 25, 6, 16, 16, "os")
    assert (p.folds, p.cycles_per_fold, p.compute_cycles, p.weight_passes) == (4, 71, 284, 4)
    # a fully connected layer on a 4 x 8 array: K=120 -> 30 row folds, N=84 -> 11 column folds
    p = plan(1, 120, 84, 4, 8, "ws")
    assert (p.folds, p.cycles_per_fold) == (330, 15)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_simulated_compute_equals_analytical(lenet, dataflow):
    cfg = parse_config({"pe_array": {"dataflow": dataflow, "rows": 8, "cols": 4}})
    r = simulate(lenet, cfg)
    for s, layer in zip(r.layers, lenet.layers):
        p = plan(*layer.gemm, 8, 4, dataflow)
        assert s.compute_cycles == s.analytical_cycles == p.compute_cycles
        assert s.sram_read_words == layer.n_words * p.weight_passes
        assert s.utilization == pytest.approx(layer.macs / (p.compute_cycles * 32))
    assert r.total_cycles >= sum(s.compute_cycles for s in r.layers)


def test_memory_bound_layers_show_up(lenet):
    fast = simulate(lenet, parse_config({"dram": {"bytes_per_cycle": 64}}))
    slow = simulate(lenet, parse_config({"dram": {"bytes_per_cycle": 0.5}}))
    weight_bytes = lenet.words.shape[0] * 8
    assert slow.total_cycles >= weight_bytes / 0.5
    assert sum(s.stall_cycles for s in slow.layers) > sum(s.stall_cycles for s in fast.layers) + 10_000
    assert sum(s.dram_bytes for s in slow.layers) == weight_bytes


def test_bank_conflicts_cost_cycles(vgg72):
    base = {"weight_sram": {"banks": 8, "burst_words": 64}, "ecc": {"lanes": 64}, "pe_array": {"rows": 64, "cols": 64}}
    good = simulate(vgg72, parse_config(base))
    bad = simulate(vgg72, parse_config({**base, "weight_sram": {**base["weight_sram"], "interleave": False}}))
    assert sum(s.sram_conflict_cycles for s in good.layers) == 0
    # without interleaving every word of a burst sits in bank 0 (the image is smaller than
    # one bank): a burst of b words takes b cycles instead of ceil(b / 8)
    bursts = [min(64, layer.n_words - i) for layer in vgg72.layers for i in range(0, layer.n_words, 64)]
    assert sum(s.sram_conflict_cycles for s in bad.layers) == sum(b - -(-b // 8) for b in bursts)
    assert bad.total_cycles > good.total_cycles


def test_ecc_latency_and_reread_stalls(vgg72):
    cfg = load_config()
    r0 = simulate(vgg72, replace(cfg, ecc_latency=0))
    r9 = simulate(vgg72, replace(cfg, ecc_latency=9))
    assert r9.total_cycles - r0.total_cycles >= 9
    read = persistent_read(vgg72, 0.50)
    passed = simulate(vgg72, cfg, read_words=read)
    reread = simulate(vgg72, replace(cfg, policy="reread", max_retries=2), read_words=read)
    detected = sum(s.detected for s in passed.layers)
    assert detected > 0
    assert sum(s.rereads for s in reread.layers) == 2 * detected      # persistent: both retries fail
    assert sum(s.reread_stall_cycles for s in reread.layers) > 0
    assert reread.total_cycles > passed.total_cycles
    assert np.array_equal(reread.decoded_words, passed.decoded_words)  # same word every time


def test_transient_reread_recovers_words(vgg72):
    cfg = replace(load_config(), policy="reread", max_retries=3)
    read = inject(vgg72.words, 3e-2, seed=1, width=72)
    r = simulate(vgg72, cfg, read_words=read, transient_ber=1e-4, seed=2)
    _, status = vgg72.layout.unpack(read)
    assert np.count_nonzero(status == 2) > 0
    assert sum(s.detected for s in r.layers) < np.count_nonzero(status == 2)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_cycle_path_is_bit_identical_to_fast_path(lenet, dataflow):
    read = persistent_read(lenet, 0.50, chip=3)
    r = simulate(lenet, parse_config({"pe_array": {"dataflow": dataflow}}), read_words=read)
    _, dec = lenet.layout.unpack_detail(read)
    assert np.array_equal(r.decoded_words, dec.data) and np.array_equal(r.status, dec.status)
    assert np.count_nonzero(dec.status) > 0
    zero = simulate(lenet, parse_config({"ecc": {"policy": "zero"}}), read_words=read)
    assert np.all(zero.decoded_words[dec.status == 2] == 0)


@pytest.mark.parametrize("override,match", [
    ({"pe_array": {"rows": 0}}, "pe_array.rows = 0 must be >= 1"),
    ({"pe_array": {"dataflow": "rs"}}, "dataflow 'rs'"),
    ({"weight_sram": {"burst_words": 10**9}}, "cannot be double-buffered"),
    ({"ecc": {"policy": "retry"}}, "ecc.policy 'retry'"),
    ({"dram": {"bytes_per_cycle": "fast"}}, "must be a number"),
    ({"sram": {}}, "unknown field 'sram'"),
])
def test_impossible_configs(override, match):
    with pytest.raises(UserError, match=match):
        parse_config(override)


def test_buffers_must_hold_a_tile(lenet):
    with pytest.raises(UserError, match="input_kib = 0.01 cannot hold one input vector"):
        simulate(lenet, parse_config({"pe_array": {"rows": 64}, "buffers": {"input_kib": 0.01}}))
    with pytest.raises(UserError, match="output_kib = 0.1 cannot hold one row of partial sums"):
        simulate(lenet, parse_config({"pe_array": {"cols": 64}, "buffers": {"output_kib": 0.1}}))


def test_word_width_must_match_layout(lenet):
    with pytest.raises(UserError, match="word_bits = 72 does not match"):
        simulate(lenet, parse_config({"weight_sram": {"word_bits": 72}}))


def test_simulate_cli_json_and_trace(lenet, tmp_path):
    out, trace = tmp_path / "r.json", tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--image", str(lenet.path), "--vdd", "0.52",
                        "--chip", "3", "-o", str(out), "--trace", str(trace)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "classifier.4" in r.stdout and "nJ per inference" in r.stdout
    d = json.loads(out.read_text())
    assert len(d["layers"]) == 5 and d["total_cycles"] > 0 and d["energy_pj"] > 0
    events = json.loads(trace.read_text())["traceEvents"]
    assert {e["tid"] for e in events if e["ph"] == "X"} >= {0, 1, 3}
    bad = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--image", str(lenet.path), "--vdd", "0.1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "outside the BER curve's domain" in bad.stderr and "Traceback" not in bad.stderr
