"""Compiled elementwise kernels of the fast integer engine (numba, one pass each).

Each kernel reads exact integer values held in float arrays (the GEMM outputs of
accelsim.infer.fast), does the documented integer arithmetic in int64 — the sum of a
layer's channel-chunk accumulators, 32-bit saturation of accumulator + bias, the 31-bit
fixed-point requantization, the 24-bit fixed-point residual add — and writes exact
integers back as float32, the next layer's input. The arithmetic is the one of
accelsim.infer.requant and IntegerNetwork, element for element; numpy/torch would need
six to eight passes over int64 temporaries for the same, which cost more than the
convolution itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


@njit(inline="always")
def requant_one(a, m, r, s, lo, hi):  # pragma: no cover - compiled
    """clamp((sat32(a) * m + r) >> s, lo, hi) of one int64 accumulator ``a``: 32-bit
    saturation, then the 31-bit fixed-point multiplier ``m`` with round-half-up
    (``r`` = 2^(s-1)) and arithmetic shift ``s``, then the output range. The one
    requantization step of the compiled engine (requantize_parts, int8.requantize)."""
    if a > _INT32_MAX:
        a = _INT32_MAX
    elif a < _INT32_MIN:
        a = _INT32_MIN
    y = (a * m + r) >> s
    if y < lo:
        y = lo
    elif y > hi:
        y = hi
    return y


@njit(cache=True, nogil=True)
def requantize_parts(parts, bias, m0, shift, lo, hi, out):  # pragma: no cover - compiled
    """out[i, c, j] = clamp((sat32(sum_k parts[k][i, c, j] + bias[c]) * m0[c] + 2^(shift[c]-1))
    >> shift[c], lo, hi).

    parts: tuple of (N, C, P) float arrays holding exact integers (one per channel chunk);
    bias, m0, shift: int64 (C,); out: float32 (N, C, P)."""
    n, c, p = out.shape
    for i in range(n):
        for ch in range(c):
            b = bias[ch]
            m = m0[ch]
            s = shift[ch]
            r = np.int64(1) << (s - 1)
            for j in range(p):
                a = b
                for part in parts:
                    a += np.int64(part[i, ch, j])
                out[i, ch, j] = requant_one(a, m, r, s, lo, hi)


@njit(cache=True, nogil=True)
def add_rescaled(a, ma, b, mb, fraction, lo, hi, out):  # pragma: no cover - compiled
    """out = clamp((a * ma + b * mb + 2^(fraction-1)) >> fraction, lo, hi) over flat arrays."""
    r = np.int64(1) << (fraction - 1)
    for j in range(a.shape[0]):
        y = (np.int64(a[j]) * ma + np.int64(b[j]) * mb + r) >> fraction
        if y < lo:
            y = lo
        elif y > hi:
            y = hi
        out[j] = y


@njit(cache=True, nogil=True)
def quantize(x, scale, lo, hi, out):  # pragma: no cover - compiled
    """out = clamp(rint(x / scale), lo, hi): float64 division, round half to even (np.round)."""
    for j in range(x.shape[0]):
        q = np.rint(np.float64(x[j]) / scale)
        if q < lo:
            q = lo
        elif q > hi:
            q = hi
        out[j] = q


@njit(cache=True, nogil=True)
def channel_absmax(x, out):  # pragma: no cover - compiled
    """out[c] = max |x[:, c, :]| for x (N, C, P)."""
    n, c, p = x.shape
    for ch in range(c):
        out[ch] = 0.0
    for i in range(n):
        for ch in range(c):
            m = out[ch]
            for j in range(p):
                v = abs(x[i, ch, j])
                if v > m:
                    m = v
            out[ch] = m
