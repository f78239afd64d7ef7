"""``accelsim train``."""

from __future__ import annotations

from pathlib import Path

from accelsim import cliargs
from accelsim.errors import UserError
from accelsim.cliargs import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("train", help="train a zoo model or your own network on any data source (fp32, QAT, WOT, "
                                     "clipping, RandBET, pruning); one line per epoch")
    p.add_argument("--model", default=None,
                   help="zoo model (lenet5, mlp, vgg-small, resnet-small, squeezenet-small, mobilenet-v2-small: "
                        "sized for the data's input; "
                        "default lenet5, or the model of the --from checkpoint) or your own path/to/file.py:factory")
    p.add_argument("--bits", type=cliargs.integer(1, 8), default=None, help="weight bits 1..8 (omit for float32)")
    p.add_argument("--layout", default=None, help="in-place ECC layout to train for (WOT), e.g. inplace-4b-64")
    p.add_argument("--from", dest="init", default=None, metavar="CHECKPOINT",
                   help="fine-tune from a checkpoint (NAME with NAME.yaml: its model by default) or a bare "
                        "safetensors state dict, e.g. a converted torchvision one (give --model)")
    p.add_argument("--epochs", type=cliargs.integer(0, 100_000), default=None,
                   help="float pre-training epochs (default 40; 0 with --from)")
    p.add_argument("--qat-epochs", type=cliargs.integer(0, 100_000), default=20, help="quantization-aware fine-tuning epochs")
    p.add_argument("--lr", type=cliargs.number(0, 10, lo_open=True), default=3e-3,
                   help="Adam learning rate, cosine-annealed over each phase (default 3e-3)")
    p.add_argument("--seed", type=cliargs.seed, default=0,
                   help="seed of the initial weights, the batch order and RandBET (same seed, same weights)")
    p.add_argument("--batch-size", type=cliargs.integer(1, 1_000_000), default=64, help="training batch size")
    p.add_argument("--clip", type=cliargs.number(0, None, lo_open=True), default=None, help="weight clipping bound w_max")
    p.add_argument("--randbet", type=cliargs.number(0, 0.5), default=0.0, help="random bit error rate p during QAT")
    p.add_argument("--activation-bits", type=int, default=8,
                   help="QAT: unsigned ReLU/ReLU6 activations at this many bits (2..8); export and the "
                        "integer-exact inference use the same width")
    p.add_argument("--prune", type=cliargs.number(0, 1, hi_open=True), default=0.0, help="fraction of weights (or channels) pruned")
    p.add_argument("--structured", action="store_true", help="prune whole output channels")
    p.add_argument("-o", "--out", required=True, help="output stem: writes OUT.safetensors and OUT.yaml")
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines (loss, train and held-out accuracy, time)")
    add_data_arguments(p, "training data (its train split; imagefolder/npz: a seeded 80/20 split)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    import os

    from accelsim.schema.data_source import data_from_args

    data = data_from_args(args)   # a bad --data is refused before torch is imported
    from accelsim.fileio import check_output_file
    from accelsim.nn.checkpoint import checkpoint_paths, save_checkpoint
    from accelsim.nn.modelref import is_factory_ref, parse_factory
    from accelsim.nn.train import TrainConfig, command_line, train

    weights, card_path = checkpoint_paths(args.out)
    if (weights.exists() or card_path.exists()) and not args.force:
        raise UserError(f"checkpoint {str(weights)!r} exists; pass --force to replace it")
    for path in (weights, card_path):      # refused now, not after the training
        check_output_file(path, "checkpoint")
    if args.model is None and is_factory_ref(_card_model(args.init)):   # a card's model file runs only when named
        raise UserError(f"--from {args.init}: its card names the model file {_card_model(args.init)} (Python code, "
                        "run with your rights); name it yourself with --model FILE.py:NAME")
    model_name = args.model or _card_model(args.init) or "lenet5"
    epochs = args.epochs if args.epochs is not None else (0 if args.init else 40)
    cfg = TrainConfig(model=model_name, init=args.init, bits=args.bits, layout=args.layout, epochs=epochs,
                      qat_epochs=args.qat_epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, clip=args.clip,
                      randbet=args.randbet, prune=args.prune, structured=args.structured,
                      act_bits=args.activation_bits, data=data)
    if is_factory_ref(model_name):
        parse_factory(model_name, ".", "--model")   # the file exists: before any training
    model, card = train(cfg, show_progress=not args.quiet)
    if is_factory_ref(model_name):
        # the card names the model file relative to its own folder: the pair moves together
        ref = parse_factory(model_name, ".", "--model")
        card["model"] = f"{os.path.relpath(ref.file, Path(args.out).resolve().parent)}:{ref.name}"
    if cfg.data.is_file_source and cfg.data.path is not None:   # a named data set keeps its name
        # the card names its data relative to its own folder: a project folder can move as a whole
        where = os.path.relpath(cfg.data.path, Path(args.out).resolve().parent)
        card["dataset"] = f"{cfg.data.kind}:{where}"
        card["config"]["data"]["source"] = card["dataset"]
    card["command"] = command_line()
    save_checkpoint(model, Path(args.out), card)
    print(f"{model_name}: test accuracy {card['accuracy']:.4f} -> {weights}")
    return 0


def _card_model(init: str | None) -> str | None:
    """The model named by the card beside a --from checkpoint, if it has one."""
    from accelsim.nn.checkpoint import checkpoint_paths, load_card

    if init is None or not checkpoint_paths(init)[1].exists():
        return None
    return str(load_card(init).model)
