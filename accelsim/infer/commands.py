"""``accelsim infer``: integer-exact accuracy of a memory image (or a quantized checkpoint)
on a data set."""

from __future__ import annotations

import time
from pathlib import Path

from accelsim.cliargs import add_data_arguments


def register(sub) -> None:
    f = sub.add_parser("infer", help="integer-exact accuracy of a memory image (or a quantized checkpoint) on a "
                                     "data set, with the exact fast engine (default data: what the image's manifest "
                                     "records, else digits test)")
    f.add_argument("image", help="memory image directory, or a quantized checkpoint (models/NAME with NAME.yaml: "
                                 "exported to a temporary image in the layout it was trained for)")
    f.add_argument("--samples", type=int, default=None, help="evaluate a fixed seeded subset of this many inputs")
    add_data_arguments(f, "evaluation data (its test split)")
    f.set_defaults(func=cmd_infer)


def cmd_infer(args) -> int:
    from accelsim.errors import UserError
    from accelsim.schema.data_source import DataSpec, data_from_args

    if args.samples is not None and args.samples < 1:
        raise UserError(f"--samples {args.samples} must be >= 1")
    data = data_from_args(args)   # a bad --data is refused before numpy and torch are imported
    from accelsim.image import load_image
    if Path(args.image).is_dir():
        image, card = load_image(args.image), None
    else:
        from accelsim.image.from_checkpoint import checkpoint_image
        image, card, tmp = checkpoint_image(args.image)
    from accelsim.infer.outcome import evaluate_image, recorded_data
    t0 = time.perf_counter()
    try:
        if data == DataSpec() and args.data is None:   # no --data: the data the image was made for
            data = recorded_data(image) or data
        ds, pred = evaluate_image(image, data, args.samples)
    finally:
        if card is not None:
            tmp.cleanup()
    ms = (time.perf_counter() - t0) * 1e3
    if ds.y is None:
        print(f"{args.image}: {len(pred)} unlabelled inputs of {data.text}: no accuracy; top-1 classes predicted: "
              f"{len(set(pred.tolist()))} distinct ({ms:.0f} ms)")
        return 0
    acc = float((pred == ds.y).mean())
    what = "digits test samples" if data.kind == "digits" else f"inputs of {data.text}"
    recorded = ""
    if card is not None and card.integer_accuracy is not None:
        recorded = f"; its card records {card.integer_accuracy:.4f} ({card.integer_layout}, whole test set)"
    print(f"{args.image}: integer-exact accuracy {acc:.4f} on {len(pred)} {what} ({ms:.0f} ms){recorded}")
    return 0
