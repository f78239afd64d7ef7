"""Checkpoints: ``NAME.safetensors`` (weights, plus per-channel ``weight_scale`` buffers
for quantized models) and ``NAME.yaml``, the model card. Never pickle."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors.torch import save as st_save

from accelsim.fileio import atomic_write_bytes, atomic_write_text, read_yaml
from accelsim.nn.modelref import build_any, load_state, read_state
from accelsim.nn.zoo import model_info
from accelsim.schema import ModelCard, validate



def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, card) for 'models/x', 'models/x.safetensors' or 'models/x.yaml'."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".yaml") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".yaml")


def save_checkpoint(model: torch.nn.Module, path: str | Path, card: dict) -> tuple[Path, Path]:
    weights, card_path = checkpoint_paths(path)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    atomic_write_bytes(weights, st_save(state))
    atomic_write_text(card_path, yaml.safe_dump(card, sort_keys=False))
    return weights, card_path


def load_card(path: str | Path) -> ModelCard:
    """The model card next to a checkpoint, validated by :class:`accelsim.schema.ModelCard`."""
    _, card_path = checkpoint_paths(path)
    return validate(ModelCard, read_yaml(card_path, "model card"), f"model card {card_path}")


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, ModelCard]:
    """(model in eval mode, card). Quantized checkpoints carry their scales as buffers.
    The card's ``model`` is a zoo name or ``file.py:factory`` relative to the card's folder."""
    weights, card_path = checkpoint_paths(path)
    card = load_card(path)
    state = read_state(weights)
    model = build_any(card.model, base_dir=card_path.parent, seed=card.seed, num_classes=card.num_classes)
    return load_state(model, state, str(weights), card.model), card


def card_input_shape(card: ModelCard) -> tuple[int, ...]:
    """The input shape (C, H, W) a checkpoint's model takes: the card's, else the zoo's."""
    if card.get("input_shape"):
        return tuple(int(v) for v in card["input_shape"])
    return model_info(card["model"])[0]
