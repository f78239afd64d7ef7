"""Capture a PyTorch model as a flat graph of accelerator operations.

torch.fx traces the model; each node becomes one op of a small, closed vocabulary:
``input, conv, linear, relu, maxpool, avgpool, adaptive_avgpool, add, flatten, cat,
output``. BatchNorm2d is folded into the convolution before it, Dropout (inference) is an
identity, and a ReLU that is the only user of a conv/linear/add is fused into it (the
accelerator requantizes straight to the ReLU's unsigned range). Anything else is refused
with a :class:`UserError` that names the layer and its type.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from accelsim.errors import UserError


@dataclass
class Op:
    name: str
    op: str
    inputs: list[str]
    params: dict = field(default_factory=dict)
    module: nn.Module | None = None       # conv/linear after BN folding (float weights)
    shape: tuple[int, ...] = ()           # output shape without the batch dimension
    value_node: str = ""                  # the fx node whose value this op's output is


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """conv followed by bn -> one conv with w' = w * g / sqrt(var + eps), b' likewise."""
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True)
    with torch.no_grad():
        gamma = bn.weight if bn.weight is not None else torch.ones_like(bn.running_var)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
        factor = gamma / torch.sqrt(bn.running_var + bn.eps)
        fused.weight.copy_(conv.weight * factor.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((bias - bn.running_mean) * factor + beta)
        if hasattr(conv, "weight_scale"):
            # the trained integers stay; the scale absorbs |factor| (sign goes to q)
            fused.register_buffer("weight_scale", conv.weight_scale * factor.abs())
            fused.register_buffer("weight_sign", torch.sign(factor))
    return fused


def _with_bias(m: nn.Module) -> nn.Module:
    """A copy of a Conv2d/Linear (with its weight_scale buffer, if any) that has a bias."""
    out = copy.deepcopy(m)
    if out.bias is None:
        out.bias = nn.Parameter(torch.zeros(out.weight.shape[0], dtype=out.weight.dtype))
    return out


def capture(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Op], torch.fx.GraphModule]:
    """Trace ``model`` and return its ops in topological order (and the traced module)."""
    model = model.eval()
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent control flow and the like
        raise UserError(f"model {type(model).__name__} cannot be traced by torch.fx: {exc}") from None
    ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    modules = dict(gm.named_modules())
    ops: list[Op] = []
    alias: dict[str, str] = {}   # fx node -> op name that carries its value
    by_name: dict[str, Op] = {}

    def src(node) -> str:
        return alias.get(node.name, node.name)

    def add(op: Op, node) -> None:
        meta = node.meta.get("tensor_meta")
        op.shape = tuple(int(s) for s in meta.shape[1:]) if meta is not None else ()
        op.value_node = node.name
        ops.append(op)
        by_name[op.name] = op

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            add(Op(node.name, "input", []), node)
        elif node.op == "output":
            arg = node.args[0]
            if not isinstance(arg, torch.fx.Node):
                raise UserError("the model must return a single tensor")
            add(Op("output", "output", [src(arg)]), arg)
        elif node.op == "call_module":
            m = modules[node.target]
            ins = [src(a) for a in node.args if isinstance(a, torch.fx.Node)]
            name = node.target
            if isinstance(m, nn.Conv2d):
                if (m.groups != 1 or _pair(m.dilation) != [1, 1] or isinstance(m.padding, str)
                        or m.padding_mode != "zeros"):
                    raise UserError(f"layer {name!r} (Conv2d): groups, dilation, string padding and "
                                    f"padding_mode {m.padding_mode!r} are not supported")
                add(Op(name, "conv", ins, {"kernel": _pair(m.kernel_size), "stride": _pair(m.stride),
                                           "padding": _pair(m.padding)}, _with_bias(m)), node)
                alias[node.name] = name
            elif isinstance(m, nn.Linear):
                in_meta = node.args[0].meta.get("tensor_meta")
                if in_meta is not None and len(in_meta.shape) != 2:
                    raise UserError(f"layer {name!r} (Linear): its input must be flattened to (N, features), "
                                    f"got shape {list(in_meta.shape)}")
                add(Op(name, "linear", ins, {}, _with_bias(m)), node)
                alias[node.name] = name
            elif isinstance(m, nn.BatchNorm2d):
                if m.running_mean is None:  # track_running_stats=False: no inference-time statistics
                    raise UserError(f"layer {name!r} (BatchNorm2d) has no running statistics to fold")
                prev = by_name.get(ins[0])
                if prev is None or prev.op != "conv" or prev.params.get("relu") or len(node.args[0].users) != 1:
                    raise UserError(f"layer {name!r} (BatchNorm2d) does not directly follow a convolution; cannot fold it")
                prev.module = _fold_bn(prev.module, m)
                prev.value_node = node.name
                alias[node.name] = prev.name
            elif isinstance(m, nn.ReLU):
                _relu(ops, by_name, alias, node, ins[0], name, add)
            elif isinstance(m, nn.Dropout):
                alias[node.name] = ins[0]
            elif isinstance(m, nn.MaxPool2d):
                if _pair(m.dilation) != [1, 1] or m.return_indices:
                    raise UserError(f"layer {name!r} (MaxPool2d): dilation and return_indices are not supported")
                add(Op(name, "maxpool", ins, {"kernel": _pair(m.kernel_size), "stride": _pair(m.stride or m.kernel_size),
                                              "padding": _pair(m.padding), "ceil_mode": bool(m.ceil_mode)}), node)
                alias[node.name] = name
            elif isinstance(m, nn.AvgPool2d):
                if _pair(m.padding) != [0, 0] or m.ceil_mode or m.divisor_override is not None:
                    raise UserError(f"layer {name!r} (AvgPool2d): padding, ceil_mode and divisor_override "
                                    "are not supported")
                add(Op(name, "avgpool", ins, {"kernel": _pair(m.kernel_size),
                                              "stride": _pair(m.stride or m.kernel_size)}), node)
                alias[node.name] = name
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                if m.output_size is None or (not isinstance(m.output_size, int) and None in tuple(m.output_size)):
                    raise UserError(f"layer {name!r} (AdaptiveAvgPool2d): output_size must be given in full")
                add(Op(name, "adaptive_avgpool", ins, {"output_size": _pair(m.output_size)}), node)
                alias[node.name] = name
            elif isinstance(m, nn.Flatten):
                _check_flatten(name, m.start_dim, m.end_dim)
                add(Op(name, "flatten", ins), node)
                alias[node.name] = name
            else:
                raise UserError(f"layer {name!r} of type {type(m).__name__} is not supported by the accelerator "
                                "(supported: Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, "
                                "AdaptiveAvgPool2d, Dropout, Flatten, add, flatten, cat)")
        elif node.op == "call_function":
            ins = [src(a) for a in node.args if isinstance(a, torch.fx.Node)]
            if node.target in (operator.add, torch.add, operator.iadd):
                if len(ins) != 2 or len(node.args) != 2:
                    raise UserError(f"operation {node.name!r}: add must have two tensor operands")
                add(Op(node.name, "add", ins), node)
            elif node.target is torch.flatten:
                _check_flatten(node.name, *_flatten_dims(node))
                add(Op(node.name, "flatten", ins), node)
            elif node.target is torch.cat:
                tensors = node.args[0]
                dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
                if dim != 1:
                    raise UserError(f"operation {node.name!r}: concatenation is supported on channels (dim=1) only")
                add(Op(node.name, "cat", [src(a) for a in tensors]), node)
            elif node.target is torch.nn.functional.relu or node.target is torch.relu:
                _relu(ops, by_name, alias, node, ins[0], node.name, add)
            else:
                raise UserError(f"operation {node.name!r} ({getattr(node.target, '__name__', node.target)}) "
                                "is not supported by the accelerator")
        elif node.op == "call_method" and node.target in ("flatten",):
            _check_flatten(node.name, *_flatten_dims(node))
            add(Op(node.name, "flatten", [src(node.args[0])]), node)
        else:
            raise UserError(f"operation {node.name!r} ({node.op} {node.target}) is not supported by the accelerator")
    if not any(op.op in ("conv", "linear") for op in ops):
        raise UserError("the model has no Conv2d or Linear layer to put in weight memory")
    return ops, gm


def _relu(ops, by_name, alias, node, src_name, name, add) -> None:
    prev = by_name.get(src_name)
    fusable = prev is not None and prev.op in ("conv", "linear", "add") and not prev.params.get("relu")
    # fuse only if the pre-activation value is read by nobody else
    if fusable and sum(1 for op in ops if src_name in op.inputs) == 0 and _single_reader(node, src_name, alias):
        prev.params["relu"] = True
        prev.value_node = node.name
        alias[node.name] = prev.name
        return
    add(Op(name if name not in by_name else node.name, "relu", [src_name]), node)
    alias[node.name] = ops[-1].name


def _single_reader(node, src_name, alias) -> bool:
    """True when the ReLU node is the only reader of its input in the fx graph."""
    arg = node.args[0]
    return isinstance(arg, torch.fx.Node) and len(arg.users) == 1


def _flatten_dims(node) -> tuple[int, int]:
    """(start_dim, end_dim) of a torch.flatten / Tensor.flatten call (defaults 0, -1)."""
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    return start, end


def _check_flatten(name: str, start, end) -> None:
    # the accelerator's flatten keeps the batch dimension: (N, C, H, W) -> (N, C*H*W)
    if start != 1 or end != -1:
        raise UserError(f"operation {name!r}: flatten is supported from dim 1 to the last dim only "
                        f"(got start_dim={start}, end_dim={end})")
