"""The cycle-level accelerator's timing: analytical fold formulas, exact hand-derived
timelines on a tiny layer (DRAM, SRAM banks, ECC latency, re-read stalls), the
configuration's errors, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from accelsim.errors import UserError
from accelsim.hw import parse_config, plan, simulate
from accelsim.image import export_image
from accelsim.image.commands import export_checkpoint

# The tiny layer: Linear(32 -> 16) is a 1 x 32 x 16 GEMM, 512 int8 weights in 64 words of
# ecc-8b-72 (72 bits = 9 bytes each, 576 bytes). Array 4 x 4, weight stationary:
# F = ceil(32/4) * ceil(16/4) = 32 folds of 2*4 + 4 + 1 - 2 = 11 cycles = 352 compute cycles.
TINY = {"pe_array": {"rows": 4, "cols": 4, "dataflow": "ws"},
        "dram": {"bytes_per_cycle": 16, "latency": 100},
        "weight_sram": {"banks": 8, "words_per_bank": 32768, "read_latency": 2, "burst_words": 64,
                        "interleave": True, "ports": 1},
        "ecc": {"lanes": 8, "latency": 1, "policy": "pass", "max_retries": 2}}
# One burst of 64 words: DRAM 100 + 576/16 = 136; SRAM read latency 2 + 64/8 banks = 10;
# ECC 64/8 lanes = 8 + 1 latency; then the folds: 136 + 10 + 9 + 352 = 507.
TINY_CYCLES = 507


def tiny_config(**over):
    d = json.loads(json.dumps(TINY))
    for section, values in over.items():
        d[section].update(values)
    return parse_config(d)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    return export_image(torch.nn.Sequential(torch.nn.Linear(32, 16)), tmp_path_factory.mktemp("hw") / "tiny",
                        layout="ecc-8b-72", input_shape=(32,))


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("hw") / "lenet")


def test_fold_formulas_hand_derived():
    # ws: K=25 on 16 rows -> 2 row folds, N=6 -> 1 column fold; per fold 2*16 + 16 + 64 - 2 = 110
    p = plan(64, 25, 6, 16, 16, "ws")
    assert (p.folds, p.cycles_per_fold, p.compute_cycles, p.weight_passes) == (2, 110, 220, 1)
    # os: M=64 -> 4 row folds, N=6 -> 1; per fold K + R + C - 2 = 25 + 16 + 16 - 2 = 55 (SCALE-Sim);
    # the serial drain adds R = 16 per fold
    p = plan(64, 25, 6, 16, 16, "os")
    assert (p.folds, p.cycles_per_fold, p.compute_cycles, p.weight_passes) == (4, 55, 220, 4)
    assert plan(64, 25, 6, 16, 16, "os", os_drain="serial").compute_cycles == 4 * 71
    # is: K=25 on rows -> 2 row folds, M=64 on columns -> 4 column folds; per fold
    # 2R + C + N - 2 = 32 + 16 + 6 - 2 = 52; the weights stream once per column fold
    p = plan(64, 25, 6, 16, 16, "is")
    assert (p.folds, p.cycles_per_fold, p.compute_cycles, p.weight_passes) == (8, 52, 416, 4)
    # a fully connected layer on a 4 x 8 array: K=120 -> 30 row folds, N=84 -> 11 column folds
    p = plan(1, 120, 84, 4, 8, "ws")
    assert (p.folds, p.cycles_per_fold) == (330, 15)
    # a GEMM that fills the array exactly once: 2R + C + M - 2 = 32 + 16 + 100 - 2
    assert plan(100, 16, 16, 16, 16, "ws").compute_cycles == 146
    assert plan(16, 100, 16, 16, 16, "os").compute_cycles == 100 + 16 + 16 - 2
    assert plan(16, 16, 100, 16, 16, "is").compute_cycles == 32 + 16 + 100 - 2


def test_tiny_layer_timeline_exact(tiny):
    r = simulate(tiny, tiny_config())
    s = r.layers[0]
    assert (s.gemm, s.folds, s.compute_cycles) == ((1, 32, 16), 32, 352)
    assert r.total_cycles == s.cycles == TINY_CYCLES
    assert s.stall_cycles == s.pe_wait_cycles == TINY_CYCLES - 352
    assert (s.sram_read_words, s.sram_read_bits, s.dram_bytes, s.ecc_decodes) == (64, 64 * 72, 576, 64)
    assert s.utilization == pytest.approx(512 / (352 * 16))
    # ws buffers: inputs read once per column fold, partial sums written per row fold and
    # read back by every row fold after the first
    assert (s.input_reads, s.output_writes, s.output_reads) == (32 * 4, 16 * 8, 16 * 7)
    assert r.actions()["mac_ops"] == {"8x8": 512} and r.actions()["cycles"] == TINY_CYCLES
    # bursts of 8 words: the first reaches the array at 136 + 2 + 1 + 1 + 1 = 141 and the
    # rest keep up with the folds (2 words per 11-cycle fold): compute-bound from there
    assert simulate(tiny, tiny_config(weight_sram={"burst_words": 8})).total_cycles == 141 + 352


def test_output_stationary_tiny_exact(tiny):
    # os: M=1 on rows -> 1 row fold, N=16 -> 4 column folds of K + R + C - 2 = 38 cycles
    r = simulate(tiny, tiny_config(pe_array={"dataflow": "os"}))
    assert r.layers[0].compute_cycles == 4 * 38
    assert r.total_cycles == TINY_CYCLES - 352 + 152
    # serial drain: + R = 4 per fold
    r = simulate(tiny, tiny_config(pe_array={"dataflow": "os", "os_drain": "serial"}))
    assert (r.layers[0].compute_cycles, r.total_cycles) == (4 * 42, TINY_CYCLES - 352 + 168)
    # is: K=32 on 4 rows -> 8 row folds, M=1 on columns -> 1 column fold of 2R + C + N - 2 = 26
    r = simulate(tiny, tiny_config(pe_array={"dataflow": "is"}))
    assert (r.layers[0].compute_cycles, r.total_cycles) == (8 * 26, TINY_CYCLES - 352 + 208)


def test_memory_bound_layer_exact(tiny):
    # DRAM at 0.5 B/cycle: 100 + 576 / 0.5 = 1252 cycles before the first word is in SRAM
    r = simulate(tiny, tiny_config(dram={"bytes_per_cycle": 0.5}))
    assert r.total_cycles == 1252 + 10 + 9 + 352
    assert r.layers[0].stall_cycles == 1252 + 10 + 9


def test_bank_conflicts_exact(tiny):
    # not interleaved: all 64 words sit in bank 0 and take 64 cycles instead of 64/8
    r = simulate(tiny, tiny_config(weight_sram={"interleave": False}))
    assert r.layers[0].sram_conflict_cycles == 64 - 8
    assert r.total_cycles == TINY_CYCLES + 56
    # two ports per bank: 32 cycles, against 64 / (8 banks * 2 ports) = 4 without conflicts
    r = simulate(tiny, tiny_config(weight_sram={"interleave": False, "ports": 2}))
    assert (r.layers[0].sram_conflict_cycles, r.total_cycles) == (32 - 4, TINY_CYCLES - 8 + 32)


def test_ecc_latency_and_lanes_exact(tiny):
    assert simulate(tiny, tiny_config(ecc={"latency": 9})).total_cycles == TINY_CYCLES + 8
    assert simulate(tiny, tiny_config(ecc={"lanes": 1})).total_cycles == TINY_CYCLES + 64 - 8


def double_error(image, word=5):
    read = image.words.copy()
    read[word, 0] ^= np.uint64(0b11)   # two data bits: detected, not correctable
    return read


def test_reread_stalls_exact(tiny):
    read = double_error(tiny)
    passed = simulate(tiny, tiny_config(), read_words=read)
    assert (passed.layers[0].detected, passed.total_cycles) == (1, TINY_CYCLES)
    # persistent: both retries read the same word back; each costs read latency 2 + 1 decode cycle
    r = simulate(tiny, tiny_config(ecc={"policy": "reread", "max_retries": 2}), read_words=read)
    s = r.layers[0]
    assert (s.rereads, s.reread_stall_cycles, s.detected, s.ecc_decodes) == (2, 6, 1, 66)
    assert r.total_cycles == TINY_CYCLES + 6
    assert np.array_equal(r.decoded_words, passed.decoded_words)
    # transient (a fresh draw at BER 0 is the stored word): one retry recovers it
    r = simulate(tiny, tiny_config(ecc={"policy": "reread", "max_retries": 2}), read_words=read, transient_ber=0.0)
    s = r.layers[0]
    assert (s.rereads, s.reread_stall_cycles, s.detected, r.total_cycles) == (1, 3, 0, TINY_CYCLES + 3)
    assert np.array_equal(r.decoded_words, tiny.words) and r.status[5] == 0


def test_tiles_refetched_when_layer_exceeds_sram(lenet):
    # 32-word SRAM: tiles of 16 words; os re-reads conv2 (54 words) for each of 4 row folds
    cfg = parse_config({"pe_array": {"rows": 4, "cols": 4, "dataflow": "os"},
                        "weight_sram": {"banks": 1, "words_per_bank": 32, "burst_words": 16}})
    r = simulate(lenet, cfg)
    conv2 = r.layers[1]
    assert conv2.weight_passes == 4 and conv2.sram_read_words == 4 * 54
    assert conv2.dram_bytes == 4 * 54 * 8
    assert np.array_equal(r.decoded_words, lenet.words)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_simulated_compute_equals_analytical(lenet, dataflow):
    cfg = parse_config({"pe_array": {"dataflow": dataflow, "rows": 8, "cols": 4}})
    r = simulate(lenet, cfg)
    for s, layer in zip(r.layers, lenet.layers):
        p = plan(*layer.gemm, 8, 4, dataflow)
        assert s.compute_cycles == s.analytical_cycles == p.compute_cycles
        assert s.sram_read_words == layer.n_words * p.weight_passes
        assert s.utilization == pytest.approx(layer.macs / (p.compute_cycles * 32))
    assert r.total_cycles == sum(s.cycles for s in r.layers)
    assert r.total_cycles >= sum(s.compute_cycles for s in r.layers)


@pytest.mark.parametrize("override,match", [
    ({"pe_array": {"rows": 0}}, r"pe_array.rows: must be >= 1 \(got 0\)"),
    ({"pe_array": {"cols": 2.5}}, r"pe_array.cols: must be an integer \(got 2.5\)"),
    ({"pe_array": {"dataflow": "rs"}}, r"pe_array.dataflow: must be one of 'ws', 'os' or 'is' \(got 'rs'\)"),
    ({"pe_array": {"os_drain": "never"}}, r"pe_array.os_drain: must be one of 'overlapped' or 'serial'"),
    ({"activation_buffers": {"scaled": "yes"}}, r"activation_buffers.scaled: must be true or false \(got 'yes'\)"),
    ({"weight_sram": {"banks": 0}}, r"weight_sram.banks: must be >= 1 \(got 0\)"),
    ({"weight_sram": {"burst_words": 10**9}}, "cannot be double-buffered"),
    ({"weight_sram": {"interleave": "yes"}}, r"weight_sram.interleave: must be true or false \(got 'yes'\)"),
    ({"ecc": {"policy": "retry"}}, r"ecc.policy: must be one of 'pass', 'zero' or 'reread' \(got 'retry'\)"),
    ({"ecc": {"lanes": 0}}, r"ecc.lanes: must be >= 1 \(got 0\)"),
    ({"dram": {"bytes_per_cycle": "fast"}}, r"dram.bytes_per_cycle: must be a number \(got 'fast'\)"),
    ({"sram": {}}, r"unknown field 'sram' \(did you mean 'weight_sram'\?\)"),
    ({"pe_array": {"rows": 64}, "buffers": {"input_kib": 0.01}}, "input_kib = 0.01 cannot hold one input vector"),
    ({"pe_array": {"cols": 64}, "buffers": {"output_kib": 0.1}}, "output_kib = 0.1 cannot hold one row of partial"),
])
def test_impossible_configs(override, match):
    with pytest.raises(UserError, match=match):
        parse_config(override)


def test_word_width_must_match_layout(lenet):
    with pytest.raises(UserError, match="word_bits = 72 does not match"):
        simulate(lenet, parse_config({"weight_sram": {"word_bits": 72}}))


def test_config_file_errors(tmp_path, lenet):
    bad = tmp_path / "acc.yaml"
    bad.write_text("pe_array:\n  rows: 0\n")
    r = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--image", str(lenet.path), "--config",
                        str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "acc.yaml: pe_array.rows: must be >= 1 (got 0)" in r.stderr and "Traceback" not in r.stderr


def test_simulate_cli_json_and_trace(lenet, tmp_path):
    out, trace = tmp_path / "r.json", tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--image", str(lenet.path), "--vdd", "0.48",
                        "--chip", "3", "-o", str(out), "--trace", str(trace)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "classifier.4" in r.stdout and "J per inference" in r.stdout
    d = json.loads(out.read_text())
    assert len(d["layers"]) == 5 and d["total_cycles"] > 0 and d["energy_pj"] > 0
    assert d["faults"]["model"] == "persistent" and d["faults"]["chip"] == 3
    # the same run through the library gives the same cycles and counts
    lib = simulate(lenet, vdd=0.48, chip=3)
    assert d["total_cycles"] == lib.total_cycles
    assert [x["corrected"] for x in d["layers"]] == [s.corrected for s in lib.layers]
    assert sum(x["corrected"] for x in d["layers"]) > 0
    events = json.loads(trace.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert {e["tid"] for e in spans} == {0, 1, 2, 3, 4}   # DRAM, SRAM, ECC, PE, PE folds tracks
    pe = [e for e in spans if e["tid"] == 3]
    assert [e["name"] for e in pe] == [layer.name for layer in lenet.layers]
    assert pe[-1]["ts"] + pe[-1]["dur"] == d["total_cycles"]   # one trace microsecond per cycle
    bad = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--image", str(lenet.path), "--vdd", "0.1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "outside the BER curve's domain" in bad.stderr and "Traceback" not in bad.stderr
