"""Seeded (untrained) weights that still tell inputs apart, for the SDC metric.

A randomly initialised deep CNN whose features end in global average pooling gives almost
the same logits for every input: the pooled ReLU features share a large common component
that the random classifier maps to one class. Measured on ResNet-18 seed 0 with 64
synthetic inputs: one top-1 class for all 64 inputs, logits varying by 5e-4 across inputs
against 0.09 across classes. An SDC rate on such a network is 0 or 1 (the one class
flips or not), not a rate.

:func:`data_dependent_init` fixes that the way data-dependent initialisation does
(Krähenbühl et al., ICLR 2016; Mishkin & Matas, LSUV, ICLR 2016): every BatchNorm takes
the statistics of its own input over the calibration data, and the output layer's bias is
shifted so that every class has the same mean output over that data. The convolution and
linear weights stay the seeded ones. After it, the same ResNet-18 predicts 60 distinct
classes for 64 fresh synthetic inputs (docs/campaigns.md).
"""

from __future__ import annotations

import torch
from torch import nn

BATCH = 64          # inputs per pass: batch statistics are averaged over passes of this size
CENTRE_MAX = 128    # inputs the output centring looks at
ITERATIONS = 20     # bisection steps of a conv output layer's bias


@torch.no_grad()
def data_dependent_init(model: nn.Module, x: torch.Tensor, batch: int = BATCH) -> nn.Module:
    """Set ``model``'s BatchNorm running statistics to the mean and variance of their input
    over ``x`` (N, C, H, W float inputs) and centre its output layer's bias on ``x``;
    returns the model in eval mode.

    One pass over ``x`` in batches of ``batch``, as BatchNorm recalibration does: while it
    runs each norm normalises by its batch's statistics, so a later norm sees inputs that
    differ slightly (~1 %) from what it sees in eval mode afterwards."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    sums: dict[nn.Module, list] = {bn: [0.0, 0.0, 0] for bn in norms}

    def observe(bn, inputs):
        v = inputs[0].transpose(0, 1).reshape(inputs[0].shape[1], -1).double()
        acc = sums[bn]
        acc[0] = acc[0] + v.sum(1)
        acc[1] = acc[1] + (v * v).sum(1)
        acc[2] += v.shape[1]

    model.eval()
    handles = [bn.register_forward_pre_hook(observe) for bn in norms]
    for bn in norms:        # only the norms see train mode: dropout and the like stay off
        bn.train()
    try:
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    finally:
        for h in handles:
            h.remove()
        for bn in norms:
            bn.eval()
    for bn, (s1, s2, n) in sums.items():
        if n > 1:
            mean = s1 / n
            bn.running_mean.copy_(mean)
            bn.running_var.copy_((s2 - n * mean * mean) / (n - 1))   # unbiased, as BatchNorm keeps it
    last = _output_layer(model, x[:1])
    if last is not None and last.bias is not None:
        _centre_classes(model, last, x, batch)
    return model


@torch.no_grad()
def fit_layout(model: nn.Module, layout) -> int:
    """Clamp the weights at an in-place layout's throttled slots into their narrower range,
    as WOT training leaves them (seeded weights are spread so wide that the exporter's
    projection would clamp ~43 % of ResNet-18's and leave a network that predicts one class).

    Per output channel, the scale is set by the unthrottled weights (which keep the full
    range) and throttled ones are clamped to ±(the throttled maximum) of it: symmetric,
    because a BatchNorm folded with a negative gamma flips a channel's signs, and per-channel
    scaling leaves the integers unchanged. Returns the number of weights clamped."""
    from accelsim.quant.fixed import qmax
    from accelsim.quant.qat import throttle_bounds, weight_layers

    bits, moved = layout.weight_bits, 0
    for _, m in weight_layers(model):
        w = m.weight
        lo, hi = throttle_bounds(w.shape, bits, layout)
        throttled = (hi < qmax(bits)).reshape(w.shape[0], -1)
        flat = w.reshape(w.shape[0], -1)
        free = torch.where(throttled, torch.zeros_like(flat), flat.abs()).amax(1)
        peak = torch.where(free > 0, free, flat.abs().amax(1))       # a channel all throttled: its own max
        bound = (torch.minimum(hi, -lo).reshape(w.shape[0], -1) + 0.49) * (peak / qmax(bits)).unsqueeze(1)
        clamped = torch.maximum(torch.minimum(flat, bound), -bound)
        moved += int((clamped != flat).sum())
        w.copy_(clamped.reshape(w.shape))
    return moved


def _outputs(model: nn.Module, x: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]).reshape(len(x), -1)


def _centre_classes(model: nn.Module, last: nn.Module, x: torch.Tensor, batch: int) -> None:
    """Shift ``last``'s bias so every class's mean model output over ``x`` is the same.

    A Linear output layer: subtract the mean output (exact, one pass). A Conv2d followed by
    more operations (SqueezeNet: ReLU and average pooling): each class's mean output is
    nondecreasing in its channel's bias, so bisect all channels at once towards the highest
    class mean (ITERATIONS passes over the first CENTRE_MAX inputs)."""
    if isinstance(last, nn.Linear):
        last.bias -= _outputs(model, x, batch).mean(0)
        return
    x = x[:CENTRE_MAX]
    peak = []
    handle = last.register_forward_hook(lambda mod, i, o: peak.append(float(o.abs().max())))
    try:
        target = _outputs(model, x, batch).mean(0).max()
    finally:
        handle.remove()
    span = 2 * max(peak) + 1.0    # beyond it a channel's output is all on or all off
    lo = torch.full_like(last.bias, -span)
    hi = torch.full_like(last.bias, span)
    base = last.bias.clone()
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        last.bias.copy_(base + mid)
        above = _outputs(model, x, batch).mean(0) > target
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
    last.bias.copy_(base + (lo + hi) / 2)


def _output_layer(model: nn.Module, x: torch.Tensor) -> nn.Module | None:
    """The Conv2d/Linear that runs last in ``model``'s forward pass on ``x``."""
    order: list[nn.Module] = []
    handles = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return order[-1] if order else None
