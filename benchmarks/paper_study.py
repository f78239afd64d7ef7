"""A paper-grade full-size study, timed: one JSON line.

3 schemes x 10 voltages x 100 chips x 64 inputs = 3,000 trials of ResNet-18 @224 (seeded
weights, synthetic inputs, top-1 SDC metric, persistent per-chip maps, cycle-level
accelerator), run as `accelsim run` runs a campaign: local workers or a Dask scheduler.
Prints the wall time, trials/s, the chips per point, the headline (safe voltage per
scheme at the yield target), how many trials each exact shortcut served (from the store's
rows: a trial whose residual faulty bits are zero got the fault-free outcome without
inference), the mean CPU seconds per trial against one fault-free inference of the same
64 inputs (the issue's target: <= 1/10), and the machine's load average.

  python benchmarks/paper_study.py                       # the full study, 2 workers
  python benchmarks/paper_study.py --chips 10            # a tenth of it
  python benchmarks/paper_study.py --scheduler tcp://host:8786
  python benchmarks/paper_study.py --local-dask 2 --store d.sqlite --compare s.sqlite   # and every row equal?
  ACCELSIM_SHORTCUTS=0 python benchmarks/paper_study.py --chips 2   # without the shortcuts
  python benchmarks/paper_study.py --chips 2 --peers 3   # and PyTorchFI / MRFI, 3 trials each

Peers (``--peers``, benchmarks/peer_injectors.py): PyTorchFI 0.6.0 and MRFI 2.1.0 from
PyPI in their own venv, weight bit flips at BER 1e-4 per bit of 8-bit weights on the same
seeded ResNet-18 and the same 64 inputs, one inference per trial; neither has ECC, SRAM
words, per-chip nested maps, cycles or energy (the script's docstring says what each can
and cannot do).

The voltages span nominal (0.90 V) to BER 1.3e-4 (~12,000 faulty bits in ResNet-18's
1.5 M words), denser where the ECC schemes stop correcting everything; the cost per trial depends on that grid (a trial with residual faulty bits
pays an inference from its first changed layer).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = ["ecc-8b-72", "inplace-8b-64", "inplace-4b-64"]
# the packaged BER curve mapped onto the resident preset's weight SRAM: BER 2e-9 at 0.56 V,
# 9e-7 at 0.53 V, 1.3e-4 at 0.50 V (the grid measured below ran before that mapping landed,
# on 0.90, 0.70 ... 0.56 V of the unmapped curve: the same BERs)
VOLTAGES = [0.90, 0.56, 0.55, 0.54, 0.53, 0.525, 0.52, 0.515, 0.51, 0.50]


def study_spec(chips: int, schemes: list[str], voltages: list[float], engine: str, accelerator: str | None,
               sequential: bool) -> dict:
    spec = {"name": "paper-study", "models": {"resnet18": {"seed": 0, "project": True}},
            "data": "synthetic:64x3x224x224", "samples": 64, "metric": "sdc", "schemes": schemes,
            "voltages": voltages, "chips": chips, "fault_model": "persistent", "engine": engine, "policy": "pass"}
    if accelerator:
        spec["accelerator"] = accelerator
    if sequential:
        spec["sequential"] = {"target": 0.95, "tolerance": 0.01}
    return spec


def resident_preset() -> str | None:
    """The `resident` accelerator preset when the package has it (None: the default config)."""
    from accelsim.hw.config import is_preset
    return "resident" if is_preset("resident") else None


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (a local pool's workers are
    joined when the campaign ends): the cost of the study whatever else loads the machine."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def fault_free_inference_seconds(image_dir: str) -> float:
    """CPU seconds of one fault-free fast-engine inference of the 64 study inputs on one
    thread, as a worker runs it (best of 2)."""
    from accelsim.image import load_image
    from accelsim.infer import decode_weights
    from accelsim.infer.fast import FastIntegerNetwork
    from accelsim.nn.data import evaluation_set, parse_data

    image = load_image(image_dir)
    x = evaluation_set(parse_data("synthetic:64x3x224x224"), 64).x
    net, weights = FastIntegerNetwork(image), decode_weights(image)[0]
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    best = float("inf")
    try:
        for _ in range(2):
            t = time.process_time()
            net.forward(x, weights)
            best = min(best, time.process_time() - t)
    finally:
        torch.set_num_threads(threads)
    return best


def compare_rows(rows: list[dict], other: list[dict]) -> dict:
    """Row-by-row comparison with another run's store: the same keys, and per column how
    many rows differ (every column but the wall-clock ``seconds`` and ``created``)."""
    skip = {"seconds", "created"}
    mine, theirs = {r["key"]: r for r in rows}, {r["key"]: r for r in other}
    differ: dict[str, int] = {}
    for key in mine.keys() & theirs.keys():
        for col, value in mine[key].items():
            if col not in skip and theirs[key].get(col) != value:
                differ[col] = differ.get(col, 0) + 1
    return {"rows": len(mine), "other_rows": len(theirs), "same_keys": mine.keys() == theirs.keys(),
            "differing_columns": differ}


PEERS = ("pytorchfi==0.6.0", "mrfi==2.1.0")


def peer_venv() -> Path:
    """A venv of its own for the peer injectors (PyPI, --no-deps; this interpreter's torch
    and this checkout importable through a .pth file instead of a second torch download)."""
    import site
    import subprocess

    venv = Path(os.environ.get("ACCELSIM_PEER_VENV", Path.home() / ".cache" / "accelsim" / "peer-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pure = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(pure, "accelsim-torch.pth").write_text("\n".join(site.getsitepackages() + [str(ROOT)]) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *PEERS], check=True)
    return python


def peers(ber: float, trials: int) -> dict:
    """peer_injectors.py's figures, run in the peer venv (an error is reported, not raised)."""
    import subprocess
    try:
        python = peer_venv()
        done = subprocess.run([str(python), str(ROOT / "benchmarks" / "peer_injectors.py"), "--ber", str(ber),
                               "--trials", str(trials)], capture_output=True, text=True, timeout=7200)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else "failed"}
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": f"{exc.__class__.__name__}: {exc}"[:300]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chips", type=int, default=100)
    ap.add_argument("--voltages", type=int, default=len(VOLTAGES), help="the first N of the grid")
    ap.add_argument("--schemes", default=",".join(SCHEMES))
    ap.add_argument("--engine", default="cycle", choices=["cycle", "fast"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://host:port")
    ap.add_argument("--local-dask", type=int, default=0, help="start a local Dask cluster of N workers")
    ap.add_argument("--sequential", action="store_true", help="sequential yield decisions (opt-in)")
    ap.add_argument("--store", default=None, help="campaign store (default: a temporary one)")
    ap.add_argument("--compare", default=None, metavar="STORE",
                    help="compare every row with another run's store (e.g. --workers 2 against --local-dask 2)")
    ap.add_argument("--peers", type=int, default=0, metavar="TRIALS",
                    help="also time PyTorchFI and MRFI (their own venv) for this many trials each")
    args = ap.parse_args(argv)

    from accelsim.campaign import Store, parse_spec, run_campaign
    from accelsim.campaign.analyses import point_statistics, yield_headline
    from accelsim.campaign.runner import image_cache_dir

    accelerator = resident_preset()
    spec = parse_spec(study_spec(args.chips, args.schemes.split(","), VOLTAGES[:args.voltages], args.engine,
                                 accelerator, args.sequential), ROOT)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "study.sqlite"
        # the images are exported (and the kernels compiled) once, outside the timed study
        t0 = time.perf_counter()
        run_campaign(spec, store, workers=1, progress=False, limit=1)
        prepare_s = time.perf_counter() - t0
        cluster = None
        scheduler = args.scheduler
        if args.local_dask:
            from dask.distributed import LocalCluster
            cluster = LocalCluster(n_workers=args.local_dask, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")   # a free port: no clash, no warning
            scheduler = cluster.scheduler_address
        try:
            t0, cpu0 = time.perf_counter(), cpu_seconds()
            info = run_campaign(spec, store, workers=args.workers, scheduler=scheduler, progress=sys.stderr.isatty())
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        finally:
            if cluster is not None:
                cluster.close()
        rows = Store(store).rows()
        compared = compare_rows(rows, Store(args.compare).rows()) if args.compare else None
        stats = point_statistics(rows, tolerance=0.01, metric="sdc")
        head = yield_headline(stats, 0.95)
        image_dir = next(p for p in image_cache_dir(store).iterdir() if p.name.startswith("resnet18-ecc-8b-72"))
        inference_s = fault_free_inference_seconds(str(image_dir))
    local = not scheduler     # a Dask cluster's CPU time is not this process's to measure
    trial_cpu = cpu / info["ran"] if local and info["ran"] else None
    fault_free = sum(1 for r in rows if r["residual_bits"] == 0)

    def mean_s(rs):   # worker wall seconds of a class of trials (load-inflated like everything)
        return round(sum(r["seconds"] for r in rs) / len(rs), 3) if rs else None
    peer = peers(1e-4, args.peers) if args.peers else None
    study_trials_per_min = 60 / trial_cpu if trial_cpu else None
    print(json.dumps({
        "benchmark": "paper_study", "model": "resnet18@224 seeded", "inputs": 64, "metric": "sdc",
        "engine": args.engine, "accelerator": accelerator or "default accelerator.yaml (resident preset not on main)",
        "schemes": spec.schemes, "voltages": spec.voltages, "chips": args.chips, "trials": len(rows),
        "workers": "dask " + (scheduler or "") if scheduler else args.workers,
        "shortcuts": os.environ.get("ACCELSIM_SHORTCUTS", "1") != "0",
        "wall_s": round(wall, 1), "trials_per_s": round(info["ran"] / wall, 3), "prepare_s": round(prepare_s, 1),
        "cpu_s": round(cpu, 1) if local else None,
        "trial_cpu_s": round(trial_cpu, 3) if trial_cpu else None,
        "fault_free_inference_cpu_s": round(inference_s, 2),
        "trial_over_inference": round(trial_cpu / inference_s, 4) if trial_cpu else None,
        "target_trial_over_inference": 0.1,
        # what 3,000 trials cost on 2 idle cores at this CPU time per trial (no contention)
        "full_study_idle_2core_min_estimate": round(trial_cpu * 3000 / 2 / 60, 1) if trial_cpu else None,
        "trials_fault_free_outcome": fault_free, "trials_inferred_or_looked_up": len(rows) - fault_free,
        "trial_wall_s_mean": {"fault_free_outcome": mean_s([r for r in rows if r["residual_bits"] == 0]),
                              "inferred_or_looked_up": mean_s([r for r in rows if r["residual_bits"] > 0])},
        "chips_per_point": {f"{s['scheme']}@{s['vdd']}": s["chips"] for s in stats},
        "headline": [{k: h[k] for k in ("scheme", "vmin_yield", "vmin_yield_lower", "chips")} for h in head],
        # one core each: this study's mean trial beside a peer's (weight bit flips at BER 1e-4)
        "trials_per_min_one_core": {"accelsim_study": round(study_trials_per_min, 2) if study_trials_per_min else None,
                                    **({k: v.get("trials_per_min_one_core") for k, v in peer.items()
                                        if isinstance(v, dict)} if peer else {})},
        "peers": peer,
        "compared_with": compared,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
