"""Exact int8 x int8 -> int32 GEMMs for the fast engine's convolutions and linear layers.

Where the platform has an integer matrix product (``torch._int_mm``: oneDNN's VNNI / AMX
int8 kernels on x86), a layer's dot products run on it instead of in float32. It is exact
by construction: 8-bit products summed in a 32-bit accumulator, and every partial sum of
a layer is bounded by K * 128 * 128 < 2^31 for K < 131,072 taps (checked; a wider layer
keeps the float32 path).

Activations are 8-bit integers held in float32 tensors: signed ones ([-127, 127], or
narrower) are int8 as they are; unsigned ones ([0, 255]) are stored as a - 128 and the
layer adds 128 * sum_k w[c, k] back per output channel (an exact int64 constant). Zero
padding is padding with the stored form of 0 (-128 for unsigned inputs), so the
correction holds at the borders too. The im2col pass (numba) writes the (K, M) int8
matrix of the convolution's input windows; the product W (C_out, K) @ cols (K, M) gives
(C_out, N * P) int32 accumulators, and the requantization pass (numba, the arithmetic of
accelsim.infer.kernels.requantize_parts) writes the next layer's (N, C_out, P) float32.
Grouped convolutions (depthwise) keep the float32 path.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from accelsim.infer.kernels import requant_one
from accelsim.infer.requant import saturate32

MAX_TAPS = (1 << 31) // (128 * 128) - 1   # K * 128 * 128 < 2^31: the int32 sum cannot wrap


def available() -> bool:
    """Whether torch has an integer matrix product here (checked once, on a tiny exact case)."""
    global _AVAILABLE
    if _AVAILABLE is None:
        try:
            a = torch.tensor([[127, -128], [3, 4]], dtype=torch.int8)
            got = torch._int_mm(a, a.t().contiguous())
            _AVAILABLE = bool(torch.equal(got.long(), a.long() @ a.t().long()))
        except (AttributeError, RuntimeError, NotImplementedError):
            _AVAILABLE = False
    return _AVAILABLE


_AVAILABLE: bool | None = None


class Int8Weights:
    """A layer's weights as an int8 (C_out, K) matrix and the per-channel sums the
    unsigned-input correction needs; ``usable`` is False when a weight is outside int8 or
    the layer is too wide for an exact int32 sum."""

    def __init__(self, w: np.ndarray, groups: int):
        w = np.asarray(w)
        c_out = w.shape[0]
        k = int(np.prod(w.shape[1:]))
        self.usable = (groups == 1 and k <= MAX_TAPS and w.size > 0 and int(w.min()) >= -128
                       and int(w.max()) <= 127 and available())
        if self.usable:
            w2 = w.reshape(c_out, k)
            self.w8 = torch.from_numpy(np.ascontiguousarray(w2, dtype=np.int8))
            self.sum = w2.astype(np.int64).sum(axis=1)


def input_zero(x: torch.Tensor) -> int | None:
    """The offset that makes x's integers int8: 0 (signed, in [-128, 127]), 128 (unsigned,
    in [0, 255]), or None (neither: the float32 path)."""
    if x.numel() == 0:
        return None
    lo, hi = (float(v) for v in torch.aminmax(x))
    if lo >= -128 and hi <= 127:
        return 0
    if lo >= 0 and hi <= 255:
        return 128
    return None


def accumulators(x: torch.Tensor, weights: Int8Weights, kernel, stride, padding, dilation, zero: int):
    """(C_out, N * P) int32 products and the (C_out,) int64 correction to add, for a
    convolution of x (N, C, H, W) float32 integers (a linear layer: H = W = kernel = 1)."""
    n, c, h, w = x.shape
    kh, kw = kernel
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = np.empty((c * kh * kw, n * oh * ow), dtype=np.int8)
    im2col(x.contiguous().numpy(), kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0],
           dilation[1], zero, oh, ow, cols)
    acc = torch._int_mm(weights.w8, torch.from_numpy(cols))
    return acc, (oh, ow), weights.sum * zero


@njit(cache=True, nogil=True, boundscheck=False)
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, zero, oh, ow, cols):  # pragma: no cover - compiled
    """cols[(c * kh + i) * kw + j, (b * oh + y) * ow + xo] = x[b, c, y*sh + i*dh - ph,
    xo*sw + j*dw - pw] - zero, and -zero where the window reaches the zero padding."""
    n, c, h, w = x.shape
    pad = np.int8(-zero)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                k = (ci * kh + i) * kw + j
                # output columns whose input column lies inside the image: [x0, x1)
                off = j * dw - pw
                x0 = 0 if off >= 0 else min(ow, (-off + sw - 1) // sw)
                x1 = max(x0, min(ow, (w - off + sw - 1) // sw))
                for b in range(n):
                    for y in range(oh):
                        iy = y * sh + i * dh - ph
                        base = (b * oh + y) * ow
                        if iy < 0 or iy >= h:
                            for xo in range(ow):
                                cols[k, base + xo] = pad
                            continue
                        for xo in range(x0):
                            cols[k, base + xo] = pad
                        for xo in range(x0, x1):
                            cols[k, base + xo] = np.int8(np.int32(x[b, ci, iy, xo * sw + off]) - zero)
                        for xo in range(x1, ow):
                            cols[k, base + xo] = pad


@njit(cache=True, nogil=True, boundscheck=False)
def requantize(acc, extra, m0, shift, lo, hi, n, out):  # pragma: no cover - compiled
    """out[b, ch, p] = clamp((sat32(acc[ch, b * P + p] + extra[ch]) * m0[ch] + 2^(shift-1))
    >> shift[ch], lo, hi): acc (C, N * P) int32, extra (C,) int64 (bias + correction),
    out (N, C, P) float32."""
    c = acc.shape[0]
    p_size = acc.shape[1] // n
    for ch in range(c):
        e = extra[ch]
        m = m0[ch]
        s = shift[ch]
        r = np.int64(1) << (s - 1)
        for b in range(n):
            for p in range(p_size):
                out[b, ch, p] = requant_one(np.int64(acc[ch, b * p_size + p]) + e, m, r, s, lo, hi)


def logits(acc: torch.Tensor, extra: np.ndarray, n: int) -> np.ndarray:
    """(N, C, P) int64 saturated accumulators + bias of the logit layer."""
    a = saturate32(acc.numpy().astype(np.int64) + extra[:, None])
    return np.ascontiguousarray(a.reshape(a.shape[0], n, -1).transpose(1, 0, 2))
