"""Checkpoints: ``NAME.safetensors`` (weights, plus per-channel ``weight_scale`` buffers
for quantized models) and ``NAME.yaml``, the model card. Never pickle."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from accelsim.errors import UserError
from accelsim.fileio import atomic_write_bytes, atomic_write_text, read_yaml
from accelsim.nn.modelref import build_any
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


def _check_float(weights: Path, key: str, value: torch.Tensor) -> None:
    """A float tensor of the model (weight, bias, BN statistics) must be stored as floats:
    load_state_dict would silently convert int32 or bool values into float weights."""
    if not value.is_floating_point():
        raise UserError(f"checkpoint {weights}: tensor {key} has dtype {str(value.dtype).removeprefix('torch.')}, "
                        "expected a floating-point type")
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        i = int(torch.nonzero(~finite.reshape(-1))[0])
        raise UserError(f"checkpoint {weights}: tensor {key} holds {float(value.reshape(-1)[i])} at index {i} "
                        "(NaN or Inf)")


def _check_scale(weights: Path, key: str, value: torch.Tensor, out_channels: int) -> None:
    """A trained per-channel scale: one finite, positive float per output channel (export
    used to replace a NaN, zero or negative scale by 1.0 silently)."""
    _check_float(weights, key, value)
    if value.numel() != out_channels:
        raise UserError(f"checkpoint {weights}: tensor {key} has {value.numel()} values, the layer "
                        f"{out_channels} output channels")
    bad = value.reshape(-1) <= 0
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        raise UserError(f"checkpoint {weights}: tensor {key} holds {float(value.reshape(-1)[i])} at channel {i}; "
                        "a weight scale must be > 0")


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (never pickle)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {str(path)!r} does not exist")
    try:
        return st_load(path.read_bytes())
    except Exception as exc:  # safetensors raises its own error types on bad files
        raise UserError(f"checkpoint {path}: not a readable safetensors file ({str(exc).splitlines()[0]})") from None


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str, what: str) -> torch.nn.Module:
    """Strict load of ``state`` into ``model`` (eval mode); QAT ``weight_scale`` buffers are
    added to their layers first. A mismatch is one line naming the first bad key."""
    weights = Path(where)
    modules = dict(model.named_modules())
    expected = model.state_dict()
    for key, value in state.items():
        if key.endswith(".weight_scale"):
            owner = modules.get(key[: -len(".weight_scale")])
            if not isinstance(owner, (torch.nn.Conv2d, torch.nn.Linear)):
                raise UserError(f"checkpoint {weights}: {key} belongs to no Conv2d/Linear layer of {what}")
            _check_scale(weights, key, value, owner.weight.shape[0])
            owner.register_buffer("weight_scale", torch.zeros_like(value))
        elif key in expected and expected[key].is_floating_point():
            _check_float(weights, key, value)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        if shapes:
            k = shapes[0]
            why = f"tensor {k} has shape {list(state[k].shape)}, the model's {list(expected[k].shape)}"
        else:
            why = "; ".join(part for part in (f"missing key {missing[0]!r}" if missing else "",
                                              f"unexpected key {unexpected[0]!r}" if unexpected else "") if part)
        counts = f" ({len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} misshapen)"
        raise UserError(f"checkpoint {weights} does not fit model {what}: {why}{counts}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def check_card_code(card: ModelCard, card_path: Path, trust, hint: str) -> None:
    """A card naming a model file (``file.py:factory``) would run that file's code. It runs
    only when the user named the file themselves: ``trust`` is True (an explicit option)
    or holds the file's absolute path (from the command line or config); else one
    UserError with ``hint`` (how to name it)."""
    from accelsim.nn.modelref import is_factory_ref, parse_factory

    if trust is True or not is_factory_ref(card.model):
        return
    ref = parse_factory(card.model, card_path.parent, f"model card {card_path}: model")
    if ref.file not in set(trust or ()):
        raise UserError(f"model card {card_path} names the model file {ref.file} (Python code, run with your "
                        f"rights); it is imported only when you name it: {hint}")


def load_checkpoint(path: str | Path, *, trust=False,
                    hint: str = "pass trust=True") -> tuple[torch.nn.Module, ModelCard]:
    """(model in eval mode, card). Quantized checkpoints carry their scales as buffers.
    The card's ``model`` is a zoo name or ``file.py:factory`` relative to the card's folder;
    a model file is imported only as :func:`check_card_code` allows (``trust``)."""
    weights, card_path = checkpoint_paths(path)
    card = load_card(path)
    check_card_code(card, card_path, trust, hint)
    state = read_state(weights)
    model = build_any(card.model, base_dir=card_path.parent, seed=card.seed, num_classes=card.num_classes,
                      input_shape=card.get("input_shape"))
    return load_state(model, state, str(weights), card.model), card


def card_input_shape(card: ModelCard) -> tuple[int, ...]:
    """The input shape (C, H, W) a checkpoint's model takes: the card's, else the zoo's."""
    if card.get("input_shape"):
        return tuple(int(v) for v in card["input_shape"])
    return model_info(card["model"])[0]
