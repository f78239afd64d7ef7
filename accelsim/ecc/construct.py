"""Parity-check matrices for SEC-DED codes.

Hsiao (1970) codes: every column of H has odd weight. The r check-bit columns are the
unit vectors; the k data columns are distinct odd-weight vectors of weight >= 3, taken
from the lightest weight classes first (fewest XOR inputs, hence the smallest and
fastest decoder), and, within the last, partly used class, chosen so that the row
weights (the fan-in of each syndrome bit) are as equal as possible:

1. Take whole weight classes 3, 5, 7, ... while they fit in k.
2. From the next class, pick the remaining columns greedily: each step adds the
   candidate that minimises the sum of squared row weights (ties: the smallest
   candidate in lexicographic order, so the result is deterministic).
3. Improve by pairwise swaps (a chosen column for an unchosen one of the same class)
   while a swap lowers the sum of squared row weights.

A single error gives a syndrome equal to an odd-weight column; a double error gives a
nonzero even-weight syndrome, which no column matches, so it is detected.

Extended Hamming codes: a Hamming code with r - 1 check bits (data columns are the
distinct vectors of weight >= 2, in increasing numeric order, as in the classic bit
numbering) plus an overall parity row of all ones.
"""

from __future__ import annotations

import itertools

import numpy as np


def _odd_weight_classes(r: int):
    for w in range(3, r + 1, 2):
        cols = []
        for ones in itertools.combinations(range(r), w):
            v = np.zeros(r, dtype=np.uint8)
            v[list(ones)] = 1
            cols.append(v)
        yield w, np.array(cols, dtype=np.uint8)


def hsiao_data_columns(r: int, k: int) -> np.ndarray:
    """The (r, k) data part of a Hsiao H matrix (see the module docstring)."""
    chosen: list[np.ndarray] = []
    for _, cls in _odd_weight_classes(r):
        need = k - len(chosen)
        if need <= 0:
            break
        if len(cls) <= need:
            chosen.extend(cls)
            continue
        base = np.sum(chosen, axis=0, dtype=np.int64) if chosen else np.zeros(r, np.int64)
        pick = _balanced_subset(cls, need, base)
        chosen.extend(cls[pick])
        break
    if len(chosen) < k:
        raise ValueError(f"no Hsiao code with k={k} data bits and r={r} check bits")
    return np.array(chosen, dtype=np.uint8).T


def _balanced_subset(cls: np.ndarray, need: int, base: np.ndarray) -> np.ndarray:
    """Indices of ``need`` rows of ``cls`` that make base + their sum most even."""
    cls64 = cls.astype(np.int64)
    selected: list[int] = []
    free = list(range(len(cls)))
    rows = base.copy()
    for _ in range(need):
        costs = [int(((rows + cls64[i]) ** 2).sum()) for i in free]
        best = free[int(np.argmin(costs))]
        selected.append(best)
        free.remove(best)
        rows += cls64[best]
    improved = True
    while improved:
        improved = False
        cost = int((rows ** 2).sum())
        for si, s in enumerate(selected):
            for fi, f in enumerate(free):
                trial = rows - cls64[s] + cls64[f]
                if int((trial ** 2).sum()) < cost:
                    selected[si], free[fi] = f, s
                    rows = trial
                    improved = True
                    break
            if improved:
                break
    return np.array(sorted(selected))


def hsiao_h(n: int, k: int) -> np.ndarray:
    r = n - k
    return np.concatenate([hsiao_data_columns(r, k), np.eye(r, dtype=np.uint8)], axis=1)


def hamming_h(n: int, k: int) -> np.ndarray:
    """Extended Hamming H: Hamming rows over r-1 check bits plus an all-ones parity row."""
    r = n - k
    m = r - 1
    values = [v for v in range(1, 1 << m) if bin(v).count("1") >= 2][:k]
    if len(values) < k:
        raise ValueError(f"no extended Hamming code with k={k} data bits and r={r} check bits")
    h = np.zeros((r, n), dtype=np.uint8)
    for j, v in enumerate(values):
        h[:m, j] = [(v >> i) & 1 for i in range(m)]
    h[:m, k:k + m] = np.eye(m, dtype=np.uint8)
    h[m, :] = 1
    return h
