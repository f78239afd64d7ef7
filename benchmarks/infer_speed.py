"""Integer-exact inference speed: one JSON line.

- ``fullsize``: ResNet-18 and MobileNetV2 @224 (seeded weights, exported none-8b), a batch
  of 64 seeded uniform inputs, one thread on each side: torch fp32 inference of the same
  model against the fast integer-exact engine (int8 x int8 -> int32 GEMMs where torch has
  them, accelsim.infer.int8) and against the same engine on its float32 path, timed in
  turns (best of ``--repeats``, CPU seconds of this process, so a loaded machine slows
  every side alike); the engine's logits are checked equal to the float32 path's. The
  target is ``exact_over_torch`` <= 1.0.
- ``digits``: every shipped checkpoint on the digits test set (450 samples), exported to
  its own layout: speed, accuracy and agreement with the fake-quant PyTorch reference.

``--fullsize-only`` skips the digits part.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from accelsim.image.from_checkpoint import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import load_digits_split
from _timing import best_time, best_times  # benchmarks/_timing.py

MODELS = Path(__file__).resolve().parent.parent / "models"


def layout_of(card: dict) -> str:
    """The layout a checkpoint was trained for; plain checkpoints go to none-<bits>b
    (fp32 ones are post-training quantized to 8 bits)."""
    if card.get("layout"):
        return card["layout"]
    return "none-4b" if card.get("bits") == 4 else "none-8b"


def measure(ckpt: Path, out: Path, x: np.ndarray, y: np.ndarray) -> dict:
    card = yaml.safe_load(ckpt.with_suffix(".yaml").read_text())
    layout = layout_of(card)
    img = export_checkpoint(str(ckpt.with_suffix("")), layout, out)
    net = IntegerNetwork(img)
    weights, _ = decode_weights(img)
    net.forward(x[:10], weights)   # warm-up
    best = best_time(lambda: net.forward(x, weights), 3, warm=False)
    logits = net.forward(x, weights)
    pred = (logits * net.output_scale()).argmax(1)
    ref = fake_quant_forward(img, x, weights).argmax(1).numpy()
    return {"layout": layout, "ms": round(best * 1e3, 1), "samples_per_s": round(len(x) / best),
            "accuracy": round(float((pred == y).mean()), 4), "card_accuracy": card.get("accuracy"),
            "agreement_with_fake_quant": round(float((pred == ref).mean()), 4),
            "disagreeing_samples": int((pred != ref).sum())}


def fullsize(name: str, tmp: Path, repeats: int) -> dict:
    import torch

    from accelsim.image import export_image
    from accelsim.infer.fast import FastIntegerNetwork
    from accelsim.nn import build_model

    torch.manual_seed(0)
    model = build_model(name, seed=0).eval()
    calib = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    img = export_image(model, tmp / name, layout="none-8b", input_shape=(3, 224, 224), calibration=calib)
    x = torch.rand(64, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    xn = x.numpy()
    net, weights = FastIntegerNetwork(img), decode_weights(img)[0]
    float_net = FastIntegerNetwork(img)
    float_net.use_int8 = False
    out = {}

    def torch_fp32():
        with torch.inference_mode():
            model(x)

    def exact():
        out["int8"] = net.forward(xn, weights)

    def exact_float32():
        out["float32"] = float_net.forward(xn, weights)

    t_torch, t_exact, t_float = best_times([torch_fp32, exact, exact_float32], repeats, clock=time.process_time)
    if not np.array_equal(out["int8"], out["float32"]):
        raise AssertionError(f"{name}: the int8 path's logits differ from the float32 path's")
    return {"batch": 64, "threads": torch.get_num_threads(), "torch_fp32_cpu_s": round(t_torch, 3),
            "exact_cpu_s": round(t_exact, 3), "exact_float32_path_cpu_s": round(t_float, 3),
            "exact_over_torch": round(t_exact / t_torch, 3), "float32_path_over_torch": round(t_float / t_torch, 3)}


def main():
    import argparse
    import os

    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fullsize-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)     # the same one thread on each side (a campaign worker's setting)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        full = {name: fullsize(name, Path(tmp), args.repeats) for name in ("resnet18", "mobilenet_v2")}
    result = {"benchmark": "infer_speed", "load_average_1min": round(load, 2), "fullsize": full,
              "target_exact_over_torch": 1.0}
    if not args.fullsize_only:
        result.update(digits())
    print(json.dumps(result))


def digits() -> dict:
    data = load_digits_split()
    x, y = data.x_test.numpy(), data.y_test.numpy()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ckpt in sorted(MODELS.glob("*.safetensors")):
            out[ckpt.stem] = measure(ckpt, Path(tmp) / ckpt.stem, x, y)
    agreement = [m["agreement_with_fake_quant"] for m in out.values()]
    return {"samples": len(x), "min_agreement": min(agreement), "models": out}


if __name__ == "__main__":
    main()
