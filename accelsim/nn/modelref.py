"""Model references: how a user names a network.

- a zoo name (``lenet5``, ``resnet18``, ...): :func:`accelsim.nn.zoo.build_model`;
- ``path/to/file.py:factory``: the user's own module, imported from that file, and
  ``factory()`` (no arguments) returns the ``nn.Module``; relative paths resolve against
  the folder of the config (or model card) that names them.

Weights come from a safetensors state dict; a QAT checkpoint's per-channel
``weight_scale`` buffers are registered before the strict load. The bundled checkpoints
live in ``models/`` beside the package (:func:`bundled_models_dir`), found from any
working directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load

from accelsim.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1]
_FACTORY = re.compile(r"^(?P<file>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def bundled_models_dir() -> Path:
    """``models/`` of the source tree the package runs from (a clone or an editable
    install); falls back to ``./models`` when the package was installed without it."""
    bundled = PACKAGE.parent / "models"
    return bundled if bundled.is_dir() else Path("models").resolve()


def is_factory_ref(text) -> bool:
    return isinstance(text, str) and bool(_FACTORY.match(text))


@dataclass(frozen=True)
class FactoryRef:
    """``file.py:name``, with ``file`` absolute."""

    file: str
    name: str

    @property
    def text(self) -> str:
        return f"{self.file}:{self.name}"


def parse_factory(text: str, base_dir: str | Path = ".", where: str = "model") -> FactoryRef:
    m = _FACTORY.match(text) if isinstance(text, str) else None
    if not m:
        raise UserError(f"{where} = {text!r}: expected path/to/file.py:factory")
    path = Path(m["file"]).expanduser()
    path = (path if path.is_absolute() else Path(base_dir) / path).resolve()
    if not path.is_file():
        raise UserError(f"{where} = {text!r}: model file {str(path)!r} does not exist")
    return FactoryRef(str(path), m["name"])


def _import(path: str):
    """Import the user's file under a name derived from its path (two files of the same
    name do not collide); errors while importing are the user's: one line."""
    name = "accelsim_user_model_" + hashlib.sha256(path.encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # spawned workers re-import it by path, never by this name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserError(f"model file {path}: importing it failed: {exc.__class__.__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return module


def build_factory(ref: FactoryRef, seed: int = 0) -> torch.nn.Module:
    """``ref.name()`` from ``ref.file``, initialised under ``seed`` (eval mode)."""
    module = _import(ref.file)
    factory = getattr(module, ref.name, None)
    if not callable(factory):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UserError(f"model file {ref.file}: no function {ref.name!r} (callables found: "
                        f"{', '.join(found) or 'none'})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = factory()
        except Exception as exc:
            raise UserError(f"model {ref.text}: {ref.name}() raised {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model {ref.text}: {ref.name}() returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def build_any(model: str, base_dir: str | Path = ".", seed: int = 0, num_classes: int | None = None) -> torch.nn.Module:
    """A zoo model by name, or the user's ``file.py:factory`` (resolved against base_dir)."""
    if is_factory_ref(model):
        return build_factory(parse_factory(model, base_dir), seed)
    from accelsim.nn.zoo import build_model
    return build_model(model, seed=seed, num_classes=num_classes)


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {str(path)!r} does not exist")
    try:
        return st_load(path.read_bytes())
    except Exception as exc:  # safetensors raises its own error types on bad files
        raise UserError(f"checkpoint {path}: not a readable safetensors file ({str(exc).splitlines()[0]})") from None


def check_float(weights, key: str, value: torch.Tensor) -> None:
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


def check_scale(weights, key: str, value: torch.Tensor, out_channels: int) -> None:
    """A trained per-channel scale: one finite, positive float per output channel (export
    used to replace a NaN, zero or negative scale by 1.0 silently)."""
    check_float(weights, key, value)
    if value.numel() != out_channels:
        raise UserError(f"checkpoint {weights}: tensor {key} has {value.numel()} values, the layer "
                        f"{out_channels} output channels")
    bad = value.reshape(-1) <= 0
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        raise UserError(f"checkpoint {weights}: tensor {key} holds {float(value.reshape(-1)[i])} at channel {i}; "
                        "a weight scale must be > 0")


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str, what: str) -> torch.nn.Module:
    """Strict load of ``state`` into ``model``; QAT ``weight_scale`` buffers are added to
    their layers first. A mismatch is one line naming the first missing/unexpected key."""
    modules = dict(model.named_modules())
    expected = model.state_dict()
    for key, value in state.items():
        if key.endswith(".weight_scale"):
            owner = modules.get(key[: -len(".weight_scale")])
            if owner is None:       # an unexpected key, reported below with the others
                continue
            if not isinstance(owner, (torch.nn.Conv2d, torch.nn.Linear)):
                raise UserError(f"checkpoint {where}: {key} belongs to no Conv2d/Linear layer of {what}")
            check_scale(where, key, value, owner.weight.shape[0])
            owner.register_buffer("weight_scale", torch.zeros_like(value))
        elif key in expected and expected[key].is_floating_point():
            check_float(where, key, value)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), first {missing[0]!r}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), first {unexpected[0]!r}")
        raise UserError(f"checkpoint {where} does not fit model {what}: {'; '.join(parts)}")
    for k, v in state.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise UserError(f"checkpoint {where} does not fit model {what}: {k} has shape {tuple(v.shape)}, "
                            f"the model's is {tuple(own[k].shape)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def probe(model: torch.nn.Module, input_shape, what: str) -> int:
    """Run one zero input of ``input_shape`` (C, H, W) through ``model``; returns the
    number of classes (outputs per input). A model that cannot take it is a user error."""
    shape = tuple(int(v) for v in input_shape)
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(1, *shape))
    except Exception as exc:
        raise UserError(f"model {what} does not accept inputs of shape {shape}: {exc.__class__.__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(f"model {what}: output {got} for one input, expected (1, classes)")
    return int(out.shape[1])
