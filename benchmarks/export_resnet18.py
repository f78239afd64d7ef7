"""Export time and image size of ResNet-18 (224x224, seeded weights) at 8 and 4 bits:
one JSON line."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch

from accelsim.image import export_image
from accelsim.nn import build_model


def main():
    model = build_model("resnet18", seed=0)
    calib = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("none-8b", "ecc-8b-72", "none-4b", "inplace-4b-64"):
            t0 = time.perf_counter()
            img = export_image(model, Path(tmp) / layout, layout=layout, input_shape=(3, 224, 224),
                               calibration=calib, project=layout.startswith("inplace"))
            dt = time.perf_counter() - t0
            out[layout] = {"seconds": round(dt, 2), "words": int(img.words.shape[0]),
                           "weights": img.n_weights, "sram_bytes": img.bytes_stored(),
                           "image_bin_bytes": (img.path / "image.bin").stat().st_size,
                           "projected_weights": img.manifest["projected_weights"]}
    print(json.dumps({"benchmark": "export_resnet18", "layouts": out}))


if __name__ == "__main__":
    main()
