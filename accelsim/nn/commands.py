"""``accelsim train``."""

from __future__ import annotations

from accelsim import cliargs

from pathlib import Path

from accelsim.errors import UserError
from accelsim.nn.data import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("train", help="train a digits model (fp32, QAT, WOT, clipping, RandBET, pruning)")
    p.add_argument("--model", default="lenet5",
                   help="zoo model (lenet5, vgg-small, resnet-small, squeezenet-small) or your own path/to/file.py:factory")
    p.add_argument("--bits", type=cliargs.integer(1, 8), default=None, help="weight bits 1..8 (omit for float32)")
    p.add_argument("--layout", default=None, help="in-place ECC layout to train for (WOT), e.g. inplace-4b-64")
    p.add_argument("--epochs", type=cliargs.integer(0, 100_000), default=40, help="float pre-training epochs")
    p.add_argument("--qat-epochs", type=cliargs.integer(0, 100_000), default=20, help="quantization-aware fine-tuning epochs")
    p.add_argument("--lr", type=cliargs.number(0, 10, lo_open=True), default=3e-3)
    p.add_argument("--seed", type=cliargs.seed, default=0)
    p.add_argument("--clip", type=cliargs.number(0, None, lo_open=True), default=None, help="weight clipping bound w_max")
    p.add_argument("--randbet", type=cliargs.number(0, 0.5), default=0.0, help="random bit error rate p during QAT")
    p.add_argument("--prune", type=cliargs.number(0, 1, hi_open=True), default=0.0, help="fraction of weights (or channels) pruned")
    p.add_argument("--structured", action="store_true", help="prune whole output channels")
    p.add_argument("-o", "--out", required=True, help="output stem: writes OUT.safetensors and OUT.yaml")
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint")
    add_data_arguments(p, "training data (its train split; imagefolder/npz: a seeded 80/20 split)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    import os

    from accelsim.fileio import check_output_file
    from accelsim.nn.checkpoint import checkpoint_paths, save_checkpoint
    from accelsim.nn.data import data_from_args
    from accelsim.nn.modelref import is_factory_ref, parse_factory
    from accelsim.nn.train import TrainConfig, command_line, train

    weights, card_path = checkpoint_paths(args.out)
    if (weights.exists() or card_path.exists()) and not args.force:
        raise UserError(f"checkpoint {str(weights)!r} exists; pass --force to replace it")
    for path in (weights, card_path):      # refused now, not after the training
        check_output_file(path, "checkpoint")
    cfg = TrainConfig(model=args.model, bits=args.bits, layout=args.layout, epochs=args.epochs,
                      qat_epochs=args.qat_epochs, lr=args.lr, seed=args.seed, clip=args.clip,
                      randbet=args.randbet, prune=args.prune, structured=args.structured, data=data_from_args(args))
    if is_factory_ref(args.model):
        parse_factory(args.model, ".", "--model")   # the file exists: before any training
    model, card = train(cfg)
    if is_factory_ref(args.model):
        # the card names the model file relative to its own folder: the pair moves together
        ref = parse_factory(args.model, ".", "--model")
        card["model"] = f"{os.path.relpath(ref.file, Path(args.out).resolve().parent)}:{ref.name}"
    card["command"] = command_line()
    save_checkpoint(model, Path(args.out), card)
    print(f"{args.model}: test accuracy {card['accuracy']:.4f} -> {weights}")
    return 0
