"""Retrain every checkpoint shipped in models/: ``python -m accelsim.nn.retrain_zoo``.

Each architecture as fp32, int8, int4, int8 WOT (inplace-8b-64), int4 WOT
(inplace-4b-64 and inplace-4b-32); deterministic for the seed."""

from __future__ import annotations

import sys
from pathlib import Path

from accelsim.nn.checkpoint import save_checkpoint
from accelsim.nn.train import TrainConfig, train

ARCHS = ("lenet5", "vgg-small", "resnet-small", "squeezenet-small")
VARIANTS = {
    "fp32": dict(),
    "int8": dict(bits=8),
    "int4": dict(bits=4),
    "int8-wot-inplace-8b-64": dict(bits=8, layout="inplace-8b-64"),
    "int4-wot-inplace-4b-64": dict(bits=4, layout="inplace-4b-64"),
    "int4-wot-inplace-4b-32": dict(bits=4, layout="inplace-4b-32"),
}


def variant_args(kw: dict) -> str:
    out = []
    if "bits" in kw:
        out.append(f"--bits {kw['bits']}")
    if "layout" in kw:
        out.append(f"--layout {kw['layout']}")
    return " ".join(out)


def main(out_dir: str = "models", archs=ARCHS) -> None:
    for arch in archs:
        for variant, kw in VARIANTS.items():
            model, card = train(TrainConfig(model=arch, seed=0, **kw), show_progress=False)
            stem = Path(out_dir) / f"{arch}-{variant}"
            card["command"] = f"accelsim train --model {arch} {variant_args(kw)} --seed 0 -o {stem}".replace("  ", " ")
            save_checkpoint(model, stem, card)
            print(f"{stem}: accuracy {card['accuracy']:.4f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
