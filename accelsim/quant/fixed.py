"""Fixed-point quantization as pure functions over numpy arrays or torch tensors.

Symmetric n-bit (the in-place ECC paper's scheme): scale = max|x| / (2^(n-1) - 1),
X_q = clamp(round(X / scale), -(2^(n-1) - 1), 2^(n-1) - 1). The most negative code
-2^(n-1) is left unused, so the range is symmetric. 1 bit means binary weights:
X_q = sign(X) in {-1, +1} with scale = mean|X| (XNOR-Net style).
Asymmetric n-bit: scale = (max - min) / (2^n - 1), zero point chosen so that 0.0 is
exactly representable. Per-channel variants compute one scale per slice along ``axis``
(the output channel of a Conv2d/Linear weight).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from accelsim.errors import UserError


def _check_bits(bits: int) -> int:
    if not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= 8:
        raise UserError(f"bits = {bits!r}: quantization supports 1 to 8 bits")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest symmetric code: 2^(bits-1) - 1 (1 for binary weights)."""
    return max((1 << (_check_bits(bits) - 1)) - 1, 1)


def _reduce(x, fn, per_channel: bool, axis: int):
    """Reduce |x| with fn ('max'/'mean') per tensor or per slice along axis, keepdims."""
    if isinstance(x, torch.Tensor):
        a = x.detach().abs()
        if not per_channel:
            return a.max() if fn == "max" else a.mean()
        dims = [d for d in range(a.dim()) if d != axis % a.dim()]
        return a.amax(dim=dims, keepdim=True) if fn == "max" else a.mean(dim=dims, keepdim=True)
    a = np.abs(np.asarray(x, dtype=np.float64))
    if not per_channel:
        return a.max() if fn == "max" else a.mean()
    dims = tuple(d for d in range(a.ndim) if d != axis % a.ndim)
    return a.max(axis=dims, keepdims=True) if fn == "max" else a.mean(axis=dims, keepdims=True)


def symmetric_scale(x, bits: int, *, per_channel: bool = False, axis: int = 0):
    """max|x| / (2^(bits-1) - 1), or mean|x| for 1 bit; never zero (an all-zero
    tensor gets scale 1 so that it quantizes to zeros)."""
    bits = _check_bits(bits)
    s = _reduce(x, "mean" if bits == 1 else "max", per_channel, axis) / (1 if bits == 1 else qmax(bits))
    if isinstance(s, torch.Tensor):
        return torch.where(s > 0, s, torch.ones_like(s))
    s = np.asarray(s, dtype=np.float64)
    return np.where(s > 0, s, 1.0)


def quantize_symmetric(x, bits: int, *, scale=None, per_channel: bool = False, axis: int = 0):
    """(q, scale): integer codes (int8 numpy / int8 tensor for bits <= 8) and the scale."""
    bits = _check_bits(bits)
    if scale is None:
        scale = symmetric_scale(x, bits, per_channel=per_channel, axis=axis)
    m = qmax(bits)
    if isinstance(x, torch.Tensor):
        if not bool(torch.all(torch.isfinite(x))):
            raise UserError("cannot quantize NaN or Inf values")
        if bits == 1:
            q = torch.where(x >= 0, 1, -1)
        else:
            q = torch.clamp(torch.round(x / scale), -m, m)
        return q.to(torch.int8), scale
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise UserError("cannot quantize NaN or Inf values")
    q = np.where(x >= 0, 1, -1) if bits == 1 else np.clip(np.round(x / scale), -m, m)
    return q.astype(np.int8), scale


def quantize_asymmetric(x, bits: int, *, signed: bool = False, per_channel: bool = False, axis: int = 0):
    """(q, scale, zero_point) with x ~ (q - zero_point) * scale over [min(x, 0), max(x, 0)]."""
    bits = _check_bits(bits)
    levels = (1 << bits) - 1
    lo_code = -(1 << (bits - 1)) if signed else 0
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    if per_channel:
        dims = [d for d in range(xt.dim()) if d != axis % xt.dim()]
        lo = torch.clamp(xt.detach().amin(dim=dims, keepdim=True), max=0)
        hi = torch.clamp(xt.detach().amax(dim=dims, keepdim=True), min=0)
    else:
        lo, hi = torch.clamp(xt.detach().min(), max=0), torch.clamp(xt.detach().max(), min=0)
    scale = (hi - lo) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero_point = torch.round(lo_code - lo / scale)
    q = torch.clamp(torch.round(xt / scale) + zero_point, lo_code, lo_code + levels)
    dtype = torch.int16 if not signed and bits == 8 else torch.int8
    if isinstance(x, torch.Tensor):
        return q.to(dtype), scale, zero_point
    return (q.numpy().astype(np.int16 if dtype == torch.int16 else np.int8), scale.numpy(),
            zero_point.numpy().astype(np.int64))


def dequantize(q, scale, zero_point=0):
    """(q - zero_point) * scale, as float32 tensor or float64 array."""
    if isinstance(q, torch.Tensor):
        return (q.to(torch.float32) - zero_point) * scale
    return (np.asarray(q, dtype=np.float64) - zero_point) * np.asarray(scale, dtype=np.float64)


def layout_bounds(n: int, bits: int, layout=None) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive integer bounds (lo, hi), int64 arrays of length n, for the first n weights
    of a layer's row-major flattened weight stored by ``layout`` (weight i in slot
    i % weights_per_word): the slot's range intersected with the symmetric range
    [-(2^(bits-1) - 1), 2^(bits-1) - 1]. ``layout`` None: the symmetric range only."""
    m = qmax(bits)
    lo = np.full(n, -m, dtype=np.int64)
    hi = np.full(n, m, dtype=np.int64)
    if layout is not None:
        slot_lo, slot_hi = (np.array(v, dtype=np.int64) for v in
                            zip(*(layout.weight_range(s) for s in range(layout.weights_per_word))))
        slots = np.arange(n) % layout.weights_per_word
        lo = np.maximum(lo, slot_lo[slots])
        hi = np.minimum(hi, slot_hi[slots])
    return lo, hi


def project_to_layout(q, layout, *, bits: int | None = None):
    """(q_projected, n_moved): clamp each integer weight of a flattened layer into the range
    of the slot it occupies in ``layout`` (WOT's final projection; throttled slots hold half
    the range). bits (default: the layout's) also bounds every weight to the symmetric
    range. Same kind as q (numpy integer array or torch tensor); layout None clamps to the
    symmetric range only."""
    if layout is None and bits is None:
        return q, 0
    bits = layout.weight_bits if bits is None else bits
    shape = tuple(q.shape)
    lo, hi = layout_bounds(int(np.prod(shape, dtype=np.int64)), bits, layout)
    if isinstance(q, torch.Tensor):
        flat = q.reshape(-1)
        p = torch.clamp(flat, torch.as_tensor(lo, dtype=flat.dtype), torch.as_tensor(hi, dtype=flat.dtype))
        return p.reshape(shape), int((p != flat).sum())
    flat = np.asarray(q).reshape(-1)
    p = np.clip(flat, lo, hi).astype(flat.dtype)
    return p.reshape(shape), int(np.count_nonzero(p != flat))


_SPEC = re.compile(r"^(u?int|fp)(\d+)(-pc)?(-asym)?$")


@dataclass(frozen=True)
class QuantSpec:
    """A weight number format: ``int8``, ``int4-pc`` (per channel), ``uint8-asym``, ``fp32``."""

    bits: int
    symmetric: bool = True
    per_channel: bool = False
    signed: bool = True

    @property
    def is_float(self) -> bool:
        return self.bits == 32

    @classmethod
    def parse(cls, text: str) -> "QuantSpec":
        m = _SPEC.match(str(text).strip().lower())
        if not m:
            raise UserError(f"number format {text!r}: expected e.g. int8, int4-pc, uint8-asym, fp32")
        kind, bits = m.group(1), int(m.group(2))
        if kind == "fp":
            if bits != 32:
                raise UserError(f"number format {text!r}: only fp32 is a float format here")
            return cls(32)
        _check_bits(bits)
        return cls(bits, symmetric=m.group(4) is None, per_channel=m.group(3) is not None,
                   signed=kind == "int")

    def __str__(self) -> str:
        if self.is_float:
            return "fp32"
        return (f"{'int' if self.signed else 'uint'}{self.bits}{'-pc' if self.per_channel else ''}"
                f"{'' if self.symmetric else '-asym'}")
