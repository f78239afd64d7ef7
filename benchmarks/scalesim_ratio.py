"""Total Cycles of accelsim's SCALE-Sim reports against SCALE-Sim 3 itself, on ResNet-18
@224 layers, 16x16 and 32x32, ws / os / is. One JSON line.

    python benchmarks/scalesim_ratio.py [--full | --layers=layer3,layer4,fc] [--sizes=16,32] [--dataflows=ws,os,is]

Both tools get the same files: a topology of GEMM rows (M, N, K of torchvision's ResNet-18
layers) and a config in SCALE-Sim 3's own format (its configs/scale.cfg layout, CALC
bandwidth mode). accelsim runs ``accelsim simulate --topology --scalesim-config --reports``;
SCALE-Sim 3 runs in its own venv under benchmarks/.cache/ (``pip install scalesim
"numpy<2"`` there on first use; SCALE-Sim 3.0.0 needs numpy < 2; never a project
dependency). The ratio is the sum of accelsim's COMPUTE_REPORT "Total Cycles" over the
sum of SCALE-Sim's, per configuration, and per layer.

SCALE-Sim builds per-cycle traces of every operand, so it is slow (minutes per large
layer): by default the four smallest-trace layers run (the three 1x1 downsamples and fc);
``--full`` runs all 21 layers (conv1 and layer1 take SCALE-Sim over 45 minutes per
configuration on a shared 2-core machine), ``--layers`` the ones named (a prefix names a
stage's layers).
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
VENV = CACHE / "scalesim-venv"

# torchvision ResNet-18 @224 as GEMMs (M output pixels, K reduction, N filters)
RESNET18 = [("conv1", 12544, 147, 64)] + [(f"layer1.{b}.conv{c}", 3136, 576, 64) for b in (0, 1) for c in (1, 2)] + [
    ("layer2.0.conv1", 784, 576, 128), ("layer2.0.conv2", 784, 1152, 128), ("layer2.0.downsample.0", 784, 64, 128),
    ("layer2.1.conv1", 784, 1152, 128), ("layer2.1.conv2", 784, 1152, 128),
    ("layer3.0.conv1", 196, 1152, 256), ("layer3.0.conv2", 196, 2304, 256), ("layer3.0.downsample.0", 196, 128, 256),
    ("layer3.1.conv1", 196, 2304, 256), ("layer3.1.conv2", 196, 2304, 256),
    ("layer4.0.conv1", 49, 2304, 512), ("layer4.0.conv2", 49, 4608, 512), ("layer4.0.downsample.0", 49, 256, 512),
    ("layer4.1.conv1", 49, 4608, 512), ("layer4.1.conv2", 49, 4608, 512), ("fc", 1, 512, 1000)]
QUICK = ("layer2.0.downsample.0", "layer3.0.downsample.0", "layer4.0.downsample.0", "fc")

_RUN = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2], layout=sys.argv[2],
             input_type_gemm=True)
s.run_scale(top_path=sys.argv[3])
"""


def scalesim_python() -> str | None:
    """The venv's Python with scalesim, installed from PyPI on first use; None if PyPI is
    not reachable (or the install fails)."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import scalesim.scale_sim"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    CACHE.mkdir(exist_ok=True)
    r = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True)
    if r.returncode == 0:
        r = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "scalesim", "numpy<2"], capture_output=True)
    if r.returncode or subprocess.run(check, capture_output=True).returncode:
        return None
    return str(python)


def write_config(path: Path, size: int, dataflow: str) -> None:
    cfg = configparser.ConfigParser()
    cfg.optionxform = str
    cfg.read_dict({
        "general": {"run_name": f"resnet18_{size}_{dataflow}"},
        "architecture_presets": {"ArrayHeight": size, "ArrayWidth": size, "IfmapSramSzkB": 64,
                                 "FilterSramSzkB": 64, "OfmapSramSzkB": 64, "IfmapOffset": 0,
                                 "FilterOffset": 10000000, "OfmapOffset": 20000000, "Bandwidth": 10,
                                 "Dataflow": dataflow, "MemoryBanks": 1, "ReadRequestBuffer": 32,
                                 "WriteRequestBuffer": 32},
        "layout": {"IfmapCustomLayout": False, "IfmapSRAMBankBandwidth": 10, "IfmapSRAMBankNum": 10,
                   "IfmapSRAMBankPort": 2, "FilterCustomLayout": False, "FilterSRAMBankBandwidth": 10,
                   "FilterSRAMBankNum": 10, "FilterSRAMBankPort": 2},
        "sparsity": {"SparsitySupport": False, "SparseRep": "ellpack_block", "OptimizedMapping": False,
                     "BlockSize": 8, "RandomNumberGeneratorSeed": 40},
        "run_presets": {"InterfaceBandwidth": "CALC", "UseRamulatorTrace": False}})
    with open(path, "w") as f:
        cfg.write(f)


def total_cycles(report: Path, column: str = "Total Cycles") -> list[int]:
    rows = report.read_text().splitlines()
    col = [c.strip() for c in rows[0].split(",")].index(column)
    return [int(float(r.split(",")[col])) for r in rows[1:]]


def main(argv: list[str]) -> None:
    opt = lambda name, default: next((a.split("=", 1)[1] for a in argv if a.startswith(name + "=")), default)
    if opt("--layers", None):   # names, or a prefix such as layer3 for all its convs
        picked = opt("--layers", "").split(",")
        layers = [r for r in RESNET18 if any(r[0] == p or r[0].startswith(p + ".") for p in picked)]
    else:
        layers = RESNET18 if "--full" in argv else [r for r in RESNET18 if r[0] in QUICK]
    sizes = [int(s) for s in opt("--sizes", "16,32").split(",")]
    dataflows = opt("--dataflows", "ws,os,is").split(",")
    out = {"benchmark": "scalesim_ratio", "network": "resnet18", "layers": [r[0] for r in layers], "runs": {}}
    python = scalesim_python()
    if python is None:
        out["scalesim"] = "not installed and PyPI not reachable"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        topo = tmp / "resnet18.csv"
        topo.write_text("Layer, M, N, K,\n" + "".join(f"{n}, {m}, {nn}, {k},\n" for n, m, k, nn in layers))
        for size in sizes:
            for df in dataflows:
                cfg = tmp / f"c{size}{df}.cfg"
                write_config(cfg, size, df)
                t0 = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--topology", str(topo),
                                    "--scalesim-config", str(cfg), "--reports", str(tmp / f"a{size}{df}")],
                                   capture_output=True, text=True, env=env)
                if r.returncode:
                    raise SystemExit(r.stderr)
                ours = total_cycles(tmp / f"a{size}{df}" / "COMPUTE_REPORT.csv")
                # accelsim's own cycles (its DRAM, SRAM and decoder stalls; default accelerator
                # config under the cfg's array, SRAM sizes, banks and ports), for comparison
                with_stalls = total_cycles(tmp / f"a{size}{df}" / "COMPUTE_REPORT.csv", "accelsim Cycles")
                run = {"accelsim_total_cycles": sum(ours), "accelsim_cycles_with_stalls": sum(with_stalls),
                       "accelsim_s": round(time.perf_counter() - t0, 1)}
                if python is not None:
                    t0 = time.perf_counter()
                    s = subprocess.run([python, "-c", _RUN, str(cfg), str(topo), str(tmp / f"s{size}{df}")],
                                       capture_output=True, text=True, cwd=tmp)
                    if s.returncode:
                        run["scalesim_error"] = (s.stderr.strip().splitlines() or ["?"])[-1]
                    else:
                        theirs = total_cycles(next((tmp / f"s{size}{df}").rglob("COMPUTE_REPORT.csv")))
                        run.update(scalesim_total_cycles=sum(theirs), scalesim_s=round(time.perf_counter() - t0, 1),
                                   ratio=round(sum(ours) / sum(theirs), 6),
                                   with_stalls_ratio=round(sum(with_stalls) / sum(theirs), 4),
                                   per_layer_ratio={n: round(a / b, 6) for (n, *_), a, b in zip(layers, ours, theirs)})
                out["runs"][f"{size}x{size} {df}"] = run
                print(json.dumps(run), file=sys.stderr, flush=True)   # progress: SCALE-Sim is slow
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
