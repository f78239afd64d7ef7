"""Linear algebra over GF(2) on small uint8 matrices (H matrices have at most 16 rows)."""

from __future__ import annotations

import numpy as np


def inverse(b: np.ndarray) -> np.ndarray:
    """Inverse of a square 0/1 matrix over GF(2); ValueError if singular."""
    r = b.shape[0]
    aug = np.concatenate([b.astype(np.uint8) & 1, np.eye(r, dtype=np.uint8)], axis=1)
    for col in range(r):
        pivots = np.flatnonzero(aug[col:, col]) + col
        if pivots.size == 0:
            raise ValueError("matrix is singular over GF(2)")
        p = pivots[0]
        if p != col:
            aug[[col, p]] = aug[[p, col]]
        others = np.flatnonzero(aug[:, col])
        others = others[others != col]
        aug[others] ^= aug[col]
    return aug[:, r:]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over GF(2)."""
    return (a.astype(np.int64) @ b.astype(np.int64) & 1).astype(np.uint8)


def column_values(h: np.ndarray) -> np.ndarray:
    """Each column of an (r, n) 0/1 matrix as an integer: row i is bit i."""
    weights = (1 << np.arange(h.shape[0], dtype=np.int64))[:, None]
    return (h.astype(np.int64) * weights).sum(axis=0)
