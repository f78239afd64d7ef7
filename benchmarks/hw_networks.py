"""Cycle-level simulation speed on full-size networks (224x224, seeded weights, 8-bit,
ecc-8b-72 so every word passes the ECC stage): 16x16 in every dataflow (ws, os, is) with
a persistent chip's faults at 0.55 V (so later weight passes reuse their decoded bursts),
32x32 ws fault-free; each layer's compute cycles against SCALE-Sim's per-fold formulas
(written out independently here); plus the slowdown of the cycle-level path against the
fast path for one digits trial. One JSON line.

    python benchmarks/hw_networks.py [resnet18 vgg16-bn squeezenet1_0] [--scalesim]

--scalesim also runs SCALE-Sim 3 (in the venv benchmarks/scalesim_ratio.py keeps under
benchmarks/.cache/, made from PyPI on first use: SCALE-Sim 3.0.0 needs numpy < 2; or the
Python named by $SCALESIM_PYTHON) on a few ResNet-18 layers in every dataflow, side
by side with our cycles."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim.campaign.params import TrialParams
from accelsim.campaign.trial import run_trial
from accelsim.hw import parse_config, plan, simulate
from accelsim.image import export_image
from accelsim.image.from_checkpoint import export_checkpoint
from accelsim.nn import build_model

NETWORKS = ("resnet18", "vgg16-bn", "squeezenet1_0")
DATAFLOWS = ("ws", "os", "is")


def scalesim_formula(m: int, k: int, n: int, rows: int, cols: int, dataflow: str, groups: int = 1) -> int:
    """SCALE-Sim's compute cycles, restated from its compute model (systolic_compute_*.py:
    per fold, the demand matrix's rows after the skew), independent of accelsim.hw.pe_array."""
    ng = n // groups
    c = lambda a, b: -(-a // b)   # noqa: E731
    per_group = {"ws": c(k, rows) * c(ng, cols) * (rows + m + cols - 1 + rows - 1),
                 "os": c(m, rows) * c(ng, cols) * (k + cols - 1 + rows - 1),
                 "is": c(k, rows) * c(m, cols) * (rows + ng + cols - 1 + rows - 1)}[dataflow]
    return groups * per_group


_SCALESIM_RUN = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2], layout=sys.argv[2],
             input_type_gemm=True)
s.run_scale(top_path=sys.argv[3])
"""


def scalesim_side_by_side(img, layers=("conv1", "layer2.0.downsample.0", "fc"), dataflow="os") -> dict | None:
    """SCALE-Sim 3 on a few layers (16x16, large SRAMs so memory never stalls), side by side
    with our cycles. It runs in $SCALESIM_PYTHON, else in scalesim_ratio.py's venv (made on
    first use). None if scalesim cannot be imported there."""
    import configparser
    import os
    import subprocess
    from scalesim_ratio import scalesim_python   # this folder: the one venv recipe
    python = os.environ.get("SCALESIM_PYTHON") or scalesim_python()
    if python is None or subprocess.run([python, "-c", "import scalesim.scale_sim"], capture_output=True).returncode:
        return None
    by_name = {layer.name: layer for layer in img.layers}
    names = [n for n in layers if n in by_name]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = configparser.ConfigParser()
        cfg.optionxform = str
        cfg.read_dict({"general": {"run_name": "b"}, "architecture_presets": {
            "ArrayHeight": 16, "ArrayWidth": 16, "IfmapSramSzkB": 8192, "FilterSramSzkB": 8192,
            "OfmapSramSzkB": 8192, "IfmapOffset": 0, "FilterOffset": 10000000, "OfmapOffset": 20000000,
            "Bandwidth": 10, "Dataflow": dataflow, "MemoryBanks": 1, "ReadRequestBuffer": 32,
            "WriteRequestBuffer": 32},
            "layout": {"IfmapCustomLayout": False, "IfmapSRAMBankBandwidth": 10, "IfmapSRAMBankNum": 10,
                       "IfmapSRAMBankPort": 2, "FilterCustomLayout": False, "FilterSRAMBankBandwidth": 10,
                       "FilterSRAMBankNum": 10, "FilterSRAMBankPort": 2},
            "run_presets": {"InterfaceBandwidth": "CALC", "UseRamulatorTrace": False},
            "sparsity": {"SparsitySupport": False, "SparseRep": "ellpack_block", "OptimizedMapping": False,
                         "BlockSize": 8, "RandomNumberGeneratorSeed": 40}})
        with open(tmp / "c.cfg", "w") as f:
            cfg.write(f)
        rows = ["Layer, M, N, K,\n"] + [f"{n}, {by_name[n].gemm[0]}, {by_name[n].gemm[2]}, {by_name[n].gemm[1]},\n"
                                        for n in names]
        (tmp / "t.csv").write_text("".join(rows))
        t0 = time.perf_counter()
        r = subprocess.run([python, "-c", _SCALESIM_RUN, str(tmp / "c.cfg"), str(tmp / "t.csv"), str(tmp / "out")],
                           capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t0
        if r.returncode:
            return {"error": r.stderr.strip().splitlines()[-1]}
        report = next(tmp.rglob("COMPUTE_REPORT.csv")).read_text().splitlines()[1:]
        out = {"dataflow": dataflow, "wall_s": round(wall, 1), "layers": {}}
        for name, line in zip(names, report):
            total = int(line.split(",")[2])   # "Total Cycles"
            ours = plan(*by_name[name].gemm, 16, 16, dataflow).compute_cycles
            out["layers"][name] = {"scalesim_total_cycles": total, "ours_compute_cycles": ours,
                                   "ours_minus_scalesim": ours - total}
    return out


def digits_slowdown(tmp: Path) -> dict:
    img = export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64", tmp / "lenet")
    params = TrialParams(**{"campaign": "b", "model": "lenet5", "scheme": "inplace-4b-64", "checkpoint": "", "fault_model": "persistent",
              "point": "vdd", "vdd": 0.53, "ber": 1e-3, "chip": 0, "repeat": 0, "layers": "all", "samples": 450,
              "policy": "pass", "seed": 0, "v_low": 0.45, "p_stuck1": 0.5, "accelerator": None,
              "curve": {"v_ref": 0.5, "ber_ref": 0.01, "mv_per_decade": 30.0, "v_min": 0.45, "v_max": 0.9}, "engine": "fast"})
    times = {}
    for engine in ("fast", "cycle"):
        p = params.replace(engine=engine)
        run_trial(p, str(img.path))
        t0 = time.perf_counter()
        for _ in range(10):
            run_trial(p, str(img.path))
        times[engine] = (time.perf_counter() - t0) / 10
    return {"fast_ms": round(times["fast"] * 1e3, 1), "cycle_ms": round(times["cycle"] * 1e3, 1),
            "slowdown": round(times["cycle"] / times["fast"], 2)}


def main(networks=NETWORKS, flags=()):
    out = {"benchmark": "hw_networks", "networks": {}}
    calib = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in networks:
            t0 = time.perf_counter()
            img = export_image(build_model(name, seed=0), tmp / name, layout="ecc-8b-72", input_shape=(3, 224, 224),
                               calibration=calib)
            export_s = time.perf_counter() - t0
            res = {"words": int(img.words.shape[0]), "macs": int(sum(l.macs for l in img.layers)),
                   "export_s": round(export_s, 1)}
            runs = [(16, df, 0.55) for df in DATAFLOWS] + [(32, "ws", None)]
            for size, dataflow, vdd in runs:
                cfg = parse_config({"pe_array": {"rows": size, "cols": size, "dataflow": dataflow}})
                faults = dict(vdd=vdd, chip=0, fault_model="persistent") if vdd else {}
                t0, c0 = time.perf_counter(), time.process_time()
                r = simulate(img, cfg, **faults)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                if not vdd:
                    assert np.array_equal(r.decoded_words, img.words)
                formula = [scalesim_formula(*layer.gemm, size, size, dataflow, getattr(layer, "groups", 1))
                           for layer in img.layers]
                res[f"{size}x{size} {dataflow}"] = {
                    "vdd": vdd, "corrected": int(sum(s.corrected for s in r.layers)),
                    "scalesim_formula_match": f"{sum(s.compute_cycles == f for s, f in zip(r.layers, formula))}"
                                              f"/{len(formula)}",
                    "cycles": int(r.total_cycles), "compute_cycles": int(sum(s.compute_cycles for s in r.layers)),
                    "analytical_match": all(s.compute_cycles == s.analytical_cycles for s in r.layers),
                    "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "words_per_s": round(r.actions()["sram_read_words"] / wall),
                    "utilization": round(float(np.sum([s.macs for s in r.layers]) /
                                               (sum(s.compute_cycles for s in r.layers) * size * size)), 3)}
            out["networks"][name] = res
            if "--scalesim" in flags and name == "resnet18":
                side = {df: scalesim_side_by_side(img, dataflow=df) for df in DATAFLOWS}
                out["scalesim_side_by_side"] = side if side["ws"] is not None else "scalesim not installed"
            del img
        if "--no-digits" not in flags:
            out["digits_trial"] = digits_slowdown(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(tuple(args) or NETWORKS, tuple(a for a in sys.argv[1:] if a.startswith("--")))
