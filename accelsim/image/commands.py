"""``accelsim export``, ``accelsim inspect`` and ``accelsim infer``."""

from __future__ import annotations

import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("export", help="quantize and pack a checkpoint into a memory image")
    p.add_argument("checkpoint", help="a trained checkpoint (models/NAME or NAME.safetensors with NAME.yaml)")
    from accelsim.ecc import list_layouts
    p.add_argument("--layout", required=True, choices=list_layouts(), metavar="LAYOUT",
                   help=f"weight layout, exact name: {', '.join(list_layouts())}")
    p.add_argument("-o", "--out", default=None, help="image directory (default: images/<checkpoint>-<layout>)")
    p.add_argument("--force", action="store_true", help="replace an existing image directory")
    p.add_argument("--project", action="store_true",
                   help="clamp weights that do not fit the layout's throttled slots (WOT projection)")
    p.set_defaults(func=cmd_export)
    i = sub.add_parser("inspect", help="verify a memory image and list its layers")
    i.add_argument("image", help="memory image directory")
    i.set_defaults(func=cmd_inspect)
    f = sub.add_parser("infer", help="integer-exact accuracy of a memory image on the digits test set")
    f.add_argument("image", help="memory image directory")
    f.set_defaults(func=cmd_infer)


def _calibration(card):
    """The calibration batch export uses for a zoo model: the digits training split for
    digits models, else None (export's seeded uniform images)."""
    from accelsim.nn import load_digits_split, model_info

    _, _, dataset = model_info(card.model)
    return load_digits_split().x_train if dataset == "digits" else None


def checkpoint_export_key(checkpoint: str, layout: str, *, project: bool = False) -> str:
    """The SHA-256 of everything ``export_checkpoint(checkpoint, layout)`` makes its image
    from (accelsim.image.provenance); computed without exporting."""
    from accelsim.image.provenance import calibration_sha256, export_key
    from accelsim.nn.checkpoint import checkpoint_paths, load_card

    weights, card_path = checkpoint_paths(checkpoint)
    card = load_card(checkpoint)
    if not weights.exists():
        from accelsim.errors import UserError
        raise UserError(f"checkpoint {str(weights)!r} does not exist")
    return export_key(weights, card_path, layout, calibration_sha=calibration_sha256(_calibration(card)),
                      options={"project": bool(project), "per_channel": True})


def export_checkpoint(checkpoint: str, layout: str, out: str | Path, *, force: bool = False,
                      project: bool = False):
    """Export a zoo checkpoint; calibrates on the digits training split for digits models.
    The manifest's ``source.export_sha256`` is :func:`checkpoint_export_key`."""
    from accelsim.ecc import get_layout
    from accelsim.image.export import export_image
    from accelsim.nn import load_checkpoint, model_info

    get_layout(layout)
    key = checkpoint_export_key(checkpoint, layout, project=project)
    model, card = load_checkpoint(checkpoint)
    shape, _, _ = model_info(card.model)
    return export_image(model, out, layout=layout, input_shape=shape, calibration=_calibration(card),
                        bits=card.bits, project=project, force=force,
                        activation_bits=card.activation_bits or 8,
                        source={"checkpoint": str(checkpoint), "model": card.model,
                                "card_accuracy": card.accuracy, "export_sha256": key})


def cmd_export(args) -> int:
    out = args.out or str(Path("images") / f"{Path(args.checkpoint).stem}-{args.layout}")
    t0 = time.perf_counter()
    image = export_checkpoint(args.checkpoint, args.layout, out, force=args.force, project=args.project)
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


def cmd_infer(args) -> int:
    from accelsim.image import load_image
    from accelsim.infer import IntegerNetwork
    from accelsim.nn import load_digits_split

    image = load_image(args.image)
    data = load_digits_split()
    t0 = time.perf_counter()
    pred = IntegerNetwork(image).predict(data.x_test.numpy())
    acc = float((pred == data.y_test.numpy()).mean())
    print(f"{args.image}: integer-exact accuracy {acc:.4f} on {len(pred)} digits test samples "
          f"({(time.perf_counter() - t0) * 1e3:.0f} ms)")
    return 0
