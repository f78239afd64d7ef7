"""The seed papers' analyses, reproduced on the digits models. Prints one JSON line.

1. BERZAD (highest BER with zero accuracy loss, mean over 10 repeats of transient faults)
   per model, layer type (conv / fully connected / all) and format (int8 / int4);
2. per-layer sensitivity: accuracy drop with faults in one layer at a time (BER 1e-2);
3. float32 vs 8-bit vs 4-bit vs binary weights at BER 1e-4, 1e-3, 1e-2 (LeNet-5);
4. pruned (50 %) vs unpruned 8-bit LeNet-5;
5. weight clipping and random bit error training vs plain training at p = 0.1 % and 1 %
   (test error, mean over 20 draws).
Everything is seeded; the script takes a few minutes on one core.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.analyses import accuracy_drop, berzad
from accelsim.faults import inject, inject_float
from accelsim.image import export_image
from accelsim.infer import IntegerNetwork
from accelsim.nn import load_checkpoint, load_digits_split
from accelsim.nn.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
BERS = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
DATA = load_digits_split()
X, Y = DATA.x_test.numpy(), DATA.y_test.numpy()


def campaign(tmp: Path, name: str, **kw) -> list[dict]:
    d = {"name": name, "models": ["lenet5", "vgg-small", "resnet-small"], "fault_model": "transient",
         "chips": 1, "models_dir": str(ROOT / "models"), **kw}
    store = tmp / f"{name}.sqlite"
    run_campaign(parse_spec(d), store, workers=2, progress=False)
    return Store(store).rows()


def image_accuracy(img, ber: float, repeats: int, seed: int = 0) -> float:
    net = IntegerNetwork(img)
    accs = []
    for r in range(repeats):
        words = inject(img.words, ber, seed=seed * 1000 + r, width=img.layout.word_bits)
        q, _ = img.layout.unpack(words)
        weights = {layer.name: q[layer.word_offset * img.layout.weights_per_word:][:layer.n_weights]
                   .reshape(layer.weight_shape) for layer in img.layers}
        accs.append(float(np.mean(net.predict(X, weights) == Y)))
    return float(np.mean(accs))


def float_accuracy(model, ber: float, repeats: int) -> float:
    accs = []
    base = {n: p.detach().clone() for n, p in model.named_parameters() if n.endswith("weight")}
    for r in range(repeats):
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in base:
                    p.copy_(torch.from_numpy(inject_float(base[n].numpy(), ber, seed=r * 7919 + hash(n) % 1000)))
            accs.append(float((model(DATA.x_test).argmax(1).numpy() == Y).mean()))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in base:
                p.copy_(base[n])
    return float(np.mean(accs))


def binary_accuracy(model, ber: float, repeats: int) -> float:
    """Binary weights (+-1 times a per-channel scale): a bit error flips the sign."""
    accs = []
    base = {n: p.detach().clone() for n, p in model.named_parameters() if n.endswith("weight")}
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in base:
                    flip = torch.rand(p.shape, generator=g) < ber
                    p.copy_(torch.where(flip, -base[n], base[n]))
            accs.append(float((model(DATA.x_test).argmax(1).numpy() == Y).mean()))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in base:
                p.copy_(base[n])
    return float(np.mean(accs))


def main(quick: bool = False):
    reps = 3 if quick else 10
    out = {"benchmark": "fault_studies", "repeats": reps}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. BERZAD per model, layer type and format
        rows = campaign(tmp, "berzad", schemes=["none-8b", "none-4b"], bers=BERS, repeats=reps,
                        layers=["all", "conv", "linear"], samples=450)
        out["berzad"] = [{k: z[k] for k in ("model", "scheme", "layers", "berzad")} for z in berzad(rows)]
        # 2. per-layer sensitivity at BER 1e-2
        rows = campaign(tmp, "layers", schemes=["none-8b"], bers=[1e-2], repeats=reps, layers="each", samples=450)
        out["per_layer_drop_ber1e-2"] = [{"model": d["model"], "layer": d["layers"], "drop": round(d["drop"], 4)}
                                         for d in accuracy_drop(rows)]
        # 3. float32 vs 8-bit vs 4-bit vs binary (LeNet-5)
        fp32, _ = load_checkpoint(ROOT / "models/lenet5-fp32")
        binary, _ = train(TrainConfig(model="lenet5", bits=1, seed=0), show_progress=False)
        imgs = {}
        for name, layout in (("int8", "none-8b"), ("int4", "none-4b")):
            m, card = load_checkpoint(ROOT / f"models/lenet5-{name}")
            imgs[name] = export_image(m, tmp / f"l-{name}", layout=layout, input_shape=(1, 8, 8),
                                      calibration=DATA.x_train, bits=card["bits"])
        formats = {}
        for ber in (1e-4, 1e-3, 1e-2):
            formats[str(ber)] = {"fp32": round(float_accuracy(fp32, ber, reps), 4),
                                 "int8": round(image_accuracy(imgs["int8"], ber, reps), 4),
                                 "int4": round(image_accuracy(imgs["int4"], ber, reps), 4),
                                 "binary": round(binary_accuracy(binary, ber, reps), 4)}
        formats["fault_free"] = {"fp32": round(float_accuracy(fp32, 0.0, 1), 4),
                                 "int8": round(image_accuracy(imgs["int8"], 0.0, 1), 4),
                                 "int4": round(image_accuracy(imgs["int4"], 0.0, 1), 4),
                                 "binary": round(binary_accuracy(binary, 0.0, 1), 4)}
        out["float_vs_fixed_accuracy"] = formats
        # 4. pruned vs unpruned (8-bit LeNet-5)
        pruned, _ = train(TrainConfig(model="lenet5", bits=8, prune=0.5, seed=0), show_progress=False)
        pimg = export_image(pruned, tmp / "pruned", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train,
                            bits=8)
        out["pruned_vs_unpruned_accuracy"] = {
            str(ber): {"unpruned": round(image_accuracy(imgs["int8"], ber, reps), 4),
                       "pruned_50": round(image_accuracy(pimg, ber, reps), 4)} for ber in (0.0, 1e-3, 1e-2)}
        # 5. clipping and random bit error training (test error %, 20 draws)
        variants = {"plain": dict(), "clip_0.25": dict(clip=0.25), "randbet_1%": dict(randbet=0.01),
                    "clip_0.25+randbet_1%": dict(clip=0.25, randbet=0.01)}
        table = {}
        for name, kw in variants.items():
            m, _ = train(TrainConfig(model="lenet5", bits=8, seed=0, **kw), show_progress=False)
            img = export_image(m, tmp / f"v-{name}", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train,
                               bits=8)
            table[name] = {f"p={p:g}": round(100 * (1 - image_accuracy(img, p, 20, seed=5)), 2)
                           for p in (0.0, 1e-3, 1e-2)}
        out["test_error_percent_clipping_randbet"] = table
    print(json.dumps(out))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
