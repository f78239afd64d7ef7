"""The memory image on disk and in memory.

A directory with ``image.bin`` (little-endian uint64 words; a word of more than 64 bits
takes consecutive lanes), ``image.hex`` (one word per line, most significant digit first,
for $readmemh) and ``manifest.yaml``. Loading validates the manifest with the typed model
:class:`accelsim.schema.Manifest`, then verifies the SHA-256 of both files, that image.hex
holds the words of image.bin, that no word has bits above the code width, the sizes and
the geometry through the graph before anything is used (docs/formats.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.ecc import Layout, get_layout
from accelsim.errors import UserError
from accelsim.fileio import read_yaml, sha256_file
from accelsim.schema.manifest import GraphNode, LayerEntry, Manifest
from accelsim.schema import validate

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)   # holds arrays: compare fields explicitly
class LayerImage:
    """One Conv2d/Linear layer's place in weight memory and its quantization."""

    name: str
    kind: str                 # 'conv' or 'linear'
    weight_shape: tuple[int, ...]
    n_weights: int
    word_offset: int
    n_words: int
    weight_scale: np.ndarray  # per output channel
    bias: np.ndarray          # int32, at scale weight_scale * input_scale
    input: str
    input_scale: float
    relu: bool
    gemm: tuple[int, int, int]  # (M output pixels, K = C*kh*kw, N output channels)
    in_channels: int
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    input_hw: tuple[int, int] = (1, 1)
    output_hw: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1           # grouped conv: weight_shape[1] = in_channels / groups (depthwise: 1)
    relu_max: float | None = None  # fused ReLU6-style upper clamp (real units), None: plain ReLU

    @property
    def macs(self) -> int:
        m, k, n = self.gemm
        return m * k * n


@dataclass
class MemoryImage:
    path: Path
    manifest: Manifest | None   # the validated manifest.yaml (None: built in memory, e.g. a SCALE-Sim topology)
    layout: Layout
    words: np.ndarray         # (n_words, lanes) uint64
    layers: list[LayerImage]

    def layer_words(self, i: int) -> np.ndarray:
        layer = self.layers[i]
        return self.words[layer.word_offset:layer.word_offset + layer.n_words]

    @functools.cached_property
    def graph(self) -> list[dict]:
        """The integer inference graph in the engine's form: each node of the validated
        manifest as a mapping of the fields it gives."""
        return [] if self.manifest is None else [n.model_dump(exclude_unset=True) for n in self.manifest.graph]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.manifest.input_shape)

    @property
    def n_weights(self) -> int:
        return sum(layer.n_weights for layer in self.layers)

    def bytes_stored(self) -> int:
        """SRAM bytes the weights occupy at the layout's word width."""
        return self.words.shape[0] * self.layout.word_bits // 8


def _layer(entry: LayerEntry, layout: Layout, n_words: int) -> LayerImage:
    """The typed layer after the checks between its fields (types and ranges are the schema's)."""
    where = f"manifest layer {entry.name!r}"
    shape = tuple(entry.weight_shape)
    if entry.n_weights != int(np.prod(shape)):
        raise UserError(f"{where}: n_weights {entry.n_weights} does not match weight_shape {list(shape)}")
    if entry.n_words != layout.n_words(entry.n_weights):
        raise UserError(f"{where}: n_words {entry.n_words} != {layout.n_words(entry.n_weights)} "
                        f"for {entry.n_weights} weights")
    if entry.word_offset + entry.n_words > n_words:
        raise UserError(f"{where}: words [{entry.word_offset}, {entry.word_offset + entry.n_words}) lie outside "
                        f"the image of {n_words} words")
    oc = shape[0]
    if len(entry.weight_scale) != oc:
        raise UserError(f"{where}: weight_scale must be {oc} finite positive numbers (got {len(entry.weight_scale)})")
    if len(entry.bias) != oc:
        raise UserError(f"{where}: bias must be {oc} int32 values (got {len(entry.bias)})")
    groups = entry.groups or 1
    if shape[0] % groups:
        raise UserError(f"{where}: groups {groups} does not divide out_channels {shape[0]}")
    if entry.out_channels != shape[0] or entry.in_channels != shape[1] * groups:
        raise UserError(f"{where}: in/out channels {entry.in_channels}/{entry.out_channels} "
                        f"do not match weight_shape {list(shape)} with groups {groups}")
    if entry.relu_max is not None and not entry.relu:
        raise UserError(f"{where}: relu_max {entry.relu_max} on a layer without relu")
    gemm = tuple(entry.gemm)
    common = dict(name=entry.name, kind=entry.kind, weight_shape=shape, n_weights=entry.n_weights,
                  word_offset=entry.word_offset, n_words=entry.n_words,
                  weight_scale=np.asarray(entry.weight_scale, dtype=np.float64),
                  bias=np.asarray(entry.bias, dtype=np.int64).astype(np.int32), input=entry.input,
                  input_scale=float(entry.input_scale), relu=entry.relu, gemm=gemm,
                  in_channels=entry.in_channels, out_channels=entry.out_channels, relu_max=entry.relu_max)
    conv_fields = ("kernel", "stride", "padding", "input_hw", "output_hw")
    if entry.kind == "conv":
        if len(shape) != 4:
            raise UserError(f"{where}: a conv weight must have 4 dimensions, got {list(shape)}")
        for key in conv_fields:
            if getattr(entry, key) is None:
                raise UserError(f"{where}: missing field {key!r}")
        extra = {k: tuple(getattr(entry, k)) for k in conv_fields}
        extra["dilation"] = tuple(entry.dilation or (1, 1))
        if extra["kernel"] != shape[2:]:
            raise UserError(f"{where}: kernel {list(extra['kernel'])} does not match weight_shape {list(shape)}")
        expect = tuple((size + 2 * p - d * (k - 1) - 1) // st + 1 for size, k, st, p, d in
                       zip(extra["input_hw"], extra["kernel"], extra["stride"], extra["padding"], extra["dilation"]))
        if extra["output_hw"] != expect:
            raise UserError(f"{where}: output_hw {list(extra['output_hw'])} does not follow from the input "
                            f"and kernel/stride/padding/dilation ({list(expect)})")
        if gemm != (expect[0] * expect[1], int(np.prod(shape[1:])), shape[0]):
            raise UserError(f"{where}: gemm {list(gemm)} does not match the layer geometry")
        return LayerImage(**common, **extra, groups=groups)
    for key in conv_fields + ("groups", "dilation"):
        if getattr(entry, key) is not None:
            raise UserError(f"{where}: field {key!r} does not apply to a linear layer")
    if len(shape) != 2 or gemm != (1, shape[1], shape[0]):
        raise UserError(f"{where}: linear weight_shape {list(shape)} / gemm {list(gemm)} inconsistent")
    return LayerImage(**common)


# op -> the parameters its graph node carries (each required); any other parameter is refused
_NODE_PARAMS = {"conv": {"kernel", "stride", "padding"}, "maxpool": {"kernel", "stride", "padding", "ceil_mode"},
                "avgpool": {"kernel", "stride"}, "adaptive_avgpool": {"output_size"}}
# relu_max: a fused ReLU6-style clamp; max: the clamp of an unfused relu node
_OPTIONAL = {"conv": {"relu", "relu_max", "dilation", "groups"}, "linear": {"relu", "relu_max"},
             "add": {"relu", "relu_max"}, "cat": {"relu", "relu_max"}, "relu": {"max"}}
_PARAM_FIELDS = ("relu", "relu_max", "max", "kernel", "stride", "padding", "dilation", "groups", "ceil_mode",
                 "output_size")
_ARITY = {"input": (0, 0), "output": (1, 1), "add": (2, 2), "cat": (2, None)}


def pool_out(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """Output size of max/avg pooling, as torch computes it."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:   # the last window must start inside the input
        out -= 1
    return out


def _node_shape(node: GraphNode, ins: list[tuple[int, ...]], layer: LayerImage | None,
                input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the node's op gives from its inputs' shapes (the manifest's own shape must equal it)."""
    where = f"manifest graph node {node.name!r}"
    op = node.op

    def chw(shape):
        if len(shape) != 3:
            raise UserError(f"{where}: op {op} needs a (C, H, W) input, got shape {list(shape)}")
        return shape

    if op == "input":
        return input_shape
    if op in ("relu", "output"):
        return ins[0]
    if op == "flatten":
        return (int(np.prod(ins[0])),)
    if op == "add":
        if ins[0] != ins[1]:
            raise UserError(f"{where}: add of shapes {list(ins[0])} and {list(ins[1])}")
        return ins[0]
    if op == "cat":
        if any(len(s) != 3 or s[1:] != ins[0][1:] for s in ins):
            raise UserError(f"{where}: cat of shapes {[list(s) for s in ins]} (channels only)")
        return (sum(s[0] for s in ins), *ins[0][1:])
    if op == "conv":
        c, h, w = chw(ins[0])
        if (c, h, w) != (layer.in_channels, *layer.input_hw):
            raise UserError(f"{where}: input shape {[c, h, w]} != in_channels/input_hw "
                            f"{[layer.in_channels, *layer.input_hw]} of its layer")
        for key in ("kernel", "stride", "padding"):
            if tuple(getattr(node, key)) != getattr(layer, key):
                raise UserError(f"{where}: {key} {getattr(node, key)} != {list(getattr(layer, key))} of its layer")
        if tuple(node.dilation or (1, 1)) != layer.dilation or (node.groups or 1) != layer.groups:
            raise UserError(f"{where}: dilation/groups {node.dilation}/{node.groups} != "
                            f"{list(layer.dilation)}/{layer.groups} of its layer")
        return (layer.out_channels, *layer.output_hw)
    if op == "linear":
        if ins[0] != (layer.in_channels,):
            raise UserError(f"{where}: input shape {list(ins[0])} != [{layer.in_channels}] (flatten first)")
        return (layer.out_channels,)
    c, h, w = chw(ins[0])
    if op == "adaptive_avgpool":
        return (c, *node.output_size)
    pad = node.padding if op == "maxpool" else [0, 0]
    ceil_mode = bool(node.ceil_mode) if op == "maxpool" else False
    out = tuple(pool_out(size, k, st, p, ceil_mode) for size, k, st, p in zip((h, w), node.kernel, node.stride, pad))
    if min(out) < 1 or any(p > k // 2 for p, k in zip(pad, node.kernel)):
        raise UserError(f"{where}: kernel {node.kernel} / padding {pad} do not fit an input of {[h, w]}")
    return (c, *out)


def _check_node(node: GraphNode, seen: dict[str, tuple[int, ...]], layers: dict[str, LayerImage],
                input_shape: tuple[int, ...]) -> None:
    where = f"manifest graph node {node.name!r}"
    op = node.op
    if node.name in seen:
        raise UserError(f"{where}: the name appears twice")
    lo, hi = _ARITY.get(op, (1, 1))
    if len(node.inputs) < lo or (hi is not None and len(node.inputs) > hi):
        raise UserError(f"{where}: op {op} cannot take {len(node.inputs)} input(s)")
    for src in node.inputs:
        if src not in seen:
            raise UserError(f"{where}: input {src!r} is not an earlier node")
    if op != "output":
        if node.scale is None:
            raise UserError(f"{where}: missing field 'scale'")
        if node.signed is None:
            raise UserError(f"{where}: missing field 'signed'")
    elif node.scale is not None or node.signed is not None or node.bits is not None:
        raise UserError(f"{where}: the output node carries no scale, signed or bits")
    need = _NODE_PARAMS.get(op, set())
    for key in _PARAM_FIELDS:
        given = getattr(node, key) is not None
        if key in need and not given:
            raise UserError(f"{where}: missing field {key!r}")
        if given and key not in need | _OPTIONAL.get(op, set()):
            raise UserError(f"{where}: field {key!r} does not apply to op {op}")
    layer = layers.get(node.name) if op in ("conv", "linear") else None
    if op in ("conv", "linear"):
        if layer is None:
            raise UserError(f"{where} has no entry in 'layers'")
        if bool(node.relu) != layer.relu:
            raise UserError(f"{where}: relu {bool(node.relu)} != relu {layer.relu} of its layer")
        if node.relu_max != layer.relu_max:
            raise UserError(f"{where}: relu_max {node.relu_max} != relu_max {layer.relu_max} of its layer")
    expect = _node_shape(node, [seen[s] for s in node.inputs], layer, input_shape)
    if op == "input" and tuple(node.shape) != tuple(expect):
        raise UserError(f"{where}: shape {node.shape} != the manifest's input_shape {list(expect)}")
    if tuple(node.shape) != tuple(expect):
        raise UserError(f"{where}: shape {node.shape} does not follow from its inputs ({list(expect)})")
    seen[node.name] = tuple(expect)


def _check_graph(m: Manifest, layers: list[LayerImage]) -> None:
    graph = m.graph
    by_name = {layer.name: layer for layer in layers}
    seen: dict[str, tuple[int, ...]] = {}
    for node in graph:
        _check_node(node, seen, by_name, tuple(m.input_shape))
    if graph[0].op != "input" or graph[-1].op != "output":
        raise UserError("manifest: the graph must start with an input node and end with an output node")
    if sum(node.op == "input" for node in graph) != 1 or sum(node.op == "output" for node in graph) != 1:
        raise UserError("manifest: the graph must have exactly one input and one output node")
    nodes = {node.name: node for node in graph}
    for layer in layers:
        where = f"manifest layer {layer.name!r}"
        if layer.name not in nodes or nodes[layer.name].op != layer.kind:
            raise UserError(f"{where}: no {layer.kind} node of that name in 'graph'")
        src = nodes.get(layer.input)
        if src is None or layer.input not in nodes[layer.name].inputs:
            raise UserError(f"{where}: input {layer.input!r} is not the input of its graph node")
        if not np.isclose(src.scale, layer.input_scale, rtol=1e-12, atol=0):
            raise UserError(f"{where}: input_scale {layer.input_scale} != scale {src.scale} of node {layer.input!r}")


def manifest_digest(manifest: dict) -> str:
    """SHA-256 of the manifest's own content (every field but ``manifest_sha256``, in a
    canonical JSON form): it covers the layer table, scales and biases and, through
    ``files``, image.bin and image.hex, so an edited scale or bias is detected."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_manifest(path: str | Path) -> tuple[dict, Manifest]:
    """(the parsed dict, the typed :class:`accelsim.schema.Manifest`) of an image directory."""
    path = Path(path)
    mpath = path / "manifest.yaml"
    if not mpath.is_file():
        raise UserError(f"memory image {str(path)!r}: no manifest.yaml")
    raw = read_yaml(mpath, "memory image manifest")
    if raw.get("format") != "accelsim-memory-image":
        raise UserError(f"{mpath}: not an accelsim memory image manifest")
    if raw.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{mpath}: format_version {raw.get('format_version')!r} != {FORMAT_VERSION}")
    return raw, validate(Manifest, raw, f"manifest {mpath}")


def lane_masks(word_bits: int, lanes: int) -> np.ndarray:
    """Per uint64 lane, the bits that belong to a ``word_bits``-wide word."""
    valid = [min(64, max(0, word_bits - 64 * j)) for j in range(lanes)]
    return np.array([(1 << v) - 1 for v in valid], dtype=np.uint64)


def _check_word_width(words: np.ndarray, word_bits: int, where: Path) -> None:
    """No bit above the code width (e.g. a 72-bit word's second lane above bit 7): the
    SRAM has no such cell, and the decoder would silently ignore it."""
    extra = words & ~lane_masks(word_bits, words.shape[1])
    bad = np.flatnonzero(extra.any(axis=1))
    if bad.size:
        a = int(bad[0])
        lane = int(np.flatnonzero(extra[a])[0])
        raise UserError(f"{where}: word at address {a} has bits above its {word_bits} bits "
                        f"(lane {lane} = {int(words[a, lane]):#x}; {bad.size} such words)")


_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _HEX_VALUE[ord(chr(_c).upper())] = _i


def _check_hex(hpath: Path, words: np.ndarray, word_bits: int) -> None:
    """image.hex must hold the words of image.bin, one per line, MSB first: both files
    carry their own sha256, so a hex file written from other words would pass unnoticed."""
    digits = (word_bits + 3) // 4
    text = np.frombuffer(hpath.read_bytes(), dtype=np.uint8).reshape(len(words), digits + 1)
    if not np.all(text[:, digits] == ord("\n")):
        line = int(np.flatnonzero(text[:, digits] != ord("\n"))[0]) + 1
        raise UserError(f"{hpath}, line {line}: expected {digits} hex digits and a newline")
    nibbles = _HEX_VALUE[text[:, :digits]]
    if np.any(nibbles == 255):
        line, col = (int(v[0]) for v in np.nonzero(nibbles == 255))
        raise UserError(f"{hpath}, line {line + 1}: {chr(text[line, col])!r} is not a hex digit")
    parsed = np.zeros_like(words)
    for i in range(digits):   # digit i (from the left) holds bits 4*(digits-1-i) .. +3
        pos = 4 * (digits - 1 - i)
        parsed[:, pos // 64] |= nibbles[:, i].astype(np.uint64) << np.uint64(pos % 64)
    differ = np.flatnonzero((parsed != words).any(axis=1))
    if differ.size:
        a = int(differ[0])
        raise UserError(f"{hpath}, line {a + 1}: word at address {a} is {_hex_word(parsed[a], digits)} in image.hex "
                        f"but {_hex_word(words[a], digits)} in image.bin ({differ.size} of {len(words)} words differ)")


def _hex_word(lanes: np.ndarray, digits: int) -> str:
    value = sum(int(v) << (64 * j) for j, v in enumerate(lanes))
    return f"{value:0{digits}x}"


def load_image(path: str | Path) -> MemoryImage:
    """Read and verify a memory image directory (read only: nothing is written); a
    problem is one UserError naming the directory."""
    path = Path(path)
    try:
        return _load(path)
    except UserError as exc:
        if str(path) in str(exc):
            raise
        raise UserError(f"memory image {path}: {exc}") from None


def _load(path: Path) -> MemoryImage:
    raw, m = read_manifest(path)
    layout = get_layout(m.layout)
    for key, want in (("word_bits", layout.word_bits), ("lanes", layout.lanes),
                      ("weight_bits", layout.weight_bits), ("weights_per_word", layout.weights_per_word)):
        if getattr(m, key) != want:
            raise UserError(f"manifest: {key} = {getattr(m, key)} does not match layout {layout.name} ({want})")
    if m.code != (layout.code.name if layout.code else None):
        raise UserError(f"manifest: code {m.code!r} does not match layout {layout.name}")
    n_words = m.n_words
    hex_digits = (layout.word_bits + 3) // 4
    sizes = {"image.bin": n_words * layout.lanes * 8, "image.hex": n_words * (hex_digits + 1)}
    shas = {"image.bin": m.files.image_bin, "image.hex": m.files.image_hex}
    for fname in ("image.bin", "image.hex"):
        fpath = path / fname
        if not fpath.is_file():
            raise UserError(f"memory image {str(path)!r}: {fname} is missing")
        size = fpath.stat().st_size
        if size != sizes[fname]:
            raise UserError(f"{fpath}: {size} bytes, expected {sizes[fname]} for {n_words} words "
                            "(truncated or extended)")
        if sha256_file(fpath) != shas[fname]:
            raise UserError(f"{fpath}: sha256 does not match the manifest (file changed)")
    raw_words = (path / "image.bin").read_bytes()
    words = np.frombuffer(raw_words, dtype="<u8").astype(np.uint64).reshape(n_words, layout.lanes)
    _check_word_width(words, layout.word_bits, path / "image.bin")
    _check_hex(path / "image.hex", words, layout.word_bits)
    layers = [_layer(e, layout, n_words) for e in m.layers]
    ends = [layer.word_offset for layer in layers[1:]] + [n_words]
    for layer, nxt in zip(layers, ends):
        if layer.word_offset + layer.n_words != nxt:
            raise UserError(f"manifest layer {layer.name!r}: words are not contiguous with the next layer")
    if layers[0].word_offset != 0:
        raise UserError("manifest: the first layer must start at word 0")
    if len({layer.name for layer in layers}) != len(layers):
        raise UserError("manifest: a layer name appears twice in 'layers'")
    _check_graph(m, layers)
    # last: any edit that passes every check above (a scale, a bias) is still detected
    if manifest_digest(raw) != m.manifest_sha256:
        raise UserError(f"{path / 'manifest.yaml'}: manifest_sha256 does not match the manifest's content "
                        "(a layer, scale or bias was edited)")
    return MemoryImage(path, m, layout, words, layers)


def input_bits(image: MemoryImage, layer) -> int:
    """Bits of one input activation of ``layer``: its input node's width in the graph (the
    8-bit input image, 4-bit ReLU outputs after 4-bit QAT, 8-bit signed sums)."""
    for node in image.graph:
        if node["name"] == layer.input:
            return int(node.get("bits") or 8)
    return 8
