"""The fake-quant PyTorch reference of a memory image.

The same graph, run with PyTorch float ops (F.conv2d, F.linear, pooling, add, cat):
weights are the dequantized integers (q * s_w), every activation is fake-quantized to
its 8-bit scale (round half to even, clamp), biases are the int32 biases times their
scale. It differs from the integer path only in rounding of the requantization
multipliers, so the two agree on nearly every prediction (docs/formats.md gives the
measured agreement per model).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from accelsim.image.memory_image import MemoryImage
from accelsim.infer.integer import decode_weights
from accelsim.infer.requant import act_range


def _fq(x: torch.Tensor, node: dict, relu: bool = False, relu_max: float | None = None) -> torch.Tensor:
    lo, hi = act_range(node["signed"], node.get("bits", 8))
    if relu:
        lo = max(lo, 0)
    if relu_max is not None:   # the network's own ReLU6, in real units
        x = torch.clamp(x, max=relu_max)
    s = node["scale"]
    return torch.clamp(torch.round(x / s), lo, hi) * s


def _fq_mean(pool, x: torch.Tensor, node: dict) -> torch.Tensor:
    """Fake-quantized average pooling at the input's scale: the mean of the input's integer
    levels, rounded half away from zero as the accelerator's integer division does (a 2x2
    mean lands on .5 often; half-to-even, or float error near .5, would differ there)."""
    lo, hi = act_range(node["signed"], node.get("bits", 8))
    s = node["scale"]
    m = pool(torch.round(x / s))       # exact: small integers and their mean in float64
    q = torch.sign(m) * torch.floor(torch.abs(m) + 0.5)
    return torch.clamp(q, lo, hi) * s


@torch.no_grad()
def fake_quant_forward(image: MemoryImage, x, weights: dict[str, np.ndarray] | None = None) -> torch.Tensor:
    """Float outputs (N, classes) of the fake-quantized network."""
    if weights is None:
        weights = decode_weights(image)[0]
    layers = {layer.name: layer for layer in image.layers}
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    graph = image.graph
    last = graph[-1]["inputs"][0]
    v: dict[str, torch.Tensor] = {}
    for node in graph:
        op, name = node["op"], node["name"]
        ins = [v[s] for s in node["inputs"]]
        if op == "input":
            v[name] = _fq(x, node)
        elif op in ("conv", "linear"):
            layer = layers[name]
            w = torch.as_tensor(weights[name].astype(np.float64)) * torch.as_tensor(layer.weight_scale).reshape(
                -1, *([1] * (len(layer.weight_shape) - 1)))
            b = torch.as_tensor(layer.bias.astype(np.float64) * layer.weight_scale * layer.input_scale)
            if op == "conv":
                y = F.conv2d(ins[0], w, b, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                             groups=layer.groups)
            else:
                y = F.linear(ins[0].reshape(len(ins[0]), -1), w, b)
            v[name] = y if (name == last and not layer.relu) else _fq(y, node, layer.relu, layer.relu_max)
        elif op == "relu":
            v[name] = torch.relu(ins[0]) if "max" not in node else _fq(torch.clamp(ins[0], 0, node["max"]), node)
        elif op == "flatten":
            v[name] = ins[0].reshape(len(ins[0]), -1)
        elif op == "maxpool":
            v[name] = F.max_pool2d(ins[0], node["kernel"], node["stride"], node["padding"], ceil_mode=node["ceil_mode"])
        elif op == "avgpool":
            v[name] = _fq_mean(lambda t: F.avg_pool2d(t, node["kernel"], node["stride"]), ins[0], node)
        elif op == "adaptive_avgpool":
            v[name] = _fq_mean(lambda t: F.adaptive_avg_pool2d(t, node["output_size"]), ins[0], node)
        elif op == "add":
            v[name] = _fq(ins[0] + ins[1], node, node.get("relu", False), node.get("relu_max"))
        elif op == "cat":
            v[name] = _fq(torch.cat(ins, 1), node, node.get("relu", False), node.get("relu_max"))
        elif op == "output":
            return ins[0].reshape(len(ins[0]), -1)
    raise AssertionError("graph has no output")
