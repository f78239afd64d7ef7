"""Retrain every checkpoint shipped in models/: ``python -m accelsim.nn.retrain_zoo [DIR]``.

Each architecture as fp32, int8, int4, int8 WOT (inplace-8b-64), int4 WOT
(inplace-4b-64 and inplace-4b-32). Bit-reproducible on one software stack: seed 0, one
intra-op and one inter-op thread, ``torch.use_deterministic_algorithms`` (CPU kernels
only); what may still differ on another stack (torch/numpy/BLAS build, CPU instruction
set) is listed in docs/models.md.
``python -m accelsim.nn.retrain_zoo --table [DIR]`` prints the accuracy and WOT tables
of docs/models.md and models/README.md from the model cards in DIR.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

ARCHS = ("lenet5", "vgg-small", "resnet-small", "squeezenet-small")
VARIANTS = {
    "fp32": dict(),
    "int8": dict(bits=8),
    "int4": dict(bits=4),
    "int8-wot-inplace-8b-64": dict(bits=8, layout="inplace-8b-64"),
    "int4-wot-inplace-4b-64": dict(bits=4, layout="inplace-4b-64"),
    "int4-wot-inplace-4b-32": dict(bits=4, layout="inplace-4b-32"),
}
WOT_LAYOUTS = ("inplace-8b-64", "inplace-4b-64", "inplace-4b-32")


def variant_args(kw: dict) -> str:
    out = []
    if "bits" in kw:
        out.append(f"--bits {kw['bits']}")
    if "layout" in kw:
        out.append(f"--layout {kw['layout']}")
    return " ".join(out)


@contextlib.contextmanager
def deterministic_torch():
    """Fix what makes torch training differ run to run on one machine: the thread count
    (the reduction order of a multi-threaded kernel depends on it) and nondeterministic
    kernels (refused instead of used). Restores the previous settings on exit."""
    import torch

    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def main(out_dir: str = "models", archs=ARCHS, variants=None, **overrides) -> None:
    """Train ``archs`` x ``variants`` (default: all) into ``out_dir``; ``overrides`` go to
    TrainConfig (tests shorten the epochs)."""
    from accelsim.nn.checkpoint import save_checkpoint
    from accelsim.nn.train import TrainConfig, train

    for arch in archs:
        for variant in variants or VARIANTS:
            kw = VARIANTS[variant]
            with deterministic_torch():
                model, card = train(TrainConfig(model=arch, seed=0, **kw, **overrides), show_progress=False)
            stem = Path(out_dir) / f"{arch}-{variant}"
            card["command"] = " ".join(f"accelsim train --model {arch} {variant_args(kw)} --seed 0 -o {stem}".split())
            save_checkpoint(model, stem, card)
            print(f"{stem}: accuracy {card['accuracy']:.4f}", flush=True)


def tables(model_dir: str = "models", archs=ARCHS) -> str:
    """Markdown: test accuracy per model and variant, and WOT's share of weights moved."""
    from accelsim.nn.checkpoint import load_card

    cards = {(a, v): load_card(Path(model_dir) / f"{a}-{v}") for a in archs for v in VARIANTS}
    head = ["model", "fp32", "int8", "int4", "int8 WOT (inplace-8b-64)", "int4 WOT (inplace-4b-64)",
            "int4 WOT (inplace-4b-32)", "weights"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in archs:
        acc = [f"{100 * cards[a, v].accuracy:.2f}" for v in VARIANTS]
        rows.append(f"| {a} | " + " | ".join(acc) + f" | {cards[a, 'int8']['weights']:,} |")
    wot = ["", "| model | " + " | ".join(WOT_LAYOUTS) + " |", "|" + "---|" * (len(WOT_LAYOUTS) + 1)]
    for a in archs:
        cells = []
        for v, kw in VARIANTS.items():
            if "layout" in kw:
                c = cards[a, v]
                cost = 100 * (cards[a, "int%d" % kw["bits"]]["accuracy"] - c["accuracy"])
                cells.append(f"{100 * c['wot_fraction_out_of_range_before']:.1f} % "
                             f"({c['wot_out_of_range_before']:,}; cost {cost:+.2f})")
        wot.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(rows + wot)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--table"]:
        print(tables(*args[1:2]))
    else:
        main(*args[:1])
