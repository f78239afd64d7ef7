"""Model references: how a user names a network.

- a zoo name (``lenet5``, ``resnet18``, ...): :func:`accelsim.nn.zoo.build_model`;
- ``path/to/file.py:factory``: the user's own module, imported from that file, and
  ``factory()`` (no arguments) returns the ``nn.Module``; relative paths resolve against
  the folder of the config (or model card) that names them. The file is Python code: it
  runs with the user's rights, like any script they run. Anything it raises while being
  imported or called (``sys.exit``, ``KeyboardInterrupt`` included) is one UserError
  naming the file.

Weights come from a safetensors state dict, loaded strictly by
:func:`accelsim.nn.checkpoint.load_state` (a QAT checkpoint's per-channel
``weight_scale`` buffers are registered first). The bundled checkpoints
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
    except BaseException as exc:   # SystemExit and KeyboardInterrupt too: never a silent exit
        del sys.modules[name]
        raise UserError(f"model file {path}: importing it failed: {_describe(exc)}") from None
    return module


def _describe(exc: BaseException) -> str:
    """An exception raised by the user's code, in one line (sys.exit(0) included)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({exc.code!r}) called"
    text = str(exc).splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:300]


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
        except BaseException as exc:   # SystemExit and KeyboardInterrupt too: never a silent exit
            raise UserError(f"model {ref.text}: {ref.name}() raised {_describe(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model {ref.text}: {ref.name}() returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def build_any(model: str, base_dir: str | Path = ".", seed: int = 0, num_classes: int | None = None,
              input_shape=None) -> torch.nn.Module:
    """A zoo model by name, sized for ``input_shape`` (C, H, W; None: the zoo's default), or
    the user's ``file.py:factory`` (resolved against base_dir; it sizes itself)."""
    if is_factory_ref(model):
        return build_factory(parse_factory(model, base_dir), seed)
    from accelsim.nn.zoo import build_model
    return build_model(model, seed=seed, num_classes=num_classes, input_shape=input_shape)


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
