"""ResNet-18 int8 (seeded weights, fitted into the in-place slots, as
accelsim/configs/run-resnet18-sdc.yaml): the lowest safe voltage of each scheme and the
voltage SEC-DED gains over no protection, under three bit-error models side by side —
the synthetic log-linear curve, the measured 28 nm curve (Salami et al. VC707, probit) with
i.i.d. chips, and the same curve with clustered chips (Vmin shift, per-array clustering,
1->0 only; docs/faults.md). One JSON line.

Safe: every chip's top-1 SDC rate within ``--tolerance`` (default 1 %) at that voltage and
at every higher one of the grid (the headline's yield rule with all chips passing). Grid:
``--step`` volts over each (model, scheme) window, placed where BER x stored bits crosses
~1 (the tail that decides); engine fast (its decoded weights are the cycle engine's, bit
for bit). Reduced from the packaged run for time: ``--chips`` (4) chips, ``--inputs`` (16).

Run: ``.venv/bin/python benchmarks/ber_models_resnet18.py [--out DIR] [--write]``; ``--write``
stores the figures (all three models and schemes only) in benchmarks/ber_models_resnet18.json,
the numbers docs/faults.md quotes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.faults.ber_curve import SYNTHETIC_CURVE_FILE

COMMITTED = Path(__file__).with_suffix(".json")
SCHEMES = ("none-8b", "ecc-8b-72", "inplace-8b-64")
# (label, curve file or None for the default, chip model)
MODELS = (("synthetic", str(SYNTHETIC_CURVE_FILE), "iid"), ("measured-iid", None, "iid"),
          ("measured-clustered", None, "clustered"))
# BER windows per scheme where the safe voltage lies for a 93 Mbit image: without ECC where
# about 0.01-3 bits flip (1e-10..3e-8); with SEC-DED where 1.46 M words x C(72, 2) p^2 words
# hold two errors, about 0.1-100 (3e-7..3e-5); each model's grid spans their voltages
WINDOW = {"none-8b": (1e-10, 3e-8), "ecc-8b-72": (3e-7, 3e-5), "inplace-8b-64": (3e-7, 3e-5)}


def grid(curve, scheme: str, step: float, widen: float) -> list[float]:
    lo_ber, hi_ber = WINDOW[scheme]
    v_hi = float(curve.vdd_for_ber(lo_ber)) + widen
    v_lo = float(curve.vdd_for_ber(hi_ber)) - widen
    v = np.round(np.arange(np.floor(v_lo / step) * step, v_hi + step / 2, step), 4)
    return sorted({0.90, *[float(x) for x in v if curve.v_min <= x <= curve.v_max]}, reverse=True)


def safe_voltage(rows, tolerance: float) -> float | None:
    """Lowest grid voltage where every chip (and every chip at every higher voltage) is within."""
    by_v = defaultdict(list)
    for r in rows:
        by_v[r["vdd"]].append(r["sdc_top1"])
    safe = None
    for v in sorted(by_v, reverse=True):
        if max(by_v[v]) > tolerance + 1e-12:
            break
        safe = v
    return safe


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="folder for the stores (default: a temporary one)")
    ap.add_argument("--chips", type=int, default=4)
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--step", type=float, default=0.005)
    ap.add_argument("--widen", type=float, default=0.005)
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(m[0] for m in MODELS), help="comma-separated labels to run")
    ap.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated schemes (none-8b first)")
    ap.add_argument("--write", action="store_true", help="store the figures in " + COMMITTED.name)
    args = ap.parse_args()
    if args.write and (args.models.split(",") != [m[0] for m in MODELS] or args.schemes.split(",") != list(SCHEMES)):
        ap.error("--write needs every model and scheme (the committed table is the whole comparison)")
    out = Path(args.out or tempfile.mkdtemp(prefix="ber-models-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = {"chips": args.chips, "inputs": args.inputs, "step_v": args.step, "tolerance": args.tolerance,
              "seed": args.seed, "models": {}}
    for label, curve_file, chip_model in (m for m in MODELS if m[0] in args.models.split(",")):
        entry = {"chip_model": chip_model, "safe_v": {}, "grid": {}, "trials": 0}
        for scheme in args.schemes.split(","):
            base = {"name": f"{label}-{scheme}", "seed": args.seed,
                    "models": {"resnet18": {"seed": 0, "project": True}}, "data": f"synthetic:{args.inputs}x3x224x224",
                    "metric": "sdc", "schemes": [scheme], "chips": args.chips, "engine": "fast",
                    "chip_model": chip_model, "voltages": [0.90]}
            if curve_file:
                base["ber_curve"] = curve_file
            curve = parse_spec(base).curve
            volts = grid(curve, scheme, args.step, args.widen)
            spec = parse_spec({**base, "voltages": volts, "v_low": min(volts)})
            store = out / f"{label}-{scheme}.sqlite"
            run_campaign(spec, store, workers=args.workers, progress=False)
            rows = [r for r in Store(store).rows() if r["scheme"] == scheme and r["vdd"] in set(volts)]
            entry["safe_v"][scheme] = safe_voltage(rows, args.tolerance)
            entry["grid"][scheme] = [min(volts), max(v for v in volts if v < 0.9)]
            entry["trials"] += len(rows)
            entry["curve"] = curve.describe()
        s = entry["safe_v"]
        for scheme in ("ecc-8b-72", "inplace-8b-64"):
            if s.get("none-8b") is not None and s.get(scheme) is not None:
                entry[f"gain_mv_{scheme}"] = round((s["none-8b"] - s[scheme]) * 1000, 1)
        result["models"][label] = entry
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["stores"] = str(out)
    print(json.dumps(result))
    if args.write:
        figures = {k: v for k, v in result.items() if k not in ("seconds", "stores")}
        COMMITTED.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
