"""MobileNetV2 @224 (seeded weights) through accelsim, as ResNet-18 for comparison: export
time and size, integer-exact inference against the fake-quant reference and beside torch
fp32 (same model, same batch, one thread each), the cycle model's cycles and the energy
per inference at nominal voltage. One JSON line. Calibration: 4 seeded uniform [0, 1)
images; inference on 4 other seeded images."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim.energy.model import energy_of
from accelsim.hw.accelerator import simulate
from accelsim.image import export_image
from accelsim.infer import IntegerNetwork
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import build_model


def figures(name: str, tmp: Path) -> dict:
    gen = torch.Generator().manual_seed(0)
    model = build_model(name, seed=0)
    calib, x = torch.rand(4, 3, 224, 224, generator=gen), torch.rand(4, 3, 224, 224, generator=gen)
    t0 = time.perf_counter()
    img = export_image(model, tmp / name, layout="inplace-8b-64", input_shape=(3, 224, 224), calibration=calib,
                       project=True)   # seeded (not WOT-trained) weights: the projection makes them fit
    export_s = time.perf_counter() - t0
    net = IntegerNetwork(img)
    t0 = time.perf_counter()
    out = net.forward(x.numpy()) * net.output_scale()
    int_s = time.perf_counter() - t0
    with torch.no_grad():
        t0 = time.perf_counter()
        model(x)
        fp32_s = time.perf_counter() - t0
    ref = fake_quant_forward(img, x.numpy()).numpy()
    t0 = time.perf_counter()
    sim = simulate(img)
    sim_s = time.perf_counter() - t0
    energy = energy_of(sim, img.layout, vdd=None)
    dw = [layer for layer in img.layers if layer.groups > 1]
    return {"parameters": sum(p.numel() for p in model.parameters()), "weight_layers": len(img.layers),
            "depthwise_layers": len(dw), "weights": img.n_weights, "macs": sum(layer.macs for layer in img.layers),
            "depthwise_macs_share": round(sum(layer.macs for layer in dw) / sum(layer.macs for layer in img.layers), 4),
            "sram_bytes": img.bytes_stored(), "projected_weights": img.manifest.projected_weights,
            "export_s": round(export_s, 2),
            "integer_s_per_image": round(int_s / len(x), 3), "torch_fp32_s_per_image": round(fp32_s / len(x), 3),
            "max_logit_diff_vs_fake_quant": float(np.abs(out - ref).max()),
            "top1_equal_fake_quant": int(np.sum(out.argmax(1) == ref.argmax(1))), "images": len(x),
            "cycles": sim.total_cycles, "compute_cycles": int(sum(s.compute_cycles for s in sim.layers)),
            "depthwise_cycles": int(sum(s.cycles for s in sim.layers if s.name in {layer.name for layer in dw})),
            "cycle_model_s": round(sim_s, 2), "energy_uj_nominal": round(sum(energy.totals.values()) / 1e6, 2)}


def main():
    torch.set_num_threads(1)
    names = sys.argv[1:] or ["mobilenet_v2", "resnet18"]
    with tempfile.TemporaryDirectory() as tmp:
        out = {name: figures(name, Path(tmp)) for name in names}
    print(json.dumps({"benchmark": "mobilenet_v2", "threads": 1, "models": out}))


if __name__ == "__main__":
    main()
