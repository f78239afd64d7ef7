"""``accelsim export`` and ``accelsim inspect``."""

from __future__ import annotations

import time
from pathlib import Path

from accelsim.cliargs import add_data_arguments
from accelsim.ecc.names import LAYOUT_NAMES
from accelsim.image.from_checkpoint import export_checkpoint, export_state_dict   # no numpy at import


def register(sub) -> None:
    p = sub.add_parser("export", help="quantize and pack a checkpoint into a memory image")
    p.add_argument("checkpoint", help="a trained checkpoint (models/NAME or NAME.safetensors with NAME.yaml), "
                                      "or with --model a plain safetensors state dict")
    p.add_argument("--model", default=None, metavar="FILE.py:FACTORY",
                   help="your own network for a plain state dict (input shape and calibration from --data)")
    p.add_argument("--layout", required=True, choices=LAYOUT_NAMES, metavar="LAYOUT",
                   help=f"weight layout, exact name: {', '.join(LAYOUT_NAMES)}")
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


def cmd_export(args) -> int:
    out = args.out or str(Path("images") / f"{Path(args.checkpoint).stem}-{args.layout}")
    t0 = time.perf_counter()
    from accelsim.schema.data_source import data_from_args

    data = data_from_args(args)   # a bad --data is refused before torch is imported
    from accelsim.fileio import check_output_dir

    check_output_dir(out, "output directory", force=args.force)   # so is an output it cannot write
    if args.model is not None:
        image = export_state_dict(args.model, args.checkpoint, args.layout, out, data, force=args.force,
                                  project=args.project)
    else:
        image = export_checkpoint(args.checkpoint, args.layout, out, force=args.force, project=args.project,
                                  data=None if args.data is None and data.is_default else data,
                                  trust_model_file=args.trust_model_file)
    moved = image.manifest.projected_weights
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
    t = Table(title=f"{args.image}: layout {layout.name} (code {m.code}), {image.words.shape[0]} words of "
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
                  f"({len(image.graph)} nodes) are consistent; accelsim {m.accelsim_version}, "
                  f"format {m.format_version}")
    return 0
