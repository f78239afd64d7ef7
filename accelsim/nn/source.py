"""Where a network's weights come from (a campaign's model entries, ``accelsim export
--model``): a checkpoint with a model card, the user's ``FILE.py:NAME`` with a safetensors
state dict, a ready memory image, or a network initialised under a seed; and how each is
loaded as a float model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSource:
    """The weights of one (model, scheme): ``kind`` is ``checkpoint`` (a stem with a model
    card), ``factory`` (the user's FILE.py:NAME + a safetensors file), ``image`` (a
    memory image directory) or ``seeded`` (``path`` is a zoo name or FILE.py:NAME, its
    weights initialised under ``seed``)."""

    kind: str
    path: str
    factory: str | None = None
    project: bool = False
    image_sha256: str | None = None
    seed: int | None = None

    @property
    def key(self) -> str:
        """The trial parameter ``checkpoint``: the stem as before for checkpoints."""
        if self.kind == "checkpoint":
            return self.path
        if self.kind == "factory":
            return f"{self.factory}@{self.path}" + ("+project" if self.project else "")
        if self.kind == "seeded":
            return f"{self.path}#seed={self.seed}" + ("+project" if self.project else "")
        return f"image:{self.path}@{self.image_sha256}"


def load_source_model(src: ModelSource, input_shape=None):
    """(float model, input shape or None) of a checkpoint or factory source; a seeded zoo
    model is sized for ``input_shape`` (the campaign data's; None: the zoo's default)."""
    from accelsim.nn.checkpoint import card_input_shape, checkpoint_paths, load_card, load_checkpoint
    from accelsim.nn.checkpoint import load_state, read_state
    from accelsim.nn.modelref import build_factory, parse_factory

    if src.kind == "checkpoint":
        model, card = load_checkpoint(src.path)
        return model, card_input_shape(card)
    if src.kind == "seeded":   # no card fixes the input size: any the network accepts (ResNet-18 at 32x32)
        from accelsim.nn.modelref import build_any
        return build_any(src.path, seed=src.seed, input_shape=input_shape), None
    ref = parse_factory(src.factory)
    model = build_factory(ref)
    load_state(model, read_state(src.path), src.path, src.factory)
    card = checkpoint_paths(src.path)[1]
    shape = load_card(card).input_shape if card.is_file() else None
    return model, shape


def source_bits(src: ModelSource) -> int | None:
    """The weight bits a factory's state dict was trained at (from a card beside it)."""
    from accelsim.nn.checkpoint import checkpoint_paths, load_card
    if src.kind == "seeded":   # float weights: the layout's bits
        return None
    card = checkpoint_paths(src.path)[1]
    if not card.is_file():
        return None
    bits = load_card(card).bits
    return None if bits in (None, 32) else int(bits)


def source_activation_bits(src: ModelSource) -> int:
    """The activation bits a factory's state dict was trained for (a card beside it), else 8."""
    from accelsim.nn.checkpoint import checkpoint_paths, load_card
    if src.kind == "seeded":
        return 8
    card = checkpoint_paths(src.path)[1]
    return (load_card(card).activation_bits or 8) if card.is_file() else 8
