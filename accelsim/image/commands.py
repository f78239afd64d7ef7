"""``accelsim export``, ``accelsim inspect`` and ``accelsim infer``."""

from __future__ import annotations

import time
from pathlib import Path

from accelsim.cliargs import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("export", help="quantize and pack a checkpoint into a memory image")
    p.add_argument("checkpoint", help="a trained checkpoint (models/NAME or NAME.safetensors with NAME.yaml), "
                                      "or with --model a plain safetensors state dict")
    p.add_argument("--model", default=None, metavar="FILE.py:FACTORY",
                   help="your own network for a plain state dict (input shape and calibration from --data)")
    from accelsim.ecc import list_layouts
    p.add_argument("--layout", required=True, choices=list_layouts(), metavar="LAYOUT",
                   help=f"weight layout, exact name: {', '.join(list_layouts())}")
    p.add_argument("-o", "--out", default=None, help="image directory (default: images/<checkpoint>-<layout>)")
    p.add_argument("--force", action="store_true", help="replace an existing image directory")
    p.add_argument("--project", action="store_true",
                   help="clamp weights that do not fit the layout's throttled slots (WOT projection)")
    p.add_argument("--trust-model-file", action="store_true",
                   help="import the model file (FILE.py:FACTORY) the checkpoint's card names: it is Python code "
                        "and runs with your rights")
    add_data_arguments(p, "calibration data (its training split; default: the model's own, digits or seeded "
                          "uniform inputs)")
    p.set_defaults(func=cmd_export)
    i = sub.add_parser("inspect", help="verify a memory image and list its layers")
    i.add_argument("image", help="memory image directory")
    i.set_defaults(func=cmd_inspect)
    f = sub.add_parser("infer", help="integer-exact accuracy of a memory image (or a quantized checkpoint) on a "
                                     "data set, with the exact fast engine (default data: what the image's manifest "
                                     "records, else digits test)")
    f.add_argument("image", help="memory image directory, or a quantized checkpoint (models/NAME with NAME.yaml: "
                                 "exported to a temporary image in the layout it was trained for)")
    f.add_argument("--samples", type=int, default=None, help="evaluate a fixed seeded subset of this many inputs")
    add_data_arguments(f, "evaluation data (its test split)")
    f.set_defaults(func=cmd_infer)


def _calibration(card: dict, data=None):
    """The calibration batch export uses: ``data``'s training inputs (a DataSpec) when
    given; else the training split of the card's data set where that is the digits or a
    named data set (fashion-mnist), else None (export's seeded uniform images)."""
    from accelsim.nn.data import NAMED, DataSpec, calibration_set, parse_data
    from accelsim.nn.modelref import is_factory_ref
    from accelsim.nn.zoo import model_info

    if data is not None:
        return calibration_set(data)
    dataset = card.get("dataset") or (None if is_factory_ref(card["model"]) else model_info(card["model"])[2])
    if dataset in NAMED:
        return calibration_set(parse_data(dataset, where=f"the model card's dataset"))
    return calibration_set(DataSpec()) if dataset == "digits" else None


def checkpoint_export_key(checkpoint: str, layout: str, *, project: bool = False, data=None,
                          calibration_sha: str | None = None) -> str:
    """The SHA-256 of everything ``export_checkpoint(checkpoint, layout)`` makes its image
    from (accelsim.image.provenance); computed without exporting. ``calibration_sha``: the
    hash of ``data``'s calibration set when the caller has it already."""
    from accelsim.image.provenance import calibration_sha256, export_key
    from accelsim.nn.checkpoint import checkpoint_paths, load_card

    weights, card_path = checkpoint_paths(checkpoint)
    card = load_card(checkpoint)
    if not weights.exists():
        from accelsim.errors import UserError
        raise UserError(f"checkpoint {str(weights)!r} does not exist")
    if calibration_sha is None or data is None:
        calibration_sha = calibration_sha256(_calibration(card, data))
    return export_key(weights, card_path, layout, calibration_sha=calibration_sha,
                      options={"project": bool(project), "per_channel": True})


def export_checkpoint(checkpoint: str, layout: str, out: str | Path, *, force: bool = False,
                      project: bool = False, data=None, trust_model_file: bool = False):
    """Export a checkpoint (zoo or ``file.py:factory`` card), calibrated on ``data`` (a
    DataSpec) or by default as :func:`_calibration` says. The manifest's
    ``source.export_sha256`` is :func:`checkpoint_export_key`."""
    from accelsim.ecc import get_layout
    from accelsim.image.export import export_image
    from accelsim.nn import load_checkpoint
    from accelsim.nn.checkpoint import card_input_shape
    from accelsim.nn.data import check_fits, load_data

    get_layout(layout)
    model, card = load_checkpoint(checkpoint, trust=trust_model_file, hint="pass --trust-model-file")
    shape = card_input_shape(card)
    if data is not None:
        check_fits(load_data(data), shape, None, f"checkpoint {checkpoint}")
    key = checkpoint_export_key(checkpoint, layout, project=project, data=data)
    return export_image(model, out, layout=layout, input_shape=shape, calibration=_calibration(card, data),
                        bits=card.bits, project=project, force=force,
                        activation_bits=card.activation_bits or 8,
                        source={"checkpoint": str(checkpoint), "model": card["model"],
                                "card_accuracy": card.get("accuracy"), "export_sha256": key,
                                **({"data": d} if (d := _data_text(card, checkpoint, data)) else {})})


def _data_text(card, checkpoint, data) -> dict | None:
    """The data an exported checkpoint is evaluated on (``data`` if given, else the card's
    own with its transform, its path resolved against the card's folder), as
    DataSpec.to_dict(); None: digits (or the card's data is not on this machine)."""
    from accelsim.errors import UserError
    from accelsim.nn.checkpoint import checkpoint_paths
    from accelsim.nn.data import parse_data

    if data is not None:
        return None if data.is_default else data.to_dict()
    config = card.get("config") or {}
    recorded = config.get("data") if isinstance(config, dict) else None
    recorded = recorded or card.get("dataset")
    if not recorded or recorded in ("digits", {"source": "digits"}):
        return None
    try:
        return parse_data(recorded, checkpoint_paths(checkpoint)[1].parent, "card dataset").to_dict()
    except UserError:
        return None


def export_state_dict(factory: str, weights: str, layout: str, out, data, *, force: bool = False,
                      project: bool = False):
    """Export the user's ``file.py:factory`` with a plain safetensors state dict (a card
    beside it gives its trained bits); input shape and calibration come from ``data``."""
    from accelsim.campaign.sources import ModelSource, load_source_model, source_activation_bits, source_bits
    from accelsim.ecc import get_layout
    from accelsim.errors import UserError
    from accelsim.image.export import export_image
    from accelsim.nn.data import calibration_set, check_fits, load_data
    from accelsim.nn.modelref import parse_factory, probe

    get_layout(layout)
    if not Path(weights).is_file():
        raise UserError(f"state dict {weights!r} does not exist")
    src = ModelSource("factory", str(Path(weights).resolve()), parse_factory(factory, ".", "--model").text, project)
    model, _ = load_source_model(src)
    ds = load_data(data)
    check_fits(ds, ds.input_shape, probe(model, ds.input_shape, repr(factory)), f"model {factory!r}")
    calibration = calibration_set(data)
    return export_image(model, out, layout=layout, input_shape=ds.input_shape, calibration=calibration,
                        bits=source_bits(src), project=project, force=force,
                        activation_bits=source_activation_bits(src),
                        source={"factory": src.factory, "checkpoint": src.path, "data": data.text})


def cmd_export(args) -> int:
    out = args.out or str(Path("images") / f"{Path(args.checkpoint).stem}-{args.layout}")
    t0 = time.perf_counter()
    from accelsim.nn.data import data_from_args

    data = data_from_args(args)
    if args.model is not None:
        image = export_state_dict(args.model, args.checkpoint, args.layout, out, data, force=args.force,
                                  project=args.project)
    else:
        image = export_checkpoint(args.checkpoint, args.layout, out, force=args.force, project=args.project,
                                  data=None if args.data is None and data.is_default else data,
                                  trust_model_file=args.trust_model_file)
    moved = image.manifest.get("projected_weights", 0)
    print(f"{out}: {len(image.layers)} layers, {image.n_weights} weights in {image.words.shape[0]} "
          f"{image.layout.word_bits}-bit words ({image.bytes_stored()} bytes), "
          f"{time.perf_counter() - t0:.2f} s" + (f", {moved} weights projected" if args.project else ""))
    return 0


def cmd_inspect(args) -> int:
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.image import load_image

    image = load_image(args.image)   # raises UserError on any failed check
    m, layout = image.manifest, image.layout
    t = Table(title=f"{args.image}: layout {layout.name} (code {m['code']}), {image.words.shape[0]} words of "
                    f"{layout.word_bits} bits = {image.bytes_stored()} bytes, {image.n_weights} weights "
                    f"at {layout.weight_bits} bits")
    for col in ("layer", "kind", "weight shape", "weights", "offset", "words", "GEMM M x K x N", "relu",
                "weight scale (min..max)"):
        t.add_column(col)
    for layer in image.layers:
        t.add_row(layer.name, layer.kind, "x".join(map(str, layer.weight_shape)), str(layer.n_weights),
                  str(layer.word_offset), str(layer.n_words), " x ".join(map(str, layer.gemm)),
                  "yes" if layer.relu else "", f"{layer.weight_scale.min():.3g}..{layer.weight_scale.max():.3g}")
    console = get_console()
    console.print(t)
    console.print(f"checks: sha256 of image.bin and image.hex match; image.hex holds the words of image.bin; "
                  f"no bit above the {layout.word_bits}-bit words; sizes, offsets, shapes, scales and graph "
                  f"({len(image.graph)} nodes) are consistent; accelsim {m.get('accelsim_version')}, "
                  f"format {m['format_version']}")
    return 0


def evaluate_image(image, data, samples: int | None = None, weights=None) -> tuple[object, "np.ndarray"]:
    """(the evaluated Dataset, top-1 predictions) of a memory image on ``data``, after the
    one-line checks of shape and label range."""
    from accelsim.campaign.sources import image_classes
    from accelsim.infer import IntegerNetwork
    from accelsim.nn.data import check_fits, evaluation_set

    from accelsim.infer.fast import FastIntegerNetwork

    ds = evaluation_set(data, samples)
    if samples is not None and len(ds.x) < samples:
        from accelsim.errors import UserError
        raise UserError(f"--samples {samples}: the data {data.text} holds only {len(ds.x)} inputs")
    check_fits(ds, image.input_shape, image_classes(image), f"image {image.path}")
    # the exact fast engine campaigns use (bit-identical to IntegerNetwork, tested in test_infer_fast)
    return ds, FastIntegerNetwork(image).predict(ds.x, weights)


def recorded_data(image):
    """The data source an image was exported for, as its manifest records it (a campaign's
    or a --data export's data, or the checkpoint's own training data); None: digits."""
    from accelsim.errors import UserError
    from accelsim.nn.data import parse_data

    text = (image.manifest.get("source") or {}).get("data")
    if not text:
        return None
    try:
        return parse_data(text, ".", f"data {text!r} recorded in {image.path}/manifest.yaml")
    except UserError as exc:
        raise UserError(f"{exc}; give --data") from None


def cmd_infer(args) -> int:
    from accelsim.errors import UserError
    from accelsim.image import load_image
    from accelsim.nn.data import DataSpec, data_from_args

    if args.samples is not None and args.samples < 1:
        raise UserError(f"--samples {args.samples} must be >= 1")
    data = data_from_args(args)
    if Path(args.image).is_dir():
        image, card = load_image(args.image), None
    else:
        image, card, tmp = _checkpoint_image(args.image)
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


def _checkpoint_image(checkpoint: str):
    """(memory image, card, its temporary folder) of a quantized checkpoint exported as
    retrain_zoo measures it: the layout it was trained for, the default calibration."""
    import tempfile

    from accelsim.errors import UserError
    from accelsim.nn.checkpoint import checkpoint_paths, load_card
    from accelsim.nn.retrain_zoo import integer_layout

    weights, card_path = checkpoint_paths(checkpoint)
    if not card_path.is_file():
        raise UserError(f"{checkpoint!r} is neither a memory image directory nor a checkpoint with a model card")
    card = load_card(checkpoint)
    if card.bits == 32:
        raise UserError(f"checkpoint {checkpoint} holds float32 weights: export needs a quantized one "
                        "(train with --bits)")
    tmp = tempfile.TemporaryDirectory(prefix="accelsim-infer-")
    try:
        image = export_checkpoint(checkpoint, integer_layout(card), Path(tmp.name) / "image")
    except BaseException:
        tmp.cleanup()
        raise
    return image, card, tmp
