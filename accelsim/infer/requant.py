"""Integer requantization, as the accelerator's output stage does it.

A real multiplier M = s_in * s_w / s_out is held as a 31-bit mantissa ``m0`` in
[2^30, 2^31) and a right shift: y = (acc * m0 + 2^(shift-1)) >> shift (round half up),
then clamped to the activation range (TFLite / gemmlowp style fixed point; Jacob et al.,
CVPR 2018). Accumulators are 32-bit: values outside int32 saturate.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def act_range(signed: bool, bits: int = 8) -> tuple[int, int]:
    """Activations of ``bits`` bits: signed symmetric [-(2^(b-1)-1), 2^(b-1)-1] (8 bits:
    [-127, 127]) or unsigned [0, 2^b - 1] (8 bits: [0, 255])."""
    return (-((1 << (bits - 1)) - 1), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def relu_cap(upper: float, scale: float) -> int:
    """Integer level of a ReLU6-style upper clamp ``upper`` (real units) at ``scale``:
    min(round(y / s), round(upper / s)) == round(min(y, upper) / s) as rounding is monotone."""
    return int(np.floor(upper / scale + 0.5))


def fixed_multiplier(m) -> tuple[np.ndarray, np.ndarray]:
    """(m0, shift) int64 arrays with m ~= m0 * 2^-shift, m0 in [2^30, 2^31)."""
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"requantization multipliers must be finite and > 0, got {m}")
    mant, exp = np.frexp(m)
    m0 = np.round(mant * (1 << 31)).astype(np.int64)
    carry = m0 == (1 << 31)
    m0[carry] //= 2
    exp = exp + carry
    shift = (31 - exp).astype(np.int64)
    if np.any(shift < 1) or np.any(shift > 62):
        raise ValueError(f"requantization multiplier out of the supported range: {m}")
    return m0, shift


def saturate32(acc: np.ndarray) -> np.ndarray:
    return np.clip(acc, INT32_MIN, INT32_MAX)


def requantize(acc: np.ndarray, m0: np.ndarray, shift: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Round-half-up fixed-point scaling of int accumulators, then clamp to [lo, hi]."""
    acc = saturate32(acc.astype(np.int64))
    y = (acc * m0 + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(y, lo, hi)
