"""SCALE-Sim parity of the cycle model: every dataflow's compute cycles on all ResNet-18
@224 layers against SCALE-Sim's per-fold formulas, grouped (depthwise) layers, the
topology CSV / .cfg input and report CSVs, re-streamed weights, the Perfetto trace."""

import csv
import json
import subprocess

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.ecc import get_layout
from accelsim.errors import UserError
from accelsim.hw import parse_config, plan, simulate
from accelsim.hw.pe_array import scalesim_total_cycles
from accelsim.hw.sram import WeightSram
from accelsim.hw.topology import read_topology, topology_image
from accelsim.image.commands import export_checkpoint

# torchvision ResNet-18 at 224 x 224 as a SCALE-Sim topology. SCALE-Sim has no padding
# column and computes the output as ceil((H - fh + s) / s), so each IFMAP is the size that
# gives torchvision's output: conv1 229 (224 + 6 - 1), stride-2 3x3 convs 2H + 1, stride-2
# 1x1 downsamples 2H - 1, stride-1 3x3 convs H + 2.
# name, IFMAP, filter, channels, filters, stride, then GEMM M, K, N, then the expected
# compute cycles on 16 x 16 from SCALE-Sim's per-fold formulas (docs/hardware.md):
#   ws ceil(K/16) ceil(N/16) (2R + C + M - 2), os ceil(M/16) ceil(N/16) (K + R + C - 2),
#   is ceil(K/16) ceil(M/16) (2R + C + N - 2).
RESNET18 = [
    ("conv1", 229, 7, 3, 64, 2, 12544, 147, 64, 503600, 555072, 862400),
    ("layer1.0.conv1", 58, 3, 64, 64, 1, 3136, 576, 64, 458208, 475104, 776160),
    ("layer1.0.conv2", 58, 3, 64, 64, 1, 3136, 576, 64, 458208, 475104, 776160),
    ("layer1.1.conv1", 58, 3, 64, 64, 1, 3136, 576, 64, 458208, 475104, 776160),
    ("layer1.1.conv2", 58, 3, 64, 64, 1, 3136, 576, 64, 458208, 475104, 776160),
    ("layer2.0.conv1", 57, 3, 64, 128, 2, 784, 576, 128, 239040, 237552, 306936),
    ("layer2.0.conv2", 30, 3, 128, 128, 1, 784, 1152, 128, 478080, 463344, 613872),
    ("layer2.0.downsample.0", 55, 1, 64, 128, 2, 784, 64, 128, 26560, 36848, 34104),
    ("layer2.1.conv1", 30, 3, 128, 128, 1, 784, 1152, 128, 478080, 463344, 613872),
    ("layer2.1.conv2", 30, 3, 128, 128, 1, 784, 1152, 128, 478080, 463344, 613872),
    ("layer3.0.conv1", 29, 3, 128, 256, 2, 196, 1152, 256, 278784, 245856, 282672),
    ("layer3.0.conv2", 16, 3, 256, 256, 1, 196, 2304, 256, 557568, 485472, 565344),
    ("layer3.0.downsample.0", 27, 1, 128, 256, 2, 196, 128, 256, 30976, 32864, 31408),
    ("layer3.1.conv1", 16, 3, 256, 256, 1, 196, 2304, 256, 557568, 485472, 565344),
    ("layer3.1.conv2", 16, 3, 256, 256, 1, 196, 2304, 256, 557568, 485472, 565344),
    ("layer4.0.conv1", 15, 3, 256, 512, 2, 49, 2304, 512, 437760, 298752, 321408),
    ("layer4.0.conv2", 9, 3, 512, 512, 1, 49, 4608, 512, 875520, 593664, 642816),
    ("layer4.0.downsample.0", 13, 1, 256, 512, 2, 49, 256, 512, 48640, 36608, 35712),
    ("layer4.1.conv1", 9, 3, 512, 512, 1, 49, 4608, 512, 875520, 593664, 642816),
    ("layer4.1.conv2", 9, 3, 512, 512, 1, 49, 4608, 512, 875520, 593664, 642816),
]
FC = ("fc", 1, 512, 1000, 94752, 34146, 33472)   # GEMM row: M, K, N, then ws, os, is
DATAFLOWS = ("ws", "os", "is")
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def resnet18_csv(path):
    rows = [f"{n}, {h}, {h}, {f}, {f}, {c}, {k}, {s},\n" for n, h, f, c, k, s, *_ in RESNET18]
    rows.append(f"{FC[0]}, {FC[1]}, {FC[3]}, {FC[2]},\n")   # SCALE-Sim's GEMM order: M, N, K
    path.write_text(HEADER + "".join(rows))
    return path


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    path = resnet18_csv(tmp_path_factory.mktemp("topo") / "resnet18.csv")
    return topology_image(read_topology(path), get_layout("ecc-8b-72"), seed=0, path=path)


def expected(dataflow):
    i = DATAFLOWS.index(dataflow)
    return [row[9 + i] for row in RESNET18] + [FC[4 + i]]


def test_resnet18_gemms_and_scalesim_formulas(resnet18):
    assert [layer.gemm for layer in resnet18.layers] == [r[6:9] for r in RESNET18] + [FC[1:4]]
    for dataflow in DATAFLOWS:
        got = [plan(*layer.gemm, 16, 16, dataflow).compute_cycles for layer in resnet18.layers]
        assert got == expected(dataflow)
    # SCALE-Sim 3.0.0 measured on the stem, output stationary 16 x 16 (issue 14): 555,071,
    # the 0-based index of its last cycle
    assert scalesim_total_cycles(plan(12544, 147, 64, 16, 16, "os")) == 555_071
    # the serial drain adds R per fold: 3136 folds x 16
    assert plan(12544, 147, 64, 16, 16, "os", os_drain="serial").compute_cycles == 555_072 + 3136 * 16


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_resnet18_simulated_compute_cycles(resnet18, dataflow):
    r = simulate(resnet18, parse_config({"pe_array": {"dataflow": dataflow}}))
    assert [s.compute_cycles for s in r.layers] == expected(dataflow)
    passes = {"ws": [1] * 21, "os": [-(-m // 16) for _, _, _, _, _, _, m, *_ in RESNET18] + [1],
              "is": [-(-m // 16) for _, _, _, _, _, _, m, *_ in RESNET18] + [1]}[dataflow]
    assert [s.sram_read_words for s in r.layers] == [layer.n_words * p for layer, p in zip(resnet18.layers, passes)]
    assert np.array_equal(r.decoded_words, resnet18.words)


def test_depthwise_layer_hand_derived(tmp_path):
    # SCALE-Sim's depthwise row: 8 channels of a 6x6 IFMAP, 3x3 filter, stride 1 -> 4x4 out:
    # 8 GEMMs of M=16, K_g=9, N_g=1. On 4 x 4:
    #   ws: ceil(9/4)=3 row folds x 1 col fold x 8 groups = 24 folds of 2*4 + 4 + 16 - 2 = 26 -> 624
    #   os: ceil(16/4)=4 x 1 x 8 = 32 folds of 9 + 4 + 4 - 2 = 15 -> 480; weights streamed 4 times
    #   is: 3 x ceil(16/4)=4 x 8 = 96 folds of 2*4 + 4 + 1 - 2 = 11 -> 1056; weights streamed 4 times
    path = tmp_path / "dw.csv"
    path.write_text(HEADER + "DPconv, 6, 6, 3, 3, 8, 1, 1,\n")
    (t,) = read_topology(path)
    assert (t.gemm, t.groups, t.weight_shape) == ((16, 9, 8), 8, (8, 1, 3, 3))
    img = topology_image([t], get_layout("ecc-8b-72"), seed=1)
    assert img.layers[0].n_words == 9 and img.layers[0].macs == 16 * 9 * 8
    for dataflow, cycles, folds, passes in (("ws", 624, 24, 1), ("os", 480, 32, 4), ("is", 1056, 96, 4)):
        r = simulate(img, parse_config({"pe_array": {"rows": 4, "cols": 4, "dataflow": dataflow}}))
        s = r.layers[0]
        assert (s.compute_cycles, s.folds, s.sram_read_words) == (cycles, folds, 9 * passes)
        assert s.utilization == pytest.approx(16 * 9 * 8 / (cycles * 16))
    # the same layer as one dense GEMM (no groups) would need K = 72: a different count
    assert plan(16, 72, 8, 4, 4, "ws").compute_cycles != 624


def test_topology_weights_seeded_in_layout_range(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Layer Name, M, N, K,\nfc1, 4, 16, 32,\n")
    a = topology_image(read_topology(path), get_layout("inplace-8b-64"), seed=3)
    b = topology_image(read_topology(path), get_layout("inplace-8b-64"), seed=3)
    c = topology_image(read_topology(path), get_layout("inplace-8b-64"), seed=4)
    assert np.array_equal(a.words, b.words) and not np.array_equal(a.words, c.words)
    q, status = a.layout.unpack(a.words)
    assert not status.any() and a.layers[0].gemm == (4, 32, 16)
    slots = np.arange(q.size) % 8
    # slots 0-6 are throttled to [-64, 63]; slot 7 spans the symmetric 8-bit range
    assert q[slots < 7].min() >= -64 and q[slots < 7].max() <= 63
    assert q[slots == 7].min() < -64 and q.min() >= -127


@pytest.mark.parametrize("text,match", [
    ("conv, 8, 8, 3, 3, 4, 4, 1,\nbad, 8, x, 3, 3, 4, 4, 1,\n", "line 3: IFMAP width 'x' is not an integer"),
    ("conv, 8, 8, 9, 3, 4, 4, 1,\n", "line 2: filter 9x3 is larger than the IFMAP 8x8"),
    ("conv, 8, 8, 3, 3, 4,\n", "line 2: expected 'name, M, N, K'"),
    ("conv, 8, 8, 3, 3, 4, 0, 1,\n", "line 2: num filter = 0 must be >= 1"),
    ("fc, 1, 2, 3,\nfc, 1, 2, 3,\n", "line 3: layer name 'fc' appears twice"),
    (", 1, 2, 3,\n", "line 2: the layer name is empty"),
    ("conv, 8, 8, 3, 3, 4, 4, 1, 2:4,\n", "line 2: sparsity '2:4' is not supported"),
])
def test_bad_topology_rows(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + text)
    with pytest.raises(UserError, match=match):
        read_topology(path)


# A config in SCALE-Sim 3's own format (the layout of its configs/scale.cfg): the filter
# SRAM's banks, ports and fill bandwidth are in [layout]; MemoryBanks is a key SCALE-Sim 3
# does not read, and Bandwidth feeds only its OFMAP in USER mode.
SCALESIM_CFG = """[general]
run_name = test

[architecture_presets]
ArrayHeight:    4
ArrayWidth:     8
IfmapSramSzkB:   16
FilterSramSzkB:  9
OfmapSramSzkB:   16
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : os
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 4
FilterSRAMBankNum: 4
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""
# A 3-layer topology: a conv, a depthwise row (SCALE-Sim writes one layer per channel) and a
# GEMM row (M, N, K).
TOPOLOGY3 = (HEADER + "conv1, 10, 10, 3, 3, 3, 8, 1,\n"   # 8x8 out: M=64, K=27, N=8
             "DPconv2, 6, 6, 3, 3, 3, 1, 1,\n"             # 3 channels of M=16, K=9, N=1
             "fc, 2, 10, 24,\n")                            # M=2, N=10, K=24
# per SCALE-Sim row: (name, M, K, N); SCALE-Sim's Total Cycles without stalls, written out
# here from its compute model (per fold: ws 2R + C + M - 2, os K + R + C - 2, is 2R + C + N - 2;
# docs/hardware.md), as the 0-based index of the last cycle
SCALESIM_ROWS = [("conv1", 64, 27, 8)] + [(f"DPconv2Channel_{i}", 16, 9, 1) for i in range(3)] + [("fc", 2, 24, 10)]


def scalesim_total(m, k, n, r, c, dataflow):
    up = lambda a, b: -(-a // b)
    folds, per = {"ws": (up(k, r) * up(n, c), 2 * r + c + m - 2), "os": (up(m, r) * up(n, c), k + r + c - 2),
                  "is": (up(k, r) * up(m, c), 2 * r + c + n - 2)}[dataflow]
    return folds * per - 1


def run_cli(capsys, *args):
    """The CLI in this process (the subprocess path of `accelsim simulate` is tested in test_hw)."""
    capsys.readouterr()
    code = main(["simulate", *map(str, args)])
    return subprocess.CompletedProcess(args, code, *capsys.readouterr())


def read_report(path):
    with open(path) as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f)]
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_scalesim_format_config_total_cycles(tmp_path, capsys, dataflow):
    topo = tmp_path / "net.csv"
    topo.write_text(TOPOLOGY3)
    cfg = tmp_path / "arch.cfg"
    cfg.write_text(SCALESIM_CFG.replace("Dataflow : os", f"Dataflow : {dataflow}"))
    reports, out = tmp_path / "reports", tmp_path / "r.json"
    r = run_cli(capsys, "--topology", topo, "--scalesim-config", cfg, "--reports", reports, "-o", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    c = d["config"]
    # [layout]: 4 banks of 2 ports; 9 kB of 72-bit words = 1024 words, 256 per bank; the filter
    # SRAM fills at FilterSRAMBankBandwidth = 4 bytes per cycle (not Bandwidth = 10)
    assert (c["rows"], c["cols"], c["dataflow"], c["banks"], c["ports"], c["words_per_bank"]) == \
        (4, 8, dataflow, 4, 2, 256)
    assert (c["input_kib"], c["output_kib"], c["dram_bytes_per_cycle"], c["interleave"]) == (16, 16, 4, True)
    # the keys accelsim does not use are named once on stderr
    notice = [line for line in r.stderr.splitlines() if "ignored" in line]
    assert len(notice) == 1
    for key in ("[architecture_presets] memorybanks", "[architecture_presets] bandwidth",
                "[layout] ifmapsrambanknum", "[sparsity] sparsitysupport", "[general] run_name"):
        assert key in notice[0].lower()
    assert "filtersrambanknum" not in notice[0].lower()
    compute = read_report(reports / "COMPUTE_REPORT.csv")
    assert [row["Layer Name"] for row in compute] == [name for name, *_ in SCALESIM_ROWS]
    assert [int(row["LayerID"]) for row in compute] == list(range(5))
    for row, (name, m, k, n) in zip(compute, SCALESIM_ROWS):
        total = scalesim_total(m, k, n, 4, 8, dataflow)
        assert int(row["Total Cycles"]) == total, name
        assert int(row["Stall Cycles"]) == 0 and int(row["Compute Cycles"]) == total + 1
        assert float(row["Overall Util %"]) == pytest.approx(100 * m * k * n / (total * 32), abs=1e-4)
    # accelsim's own cycles (DRAM fill at 4 B/cycle, decoder, stalls) in its columns
    layers = d["layers"]
    assert [int(compute[i]["accelsim Cycles"]) for i in (0, 1, 4)] == [s["cycles"] for s in layers]
    assert [int(compute[i]["accelsim Stall Cycles"]) for i in (0, 1, 4)] == [s["stall_cycles"] for s in layers]
    assert layers[0]["stall_cycles"] > 0   # the first layer waits for its weights
    assert compute[2]["accelsim Cycles"] == "" and compute[2]["Total Cycles (incl. prefetch)"] == "n/a"
    detail = read_report(reports / "DETAILED_ACCESS_REPORT.csv")
    # activation DRAM traffic is not modelled: n/a; filter DRAM reads are weights (1-byte words)
    assert {row["DRAM IFMAP Reads"] for row in detail} == {"n/a"} == {row["DRAM OFMAP Writes"] for row in detail}
    assert [int(row["DRAM Filter Reads"]) for row in detail] == [27 * 8, 9, 9, 9, 240]
    assert int(detail[0]["DRAM Filter Bytes"]) == layers[0]["dram_bytes"] == 27 * 9   # 27 words of 9 bytes
    passes = {"ws": [1, 1, 1], "os": [16, 4, 1], "is": [8, 2, 1]}[dataflow]
    assert [int(detail[i]["SRAM Filter Reads"]) for i in (0, 1, 4)] == \
        [216 * passes[0], 9 * passes[1], 240 * passes[2]]
    bw = read_report(reports / "BANDWIDTH_REPORT.csv")
    assert float(bw[4]["Avg FILTER SRAM BW"]) == pytest.approx(240 / scalesim_total(2, 24, 10, 4, 8, dataflow),
                                                                abs=1e-6)
    assert {row["Avg IFMAP DRAM BW"] for row in bw} == {"n/a"}


def test_cli_topology_reports_errors(tmp_path, capsys):
    """One-line errors, exit 2, nothing written."""
    topo = tmp_path / "net.csv"
    topo.write_text("Layer Name, M, N, K,\nfc1, 4, 16, 32,\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("Layer Name, M, N, K,\nfc1, 4, 16, 32,\nfc2, 1, -8, 16,\n")
    r = run_cli(capsys, "--topology", bad, "--reports", tmp_path / "r2")
    assert r.returncode == 2 and "line 3: N = -8 must be >= 1" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r2").exists()
    cfg = tmp_path / "arch.cfg"
    cfg.write_text(SCALESIM_CFG.replace("Dataflow : os", "Dataflow : rs"))
    r = run_cli(capsys, "--topology", topo, "--scalesim-config", cfg, "--reports", tmp_path / "r3")
    assert r.returncode == 2 and "Dataflow 'rs' is not one of ws, os, is" in r.stderr
    assert not (tmp_path / "r3").exists()


def test_scalesim2_config_keeps_banks(tmp_path, capsys):
    """A cfg without [layout] is SCALE-Sim 2's: one SRAM without banks and Bandwidth for every
    SRAM in USER mode; the accelerator config's 8 banks and 1 port are kept, and said."""
    v2 = SCALESIM_CFG[:SCALESIM_CFG.index("[layout]")] + "[run_presets]\nInterfaceBandwidth: USER\n"
    cfg = tmp_path / "v2.cfg"
    cfg.write_text(v2)
    topo = tmp_path / "net.csv"
    topo.write_text("Layer Name, M, N, K,\nfc1, 4, 16, 32,\n")
    r = run_cli(capsys, "--topology", topo, "--scalesim-config", cfg, "-o", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "r.json").read_text())["config"]
    assert (c["banks"], c["ports"], c["words_per_bank"], c["dram_bytes_per_cycle"]) == (8, 1, 128, 10)
    assert "SCALE-Sim 2" in r.stderr and "memorybanks" in r.stderr.lower()


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("hw") / "lenet")


@pytest.mark.parametrize("dataflow", ["os", "is"])
def test_reused_bursts_equal_full_rereads(lenet, dataflow, monkeypatch):
    """Later weight passes of persistent faults reuse the first pass's decode: the counts,
    cycles and words equal those of reading and decoding every pass again."""
    cfg = parse_config({"pe_array": {"rows": 4, "cols": 4, "dataflow": dataflow}, "weight_sram": {"burst_words": 16}})
    fast = simulate(lenet, cfg, vdd=0.5, chip=1, fault_model="persistent")
    assert sum(s.corrected for s in fast.layers) > 0 and max(s.weight_passes for s in fast.layers) > 1
    monkeypatch.setattr(WeightSram, "deterministic", property(lambda self: False))
    full = simulate(lenet, cfg, vdd=0.5, chip=1, fault_model="persistent")
    assert fast.to_dict()["layers"] == full.to_dict()["layers"]
    assert fast.total_cycles == full.total_cycles and fast.faults == full.faults
    assert np.array_equal(fast.decoded_words, full.decoded_words)
    assert fast.faults["faulty_bits_read"] > sum(s.corrected for s in fast.layers)   # counted on every pass


TRACE_PHASES = {"X", "B", "E", "i", "I", "C", "M", "b", "e", "n", "s", "t", "f", "P", "O", "N", "D"}
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index", "process_labels"}


def check_trace_event_format(doc):
    """The JSON object format of the Chrome trace-event spec (the format Perfetto's JSON
    importer reads): traceEvents, each with a name, a phase, integer pid/tid and a numeric
    timestamp; complete events a non-negative duration; counters numeric args; metadata
    events one of the spec's names with args.name / args.sort_index."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    for e in doc["traceEvents"]:
        assert isinstance(e["name"], str) and e["ph"] in TRACE_PHASES
        assert isinstance(e["pid"], int)
        if e["ph"] == "M":
            assert e["name"] in METADATA and isinstance(e["tid"], int)
            assert ("name" in e["args"]) if e["name"].endswith("_name") else ("sort_index" in e["args"])
            continue
        assert isinstance(e["ts"], int) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["tid"], int) and isinstance(e["dur"], int) and e["dur"] >= 0
        if e["ph"] == "C":
            assert e["args"] and all(isinstance(v, (int, float)) for v in e["args"].values())
    json.dumps(doc, allow_nan=False)   # strict JSON: no NaN / Infinity


def test_trace_event_format_and_counters(lenet, tmp_path):
    path = tmp_path / "t.json"
    cfg = parse_config({"pe_array": {"rows": 8, "cols": 8}})
    r = simulate(lenet, cfg, vdd=0.5, chip=1, trace=path, trace_folds=True)
    doc = json.loads(path.read_text())
    check_trace_event_format(doc)
    ev = doc["traceEvents"]
    names = {e["args"]["name"] for e in ev if e["name"] == "thread_name"}
    assert names == {"DRAM", "SRAM", "ECC", "PE", "PE folds"}
    assert any(e["name"] == "process_name" for e in ev)
    ecc = [e for e in ev if e["name"] == "ECC words per burst"]
    # the decoder's view: every word it corrected (miscorrections included), first pass only in ws
    assert sum(e["args"]["corrected"] for e in ecc) == int(np.count_nonzero(r.status == 1)) > 0
    assert sum(e["args"]["detected"] for e in ecc) == int(np.count_nonzero(r.status == 2))
    folds = [e for e in ev if e["ph"] == "X" and e["tid"] == 4]
    assert len(folds) == sum(s.folds for s in r.layers)   # one event per fold
    util = [e["args"]["utilization"] for e in ev if e["name"] == "PE utilization" and e["args"]["utilization"] > 0]
    assert util and max(util) <= 1.0
    bw = [e["args"]["bits_per_cycle"] for e in ev if e["name"].startswith("SRAM read bandwidth")]
    assert max(bw) == 8 * 64   # 8 banks, one 64-bit word each per cycle


def test_exported_mobilenet_depthwise_layer_cycles(tmp_path):
    """A depthwise layer of an exported MobileNetV2 (manifest groups) takes SCALE-Sim's one
    GEMM per channel: 16 channels, 3x3 over 8x8 (pad 1) -> 16 GEMMs of M=64, K_g=9, N_g=1.
    On 16 x 16: ws 16 x 1 fold of 2*16 + 16 + 64 - 2 = 110 -> 1,760; os 16 x 4 folds of
    9 + 16 + 16 - 2 = 39 -> 2,496; is 16 x 4 folds of 2*16 + 16 + 1 - 2 = 47 -> 3,008."""
    import torch

    from accelsim.image import export_image
    from accelsim.nn import build_model, load_digits_split
    img = export_image(build_model("mobilenet-v2-small", seed=3), tmp_path / "m", layout="inplace-8b-64",
                       project=True, input_shape=(1, 8, 8),
                       calibration=torch.as_tensor(load_digits_split().x_train[:16]))
    i = [layer.name for layer in img.layers].index("features.1.conv.0.0")
    layer = img.layers[i]
    assert (layer.groups, layer.gemm, layer.weight_shape) == (16, (64, 9, 16), (16, 1, 3, 3))
    for dataflow, cycles in (("ws", 1760), ("os", 2496), ("is", 3008)):
        r = simulate(img, parse_config({"pe_array": {"dataflow": dataflow}}))
        assert r.layers[i].compute_cycles == cycles
        assert [s.compute_cycles for s in r.layers] == [s.analytical_cycles for s in r.layers]
