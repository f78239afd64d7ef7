"""Explicit, order-free seeds: the same keys give the same stream on any machine,
with any number of workers, in any order of execution."""

from __future__ import annotations

import hashlib

import numpy as np


def derive(seed: int, *keys: object) -> int:
    """A 63-bit child seed from a root seed and any keys (str/int/float), by SHA-256.

    Used so that a trial's randomness depends only on its parameters, never on which
    worker runs it or in what order.
    """
    text = repr((int(seed),) + tuple(str(k) for k in keys)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator for ``derive(seed, *keys)``."""
    return np.random.default_rng(derive(seed, *keys))
