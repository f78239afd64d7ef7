"""What a memory image is made from, as one SHA-256: the key of every cached export.

A cached image is reused only when this key matches, so a checkpoint whose bytes changed
(same path or not), another layout, other export options, other calibration data or
another image format / package version gives a new image instead of a stale one. The
campaign store records the key in each trial row (column ``export_sha256``) so a report
can tell which model produced a row (docs/campaigns.md).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from accelsim import __version__
from accelsim.fileio import sha256_file
from accelsim.image.memory_image import FORMAT_VERSION


def calibration_sha256(calibration) -> str:
    """SHA-256 of a calibration batch (float values, shape and dtype), or of 'none'."""
    if calibration is None:
        return hashlib.sha256(b"none").hexdigest()
    x = np.ascontiguousarray(calibration.numpy() if hasattr(calibration, "numpy") else calibration)
    h = hashlib.sha256(f"{x.dtype.str}{x.shape}".encode())
    h.update(x.tobytes())
    return h.hexdigest()


def _digest(parts: dict) -> str:
    """SHA-256 of ``parts`` with the image format and package version (export arithmetic
    may change between versions)."""
    parts = {**parts, "format_version": FORMAT_VERSION, "accelsim_version": __version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def export_key(weights_path, card_path, layout: str, *, calibration_sha: str, options: dict) -> str:
    """SHA-256 over the checkpoint's bytes (weights and model card), the layout, the
    export options, the calibration data, the image format version and the package
    version."""
    return _digest({"weights_sha256": sha256_file(weights_path), "card_sha256": sha256_file(card_path),
                    "layout": layout, "options": options, "calibration_sha256": calibration_sha})


def seeded_export_key(model: str, seed: int, layout: str, *, calibration_sha: str, options: dict) -> str:
    """The key of seeded weights (no checkpoint): the zoo name (its code is the package
    version's) or a FILE.py:NAME model with the file's bytes, the seed, layout, options,
    calibration data, format and package version."""
    from accelsim.nn.modelref import is_factory_ref
    ref = {"factory": model, "file_sha256": sha256_file(model.rpartition(":")[0])} if is_factory_ref(model) \
        else {"zoo": model}
    return _digest({"model": ref, "seed": seed, "layout": layout, "options": options,
                    "calibration_sha256": calibration_sha})
