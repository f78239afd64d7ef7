"""Retrain every checkpoint shipped in models/: ``python -m accelsim.nn.retrain_zoo [DIR]``
(the digits models) and ``python -m accelsim.nn.retrain_zoo --fashion [DIR]`` (the
Fashion-MNIST models, into models/fashion-mnist; needs Debian's dataset-fashion-mnist).

Digits: each architecture as fp32, int8, int4, int8 WOT (inplace-8b-64), int4 WOT
(inplace-4b-64 and inplace-4b-32), each trained from scratch. Fashion-MNIST: each
architecture trained once in float (FASHION_EPOCHS), then every quantized variant
fine-tuned from that fp32 checkpoint for FASHION_QAT_EPOCHS of QAT (``--from``): 60,000
images an epoch on two shared cores leave no room for a float pre-training per variant. Bit-reproducible on one software stack: seed 0, one
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

# Fashion-MNIST: the variants the demo sweeps (none-8b, inplace-8b-64, ecc-8b-72) and the
# int4 pair the fault studies use; float epochs per architecture, sized so that the whole
# zoo retrains in minutes on one core (docs/models.md has the time and the accuracy gap).
FASHION_DATA = "fashion-mnist"
FASHION_DIR = "models/fashion-mnist"
FASHION_ARCHS = ("lenet5", "mlp", "resnet-small", "mobilenet-v2-small")
FASHION_VARIANTS = ("fp32", "int8", "int8-wot-inplace-8b-64", "int4", "int4-wot-inplace-4b-64")
FASHION_EPOCHS = {"lenet5": 4, "mlp": 4, "resnet-small": 2, "mobilenet-v2-small": 6}
FASHION_QAT_EPOCHS = 1
# WOT fine-tuning epochs where one is not enough: the MobileNet's 3x3 depthwise kernels have
# 9 weights per channel scale, 42 % of them outside WOT's [-64, 63] before it; one epoch
# left its int8 WOT variant 7.2 points below int8 (82.99 %), three leave it 3.6 below (86.57 %)
FASHION_WOT_QAT_EPOCHS = {"mobilenet-v2-small": 3}
# QAT fine-tunes a trained network: a tenth of the float learning rate (TrainConfig's 3e-3
# moved the trained MLP's int8 accuracy 2 points below its fp32 one in one epoch)
FASHION_QAT_LR = 3e-4
FASHION_BATCH = 128


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
        rows.append(f"| {a} | " + " | ".join(acc) + f" | {cards[a, 'int8'].weights:,} |")
    wot = ["", "| model | " + " | ".join(WOT_LAYOUTS) + " |", "|" + "---|" * (len(WOT_LAYOUTS) + 1)]
    for a in archs:
        cells = []
        for v, kw in VARIANTS.items():
            if "layout" in kw:
                c = cards[a, v]
                cost = 100 * (cards[a, "int%d" % kw["bits"]].accuracy - c.accuracy)
                cells.append(f"{100 * c.wot_fraction_out_of_range_before:.1f} % "
                             f"({c.wot_out_of_range_before:,}; cost {cost:+.2f})")
        wot.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(rows + wot)


# The closest entries of the benchmark table in Fashion-MNIST's README (Debian:
# /usr/share/doc/dataset-fashion-mnist/README.md.gz, "Benchmark": submitted test accuracies)
FASHION_PUBLISHED = {
    "lenet5": [("2 Conv+pooling, no preprocessing (TensorFlow's doc)", 0.916),
               ("2 Conv <100K parameters, no preprocessing", 0.925)],
    "mlp": [("MLP 256-128-100, no preprocessing", 0.8833)],
    "resnet-small": [("3 Conv+pooling+BN, no preprocessing", 0.903),
                     ("ResNet18, normalization + flips, translation, rotation", 0.949)],
    "mobilenet-v2-small": [("MobileNet, augmentation (horizontal flips)", 0.950),
                           ("2 Conv <100K parameters, no preprocessing", 0.925)],
}


def fashion_table(model_dir: str = FASHION_DIR, archs=FASHION_ARCHS) -> str:
    """Markdown: each Fashion-MNIST model's fp32 and quantized test accuracy (cards; the
    integer-exact accuracy of its memory image in brackets) beside the README's entries."""
    from accelsim.nn.checkpoint import load_card

    head = ["model", "float epochs", "fp32", *FASHION_VARIANTS[1:], "weights", "published (README)", "fp32 - published (points)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in archs:
        if not (Path(model_dir) / f"{a}-fp32.yaml").is_file():   # not trained (yet)
            continue
        cards = {v: load_card(Path(model_dir) / f"{a}-{v}") for v in FASHION_VARIANTS
                 if (Path(model_dir) / f"{a}-{v}.yaml").is_file()}
        cells = [f"{100 * cards['fp32'].accuracy:.2f}"]
        for v in FASHION_VARIANTS[1:]:
            c = cards.get(v)
            if c is None:
                cells.append("—")
                continue
            exact = f" ({100 * c.integer_accuracy:.2f})" if c.integer_accuracy is not None else ""
            cells.append(f"{100 * c.accuracy:.2f}{exact}")
        pub = FASHION_PUBLISHED.get(a, [])
        published = "; ".join(f"{name}: {100 * acc:.1f}" for name, acc in pub)
        gap = "; ".join(f"{100 * (cards['fp32'].accuracy - acc):+.1f}" for _, acc in pub)
        rows.append(f"| {a} | {cards['fp32'].config['epochs']} | " + " | ".join(cells)
                    + f" | {cards['int8'].weights:,} | {published} | {gap} |")
    return "\n".join(rows)


def fashion(out_dir: str = FASHION_DIR, archs=FASHION_ARCHS, variants=FASHION_VARIANTS, epochs=None,
            qat_epochs: int = FASHION_QAT_EPOCHS) -> None:
    """Train the Fashion-MNIST zoo into ``out_dir``: per architecture the fp32 model, then each
    quantized variant by QAT from it (``epochs``: {arch: float epochs}, tests shorten them)."""
    from accelsim.nn.checkpoint import save_checkpoint
    from accelsim.nn.data import parse_data
    from accelsim.nn.train import TrainConfig, train

    data = parse_data(FASHION_DATA)
    epochs = epochs or FASHION_EPOCHS
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for arch in archs:
        fp32 = Path(out_dir) / f"{arch}-fp32"
        common = dict(model=arch, seed=0, data=data, batch_size=FASHION_BATCH)
        for variant in sorted(variants, key=lambda v: v != "fp32"):
            kw = VARIANTS[variant]
            if variant == "fp32":
                cfg = TrainConfig(**common, epochs=epochs[arch], qat_epochs=0)
                extra = f"--epochs {epochs[arch]}"
            else:
                q = FASHION_WOT_QAT_EPOCHS.get(arch, qat_epochs) if "layout" in kw else qat_epochs
                cfg = TrainConfig(**common, **kw, epochs=0, qat_epochs=q, init=str(fp32), lr=FASHION_QAT_LR)
                extra = f"--from {fp32} --epochs 0 --qat-epochs {q} --lr {FASHION_QAT_LR:g}"
            with deterministic_torch():
                model, card = train(cfg, show_progress=False)
            stem = Path(out_dir) / f"{arch}-{variant}"
            card["command"] = " ".join(f"accelsim train --model {arch} --data {FASHION_DATA} {variant_args(kw)} "
                                       f"{extra} --batch-size {FASHION_BATCH} --seed 0 -o {stem}".split())
            save_checkpoint(model, stem, card)
            if variant != "fp32":
                record_integer_accuracy(stem)
            print(f"{stem}: accuracy {card['accuracy']:.4f} in {card['train_seconds']:.0f} s", flush=True)


def record_integer_accuracy(stem) -> float:
    """Export the quantized checkpoint ``stem`` (default calibration: its card's data set),
    run the integer-exact engine on the whole test set, and record the accuracy in its card
    (``integer_accuracy``), which ``accelsim infer CHECKPOINT`` reproduces."""
    import tempfile

    import yaml

    from accelsim.fileio import atomic_write_text
    from accelsim.image.from_checkpoint import export_checkpoint
    from accelsim.infer.outcome import evaluate_image
    from accelsim.nn.checkpoint import checkpoint_paths, integer_layout, load_card
    from accelsim.nn.data import parse_data

    card = load_card(stem)
    layout = integer_layout(card)
    with tempfile.TemporaryDirectory() as tmp:
        image = export_checkpoint(str(stem), layout, Path(tmp) / "image")
        ds, pred = evaluate_image(image, parse_data(card.dataset))
    acc = round(float((pred == ds.y).mean()), 4)
    card_path = checkpoint_paths(stem)[1]
    raw = yaml.safe_load(card_path.read_text())
    raw.update(integer_accuracy=acc, integer_layout=layout)
    atomic_write_text(card_path, yaml.safe_dump(raw, sort_keys=False))
    return acc


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--table"]:
        print(tables(*args[1:2]))
    elif args[:1] == ["--fashion-table"]:
        print(fashion_table(*args[1:2]))
    elif args[:1] == ["--integer"]:   # (re)measure integer_accuracy of the quantized checkpoints in DIR
        for card in sorted(Path(args[1] if len(args) > 1 else FASHION_DIR).glob("*.yaml")):
            if not card.stem.endswith("-fp32"):
                print(f"{card.with_suffix('')}: integer-exact accuracy {record_integer_accuracy(card.with_suffix('')):.4f}")
    elif args[:1] == ["--fashion"]:
        fashion(*args[1:2], archs=tuple(args[2:]) or FASHION_ARCHS)
    elif args[:1] == ["--fashion-quantized"]:   # the quantized variants again, from the fp32 ones in DIR
        fashion(args[1], archs=tuple(args[2:]) or FASHION_ARCHS, variants=FASHION_VARIANTS[1:])
    else:
        main(*args[:1])
