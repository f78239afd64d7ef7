"""Cycle-level simulation speed on full-size networks (224x224, seeded weights, 8-bit,
ecc-8b-72 so every word passes the ECC stage), on 16x16 and 32x32 weight-stationary
arrays; plus the slowdown of the cycle-level path against the fast path for one digits
trial. One JSON line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from accelsim.campaign.trial import run_trial
from accelsim.hw import load_config, simulate
from accelsim.image import export_image
from accelsim.image.commands import export_checkpoint
from accelsim.nn import build_model

NETWORKS = ("resnet18", "vgg16-bn", "squeezenet1_0")


def digits_slowdown(tmp: Path) -> dict:
    img = export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64", tmp / "lenet")
    params = {"campaign": "b", "model": "lenet5", "scheme": "inplace-4b-64", "checkpoint": "", "fault_model": "persistent",
              "point": "vdd", "vdd": 0.53, "ber": 1e-3, "chip": 0, "repeat": 0, "layers": "all", "samples": 450,
              "policy": "pass", "seed": 0, "v_low": 0.45, "p_stuck1": 0.5, "accelerator": None,
              "curve": {"v_ref": 0.5, "ber_ref": 0.01, "mv_per_decade": 30.0, "v_min": 0.45, "v_max": 0.9}}
    times = {}
    for engine in ("fast", "cycle"):
        p = dict(params, engine=engine)
        run_trial(p, str(img.path))
        t0 = time.perf_counter()
        for _ in range(10):
            run_trial(p, str(img.path))
        times[engine] = (time.perf_counter() - t0) / 10
    return {"fast_ms": round(times["fast"] * 1e3, 1), "cycle_ms": round(times["cycle"] * 1e3, 1),
            "slowdown": round(times["cycle"] / times["fast"], 2)}


def main(networks=NETWORKS):
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
            for size in (16, 32):
                cfg = replace(load_config(), rows=size, cols=size, dataflow="ws")
                t0 = time.perf_counter()
                r = simulate(img, cfg)
                wall = time.perf_counter() - t0
                assert np.array_equal(r.decoded_words, img.words)
                res[f"{size}x{size}"] = {
                    "cycles": int(r.total_cycles), "compute_cycles": int(sum(s.compute_cycles for s in r.layers)),
                    "analytical_match": all(s.compute_cycles == s.analytical_cycles for s in r.layers),
                    "wall_s": round(wall, 2), "words_per_s": round(r.actions()["sram_read_words"] / wall),
                    "utilization": round(float(np.sum([s.macs for s in r.layers]) /
                                               (sum(s.compute_cycles for s in r.layers) * size * size)), 3)}
            out["networks"][name] = res
            del img
        out["digits_trial"] = digits_slowdown(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or NETWORKS)
