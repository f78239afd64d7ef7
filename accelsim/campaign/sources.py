"""Which weights serve each (model, scheme) of a campaign, and the checks that they can run
on the campaign's data, made before any store or output exists.

A campaign's ``models:`` is a list of zoo names (their bundled checkpoints, by the naming
convention in SCHEME_VARIANT) or a mapping from a model's label to one of:

- ``{}`` / null: the zoo name's bundled checkpoints, as for a list entry;
- ``{checkpoints: {SCHEME: STEM, ...}}`` or ``{checkpoint: STEM}`` (every scheme): checkpoints
  with a model card (``STEM.safetensors`` + ``STEM.yaml``, as ``accelsim train`` writes);
  the legacy form ``{SCHEME: STEM, ...}`` means the same;
- ``{factory: FILE.py:NAME, checkpoints: {SCHEME: FILE.safetensors}}`` or ``checkpoint:``:
  the user's own network and its state dict(s) (a card beside a state dict gives its bits);
  ``project: true`` clamps weights into an in-place layout's throttled slots at export;
- ``{images: {SCHEME: DIR, ...}}``: memory images already exported (``accelsim export``); an
  image's layout must be the scheme it serves;
- ``{seed: N}`` (a zoo name) or ``{factory: FILE.py:NAME, seed: N}``: no checkpoint, the
  network initialised under seed N, given data-dependent BatchNorm statistics and a centred
  classifier (and with ``project``, in-place slots fitted: accelsim.nn.seeded) and exported
  at each scheme's bits: full-size topologies for timing, energy and the SDC metric, where
  no trained weights exist.

Every model must serve every scheme of the campaign. Relative paths resolve against the
config file's folder.
"""

from __future__ import annotations

from pathlib import Path

from accelsim.errors import UserError
from accelsim.nn.source import ModelSource, load_source_model

# which trained checkpoint variant serves each scheme, by the zoo's naming convention
SCHEME_VARIANT = {
    "none-8b": "int8", "ecc-8b-72": "int8", "inplace-8b-64": "int8-wot-inplace-8b-64",
    "none-4b": "int4", "inplace-4b-64": "int4-wot-inplace-4b-64", "inplace-4b-32": "int4-wot-inplace-4b-32",
}


def _resolve(value, base_dir: Path, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where} = {value!r}: expected a path")
    p = Path(value).expanduser()
    # absolute: a trial's key must not depend on the folder the campaign was started from
    return str((p if p.is_absolute() else base_dir / p).resolve())


def _per_scheme(entry: dict, single: str, plural: str, schemes: list[str], model: str,
                spec_where: str) -> dict[str, str]:
    """{scheme: path} for every scheme, from ``single`` (every scheme) or ``plural`` (a mapping
    per scheme; the schema refused both at once and schemes the campaign does not sweep)."""
    given = {s: entry[single] for s in schemes} if single in entry else (entry.get(plural) or {})
    for scheme in schemes:
        if scheme not in given:
            raise UserError(f"{spec_where}: model {model!r} has no checkpoint or image for scheme {scheme}")
    return given


def parse_models(field, schemes: list[str], base_dir: Path, models_dir: Path,
                 spec_where: str = "campaign spec") -> tuple[list[str], dict]:
    """(model labels, {(model, scheme): ModelSource}) from ``field``, the entries of a
    validated :class:`accelsim.schema.campaign.ModelEntry` mapping (their fields, legacy
    forms and combinations are checked there); checks that every file exists."""
    from accelsim.nn.modelref import parse_factory
    from accelsim.nn.zoo import MODELS

    sources = {}
    for model, entry in field.items():
        where = f"{spec_where}: models.{model}"
        entry = entry or {}
        project = entry.get("project", False)
        if "images" in entry:
            paths = _per_scheme(entry, "image", "images", schemes, model, spec_where)
            for scheme in schemes:
                d = _resolve(paths[scheme], base_dir, f"{where}.images.{scheme}")
                if not Path(d).is_dir():
                    raise UserError(f"{where}.images.{scheme}: memory image {d!r} does not exist")
                sources[(model, scheme)] = ModelSource("image", d)
        elif "seed" in entry:
            if "factory" in entry:
                name = parse_factory(entry["factory"], base_dir, f"{where}.factory").text
            elif model in MODELS:
                name = model
            else:
                raise UserError(f"{where}.seed: {model!r} is not a zoo model ({', '.join(MODELS)}); give "
                                f"models.{model}.factory: FILE.py:NAME beside the seed")
            for scheme in schemes:
                sources[(model, scheme)] = ModelSource("seeded", name, project=project, seed=entry["seed"])
        elif "factory" in entry:
            ref = parse_factory(entry["factory"], base_dir, f"{where}.factory")
            paths = _per_scheme(entry, "checkpoint", "checkpoints", schemes, model, spec_where)
            for scheme in schemes:
                weights = Path(_resolve(paths[scheme], base_dir, f"{where}.checkpoints.{scheme}"))
                if weights.suffix != ".safetensors":
                    weights = weights.with_name(weights.name + ".safetensors")
                if not weights.is_file():
                    raise UserError(f"{where}: state dict {str(weights)!r} for scheme {scheme} does not exist")
                sources[(model, scheme)] = ModelSource("factory", str(weights), ref.text, project)
        elif "checkpoint" in entry or "checkpoints" in entry:
            paths = _per_scheme(entry, "checkpoint", "checkpoints", schemes, model, spec_where)
            for scheme in schemes:
                stem = _resolve(paths[scheme], base_dir, f"{where}.checkpoints.{scheme}")
                sources[(model, scheme)] = _card_checkpoint(model, scheme, stem, project, spec_where)
        else:
            if model not in MODELS:
                raise UserError(f"{spec_where}: no checkpoint for model {model!r}: not a zoo model "
                                f"({', '.join(MODELS)}); give models.{model}.factory: FILE.py:NAME with "
                                "checkpoint(s), or checkpoints, or images")
            for scheme in schemes:
                sources[(model, scheme)] = _card_checkpoint(
                    model, scheme, str((models_dir / f"{model}-{SCHEME_VARIANT[scheme]}").resolve()), project,
                    spec_where)
    return list(field), sources


def _card_checkpoint(model: str, scheme: str, stem: str, project: bool, where: str = "campaign spec") -> ModelSource:
    p = Path(stem)
    stem = str(p.with_suffix("")) if p.suffix in (".safetensors", ".yaml") else stem
    if not Path(stem + ".yaml").is_file() or not Path(stem + ".safetensors").is_file():
        raise UserError(f"{where}: no checkpoint {stem}(.yaml/.safetensors) for model {model!r}, scheme {scheme}")
    from accelsim.nn.checkpoint import check_card_code, load_card
    card = load_card(stem)   # a card naming a model file: run it only if the spec names it (factory:)
    check_card_code(card, Path(stem + ".yaml"), (), f"give models.{model}.factory: {card.model} beside the "
                                                    "checkpoint(s) in the campaign spec")
    return ModelSource("checkpoint", stem, project=project)


def check_sources(sources: dict, data) -> dict[tuple[str, str], ModelSource]:
    """Load every model (or image) once and check it against the evaluation data: input
    shape, labels within its classes, image layout = scheme. Returns the sources with the
    images' content hashes filled in. Raises UserError before anything is written."""
    from accelsim.nn.data import check_fits

    out, checked = {}, set()
    for (model, scheme), src in sources.items():
        what = f"{model!r} ({scheme})"
        if src in checked:      # one checkpoint or seeded network serving several schemes
            pass
        elif src.kind == "image":
            from accelsim.image import load_image
            from accelsim.infer.outcome import image_classes
            image = load_image(src.path)
            if image.layout.name != scheme:
                raise UserError(f"campaign spec: models.{model}.images.{scheme}: the image {src.path} holds "
                                f"layout {image.layout.name}, not {scheme}")
            check_fits(data, image.input_shape, image_classes(image), f"model {what}")
            src = ModelSource("image", src.path, image_sha256=image.manifest.files.image_bin)
        else:
            from accelsim.image.graph import capture
            from accelsim.nn.modelref import probe
            from accelsim.progress import step
            with step(f"loading and tracing {model}: one input through it, every operation checked for export"):
                model_obj, shape = load_source_model(src, data.input_shape)
                check_fits(data, shape or data.input_shape, None, f"model {what}")
                classes = probe(model_obj, data.input_shape, what)
                check_fits(data, data.input_shape, classes, f"model {what}")
                capture(model_obj, data.input_shape)   # an operation the exporter refuses: found here, not mid-run
            checked.add(src)
        out[(model, scheme)] = src
    return out
