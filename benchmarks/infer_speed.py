"""Integer-exact inference speed on the digits test set (450 samples): one JSON line."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import load_digits_split

MODELS = [("lenet5-int4-wot-inplace-4b-64", "inplace-4b-64"), ("vgg-small-int8-wot-inplace-8b-64", "inplace-8b-64"),
          ("resnet-small-int4-wot-inplace-4b-32", "inplace-4b-32"), ("squeezenet-small-int8", "ecc-8b-72")]


def main():
    data = load_digits_split()
    x, y = data.x_test.numpy(), data.y_test.numpy()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ckpt, layout in MODELS:
            img = export_checkpoint(f"models/{ckpt}", layout, Path(tmp) / ckpt)
            net = IntegerNetwork(img)
            weights, _ = decode_weights(img)
            net.forward(x[:10], weights)
            t0 = time.perf_counter()
            pred = net.predict(x, weights)
            dt = time.perf_counter() - t0
            ref = fake_quant_forward(img, x).argmax(1).numpy()
            out[ckpt] = {"layout": layout, "samples": len(x), "ms": round(dt * 1e3, 1),
                         "samples_per_s": round(len(x) / dt), "accuracy": round(float((pred == y).mean()), 4),
                         "agreement_with_fake_quant": round(float((pred == ref).mean()), 4)}
    print(json.dumps({"benchmark": "infer_speed", "models": out}))


if __name__ == "__main__":
    main()
