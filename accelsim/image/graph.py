"""Capture a PyTorch model as a flat graph of accelerator operations.

torch.fx traces the model; each node becomes one op of a small, closed vocabulary:
``input, conv, linear, relu, maxpool, avgpool, adaptive_avgpool, add, flatten, cat,
output``. Convolutions may be grouped (depthwise) and dilated. BatchNorm2d is folded into
the convolution before it, Dropout (inference) is an identity, ReLU6 (and Hardtanh(0, M))
is a ReLU with an upper clamp, and a ReLU that is the only reader of a conv/linear/add is
fused into it (the accelerator requantizes straight to the ReLU's unsigned range). The
usual flatten idioms (``torch.flatten(x, 1)``, ``nn.Flatten``, ``x.view(x.size(0), -1)``,
``x.reshape(x.shape[0], -1)``, ``x.view(-1, features)``) and global average pooling by
``x.mean((2, 3))`` are accepted. A weightless module called more than once (one
``self.pool`` for every stage) is one operation per call; a Conv2d/Linear called twice
(shared weights) is refused. Anything else is refused with a :class:`UserError` that
names the module path, the operation and what to write instead.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from accelsim.errors import UserError

SUPPORTED_MODULES = ("Conv2d (also grouped/depthwise, dilated), Linear, BatchNorm2d after a Conv2d, ReLU, ReLU6, "
                     "MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Flatten")
USE_RELU = "use nn.ReLU / nn.ReLU6 (or F.relu / F.relu6)"
USE_FLATTEN = "write torch.flatten(x, 1) (or x.view(x.size(0), -1))"


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


def _conv_padding(m: nn.Conv2d) -> list[int] | None:
    """Integer [ph, pw] of a conv's padding; 'valid' is 0 and 'same' (stride 1) is
    dilation * (kernel - 1) / 2 when that is a whole number (PyTorch pads an even total
    symmetrically then); None when it cannot be written as symmetric integer padding."""
    if not isinstance(m.padding, str):
        return _pair(m.padding)
    if m.padding == "valid":
        return [0, 0]
    total = [d * (k - 1) for d, k in zip(_pair(m.dilation), _pair(m.kernel_size))]
    if m.padding == "same" and all(t % 2 == 0 for t in total):
        return [t // 2 for t in total]
    return None


def _where(node) -> str:
    """The module path a function call sits in, for error messages."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "the model's forward"
    path, cls = list(stack.values())[-1]
    return f"module {path!r} ({getattr(cls, '__name__', cls)})"


def _fn_name(target) -> str:
    if isinstance(target, str):
        return f"Tensor.{target}"
    mod = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", str(target))
    prefix = {"torch.nn.functional": "F.", "_operator": "operator.", "builtins": ""}.get(mod, "torch.")
    return prefix + name


def _args(node, names: tuple[str, ...], defaults: dict) -> dict:
    """A call's arguments by name (fx keeps them as written: positional or keyword)."""
    out = dict(defaults)
    out.update(zip(names, node.args))
    out.update(node.kwargs)
    return out


class _Capture:
    """Walks the fx graph once, turning nodes into ops (state shared by the handlers)."""

    def __init__(self, gm: torch.fx.GraphModule):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.ops: list[Op] = []
        self.by_name: dict[str, Op] = {}
        self.alias: dict[str, str] = {}      # fx node -> op name that carries its value
        self.batch_nodes: set[str] = set()   # x.size(0), x.shape[0]
        self.size_nodes: set[str] = set()    # x.size(), x.shape
        self.weight_calls: set[str] = set()  # conv/linear modules already called

    def src(self, node) -> str:
        return self.alias.get(node.name, node.name)

    def ins(self, node) -> list[str]:
        return [self.src(a) for a in node.args if isinstance(a, torch.fx.Node)]

    def add(self, op: Op, node, shape=None) -> None:
        meta = node.meta.get("tensor_meta")
        op.shape = shape if shape is not None else (
            tuple(int(s) for s in meta.shape[1:]) if meta is not None else ())
        op.value_node = node.name
        if op.name in self.by_name:   # a weightless module called twice (one self.pool for every stage)
            base, k = node.name, 1
            op.name = base
            while op.name in self.by_name:
                op.name, k = f"{base}_{k}", k + 1
        self.ops.append(op)
        self.by_name[op.name] = op
        self.alias[node.name] = op.name

    # -- shared pieces ---------------------------------------------------------------------
    def relu(self, node, src_name: str, name: str, upper: float | None) -> None:
        prev = self.by_name.get(src_name)
        arg = node.args[0]
        fusable = (prev is not None and prev.op in ("conv", "linear", "add") and not prev.params.get("relu")
                   and isinstance(arg, torch.fx.Node) and len(arg.users) == 1)
        if fusable:  # the pre-activation value is read by nobody else
            prev.params["relu"] = True
            if upper is not None:
                prev.params["relu_max"] = float(upper)
            prev.value_node = node.name
            self.alias[node.name] = prev.name
            return
        self.add(Op(name, "relu", [src_name],
                    {} if upper is None else {"max": float(upper)}), node)

    def flatten(self, node, name: str, start, end, where: str, what: str) -> None:
        # the accelerator's flatten keeps the batch dimension: (N, C, H, W) -> (N, C*H*W)
        if start != 1 or end != -1:
            raise UserError(f"{where}{what}: flattens from dim {start} to {end}; only dims 1..-1 keep the "
                            f"batch apart: {USE_FLATTEN}")
        self.add(Op(name, "flatten", self.ins(node)[:1]), node)

    def adaptive_pool(self, node, name: str, output_size, where: str, what: str) -> None:
        if output_size is None or (not isinstance(output_size, int) and None in tuple(output_size)):
            raise UserError(f"{where}{what}: output_size must be given in full, e.g. (1, 1)")
        self.add(Op(name, "adaptive_avgpool", self.ins(node)[:1], {"output_size": _pair(output_size)}), node)

    def maxpool(self, node, name, kernel, stride, padding, dilation, ceil_mode, indices, where, what) -> None:
        if _pair(dilation) != [1, 1] or indices:
            raise UserError(f"{where}{what}: dilation and return_indices are not supported; "
                            "use a plain MaxPool2d(kernel, stride, padding)")
        self.add(Op(name, "maxpool", self.ins(node)[:1], {"kernel": _pair(kernel), "stride": _pair(stride or kernel),
                                                          "padding": _pair(padding), "ceil_mode": bool(ceil_mode)}),
                 node)

    def avgpool(self, node, name, kernel, stride, padding, ceil_mode, divisor, where, what) -> None:
        if _pair(padding) != [0, 0] or ceil_mode or divisor is not None:
            raise UserError(f"{where}{what}: padding, ceil_mode and divisor_override are not supported; "
                            "use AvgPool2d(kernel, stride) or AdaptiveAvgPool2d")
        self.add(Op(name, "avgpool", self.ins(node)[:1], {"kernel": _pair(kernel),
                                                          "stride": _pair(stride or kernel)}), node)

    # -- node kinds ----------------------------------------------------------------------
    def call_module(self, node) -> None:
        m = self.modules[node.target]
        name = node.target
        where, kind = f"layer {name!r}", type(m).__name__
        ins = self.ins(node)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and name in self.weight_calls:
            raise UserError(f"{where} ({kind}) is called more than once in forward(): shared weights are not "
                            f"supported (the accelerator streams each layer's own words); give each use its own "
                            f"{kind}")
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            self.weight_calls.add(name)
        if isinstance(m, nn.Conv2d):
            padding = _conv_padding(m)
            if padding is None or m.padding_mode != "zeros":
                raise UserError(f"{where} ({kind}): padding {m.padding!r} / padding_mode {m.padding_mode!r} is not "
                                "supported; give padding as integers with padding_mode 'zeros'")
            self.add(Op(name, "conv", ins, {"kernel": _pair(m.kernel_size), "stride": _pair(m.stride),
                                            "padding": padding, "dilation": _pair(m.dilation),
                                            "groups": int(m.groups)}, _with_bias(m)), node)
        elif isinstance(m, nn.Linear):
            in_meta = node.args[0].meta.get("tensor_meta")
            if in_meta is not None and len(in_meta.shape) != 2:
                raise UserError(f"{where} ({kind}): its input must be flattened to (N, features), got shape "
                                f"{list(in_meta.shape)}; {USE_FLATTEN} before it")
            self.add(Op(name, "linear", ins, {}, _with_bias(m)), node)
        elif isinstance(m, nn.BatchNorm2d):
            if m.running_mean is None:  # track_running_stats=False: no inference-time statistics
                raise UserError(f"{where} ({kind}) has no running statistics to fold; "
                                "use BatchNorm2d with track_running_stats=True")
            prev = self.by_name.get(ins[0])
            if prev is None or prev.op != "conv" or prev.params.get("relu") or len(node.args[0].users) != 1:
                raise UserError(f"{where} ({kind}) does not directly follow a convolution, so it cannot be folded; "
                                "put each BatchNorm2d right after its Conv2d")
            prev.module = _fold_bn(prev.module, m)
            prev.value_node = node.name
            self.alias[node.name] = prev.name
        elif isinstance(m, nn.ReLU):
            self.relu(node, ins[0], name, None)
        elif isinstance(m, nn.Hardtanh):   # ReLU6 is Hardtanh(0, 6)
            if m.min_val != 0 or m.max_val <= 0:
                raise UserError(f"{where} ({kind}): only a clamp to [0, max] is supported (got [{m.min_val}, "
                                f"{m.max_val}]); {USE_RELU}")
            self.relu(node, ins[0], name, m.max_val)
        elif isinstance(m, nn.Dropout):
            self.alias[node.name] = ins[0]
        elif isinstance(m, nn.MaxPool2d):
            self.maxpool(node, name, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices,
                         where, f" ({kind})")
        elif isinstance(m, nn.AvgPool2d):
            self.avgpool(node, name, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.divisor_override,
                         where, f" ({kind})")
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            self.adaptive_pool(node, name, m.output_size, where, f" ({kind})")
        elif isinstance(m, nn.Flatten):
            self.flatten(node, name, m.start_dim, m.end_dim, where, f" ({kind})")
        else:
            hint = USE_RELU if "Norm" not in kind else "use BatchNorm2d right after a Conv2d (folded at export)"
            raise UserError(f"{where} of type {kind} is not supported by the accelerator; {hint} "
                            f"(supported: {SUPPORTED_MODULES})")

    def call_function(self, node) -> None:
        t, where, what = node.target, _where(node), _fn_name(node.target)
        ins = self.ins(node)
        if t in (operator.add, torch.add, operator.iadd):
            if len(ins) != 2 or len(node.args) != 2 or node.kwargs:
                raise UserError(f"{where}: {what} {node.name!r} must add two tensors; write a + b")
            self.add(Op(node.name, "add", ins), node)
        elif t is torch.flatten:
            a = _args(node, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
            self.flatten(node, node.name, a["start_dim"], a["end_dim"], where, ", " + what)
        elif t is torch.reshape:
            self.reshape(node, where, what, list(node.args[1]) if len(node.args) > 1 else list(node.kwargs["shape"]))
        elif t is torch.cat:
            a = _args(node, ("tensors", "dim"), {"dim": 0})
            if a["dim"] not in (1, -3):
                raise UserError(f"{where}: {what} on dim {a['dim']} is not supported; concatenate channels: "
                                "torch.cat([a, b], 1)")
            self.add(Op(node.name, "cat", [self.src(x) for x in a["tensors"]]), node)
        elif t in (F.relu, torch.relu):
            self.relu(node, ins[0], node.name, None)
        elif t is F.relu6:
            self.relu(node, ins[0], node.name, 6.0)
        elif t is F.hardtanh:
            a = _args(node, ("input", "min_val", "max_val"), {"min_val": -1.0, "max_val": 1.0})
            if a["min_val"] != 0 or a["max_val"] <= 0:
                raise UserError(f"{where}: {what} clamps to [{a['min_val']}, {a['max_val']}]; only [0, max] is "
                                f"supported: {USE_RELU}")
            self.relu(node, ins[0], node.name, a["max_val"])
        elif t is F.dropout:
            self.alias[node.name] = ins[0]
        elif t is F.adaptive_avg_pool2d:
            a = _args(node, ("input", "output_size"), {})
            self.adaptive_pool(node, node.name, a["output_size"], where, ", " + what)
        elif t is F.max_pool2d:
            a = _args(node, ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                      {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
            self.maxpool(node, node.name, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"],
                         a["return_indices"], where, ", " + what)
        elif t is F.avg_pool2d:
            a = _args(node, ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                             "divisor_override"), {"stride": None, "padding": 0, "ceil_mode": False,
                                                   "divisor_override": None})
            self.avgpool(node, node.name, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                         a["divisor_override"], where, ", " + what)
        elif t is torch.mean:
            self.mean(node, where, what)
        elif t is getattr and node.args[1] == "shape":
            self.size_nodes.add(node.name)
        elif t is operator.getitem and getattr(node.args[0], "name", None) in self.size_nodes:
            if node.args[1] == 0:
                self.batch_nodes.add(node.name)
        else:
            raise UserError(f"{where}: operation {what} ({node.name!r}) is not supported by the accelerator; "
                            f"{_instead(what)}")

    def call_method(self, node) -> None:
        where, what = _where(node), f"Tensor.{node.target}"
        if node.target == "size":
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            (self.batch_nodes if dim == 0 else self.size_nodes).add(node.name)
        elif node.target == "flatten":
            a = _args(node, ("self", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
            self.flatten(node, node.name, a["start_dim"], a["end_dim"], where, ", " + what)
        elif node.target in ("view", "reshape"):
            shape = list(node.args[1]) if len(node.args) == 2 and isinstance(node.args[1], (tuple, list)) \
                else list(node.args[1:])
            self.reshape(node, where, what, shape)
        elif node.target == "mean":
            self.mean(node, where, what)
        elif node.target in ("relu", "relu_"):
            self.relu(node, self.ins(node)[0], node.name, None)
        else:
            raise UserError(f"{where}: operation {what} ({node.name!r}) is not supported by the accelerator; "
                            f"{_instead(what)}")

    def reshape(self, node, where: str, what: str, shape: list) -> None:
        """view/reshape is accepted when it is a flatten that keeps the batch dimension."""
        x = node.args[0]
        features = int(np.prod(x.meta["tensor_meta"].shape[1:]))
        batch, rest = (shape[0], shape[1:]) if shape else (None, [])
        batch_ok = (isinstance(batch, torch.fx.Node) and batch.name in self.batch_nodes) or \
                   (batch == -1 and len(rest) == 1 and rest[0] == features)
        rest_ok = len(rest) == 1 and (rest[0] == -1 or rest[0] == features)
        if not (batch_ok and rest_ok):
            shown = ", ".join(a.name if isinstance(a, torch.fx.Node) else repr(a) for a in shape)
            raise UserError(f"{where}: {what}({shown}) ({node.name!r}) is not a flatten to (N, {features}); "
                            f"a fixed batch size or other reshapes are not supported: {USE_FLATTEN}")
        self.add(Op(node.name, "flatten", [self.src(x)]), node)

    def mean(self, node, where: str, what: str) -> None:
        """x.mean((2, 3)) (global average pooling) -> adaptive_avgpool (1, 1) [+ flatten]."""
        a = _args(node, ("input", "dim", "keepdim"), {"dim": None, "keepdim": False})
        dims = a["dim"] if isinstance(a["dim"], (list, tuple)) else [a["dim"]]
        if sorted(d % 4 for d in dims if isinstance(d, int)) != [2, 3] or len(dims) != 2:
            raise UserError(f"{where}: {what} over dim {a['dim']} ({node.name!r}) is not supported; only global "
                            "average pooling x.mean((2, 3)) or nn.AdaptiveAvgPool2d(1) is")
        channels = int(node.args[0].meta["tensor_meta"].shape[1])
        pool = node.name if a["keepdim"] else f"{node.name}_pool"
        self.add(Op(pool, "adaptive_avgpool", self.ins(node)[:1], {"output_size": [1, 1]}), node,
                 shape=(channels, 1, 1))
        if not a["keepdim"]:
            self.add(Op(node.name, "flatten", [pool]), node, shape=(channels,))


def _instead(what: str) -> str:
    """What to write instead of an unsupported operation."""
    name = what.split(".")[-1].lower().rstrip("_")
    if name in ("sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid", "leaky_relu", "elu", "softmax",
                "log_softmax", "mish", "softplus", "clamp", "clip"):
        return USE_RELU + "; softmax/argmax belong after the network's logits"
    if name in ("view", "reshape", "squeeze", "unsqueeze", "permute", "transpose", "contiguous", "flatten"):
        return USE_FLATTEN
    if name in ("mul", "matmul", "bmm", "div", "sub", "truediv", "floordiv", "pow"):
        return "the accelerator computes Conv2d/Linear layers, residual adds and channel concatenation only"
    return f"express it with the supported layers ({SUPPORTED_MODULES}) and a + b, torch.cat(dim=1), flatten"


def capture(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Op], torch.fx.GraphModule]:
    """Trace ``model`` and return its ops in topological order (and the traced module)."""
    model = model.eval()
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent control flow and the like
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"model {type(model).__name__} cannot be traced by torch.fx ({first}); remove "
                        "data-dependent Python control flow from forward()") from None
    ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    cap = _Capture(gm)
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            cap.add(Op(node.name, "input", []), node)
        elif node.op == "output":
            arg = node.args[0]
            if not isinstance(arg, torch.fx.Node) or arg.name in cap.size_nodes | cap.batch_nodes:
                raise UserError("the model's forward must return a single tensor (the logits)")
            op = Op("output", "output", [cap.src(arg)])
            cap.add(op, arg)
        elif node.op == "call_module":
            cap.call_module(node)
        elif node.op == "call_function":
            cap.call_function(node)
        elif node.op == "call_method":
            cap.call_method(node)
        else:
            raise UserError(f"{_where(node)}: operation {node.op} {node.target} is not supported by the accelerator")
    if not any(op.op in ("conv", "linear") for op in cap.ops):
        raise UserError("the model has no Conv2d or Linear layer to put in weight memory")
    return cap.ops, gm
