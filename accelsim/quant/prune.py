"""Pruning: unstructured magnitude pruning and structured per-output-channel pruning.

Masks are returned so that fine-tuning can keep pruned weights at zero (apply after
each optimizer step)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from accelsim.errors import UserError
from accelsim.quant.qat import weight_layers


def _raw(m: nn.Module) -> torch.Tensor:
    return m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight


@torch.no_grad()
def magnitude_masks(model: nn.Module, fraction: float, *, structured: bool = False) -> dict[str, torch.Tensor]:
    """Per-layer masks zeroing ``fraction`` of each layer's weights (smallest |w|) or, when
    structured, of its output channels (smallest L1 norm). The last layer keeps all its
    output channels when structured (they are the classes)."""
    if not 0.0 <= fraction < 1.0:
        raise UserError(f"prune fraction = {fraction}: must be in [0, 1)")
    layers = weight_layers(model)
    masks = {}
    for idx, (name, m) in enumerate(layers):
        w = _raw(m)
        if structured:
            if idx == len(layers) - 1:
                masks[name] = torch.ones_like(w)
                continue
            norms = w.abs().reshape(w.shape[0], -1).sum(1)
            k = int(fraction * w.shape[0])
            keep = torch.ones(w.shape[0], dtype=torch.bool)
            if k:
                keep[torch.argsort(norms, stable=True)[:k]] = False
            masks[name] = keep.reshape(-1, *([1] * (w.dim() - 1))).expand_as(w).to(w.dtype).clone()
        else:
            k = int(fraction * w.numel())
            mask = torch.ones(w.numel(), dtype=w.dtype)
            if k:
                mask[torch.argsort(w.abs().reshape(-1), stable=True)[:k]] = 0
            masks[name] = mask.reshape(w.shape)
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    for name, m in weight_layers(model):
        if name in masks:
            _raw(m).mul_(masks[name])


def sparsity(model: nn.Module) -> float:
    total = zeros = 0
    for _, m in weight_layers(model):
        total += m.weight.numel()
        zeros += int((m.weight == 0).sum())
    return zeros / max(total, 1)
