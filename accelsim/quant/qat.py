"""Quantization-aware training pieces: fake quantization with a straight-through
estimator (STE), weight-distribution-oriented training (WOT), weight clipping and random
bit error training (RandBET), as torch parametrizations and hooks that attach to any
model's Conv2d/Linear/ReLU modules and detach cleanly before export.

All weights are quantized symmetric per output channel at ``bits`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from accelsim.ecc import Layout
from accelsim.quant.fixed import qmax, symmetric_scale

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


def ste(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Forward y, backward identity into x."""
    return x + (y - x).detach()


def throttle_bounds(shape: torch.Size, bits: int, layout: Layout | None, device=None):
    """Per-weight integer (lo, hi) bounds for a weight tensor under a layout (row-major
    flattening: weight i sits in slot i % weights_per_word)."""
    m = qmax(bits)
    lo = torch.full(shape, -m, dtype=torch.float32, device=device)
    hi = torch.full(shape, m, dtype=torch.float32, device=device)
    if layout is not None and layout.throttled:
        slots = torch.arange(lo.numel(), device=device) % layout.weights_per_word
        thr = torch.zeros(layout.weights_per_word, dtype=torch.bool)
        thr[list(layout.throttled)] = True
        mask = thr[slots].reshape(shape)
        t_lo, t_hi = layout.weight_range(layout.throttled[0])
        lo[mask] = max(t_lo, -m)
        hi[mask] = t_hi
    return lo, hi


def quantize_weight_int(w: torch.Tensor, bits: int, lo: torch.Tensor, hi: torch.Tensor):
    """(q as float tensor of integers, per-channel scale (out, 1, ...))."""
    s = symmetric_scale(w, bits, per_channel=True, axis=0).to(w.dtype)
    if bits == 1:
        return torch.where(w >= 0, 1.0, -1.0), s
    return torch.clamp(torch.round(w / s), lo, hi), s


def flip_bits_int(q: torch.Tensor, bits: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """Flip each of the ``bits`` two's-complement bits of integer-valued q with probability p."""
    qi = q.to(torch.int64) & ((1 << bits) - 1)
    flips = torch.zeros_like(qi)
    for b in range(bits):
        hit = torch.rand(q.shape, generator=generator) < p
        flips |= hit.to(torch.int64) << b
    v = qi ^ flips
    v = torch.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
    return v.to(q.dtype)


class FakeQuantWeight(nn.Module):
    """Parametrization: weight -> dequantized integer weight (STE), with WOT bounds and
    optional random bit errors on the integers during training."""

    def __init__(self, shape, bits: int, layout: Layout | None = None, randbet_p: float = 0.0,
                 seed: int = 0):
        super().__init__()
        self.bits = bits
        lo, hi = throttle_bounds(shape, bits, layout)
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("hi", hi, persistent=False)
        self.randbet_p = randbet_p
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, w):
        q, s = quantize_weight_int(w, self.bits, self.lo, self.hi)
        if self.training and self.randbet_p > 0:
            q = flip_bits_int(q, self.bits, self.randbet_p, self.generator)
        return ste(w, q * s)


class ActObserver:
    """Forward hook on ReLU/ReLU6: fake-quantizes the (non-negative) output to unsigned
    ``bits`` bits with a running-max scale (EMA 0.9 in training), as export will."""

    def __init__(self, bits: int = 8, momentum: float = 0.9):
        self.bits, self.momentum, self.max = bits, momentum, None

    def __call__(self, module, inputs, output):
        if module.training:
            cur = output.detach().max()
            self.max = cur if self.max is None else self.momentum * self.max + (1 - self.momentum) * cur
        if self.max is None or self.max <= 0:
            return output
        s = self.max / ((1 << self.bits) - 1)
        return ste(output, torch.clamp(torch.round(output / s), 0, (1 << self.bits) - 1) * s)


_FUNCTIONAL_ACTS = {torch.relu: nn.ReLU, nn.functional.relu: nn.ReLU, nn.functional.relu6: nn.ReLU6}


def modular_activations(model: nn.Module) -> nn.Module:
    """``model`` with every functional ReLU/ReLU6 in its forward (``F.relu(x)``,
    ``torch.relu(x)``, ``x.relu()``, ``F.relu6(x)``) made an ``nn.ReLU``/``nn.ReLU6`` module,
    so that activation fake-quantization (:class:`ActObserver`, a module hook) sees it as the
    integer path will quantize it. The model itself when it has none; else a torch.fx
    GraphModule with the same parameters and state-dict keys."""
    import torch.fx

    from accelsim.errors import UserError
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:   # the exporter traces the same way: such a model cannot be exported either
        raise UserError(f"activation fake-quantization needs a model torch.fx can trace: "
                        f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    found = [n for n in gm.graph.nodes if (n.op == "call_function" and n.target in _FUNCTIONAL_ACTS)
             or (n.op == "call_method" and n.target == "relu")]
    if not found:
        return model
    for i, node in enumerate(found):
        name = f"_functional_act{i}"
        gm.add_submodule(name, _FUNCTIONAL_ACTS.get(node.target, nn.ReLU)())
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(name, (node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm.train(model.training)


@dataclass
class QatHandle:
    model: nn.Module
    hooks: list

    def detach(self) -> None:
        """Bake the quantized weights in (weights become q * scale) and remove hooks."""
        for h in self.hooks:
            h.remove()
        for _, m in weight_layers(self.model):
            if parametrize.is_parametrized(m, "weight"):
                fq = m.parametrizations.weight[0]
                was = fq.training
                fq.eval()
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
                fq.train(was)


def attach_qat(model: nn.Module, bits: int, *, layout: Layout | None = None, act_bits: int | None = 8,
               randbet_p: float = 0.0, seed: int = 0) -> QatHandle:
    """Fake-quantize every Conv2d/Linear weight (and ReLU/ReLU6 module outputs when act_bits;
    a functional F.relu in forward() is observed only after :func:`modular_activations`,
    which training applies)."""
    for i, (_, m) in enumerate(weight_layers(model)):
        parametrize.register_parametrization(
            m, "weight", FakeQuantWeight(m.weight.shape, bits, layout, randbet_p, seed + i))
    hooks = []
    if act_bits:
        for m in model.modules():
            if isinstance(m, (nn.ReLU, nn.ReLU6)):
                hooks.append(m.register_forward_hook(ActObserver(act_bits)))
    return QatHandle(model, hooks)


@torch.no_grad()
def project_weights(model: nn.Module, bits: int, layout: Layout | None = None) -> dict:
    """Final projection: every weight becomes q * scale with q inside its layout bounds.

    Sets a ``weight_scale`` buffer (per output channel) on each layer so that export uses
    exactly these integers. Returns {"weights": total, "moved": weights whose integer had
    to change to fit the layout (WOT), "out_of_range": the same before any training}."""
    total = moved = 0
    for _, m in weight_layers(model):
        w = m.weight
        lo, hi = throttle_bounds(w.shape, bits, layout)
        s = symmetric_scale(w, bits, per_channel=True, axis=0).to(w.dtype)
        q_free = torch.where(w >= 0, 1.0, -1.0) if bits == 1 else torch.clamp(torch.round(w / s), -qmax(bits), qmax(bits))
        q = torch.clamp(q_free, lo, hi)
        moved += int((q != q_free).sum())
        total += q.numel()
        m.weight.copy_(q * s)
        scale = s.reshape(-1).clone()
        if hasattr(m, "weight_scale"):
            m.weight_scale = scale
        else:
            m.register_buffer("weight_scale", scale)
    return {"weights": total, "moved": moved}


@torch.no_grad()
def count_out_of_layout(model: nn.Module, bits: int, layout: Layout) -> int:
    """Weights whose plain quantized integer lies outside the layout's slot range."""
    n = 0
    for _, m in weight_layers(model):
        lo, hi = throttle_bounds(m.weight.shape, bits, layout)
        if hasattr(m, "weight_scale"):  # a projected model: its own scales define the integers
            s = m.weight_scale.reshape(-1, *([1] * (m.weight.dim() - 1)))
            q = torch.clamp(torch.round(m.weight / s), -qmax(bits), qmax(bits))
        else:
            q, _ = quantize_weight_int(m.weight, bits, torch.full_like(lo, -qmax(bits)), torch.full_like(hi, qmax(bits)))
        n += int(((q < lo) | (q > hi)).sum())
    return n


@torch.no_grad()
def clip_weights(model: nn.Module, w_max: float) -> None:
    """Weight clipping: keep every weight in [-w_max, w_max] (after each optimizer step)."""
    for _, m in weight_layers(model):
        w = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
        w.clamp_(-w_max, w_max)


@torch.no_grad()
def wot_clamp(model: nn.Module, bits: int, layout: Layout) -> None:
    """WOT step: clamp the float weights at throttled positions to their range times the
    current per-channel scale (the integer-domain clamp, done after each optimizer step)."""
    for _, m in weight_layers(model):
        w = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
        lo, hi = throttle_bounds(w.shape, bits, layout)
        s = symmetric_scale(w, bits, per_channel=True, axis=0).to(w.dtype)
        w.copy_(torch.maximum(torch.minimum(w, (hi + 0.49) * s), (lo - 0.49) * s))
