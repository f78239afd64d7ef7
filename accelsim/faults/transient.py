"""Transient bit errors: each stored bit flips independently with probability ``ber``.

Sampling is sparse: the number of flips is drawn from Binomial(N * width, ber) and their
positions uniformly without replacement, which is exactly the law of independent
per-bit flips, at a cost that grows with the number of flips, not with the bit count.
"""

from __future__ import annotations

import numpy as np

from accelsim.errors import UserError


def check_ber(ber: float) -> float:
    ber = float(ber)
    if not (0.0 <= ber <= 1.0) or np.isnan(ber):
        raise UserError(f"ber = {ber!r} is not a probability in [0, 1]")
    return ber


def flip_positions(n_bits: int, ber: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted distinct bit indices in [0, n_bits) that flip, each with probability ber."""
    m = int(rng.binomial(n_bits, ber)) if n_bits else 0
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if m > n_bits // 4:  # dense regime: a per-bit draw is cheaper than rejection
        return np.flatnonzero(rng.random(n_bits) < ber).astype(np.int64)
    return np.sort(rng.choice(n_bits, size=m, replace=False)).astype(np.int64)


def flip_bits(words: np.ndarray, positions: np.ndarray, width: int) -> None:
    """XOR in place the bits at flat positions (word * width + bit) of (N, lanes) words."""
    if positions.size == 0:
        return
    word, bit = np.divmod(positions, width)
    lane, off = np.divmod(bit, 64)
    np.bitwise_xor.at(words, (word, lane), np.left_shift(np.uint64(1), off.astype(np.uint64)))


def inject(words, ber: float, *, seed, width: int) -> np.ndarray:
    """A copy of ``words`` with each of the low ``width`` bits of every word flipped with
    probability ``ber``.

    words: (N,) or (N, lanes) uint64, bit j in lane j // 64; width <= 64 * lanes.
    seed: int or numpy Generator.
    """
    ber = check_ber(ber)
    arr = np.asarray(words)
    if arr.dtype != np.uint64:
        raise UserError(f"words must be uint64, got dtype {arr.dtype}")
    out = arr.copy()
    view = out[:, None] if out.ndim == 1 else out
    if view.ndim != 2:
        raise UserError(f"words must have shape (N,) or (N, lanes), got {arr.shape}")
    width = int(width)
    if not 1 <= width <= 64 * view.shape[1]:
        raise UserError(f"width = {width} must be in [1, {64 * view.shape[1]}] for {view.shape[1]} lane(s)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    flip_bits(view, flip_positions(view.shape[0] * width, ber, rng), width)
    return out
