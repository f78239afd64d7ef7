"""Package attributes imported on first use (PEP 562), so that ``accelsim --help``, ``accelsim
schema`` and a config error answer before torch, matplotlib, numba or SimPy are imported:
importing ``accelsim.nn.commands`` runs ``accelsim/nn/__init__.py`` first, and an eager
``from accelsim.nn.checkpoint import ...`` there would load torch (about 2 s) for a help text."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports ``names`` (attribute -> module
    path) when first read and caches it in the package's namespace."""
    def __getattr__(attr: str):
        module = names.get(attr)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        value = getattr(importlib.import_module(module), attr)
        setattr(importlib.import_module(package), attr, value)
        return value
    return __getattr__
