"""Export time and image size of ResNet-18 (224x224, seeded weights) at 8 and 4 bits,
plain and with ECC: one JSON line. Calibration: 8 seeded uniform [0, 1) images."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch

from accelsim.image import export_image, load_image
from accelsim.nn import build_model

LAYOUTS = ("none-8b", "ecc-8b-72", "inplace-8b-64", "none-4b", "inplace-4b-64", "inplace-4b-32")


def main():
    model = build_model("resnet18", seed=0)
    calib = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for layout in LAYOUTS:
            t0, c0 = time.perf_counter(), time.process_time()
            # seeded (untrained) weights are not WOT-trained: in-place layouts need the projection
            img = export_image(model, Path(tmp) / layout, layout=layout, input_shape=(3, 224, 224),
                               calibration=calib, project=layout.startswith("inplace"))
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            t1 = time.perf_counter()
            load_image(img.path)
            files = {name: (img.path / name).stat().st_size for name in ("image.bin", "image.hex", "manifest.yaml")}
            out[layout] = {"export_s": round(dt, 2), "export_cpu_s": round(cpu, 2),
                           "load_s": round(time.perf_counter() - t1, 2),
                           "weight_bits": img.layout.weight_bits, "word_bits": img.layout.word_bits,
                           "words": int(img.words.shape[0]), "weights": img.n_weights,
                           "sram_bytes": img.bytes_stored(), **{f"{k}_bytes": v for k, v in files.items()},
                           "projected_weights": img.manifest.projected_weights,
                           "projected_fraction": round(img.manifest.projected_weights / img.n_weights, 5)}
    print(json.dumps({"benchmark": "export_resnet18", "layers": len(img.layers), "layouts": out}))


if __name__ == "__main__":
    main()
