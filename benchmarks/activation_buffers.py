"""Weights-only vs weights + activation buffers in the scaled voltage domain: accuracy,
SDC rate (top-1 differs from the fault-free network) and energy per inference, LeNet-5
int8 in-place ECC (inplace-8b-64) on the digits test set, persistent weight faults of 5
chips per voltage through the cycle-level model, transient activation errors at the same
BER(V) (the synthetic curve it was recorded with). One JSON line.

    python benchmarks/activation_buffers.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from accelsim.energy import energy_of, load_table
from accelsim.faults import load_curve
from accelsim.faults.ber_curve import SYNTHETIC_CURVE_FILE
from accelsim.hw import parse_config, simulate
from accelsim.hw.activations import ActivationFaults
from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork
from accelsim.nn import load_digits_split

VOLTAGES = (0.62, 0.58, 0.56, 0.54, 0.52)
CHIPS = 5


def main():
    t0 = time.perf_counter()
    # recorded with the synthetic curve (docs/hardware.md); its voltages are that curve's
    curve, table = load_curve(SYNTHETIC_CURVE_FILE), load_table()
    with tempfile.TemporaryDirectory() as tmp:
        img = export_checkpoint("models/lenet5-int8-wot-inplace-8b-64", "inplace-8b-64", Path(tmp) / "lenet")
        data = load_digits_split()
        x, y = data.x_test.numpy(), data.y_test.numpy()
        net = IntegerNetwork(img)
        scale = net.output_scale()
        top1 = lambda out: (out.astype(np.float64) * scale).reshape(len(out), -1).argmax(axis=1)   # noqa: E731
        clean = top1(net.forward(x))
        rows = []
        for vdd in VOLTAGES:
            ber = float(curve.ber(vdd))
            acc = {"weights": [], "weights+activations": []}
            sdc = {"weights": [], "weights+activations": []}
            energy = {}
            for chip in range(CHIPS):
                for scaled in (False, True):
                    cfg = parse_config({"activation_buffers": {"scaled": scaled}})
                    r = simulate(img, cfg, vdd=vdd, chip=chip, fault_model="persistent", curve=curve)
                    key = "weights+activations" if scaled else "weights"
                    net.input_faults = ActivationFaults(ber, seed=chip) if scaled else None
                    pred = top1(net.forward(x, r.weights))
                    net.input_faults = None
                    acc[key].append(float(np.mean(pred == y)))
                    sdc[key].append(float(np.mean(pred != clean)))
                    energy[key] = energy_of(r, img.layout, vdd=vdd, table=table).total_pj
            rows.append({"vdd": vdd, "ber": ber,
                         **{f"accuracy {k}": round(float(np.mean(v)), 4) for k, v in acc.items()},
                         **{f"sdc {k}": round(float(np.mean(v)), 4) for k, v in sdc.items()},
                         **{f"energy_pj {k}": round(v, 1) for k, v in energy.items()}})
        nominal = energy_of(simulate(img, parse_config(None)), img.layout, vdd=0.9, table=table).total_pj
    print(json.dumps({"benchmark": "activation_buffers", "model": "lenet5-int8-wot-inplace-8b-64",
                      "samples": int(len(x)), "chips": CHIPS, "fault_free_accuracy": round(float(np.mean(clean == y)), 4),
                      "energy_pj_nominal": round(nominal, 1), "points": rows,
                      "wall_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
