"""SCALE-Sim topology CSVs as input: layer shapes -> a memory image of seeded weights.

SCALE-Sim (Samajdar et al., ISPASS 2020; github.com/scalesim-project) describes a network
by one CSV row per layer, after a header line:

- conv rows: ``name, IFMAP height, IFMAP width, filter height, filter width, channels,
  num filter, stride[, sparsity N:M]``. There is no padding column: the IFMAP size is the
  padded input, and the output is ceil((H - fh + s) / s) as SCALE-Sim computes it. A row
  whose name contains ``DP`` is depthwise, as in SCALE-Sim: one GEMM per channel, here
  one layer of ``channels`` groups (K_g = fh * fw, N_g = num filter);
- GEMM rows: ``name, M, N, K`` (SCALE-Sim's GEMM_mnk files), a fully connected layer of
  M rows.

A file may mix both kinds; a trailing comma (SCALE-Sim writes one) is allowed. The
weights are drawn uniformly over each slot's range of the chosen layout from
``derive(seed, 'topology', layer)`` and packed, so the cycle model streams real words.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from math import ceil, prod
from pathlib import Path

import numpy as np

from accelsim.errors import UserError
from accelsim.fileio import read_text_capped
from accelsim.image.memory_image import LayerImage, MemoryImage
from accelsim.quant import layout_bounds
from accelsim.seeds import rng


@dataclass(frozen=True)
class TopologyLayer:
    name: str
    kind: str                  # 'conv' | 'gemm'
    gemm: tuple[int, int, int]  # (M, K per group, N all groups)
    groups: int = 1
    ifmap_hw: tuple[int, int] = (1, 1)
    output_hw: tuple[int, int] = (1, 1)
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    channels: int = 0
    line: int = 0

    @property
    def weight_shape(self) -> tuple[int, ...]:
        m, k, n = self.gemm
        if self.kind == "gemm":
            return (n, k)
        return (n, self.channels // self.groups) + self.kernel


TOPOLOGY_MAX_BYTES = 16 << 20   # SCALE-Sim's largest shipped topologies are a few kB
DIMENSION_MAX = 1 << 20         # any one field: beyond every layer SCALE-Sim ships (and ResNet/GPT shapes)
WEIGHTS_MAX = 1 << 30           # weights of all layers: 1 GiB of int8 weights before packing


def _ints(fields: list[str], where: str, names: tuple[str, ...]) -> list[int]:
    out = []
    for value, name in zip(fields, names):
        text = value.strip()
        if len(text) > 20:   # refused before int() reads thousands of digits
            kind = "is outside" if text.isdigit() else "is not an integer in"
            raise UserError(f"{where}: {name} = {text[:20]}... {kind} 1..{DIMENSION_MAX:,}")
        try:
            v = int(text)
        except ValueError:
            raise UserError(f"{where}: {name} {text!r} is not an integer") from None
        if v < 1:
            raise UserError(f"{where}: {name} = {v} must be >= 1")
        if v > DIMENSION_MAX:
            raise UserError(f"{where}: {name} = {v} is outside 1..{DIMENSION_MAX:,}")
        out.append(v)
    return out


CONV_FIELDS = ("IFMAP height", "IFMAP width", "filter height", "filter width", "channels", "num filter", "stride")
GEMM_FIELDS = ("M", "N", "K")


def parse_row(fields: list[str], where: str, line: int) -> TopologyLayer:
    if fields and fields[-1].strip() == "":
        fields = fields[:-1]   # SCALE-Sim ends every row with a comma
    name = fields[0].strip() if fields else ""
    if not name:
        raise UserError(f"{where}: the layer name is empty")
    values = fields[1:]
    if len(values) == 3:
        m, n, k = _ints(values, where, GEMM_FIELDS)
        return TopologyLayer(name, "gemm", (m, k, n), line=line)
    if len(values) == 8:   # SCALE-Sim 3 sparsity ratio N:M: only dense layers are modelled
        ratio = values.pop().strip()
        parts = [p.strip() for p in ratio.split(":")]
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise UserError(f"{where}: sparsity {ratio[:40]!r} is not a ratio N:M of positive integers")
        if int(parts[0]) != int(parts[1]):
            raise UserError(f"{where}: sparsity {ratio!r} is not supported (dense layers only, e.g. 1:1)")
    if len(values) != 7:
        raise UserError(f"{where}: expected 'name, M, N, K' or 'name, {', '.join(CONV_FIELDS)}', "
                        f"got {len(values) + 1} fields")
    h, w, fh, fw, c, f, s = _ints(values, where, CONV_FIELDS)
    if fh > h or fw > w:
        raise UserError(f"{where}: filter {fh}x{fw} is larger than the IFMAP {h}x{w}")
    oh, ow = ceil((h - fh + s) / s), ceil((w - fw + s) / s)
    if "DP" in name:   # SCALE-Sim's depthwise rows: one GEMM per channel of f filters
        return TopologyLayer(name, "conv", (oh * ow, fh * fw, c * f), groups=c, ifmap_hw=(h, w), output_hw=(oh, ow), kernel=(fh, fw),
                             stride=(s, s), channels=c, line=line)
    return TopologyLayer(name, "conv", (oh * ow, fh * fw * c, f), ifmap_hw=(h, w), output_hw=(oh, ow), kernel=(fh, fw), stride=(s, s),
                         channels=c, line=line)


def read_topology(path: str | Path) -> list[TopologyLayer]:
    """The layers of a SCALE-Sim topology CSV; a bad row is a UserError naming its line."""
    path = Path(path)
    text = read_text_capped(path, "topology", TOPOLOGY_MAX_BYTES)
    lines = text.splitlines()
    rows = []
    for i, line in enumerate(lines, start=1):
        try:
            rows.extend(csv.reader([line]))
        except csv.Error as exc:
            raise UserError(f"topology {path} line {i}: not a CSV row ({str(exc)[:80]})") from None
    if not rows or not rows[0] or not rows[0][0].strip().lower().startswith("layer"):
        raise UserError(f"topology {path} line 1: expected SCALE-Sim's header row starting with 'Layer name'")
    layers, names, weights = [], set(), 0
    for i, fields in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in fields):
            continue
        where = f"topology {path} line {i}"
        layer = parse_row(fields, where, i)
        if layer.name in names:
            raise UserError(f"{where}: layer name {layer.name!r} appears twice")
        names.add(layer.name)
        weights += prod(layer.weight_shape)   # Python ints: no wrap-around
        if weights > WEIGHTS_MAX:
            raise UserError(f"{where}: the layers up to {layer.name!r} hold {weights:,} weights, more than the "
                            f"limit of {WEIGHTS_MAX:,}")
        layers.append(layer)
    if not layers:
        raise UserError(f"topology {path}: no layer rows")
    return layers


def topology_image(layers: list[TopologyLayer], layout, *, seed: int = 0, path: str | Path = "") -> MemoryImage:
    """A memory image of the layers with seeded weights packed by ``layout``: uniform over
    each slot's range (throttled slots of in-place layouts hold half the range)."""
    words, images, offset = [], [], 0
    for t in layers:
        shape = t.weight_shape
        n = int(np.prod(shape))
        lo, hi = layout_bounds(n, layout.weight_bits, layout)
        q = rng(seed, "topology", t.name).integers(lo, hi + 1, dtype=np.int64)
        w = layout.pack(q)
        oc = shape[0]
        common = dict(name=t.name, weight_shape=shape, n_weights=n, word_offset=offset, n_words=int(w.shape[0]),
                      weight_scale=np.ones(oc), bias=np.zeros(oc, dtype=np.int32), input="input",
                      input_scale=1.0, relu=False, gemm=t.gemm, out_channels=oc)
        if t.kind == "gemm":
            layer = LayerImage(kind="linear", in_channels=shape[1], **common)
        else:
            layer = LayerImage(kind="conv", in_channels=t.channels, kernel=t.kernel, stride=t.stride,
                                      input_hw=t.ifmap_hw, output_hw=t.output_hw, groups=t.groups, **common)
        words.append(w)
        images.append(layer)
        offset += int(w.shape[0])
    return MemoryImage(Path(path), None, layout, np.concatenate(words), images)   # no manifest file: no graph
