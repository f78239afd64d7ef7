"""Integer-exact inference on the digits test set (450 samples) for every shipped
checkpoint, exported to its own layout: speed, accuracy and agreement of predictions
with the fake-quant PyTorch reference. One JSON line."""

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
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        logits = net.forward(x, weights)
        best = min(best, time.perf_counter() - t0)
    pred = (logits * net.output_scale()).argmax(1)
    ref = fake_quant_forward(img, x, weights).argmax(1).numpy()
    return {"layout": layout, "ms": round(best * 1e3, 1), "samples_per_s": round(len(x) / best),
            "accuracy": round(float((pred == y).mean()), 4), "card_accuracy": card.get("accuracy"),
            "agreement_with_fake_quant": round(float((pred == ref).mean()), 4),
            "disagreeing_samples": int((pred != ref).sum())}


def main():
    data = load_digits_split()
    x, y = data.x_test.numpy(), data.y_test.numpy()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ckpt in sorted(MODELS.glob("*.safetensors")):
            out[ckpt.stem] = measure(ckpt, Path(tmp) / ckpt.stem, x, y)
    agreement = [m["agreement_with_fake_quant"] for m in out.values()]
    print(json.dumps({"benchmark": "infer_speed", "samples": len(x), "min_agreement": min(agreement),
                      "models": out}))


if __name__ == "__main__":
    main()
