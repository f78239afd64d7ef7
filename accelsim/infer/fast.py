"""Fast integer-exact inference: the same integers as IntegerNetwork, at float32 GEMM speed.

Why float32 is exact here: activations are integers with |a| <= 255 and weights integers
with |w| <= 128, so every product is an integer below 2^15 and every partial sum of a dot
product is an integer bounded by ``ACT_MAX * sum_k |w_k|`` (plus |bias| when the bias is
added inside the convolution). A float32 holds every integer up to 2^24 exactly, so when
that bound is at most 2^24 *any* summation order the convolution or GEMM library picks
(blocking, vectorization, FMA) yields the exact integer sum. Each layer's input channels
are split into chunks whose bound stays within 2^24 (most layers need one chunk; the
wide 3x3 layers of a ResNet two or three); chunk results are added in float64, exact far
beyond the 32-bit accumulator. A layer whose single input channel already exceeds the
bound (a kernel over 514 taps) runs in float64 instead (exact below 2^53). Transform
algorithms (Winograd, FFT: NNPACK) are not sums of the products and are switched off
while the engine runs; the oneDNN/MKL float32 paths run at IEEE precision (no bf16/TF32
down-conversion).

The rest is integer arithmetic as documented in docs/formats.md and done by
IntegerNetwork: 32-bit saturation of accumulator + bias, the 31-bit fixed-point
requantization and the 24-bit fixed-point residual add run in int64 inside one compiled
pass each (accelsim.infer.kernels); max pooling and ReLU are exact on float32 integers;
any other operation runs through IntegerNetwork's own int64 code.

``IncrementalRun`` keeps the fault-free activations of a fixed input batch, so a
fault-injection trial recomputes only from the first layer whose decoded weights differ
from the fault-free ones.
"""

from __future__ import annotations

import contextlib
import numpy as np
import torch
import torch.nn.functional as F

from accelsim.errors import UserError
from accelsim.image.memory_image import MemoryImage
from accelsim.infer import kernels
from accelsim.infer.integer import IntegerNetwork, decode_weights
from accelsim.infer.requant import act_range, relu_cap, saturate32

EXACT_FLOAT32 = 1 << 24   # every integer of magnitude <= 2^24 is a float32
ACT_MAX = 255             # largest |activation| of an 8-bit or narrower tensor (docs/formats.md)


class LayerPlan:
    """How one weight layer's dot products run exactly.

    Its input channels (within a group) are cut into chunks [j0, j1) such that, for every
    output channel c, sum over the chunk of amax[j] * sum_taps |w[c, j]| <= limit, where
    amax is ACT_MAX or, when that needs more than one chunk, the measured largest |x| of
    each input channel of the batch at hand (still a strict bound for that batch)."""

    def __init__(self, w: np.ndarray, bias: np.ndarray, *, groups: int = 1, limit: int = EXACT_FLOAT32):
        w = np.asarray(w)
        self.shape = w.shape
        self.groups = groups
        self.limit = limit
        self.bias = np.asarray(bias, dtype=np.int64)
        self.bias_max = int(np.abs(self.bias).max(initial=0))
        self.w32 = torch.from_numpy(w.astype(np.float32))
        c_out, c_in = w.shape[0], w.shape[1]
        self.taps = np.abs(w.astype(np.int64)).reshape(c_out, c_in, -1).sum(axis=2)   # (C_out, C_in/g)
        self.static = self.chunks(np.full(c_in * groups, ACT_MAX, dtype=np.float64))   # (chunks, bound)
        self._weights: dict[tuple, list[torch.Tensor]] = {}
        self._w = w
        self._int8 = None

    def int8(self):
        """The weights for the exact int8 GEMM path (accelsim.infer.int8), made once."""
        if self._int8 is None:
            from accelsim.infer.int8 import Int8Weights
            self._int8 = Int8Weights(self._w, self.groups)
        return self._int8

    def chunks(self, amax: np.ndarray) -> tuple[tuple[tuple[int, int], ...] | None, float]:
        """(chunks, largest chunk bound) for per-input-channel bounds amax (C_in,); chunks
        None: one channel alone is too wide for float32 (the layer then runs in float64)."""
        c_out, c_in = self.taps.shape
        per_group = np.asarray(amax, dtype=np.float64).reshape(self.groups, c_in)
        weighted = self.taps * per_group[np.arange(c_out) // (c_out // self.groups)]
        cum = np.concatenate([np.zeros((c_out, 1)), np.cumsum(weighted, axis=1)], axis=1)
        out, j0, largest = [], 0, 0.0
        while j0 < c_in:
            bound = (cum[:, j0 + 1:] - cum[:, j0:j0 + 1]).max(axis=0)      # non-decreasing in j1
            j1 = j0 + int(np.searchsorted(bound, self.limit, side="right"))
            if j1 == j0:
                return None, float(bound[0])
            out.append((j0, j1))
            largest = max(largest, float(bound[j1 - j0 - 1]))
            j0 = j1
        return tuple(out), largest

    def weights(self, chunks) -> list[torch.Tensor]:
        """The weights cut into these chunks (float32), or whole in float64 (chunks None)."""
        # the plan may be shared by the threads of a Dask worker: read the cache once and
        # return what this call found or made, never a lookup another thread may have pruned
        cached = self._weights.get(chunks)
        if cached is None:
            cached = ([self.w32.to(torch.float64)] if chunks is None
                      else [self.w32[:, a:b].contiguous() for a, b in chunks])
            kept = self._weights if len(self._weights) < 4 else \
                {k: v for k, v in self._weights.items() if k == self.static[0]}   # keep memory flat
            self._weights = {**kept, chunks: cached}
        return cached


def plan_layer(w: np.ndarray, bias: np.ndarray, *, groups: int = 1, limit: int = EXACT_FLOAT32) -> LayerPlan:
    return LayerPlan(w, bias, groups=groups, limit=limit)


def _select_channels(x: torch.Tensor, groups: int, j0: int, j1: int) -> torch.Tensor:
    """Input channels j0..j1-1 of every group (dim 1 of x)."""
    c = x.shape[1] // groups
    if j0 == 0 and j1 == c:
        return x
    if groups == 1:
        return x[:, j0:j1]
    parts = x.reshape(x.shape[0], groups, c, *x.shape[2:])[:, :, j0:j1]
    return parts.reshape(x.shape[0], groups * (j1 - j0), *x.shape[2:])


def accumulate(x: torch.Tensor, plan: LayerPlan, op) -> tuple[list[torch.Tensor], np.ndarray]:
    """Exact accumulators of ``op(x, w, bias)``: the per-chunk float results (their sum is
    the accumulator) and the bias still to add (zeros when it went into the operation)."""
    chunks, bound = plan.static
    if chunks is None or len(chunks) > 1:
        amax = np.empty(x.shape[1], dtype=np.float32)
        kernels.channel_absmax(x.reshape(x.shape[0], x.shape[1], -1).contiguous().numpy(), amax)
        chunks, bound = plan.chunks(amax)
    if chunks is None:
        return [op(x.to(torch.float64), plan.weights(None)[0], None)], plan.bias
    weights = plan.weights(chunks)
    if len(chunks) == 1 and bound + plan.bias_max <= plan.limit:
        return [op(x, weights[0], torch.from_numpy(plan.bias.astype(np.float32)))], np.zeros_like(plan.bias)
    return [op(_select_channels(x, plan.groups, a, b), w, None) for (a, b), w in zip(chunks, weights)], plan.bias


@contextlib.contextmanager
def exact_float32():
    """Float32 convolutions and GEMMs that are plain sums of products at IEEE precision."""
    saved_matmul = torch.get_float32_matmul_precision()
    saved_mkldnn = torch.backends.mkldnn.fp32_precision
    torch.set_float32_matmul_precision("highest")
    torch.backends.mkldnn.fp32_precision = "ieee"
    try:
        with torch.backends.nnpack.flags(enabled=False), torch.inference_mode():
            yield
    finally:
        torch.set_float32_matmul_precision(saved_matmul)
        torch.backends.mkldnn.fp32_precision = saved_mkldnn


class FastIntegerNetwork(IntegerNetwork):
    """IntegerNetwork's integers, computed with exact int8 or float32 GEMMs and compiled kernels.

    ``forward(x, weights)`` returns exactly what IntegerNetwork.forward returns. Ungrouped
    convolutions and linear layers whose float32 sums would need more than one channel chunk
    run as int8 x int8 -> int32 products where torch has them (accelsim.infer.int8;
    ``use_int8 = False`` keeps every layer on float32)."""

    use_int8 = True
    int8_min_chunks = 2    # float32 chunks a layer must need to go int8 (1: every ungrouped layer)

    def __init__(self, image: MemoryImage):
        super().__init__(image)
        # activation-buffer fault hook (layer, int activations, first sample, signed) ->
        # activations on every conv/linear input, as IntegerNetwork applies it; None: none
        self.input_faults = getattr(self, "input_faults", None)
        self.order = {node["name"]: i for i, node in enumerate(self.graph)}
        # each value is dropped after its last reader: only the live activations stay in memory
        self.last_use = {}
        for i, node in enumerate(self.graph):
            for src in node["inputs"]:
                self.last_use[src] = i

    # -- plans ----------------------------------------------------------------------------
    def plan(self, name: str, w: np.ndarray, *, limit: int = EXACT_FLOAT32) -> LayerPlan:
        layer = self.layers[name]
        return plan_layer(w, layer.bias, groups=layer.groups, limit=limit)

    def plans(self, weights: dict[str, np.ndarray], *, limit: int = EXACT_FLOAT32) -> dict[str, LayerPlan]:
        return {name: self.plan(name, weights[name], limit=limit) for name in self.layers}

    # -- entry points ---------------------------------------------------------------------
    def forward(self, x, weights: dict[str, np.ndarray] | None = None, *, batch: int = 64,
                limit: int = EXACT_FLOAT32) -> np.ndarray:
        """Integer outputs (N, classes), identical to IntegerNetwork.forward; x: float (N, C, H, W).
        batch: inputs per pass (memory ~ batch x the largest activation x 12 bytes)."""
        if weights is None:
            weights = decode_weights(self.image)[0]
        plans = self.plans(weights, limit=limit)
        outs = []
        for i in range(0, len(x), batch):
            values = {self.graph[0]["name"]: self.quantized_input(x[i:i + batch])}
            outs.append(self.execute(values, plans, start=1, first_sample=i))
        return np.concatenate(outs)

    def quantized_input(self, x) -> torch.Tensor:
        """IntegerNetwork.quantize_input as float32 integers, in one compiled pass."""
        node = self.graph[0]
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.image.input_shape:
            raise UserError(f"input shape {tuple(x.shape[1:])} != image input shape {self.image.input_shape}")
        if x.dtype.kind not in "fiub":
            x = x.astype(np.float64)
        lo, hi = act_range(node["signed"], node.get("bits", 8))
        out = torch.empty(x.shape, dtype=torch.float32)
        kernels.quantize(np.ascontiguousarray(x).reshape(-1), float(node["scale"]), lo, hi, out.numpy().reshape(-1))
        return out

    def execute(self, values: dict[str, torch.Tensor], plans: dict[str, LayerPlan], *, start: int,
                record: dict[str, np.ndarray | None] | None = None, first_sample: int = 0) -> np.ndarray:
        """Run graph nodes start.. given the live ``values`` (float32 integer tensors) of
        inputs first_sample..; the outputs of nodes named in ``record`` are stored there
        as compact integer arrays.
        Returns the output (int64)."""
        with exact_float32():
            for k, node in enumerate(self.graph[start:], start):
                op, name = node["op"], node["name"]
                if op == "output":
                    return values[node["inputs"][0]].to(torch.int64).numpy()
                ins = [values[s] for s in node["inputs"]]
                if self.input_faults is not None and op in ("conv", "linear"):
                    ins = [self._faulty_input(name, node, ins[0], first_sample)]
                fast = getattr(self, f"_fast_{op}", None)
                values[name] = fast(node, ins, plans) if fast else self._exact_op(node, ins)
                if record is not None and name in record:
                    record[name] = _compact(values[name])
                for src in node["inputs"]:
                    if self.last_use[src] == k:
                        values.pop(src, None)
        raise AssertionError("graph has no output")

    # -- operations -----------------------------------------------------------------------
    def _faulty_input(self, name, node, x: torch.Tensor, first_sample: int) -> torch.Tensor:
        signed = bool(self.nodes[node["inputs"][0]].get("signed", False))
        q = self.input_faults(name, x.to(torch.int64).numpy(), first_sample, signed)
        return torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32))

    def _exact_op(self, node, ins):
        """Any other operation: IntegerNetwork's own int64 code."""
        out = getattr(self, f"_{node['op']}")(node, [t.to(torch.int64).numpy() for t in ins], None)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))

    def _finish_layer(self, node, parts: list[torch.Tensor], bias: np.ndarray) -> torch.Tensor:
        """Exact chunk accumulators (N, C, ...) -> 8-bit activations (float32), or int64 logits."""
        name = node["name"]
        shape = parts[0].shape
        n, c = shape[0], shape[1]
        if name == self.logit_layer:
            logits = sum(p.to(torch.int64).numpy().reshape(n, c, -1) for p in parts) + bias.reshape(1, c, 1)
            return torch.from_numpy(saturate32(logits).reshape(shape))
        m0, shift = self._requant[name]
        layer = self.layers[name]
        lo, hi = self._clamp_range(node, layer.relu, layer.relu_max)
        out = torch.empty(shape, dtype=torch.float32)
        kernels.requantize_parts(tuple(p.reshape(n, c, -1).contiguous().numpy() for p in parts), bias,
                                 np.ascontiguousarray(np.broadcast_to(m0, (c,))),
                                 np.ascontiguousarray(np.broadcast_to(shift, (c,))), lo, hi,
                                 out.numpy().reshape(n, c, -1))
        return out

    def _int8_layer(self, node, x: torch.Tensor, plan: LayerPlan, kernel, stride, padding, dilation):
        """The layer's output through the exact int8 GEMM, or None where that path does not
        apply (grouped, weights outside int8, inputs outside 8 bits, no integer GEMM) or does
        not pay: a layer whose float32 convolution is exact in one chunk stays on float32
        (one oneDNN convolution beats im2col + int8 GEMM there; measured on ResNet-18 @224,
        one thread: int8 everywhere 1.01 x the float32 engine, int8 only on the layers that
        need 2-5 float32 chunks 0.75 x)."""
        from accelsim.infer import int8
        if not self.use_int8 or (plan.static[0] is not None and len(plan.static[0]) < self.int8_min_chunks):
            return None
        weights = plan.int8()
        zero = int8.input_zero(x) if weights.usable else None
        if zero is None:
            return None
        name = node["name"]
        n = x.shape[0]
        acc, (oh, ow), correction = int8.accumulators(x, weights, kernel, stride, padding, dilation, zero)
        extra = correction + plan.bias
        c = acc.shape[0]
        if name == self.logit_layer:
            return torch.from_numpy(int8.logits(acc, extra, n).reshape(n, c, oh, ow))
        m0, shift = self._requant[name]
        layer = self.layers[name]
        lo, hi = self._clamp_range(node, layer.relu, layer.relu_max)
        out = torch.empty((n, c, oh, ow), dtype=torch.float32)
        int8.requantize(acc.numpy(), np.ascontiguousarray(extra, dtype=np.int64),
                        np.ascontiguousarray(np.broadcast_to(m0, (c,))),
                        np.ascontiguousarray(np.broadcast_to(shift, (c,))), lo, hi, n, out.numpy().reshape(n, c, -1))
        return out

    def _fast_conv(self, node, ins, plans):
        layer = self.layers[node["name"]]
        plan = plans[node["name"]]
        stride, padding = tuple(layer.stride), tuple(layer.padding)
        dilation = tuple(layer.dilation)
        out = self._int8_layer(node, ins[0], plan, tuple(layer.kernel), stride, padding, dilation)
        if out is not None:
            return out

        def conv(x, w, b):
            return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=plan.groups)

        return self._finish_layer(node, *accumulate(ins[0], plan, conv))

    def _fast_linear(self, node, ins, plans):
        x = ins[0].reshape(len(ins[0]), -1)
        out = self._int8_layer(node, x.reshape(*x.shape, 1, 1), plans[node["name"]], (1, 1), (1, 1), (0, 0), (1, 1))
        if out is not None:
            return out.reshape(x.shape[0], -1)
        return self._finish_layer(node, *accumulate(x, plans[node["name"]], F.linear))

    def _fast_relu(self, node, ins, plans):
        y = torch.relu(ins[0])
        if "max" in node:     # ReLU6: IntegerNetwork's integer level of the clamp
            y = torch.clamp(y, max=float(relu_cap(node["max"], node["scale"])))
        return y

    def _fast_flatten(self, node, ins, plans):
        return ins[0].reshape(len(ins[0]), -1)

    def _fast_maxpool(self, node, ins, plans):
        # max of exact integers is exact; PyTorch pads with -inf as IntegerNetwork pads with int64 min
        return F.max_pool2d(ins[0], node["kernel"], node["stride"], node["padding"], ceil_mode=node["ceil_mode"])

    def _fast_add(self, node, ins, plans):
        if len(ins) != 2:
            return self._exact_op(node, ins)
        ma, mb = self._rescale_multipliers(node)
        lo, hi = self._clamp_range(node, node.get("relu", False), node.get("relu_max"))
        a, b = ins[0].contiguous(), ins[1].contiguous()
        out = torch.empty(a.shape, dtype=torch.float32)
        kernels.add_rescaled(a.reshape(-1).numpy(), ma, b.reshape(-1).numpy(), mb, self.add_fraction,
                             lo, hi, out.reshape(-1).numpy())
        return out


def _compact(t: torch.Tensor) -> np.ndarray:
    """A cached activation in the narrowest integer type that holds it."""
    a = t.numpy()
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    dtype = np.uint8 if lo >= 0 and hi <= 255 else np.int8 if lo >= -128 and hi <= 127 else np.int32
    return a.astype(dtype)


class IncrementalRun:
    """Fault-free activations of one fixed input set, reused across trials.

    A run with other weights recomputes only from the latest cached cut at or before the
    first weight layer whose weights differ from the fault-free ones. A cut is a point
    in the graph's order where exactly one earlier value is still needed (the input, a
    ResNet block's output, a plain chain's every layer); the cut values are cached as
    8-bit integers, smallest first, while they fit in ``cache_bytes`` (the input is
    always kept, so a restart from the first layer is always possible)."""

    def __init__(self, net: FastIntegerNetwork, x, *, weights: dict[str, np.ndarray] | None = None,
                 batch: int = 64, cache_bytes: int = 256 << 20):
        self.net = net
        self.clean_weights = weights if weights is not None else decode_weights(net.image)[0]
        self.clean_plans = net.plans(self.clean_weights)
        self.cuts = self._choose_cuts(len(x), cache_bytes)          # node index -> cut value name
        keep = set(self.cuts.values())
        self.cache: list[dict[str, np.ndarray]] = []
        outs = []
        input_name = net.graph[0]["name"]
        for i in range(0, len(x), batch):
            xq = net.quantized_input(x[i:i + batch])
            record = {name: None for name in keep}
            outs.append(net.execute({input_name: xq}, self.clean_plans, start=1, record=record))
            record[input_name] = _compact(xq)
            self.cache.append({name: a for name, a in record.items() if name in keep})
        self.clean = np.concatenate(outs)

    def _choose_cuts(self, n: int, cache_bytes: int) -> dict[int, str]:
        graph = self.net.graph
        last_use = {}
        for i, node in enumerate(graph):
            for src in node["inputs"]:
                last_use[src] = i
        cuts = {}
        last_layer = max(self.net.order[name] for name in self.net.layers)
        for k in range(1, last_layer + 1):      # restarts happen at or before a weight layer
            live = [j for j in range(k) if last_use.get(graph[j]["name"], -1) >= k]
            if len(live) == 1:
                cuts[k] = graph[live[0]]["name"]
        sizes = {name: n * int(np.prod(self.net.nodes[name].get("shape") or [1])) for name in set(cuts.values())}
        chosen, total = {graph[0]["name"]}, sizes.get(graph[0]["name"], 0)
        for name in sorted(sizes, key=lambda s: (sizes[s], -self.net.order[s])):
            if name not in chosen and total + sizes[name] <= cache_bytes:
                chosen.add(name)
                total += sizes[name]
        return {k: name for k, name in cuts.items() if name in chosen}

    def cached_bytes(self) -> int:
        return sum(a.nbytes for entry in self.cache for a in entry.values())

    def changed_layers(self, weights: dict[str, np.ndarray]) -> list[str]:
        # an unchanged layer is often the fault-free array itself (accelsim.campaign.shortcuts)
        return [name for name in self.net.layers if weights[name] is not self.clean_weights[name]
                and not np.array_equal(weights[name], self.clean_weights[name])]

    def restart_point(self, changed: list[str]) -> int:
        """The graph index execution restarts from for these changed layers."""
        first = min(self.net.order[name] for name in changed)
        return max(k for k in self.cuts if k <= first)

    def forward(self, weights: dict[str, np.ndarray]) -> np.ndarray:
        """Integer outputs with these weights, identical to a full FastIntegerNetwork.forward."""
        changed = self.changed_layers(weights)
        if self.net.input_faults is not None:     # activation faults change every layer's input
            start = 1
        elif not changed:
            return self.clean.copy()
        else:
            start = self.restart_point(changed)
        name = self.cuts[start]
        plans = dict(self.clean_plans)
        for layer in changed:
            plans[layer] = self.net.plan(layer, weights[layer])
        outs, first = [], 0
        for entry in self.cache:
            value = torch.from_numpy(entry[name].astype(np.float32))
            outs.append(self.net.execute({name: value}, plans, start=start, first_sample=first))
            first += len(value)
        return np.concatenate(outs)
