"""Export a trained checkpoint (a zoo model or the user's ``FILE.py:NAME`` with its model
card) or a plain state dict as a memory image, and the content key of that export
(accelsim.image.provenance) computed without exporting."""

from __future__ import annotations

from pathlib import Path


def _calibration(card, data=None):
    """The calibration batch export uses: ``data``'s training inputs (a DataSpec) when
    given; else the training split of the card's data set where that is the digits or a
    named data set (fashion-mnist), else None (export's seeded uniform images)."""
    from accelsim.nn.data import NAMED, DataSpec, calibration_set, parse_data
    from accelsim.nn.modelref import is_factory_ref
    from accelsim.nn.zoo import model_info

    if data is not None:
        return calibration_set(data)
    dataset = card.dataset or (None if is_factory_ref(card.model) else model_info(card.model)[2])
    if dataset in NAMED:
        return calibration_set(parse_data(dataset, where="the model card's dataset"))
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
                        source={"checkpoint": str(checkpoint), "model": card.model,
                                "card_accuracy": card.accuracy, "export_sha256": key,
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
    config = card.config or {}
    recorded = config.get("data") if isinstance(config, dict) else None
    recorded = recorded or card.dataset
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
    from accelsim.nn.source import ModelSource, load_source_model, source_activation_bits, source_bits
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


def checkpoint_image(checkpoint: str):
    """(memory image, card, its temporary folder) of a quantized checkpoint exported as
    retrain_zoo measures it: the layout it was trained for, the default calibration."""
    import tempfile

    from accelsim.errors import UserError
    from accelsim.nn.checkpoint import checkpoint_paths, load_card
    from accelsim.nn.checkpoint import integer_layout

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
