"""Integer-exact inference, computed as the accelerator computes.

8-bit activations (unsigned after ReLU, signed otherwise; unsigned ones may be narrower,
each graph node's ``bits``) times integer weights, 32-bit accumulation (saturating),
int32 bias, fixed-point requantization to the next tensor's scale and width, clamped by
ReLU6-style upper bounds (accelsim.infer.requant); grouped/depthwise and dilated
convolutions; pooling, residual add and concat on integers. The
last weight layer, when nothing follows it but the output, returns its int32
accumulators (the logits) with a per-class scale.

Convolutions are lowered to one GEMM per layer (im2col by strided views); the products
are summed in float64, which is exact here: |x| <= 255, |w| <= 127 and K <= 2^17 keep
every partial sum below 2^53.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.ecc import STATUS_CORRECTED, STATUS_DETECTED
from accelsim.errors import UserError
from accelsim.image.memory_image import LayerImage, MemoryImage, pool_out
from accelsim.infer.requant import act_range, fixed_multiplier, relu_cap, requantize, saturate32

_ADD_FRACTION = 24  # fixed-point fraction bits of the add/concat rescaling multipliers


def decode_weights(image: MemoryImage, words: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Decode and unpack every layer's words -> ({layer: int8 weights shaped like the
    layer}, {layer: {"words", "corrected", "detected"}})."""
    words = image.words if words is None else words
    weights, stats = {}, {}
    for i, layer in enumerate(image.layers):
        chunk = words[layer.word_offset:layer.word_offset + layer.n_words]
        q, dec = image.layout.unpack_detail(chunk, count=layer.n_weights)
        weights[layer.name] = q.reshape(layer.weight_shape)
        stats[layer.name] = {"words": int(layer.n_words), "corrected": int(np.count_nonzero(dec.status == STATUS_CORRECTED)),
                             "detected": int(np.count_nonzero(dec.status == STATUS_DETECTED))}
    return weights, stats


def _im2col(x: np.ndarray, kernel, stride, padding, pad_value=0, dilation=(1, 1)) -> tuple[np.ndarray, int, int]:
    """(N*Ho*Wo, C*kh*kw) patches, columns in (channel, kh, kw) order as PyTorch's weights."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    # a dilated kernel reads every d-th element of a (d*(k-1)+1)-wide window
    win = np.lib.stride_tricks.sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]
    ho, wo = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    return cols, ho, wo


def _grouped_gemm(cols: np.ndarray, wmat: np.ndarray, groups: int) -> np.ndarray:
    """cols (P, G*K) @ block-diagonal weights: wmat (K, G*Og) holds group g's K x Og block
    in columns g*Og..; the result (P, G*Og) keeps PyTorch's output-channel order."""
    if groups == 1:
        return cols @ wmat
    p, k = cols.shape[0], wmat.shape[0]
    a = cols.reshape(p, groups, k).transpose(1, 0, 2)           # (G, P, K)
    b = wmat.reshape(k, groups, -1).transpose(1, 0, 2)          # (G, K, Og)
    return np.matmul(a, b).transpose(1, 0, 2).reshape(p, -1)


@dataclass
class Tensor:
    """An integer activation tensor: values q, real value = q * scale (per channel for
    accumulators), signed or not."""

    q: np.ndarray
    scale: np.ndarray | float
    signed: bool


class IntegerNetwork:
    """The image's graph as integer operations. ``forward(x, weights)``."""

    add_fraction = _ADD_FRACTION

    def __init__(self, image: MemoryImage):
        self.image = image
        # optional fault hook on every conv/linear input read from the activation buffer:
        # (layer, 8-bit activations, index of the batch's first sample, signed) -> activations
        # (accelsim.hw.activations.ActivationFaults); None keeps the exact fault-free path
        self.input_faults = None
        self.graph = image.graph
        self.layers: dict[str, LayerImage] = {layer.name: layer for layer in image.layers}
        self.nodes = {node["name"]: node for node in self.graph}
        out_src = self.graph[-1]["inputs"][0]
        # the last weight layer feeding the output directly yields raw accumulators
        self.logit_layer = out_src if out_src in self.layers and not self.layers[out_src].relu else None
        self._requant = {}
        for name, layer in self.layers.items():
            if name == self.logit_layer:
                continue
            node = self.nodes[name]
            m = layer.weight_scale * layer.input_scale / node["scale"]
            self._requant[name] = fixed_multiplier(m)

    @classmethod
    def from_image(cls, image: MemoryImage) -> "IntegerNetwork":
        return cls(image)

    # -- entry points --------------------------------------------------------------------
    def quantize_input(self, x) -> np.ndarray:
        node = self.graph[0]
        x = np.asarray(x, dtype=np.float64)
        if tuple(x.shape[1:]) != self.image.input_shape:
            raise UserError(f"input shape {tuple(x.shape[1:])} != image input shape {self.image.input_shape}")
        lo, hi = act_range(node["signed"], node.get("bits", 8))
        return np.clip(np.round(x / node["scale"]), lo, hi).astype(np.int64)

    def forward(self, x, weights: dict[str, np.ndarray] | None = None, *, batch: int = 512) -> np.ndarray:
        """Integer outputs (N, classes): int32 logits of the last layer, or its 8-bit
        activations when the network ends in pooling. x: float inputs (N, C, H, W)."""
        if weights is None:
            weights = decode_weights(self.image)[0]
        wmat = {name: w.reshape(w.shape[0], -1).T.astype(np.float64) for name, w in weights.items()}
        outs = [self._run(self.quantize_input(x[i:i + batch]), wmat, i) for i in range(0, len(x), batch)]
        return np.concatenate(outs)

    def output_scale(self) -> np.ndarray:
        """Real value per unit of each output (per class for accumulator logits)."""
        if self.logit_layer:
            layer = self.layers[self.logit_layer]
            return layer.weight_scale * layer.input_scale
        return np.full(1, self.nodes[self.graph[-1]["inputs"][0]]["scale"])

    def predict(self, x, weights=None) -> np.ndarray:
        out = self.forward(x, weights).astype(np.float64) * self.output_scale()
        return out.reshape(len(out), -1).argmax(axis=1)

    # -- the graph ------------------------------------------------------------------------
    def _run(self, xq: np.ndarray, wmat: dict[str, np.ndarray], first_sample: int = 0) -> np.ndarray:
        values: dict[str, np.ndarray] = {}
        for node in self.graph:
            op, name = node["op"], node["name"]
            if op == "input":
                values[name] = xq
            elif op == "output":
                return values[node["inputs"][0]]
            else:
                ins = [values[s] for s in node["inputs"]]
                if self.input_faults is not None and op in ("conv", "linear"):
                    src = self.nodes[node["inputs"][0]]
                    ins = [self.input_faults(name, ins[0], first_sample, bool(src.get("signed", False)))]
                values[name] = getattr(self, f"_{op}")(node, ins, wmat)
        raise AssertionError("graph has no output")

    def _clamp_range(self, node, relu: bool, relu_max: float | None) -> tuple[int, int]:
        lo, hi = act_range(node["signed"], node.get("bits", 8))
        if relu:
            lo = max(lo, 0)
        if relu_max is not None:
            hi = min(hi, relu_cap(relu_max, node["scale"]))
        return lo, hi

    def _weight_layer(self, node, x, wmat, cols, shape_out):
        layer = self.layers[node["name"]]
        # float64 products and sums are exact here (module docstring)
        acc = np.rint(_grouped_gemm(cols.astype(np.float64), wmat[node["name"]], layer.groups)).astype(np.int64)
        acc = saturate32(acc + layer.bias)
        if node["name"] == self.logit_layer:
            return acc.reshape(shape_out)
        m0, shift = self._requant[node["name"]]
        lo, hi = self._clamp_range(node, layer.relu, layer.relu_max)
        return requantize(acc, m0, shift, lo, hi).reshape(shape_out)

    def _conv(self, node, ins, wmat):
        x = ins[0]
        layer = self.layers[node["name"]]
        cols, ho, wo = _im2col(x, layer.kernel, layer.stride, layer.padding, dilation=layer.dilation)
        y = self._weight_layer(node, x, wmat, cols, (x.shape[0], ho, wo, layer.out_channels))
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))

    def _linear(self, node, ins, wmat):
        x = ins[0].reshape(len(ins[0]), -1)
        return self._weight_layer(node, x, wmat, x, (x.shape[0], self.layers[node["name"]].out_channels))

    def _relu(self, node, ins, wmat):
        y = np.maximum(ins[0], 0)
        if "max" in node:   # ReLU6: the clamp at the (shared) input scale
            y = np.minimum(y, relu_cap(node["max"], node["scale"]))
        return y

    def _flatten(self, node, ins, wmat):
        return ins[0].reshape(len(ins[0]), -1)

    def _maxpool(self, node, ins, wmat):
        x = ins[0]
        (kh, kw), (sh, sw), (ph, pw) = node["kernel"], node["stride"], node["padding"]
        ho = pool_out(x.shape[2], kh, sh, ph, node["ceil_mode"])
        wo = pool_out(x.shape[3], kw, sw, pw, node["ceil_mode"])
        need_h, need_w = (ho - 1) * sh + kh, (wo - 1) * sw + kw
        lo = np.iinfo(np.int64).min
        xp = np.pad(x, ((0, 0), (0, 0), (ph, max(need_h - x.shape[2] - ph, 0)),
                        (pw, max(need_w - x.shape[3] - pw, 0))), constant_values=lo)
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        return win[:, :, :ho, :wo].max(axis=(4, 5))

    @staticmethod
    def _round_div(total: np.ndarray, count) -> np.ndarray:
        """Integer division rounding half away from zero."""
        return np.sign(total) * ((np.abs(total) * 2 + count) // (2 * count))

    def _avgpool(self, node, ins, wmat):
        x = ins[0]
        (kh, kw), (sh, sw) = node["kernel"], node["stride"]
        win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        return self._round_div(win.sum(axis=(4, 5)), kh * kw)

    def _adaptive_avgpool(self, node, ins, wmat):
        x = ins[0]
        oh, ow = node["output_size"]
        h, w = x.shape[2], x.shape[3]
        out = np.empty(x.shape[:2] + (oh, ow), dtype=np.int64)
        for i in range(oh):
            h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
            for j in range(ow):
                w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
                out[:, :, i, j] = self._round_div(x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)), (h1 - h0) * (w1 - w0))
        return out

    def _rescale_multipliers(self, node) -> list[int]:
        """Per input, the 24-bit fixed-point multiplier to the node's output scale."""
        return [int(round(self.nodes[src]["scale"] / node["scale"] * (1 << _ADD_FRACTION))) for src in node["inputs"]]

    def _rescale(self, node, ins):
        """Each input rescaled to the node's output scale with a 24-bit fixed-point multiplier."""
        return [q.astype(np.int64) * m for q, m in zip(ins, self._rescale_multipliers(node))]

    def _finish(self, node, total):
        lo, hi = self._clamp_range(node, node.get("relu", False), node.get("relu_max"))
        y = (total + (1 << (_ADD_FRACTION - 1))) >> _ADD_FRACTION
        return np.clip(y, lo, hi)

    def _add(self, node, ins, wmat):
        a, b = self._rescale(node, ins)
        return self._finish(node, a + b)

    def _cat(self, node, ins, wmat):
        return self._finish(node, np.concatenate(self._rescale(node, ins), axis=1))

