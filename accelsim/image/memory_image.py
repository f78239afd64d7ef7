"""The memory image on disk and in memory.

A directory with ``image.bin`` (little-endian uint64 words; a word of more than 64 bits
takes consecutive lanes), ``image.hex`` (one word per line, most significant digit first,
for $readmemh) and ``manifest.yaml``. Loading verifies the SHA-256 of both files, that
image.hex holds the words of image.bin, that no word has bits above the code width, and
every manifest field before anything is used (docs/formats.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from accelsim.ecc import Layout, get_layout
from accelsim.errors import UserError
from accelsim.fileio import sha256_file

FORMAT_VERSION = 1
OPS = ("input", "conv", "linear", "relu", "maxpool", "avgpool", "adaptive_avgpool", "add",
       "flatten", "cat", "output")


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

    @property
    def macs(self) -> int:
        m, k, n = self.gemm
        return m * k * n


@dataclass
class MemoryImage:
    path: Path
    manifest: dict
    layout: Layout
    words: np.ndarray         # (n_words, lanes) uint64
    layers: list[LayerImage]

    def layer_words(self, i: int) -> np.ndarray:
        layer = self.layers[i]
        return self.words[layer.word_offset:layer.word_offset + layer.n_words]

    @property
    def graph(self) -> list[dict]:
        return self.manifest["graph"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.manifest["input_shape"])

    @property
    def n_weights(self) -> int:
        return sum(layer.n_weights for layer in self.layers)

    def bytes_stored(self) -> int:
        """SRAM bytes the weights occupy at the layout's word width."""
        return self.words.shape[0] * self.layout.word_bits // 8


def _need(d: dict, key: str, kind, where: str):
    if key not in d:
        raise UserError(f"{where}: missing field {key!r}")
    value = d[key]
    if kind is not None and not isinstance(value, kind) or isinstance(value, bool) and kind in (int, (int, float)):
        raise UserError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _layer(entry: dict, i: int, layout: Layout, n_words: int) -> LayerImage:
    where = f"manifest layer {i}"
    if not isinstance(entry, dict):
        raise UserError(f"{where}: expected a mapping")
    name = _need(entry, "name", str, where)
    where = f"manifest layer {name!r}"
    kind = _need(entry, "kind", str, where)
    if kind not in ("conv", "linear"):
        raise UserError(f"{where}: kind {kind!r} is not conv or linear")
    shape = tuple(_int_list(_need(entry, "weight_shape", list, where), None, where, "weight_shape", minimum=1))
    n_weights = _need(entry, "n_weights", int, where)
    offset = _need(entry, "word_offset", int, where)
    words = _need(entry, "n_words", int, where)
    if n_weights != int(np.prod(shape)) or n_weights <= 0:
        raise UserError(f"{where}: n_weights {n_weights} does not match weight_shape {list(shape)}")
    if words != layout.n_words(n_weights):
        raise UserError(f"{where}: n_words {words} != {layout.n_words(n_weights)} for {n_weights} weights")
    if offset < 0 or offset + words > n_words:
        raise UserError(f"{where}: words [{offset}, {offset + words}) lie outside the image of {n_words} words")
    oc = shape[0]
    scale = _need(entry, "weight_scale", list, where)
    if (len(scale) != oc or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
            or not np.all(np.isfinite(scale)) or np.any(np.asarray(scale) <= 0)):
        raise UserError(f"{where}: weight_scale must be {oc} finite positive numbers")
    bias = _need(entry, "bias", list, where)
    if (len(bias) != oc or not all(isinstance(v, int) and not isinstance(v, bool) for v in bias)
            or any(not -2**31 <= v <= 2**31 - 1 for v in bias)):
        raise UserError(f"{where}: bias must be {oc} int32 values")
    scale, bias = np.asarray(scale, dtype=np.float64), np.asarray(bias, dtype=np.int64)
    in_scale = float(_need(entry, "input_scale", (int, float), where))
    if not np.isfinite(in_scale) or in_scale <= 0:
        raise UserError(f"{where}: input_scale {in_scale} must be finite and > 0")
    gemm = tuple(int(v) for v in _need(entry, "gemm", list, where))
    common = dict(name=name, kind=kind, weight_shape=shape, n_weights=n_weights, word_offset=offset,
                  n_words=words, weight_scale=scale, bias=bias.astype(np.int32),
                  input=_need(entry, "input", str, where), input_scale=in_scale,
                  relu=bool(_need(entry, "relu", bool, where)), gemm=gemm,
                  in_channels=int(_need(entry, "in_channels", int, where)),
                  out_channels=int(_need(entry, "out_channels", int, where)))
    if common["out_channels"] != shape[0] or common["in_channels"] != shape[1]:
        raise UserError(f"{where}: in/out channels {common['in_channels']}/{common['out_channels']} "
                        f"do not match weight_shape {list(shape)}")
    if kind == "conv":
        if len(shape) != 4:
            raise UserError(f"{where}: a conv weight must have 4 dimensions, got {list(shape)}")
        extra = {k: tuple(_int_list(_need(entry, k, list, where), 2, where, k, minimum=0 if k == "padding" else 1))
                 for k in ("kernel", "stride", "padding", "input_hw", "output_hw")}
        if extra["kernel"] != shape[2:]:
            raise UserError(f"{where}: kernel {list(extra['kernel'])} does not match weight_shape {list(shape)}")
        expect = tuple((size + 2 * p - k) // st + 1 for size, k, st, p in
                       zip(extra["input_hw"], extra["kernel"], extra["stride"], extra["padding"]))
        if extra["output_hw"] != expect:
            raise UserError(f"{where}: output_hw {list(extra['output_hw'])} does not follow from the input "
                            f"and kernel/stride/padding ({list(expect)})")
        if gemm != (expect[0] * expect[1], int(np.prod(shape[1:])), shape[0]):
            raise UserError(f"{where}: gemm {list(gemm)} does not match the layer geometry")
        return LayerImage(**common, **extra)
    if len(shape) != 2 or gemm != (1, shape[1], shape[0]):
        raise UserError(f"{where}: linear weight_shape {list(shape)} / gemm {list(gemm)} inconsistent")
    return LayerImage(**common)


# op -> the parameters its graph node must carry, each a list of this many ints
_NODE_PARAMS = {"maxpool": {"kernel": 2, "stride": 2, "padding": 2}, "avgpool": {"kernel": 2, "stride": 2},
                "adaptive_avgpool": {"output_size": 2}}
_ARITY = {"input": (0, 0), "output": (1, 1), "add": (2, 2), "cat": (2, None)}


def _int_list(value, length: int | None, where: str, key: str, minimum: int = 0) -> list[int]:
    if (not isinstance(value, list) or (length is not None and len(value) != length)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)):
        want = f"{length} " if length is not None else ""
        raise UserError(f"{where}: field {key!r} must be a list of {want}integers >= {minimum}, got {value!r}")
    return value


def _check_node(node, i: int, seen: set[str], layer_names: set[str]) -> None:
    if not isinstance(node, dict):
        raise UserError(f"manifest graph node {i}: expected a mapping")
    name = _need(node, "name", str, f"manifest graph node {i}")
    where = f"manifest graph node {name!r}"
    op = _need(node, "op", str, where)
    if op not in OPS:
        raise UserError(f"{where}: unknown op {op!r}")
    if name in seen:
        raise UserError(f"{where}: the name appears twice")
    inputs = _need(node, "inputs", list, where)
    lo, hi = _ARITY.get(op, (1, 1))
    if len(inputs) < lo or (hi is not None and len(inputs) > hi):
        raise UserError(f"{where}: op {op} cannot take {len(inputs)} input(s)")
    for src in inputs:
        if src not in seen:
            raise UserError(f"{where}: input {src!r} is not an earlier node")
    _int_list(_need(node, "shape", list, where), None, where, "shape", minimum=1)
    if op != "output":
        scale = _need(node, "scale", (int, float), where)
        if not np.isfinite(scale) or scale <= 0:
            raise UserError(f"{where}: activation scale {scale!r} must be finite and > 0")
        _need(node, "signed", bool, where)
    for key, length in _NODE_PARAMS.get(op, {}).items():
        _int_list(_need(node, key, list, where), length, where, key, minimum=0 if key == "padding" else 1)
    if op == "maxpool":
        _need(node, "ceil_mode", bool, where)
    if op in ("conv", "linear") and name not in layer_names:
        raise UserError(f"{where} has no entry in 'layers'")


def _check_graph(graph, layers: list[LayerImage]) -> dict[str, dict]:
    if not isinstance(graph, list) or not graph:
        raise UserError("manifest: field 'graph' must be a non-empty list")
    seen: set[str] = set()
    for i, node in enumerate(graph):
        _check_node(node, i, seen, {layer.name for layer in layers})
        seen.add(node["name"])
    if graph[0]["op"] != "input" or graph[-1]["op"] != "output":
        raise UserError("manifest: the graph must start with an input node and end with an output node")
    nodes = {node["name"]: node for node in graph}
    for layer in layers:
        where = f"manifest layer {layer.name!r}"
        if layer.name not in nodes or nodes[layer.name]["op"] != layer.kind:
            raise UserError(f"{where}: no {layer.kind} node of that name in 'graph'")
        src = nodes.get(layer.input)
        if src is None or layer.input not in nodes[layer.name]["inputs"]:
            raise UserError(f"{where}: input {layer.input!r} is not the input of its graph node")
        if not np.isclose(src["scale"], layer.input_scale, rtol=1e-12, atol=0):
            raise UserError(f"{where}: input_scale {layer.input_scale} != scale {src['scale']} of node {layer.input!r}")
    return nodes


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
                        f"but {_hex_word(words[a], digits)} in image.bin ({differ.size} words differ)")


def _hex_word(lanes: np.ndarray, digits: int) -> str:
    value = sum(int(v) << (64 * j) for j, v in enumerate(lanes))
    return f"{value:0{digits}x}"


def _read_manifest(mpath: Path):
    # libyaml's parser when present: a ResNet-18 manifest parses in ~0.1 s instead of ~2.5 s
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(mpath.read_text(), Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"memory image manifest {mpath}: not valid YAML ({exc.__class__.__name__})") from None


def load_image(path: str | Path) -> MemoryImage:
    """Read and verify a memory image directory."""
    path = Path(path)
    mpath = path / "manifest.yaml"
    if not mpath.exists():
        raise UserError(f"memory image {str(path)!r}: no manifest.yaml")
    manifest = _read_manifest(mpath)
    if not isinstance(manifest, dict) or manifest.get("format") != "accelsim-memory-image":
        raise UserError(f"{mpath}: not an accelsim memory image manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{mpath}: format_version {manifest.get('format_version')!r} != {FORMAT_VERSION}")
    layout = get_layout(_need(manifest, "layout", str, "manifest"))
    for key, want in (("word_bits", layout.word_bits), ("lanes", layout.lanes),
                      ("weight_bits", layout.weight_bits), ("weights_per_word", layout.weights_per_word)):
        if _need(manifest, key, int, "manifest") != want:
            raise UserError(f"manifest: {key} = {manifest[key]} does not match layout {layout.name} ({want})")
    if "code" not in manifest:
        raise UserError("manifest: missing field 'code'")
    code = manifest["code"]
    if code != (layout.code.name if layout.code else None):
        raise UserError(f"manifest: code {code!r} does not match layout {layout.name}")
    n_words = _need(manifest, "n_words", int, "manifest")
    if n_words < 1:
        raise UserError(f"manifest: n_words {n_words} must be >= 1")
    files = _need(manifest, "files", dict, "manifest")
    hex_digits = (layout.word_bits + 3) // 4
    sizes = {"image.bin": n_words * layout.lanes * 8, "image.hex": n_words * (hex_digits + 1)}
    for fname in ("image.bin", "image.hex"):
        fpath = path / fname
        if not fpath.exists():
            raise UserError(f"memory image {str(path)!r}: {fname} is missing")
        if not isinstance(files.get(fname), str):
            raise UserError(f"manifest: no sha256 for {fname}")
        size = fpath.stat().st_size
        if size != sizes[fname]:
            raise UserError(f"{fpath}: {size} bytes, expected {sizes[fname]} for {n_words} words "
                            "(truncated or extended)")
        if sha256_file(fpath) != files[fname]:
            raise UserError(f"{fpath}: sha256 does not match the manifest (file changed)")
    raw = (path / "image.bin").read_bytes()
    words = np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(n_words, layout.lanes)
    _check_word_width(words, layout.word_bits, path / "image.bin")
    _check_hex(path / "image.hex", words, layout.word_bits)
    entries = _need(manifest, "layers", list, "manifest")
    layers = [_layer(e, i, layout, n_words) for i, e in enumerate(entries)]
    if not layers:
        raise UserError("manifest: no layers")
    ends = [layer.word_offset for layer in layers[1:]] + [n_words]
    for layer, nxt in zip(layers, ends):
        if layer.word_offset + layer.n_words != nxt:
            raise UserError(f"manifest layer {layer.name!r}: words are not contiguous with the next layer")
    if layers[0].word_offset != 0:
        raise UserError("manifest: the first layer must start at word 0")
    _check_graph(_need(manifest, "graph", list, "manifest"), layers)
    _int_list(_need(manifest, "input_shape", list, "manifest"), None, "manifest", "input_shape", minimum=1)
    return MemoryImage(path, manifest, layout, words, layers)
