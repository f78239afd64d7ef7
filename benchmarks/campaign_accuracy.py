"""Accuracy and residual faulty bits versus BER, with and without ECC: one JSON line.

1. accuracy drop (points of test accuracy, mean over repeats) versus transient BER
   1e-6 .. 1e-2 for every digits model and scheme: no ECC (none-8b, none-4b), a (72,64)
   SEC-DED code with 12.5 % extra storage (ecc-8b-72), and zero-space in-place ECC
   (inplace-8b-64, inplace-4b-64, inplace-4b-32);
2. the share of weight data bits still wrong after decoding, per code and BER, measured
   over every trial of (1) next to its closed form (analyses.expected_residual_fraction),
   with the Monte Carlo standard error and the deviation in standard errors.

Usage: python benchmarks/campaign_accuracy.py [--quick] [--models a,b]
(quick: LeNet-5 only, 3 repeats; --models: a subset of the digits models, default all four).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.analyses import accuracy_drop, residual_fraction

ROOT = Path(__file__).resolve().parents[1]
BERS = [1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
SCHEMES = ["none-8b", "ecc-8b-72", "inplace-8b-64", "none-4b", "inplace-4b-64", "inplace-4b-32"]


MODELS = ["lenet5", "vgg-small", "resnet-small", "squeezenet-small"]


def main(quick: bool = False, models: list[str] | None = None):
    models = models or (["lenet5"] if quick else MODELS)
    repeats = 3 if quick else 10
    spec = parse_spec({"name": "accuracy-vs-ber", "models": models, "schemes": SCHEMES, "bers": BERS,
                       "fault_model": "transient", "repeats": repeats, "samples": 450,
                       "models_dir": str(ROOT / "models")})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "acc.sqlite"
        run_campaign(spec, store, workers=2, progress=False)
        rows = Store(store).rows()
    drop = defaultdict(dict)
    for d in accuracy_drop(rows):
        drop[f"{d['model']} {d['scheme']}"][f"{d['ber']:g}"] = round(100 * d["drop"], 2) + 0.0
    baseline = {f"{r['model']} {r['scheme']}": round(100 * r["baseline_accuracy"], 2) for r in rows}
    resid = [{k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in t.items()}
             for t in residual_fraction(rows)]
    print(json.dumps({"benchmark": "campaign_accuracy", "fault_model": "transient", "repeats": repeats,
                      "trials": len(rows), "seconds": round(time.perf_counter() - t0, 1),
                      "baseline_accuracy_percent": baseline, "accuracy_drop_points": drop,
                      "residual_share": resid}))


if __name__ == "__main__":
    pick = next((a.split("=", 1)[1] if "=" in a else sys.argv[sys.argv.index(a) + 1]
                 for a in sys.argv[1:] if a.startswith("--models")), None)
    main(quick="--quick" in sys.argv, models=pick.split(",") if pick else None)
