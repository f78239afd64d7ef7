"""The memory image on disk and in memory.

A directory with ``image.bin`` (little-endian uint64 words; a word of more than 64 bits
takes consecutive lanes), ``image.hex`` (one word per line, most significant digit first,
for $readmemh) and ``manifest.yaml``. Loading verifies the SHA-256 of both files and
every manifest field before anything is used (docs/formats.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.ecc import Layout, get_layout
from accelsim.errors import UserError
from accelsim.fileio import read_yaml, sha256_file

FORMAT_VERSION = 1
OPS = ("input", "conv", "linear", "relu", "maxpool", "avgpool", "adaptive_avgpool", "add",
       "flatten", "cat", "output")


@dataclass(frozen=True)
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
    shape = tuple(_need(entry, "weight_shape", list, where))
    n_weights = _need(entry, "n_weights", int, where)
    offset = _need(entry, "word_offset", int, where)
    words = _need(entry, "n_words", int, where)
    if n_weights != int(np.prod(shape)) or n_weights <= 0:
        raise UserError(f"{where}: n_weights {n_weights} does not match weight_shape {list(shape)}")
    if words != layout.n_words(n_weights):
        raise UserError(f"{where}: n_words {words} != {layout.n_words(n_weights)} for {n_weights} weights")
    if offset < 0 or offset + words > n_words:
        raise UserError(f"{where}: words [{offset}, {offset + words}) lie outside the image of {n_words} words")
    scale = np.asarray(_need(entry, "weight_scale", list, where), dtype=np.float64)
    bias = np.asarray(_need(entry, "bias", list, where), dtype=np.int64)
    oc = shape[0]
    if scale.shape != (oc,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise UserError(f"{where}: weight_scale must be {oc} finite positive numbers")
    if bias.shape != (oc,) or np.any(np.abs(bias) > 2**31 - 1):
        raise UserError(f"{where}: bias must be {oc} int32 values")
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
    if kind == "conv":
        if len(shape) != 4:
            raise UserError(f"{where}: a conv weight must have 4 dimensions, got {list(shape)}")
        extra = {k: tuple(int(v) for v in _need(entry, k, list, where))
                 for k in ("kernel", "stride", "padding", "input_hw", "output_hw")}
        if gemm != (extra["output_hw"][0] * extra["output_hw"][1], int(np.prod(shape[1:])), shape[0]):
            raise UserError(f"{where}: gemm {list(gemm)} does not match the layer geometry")
        return LayerImage(**common, **extra)
    if len(shape) != 2 or gemm != (1, shape[1], shape[0]):
        raise UserError(f"{where}: linear weight_shape {list(shape)} / gemm {list(gemm)} inconsistent")
    return LayerImage(**common)


def _check_graph(graph, layer_names: set[str]) -> None:
    if not isinstance(graph, list) or not graph:
        raise UserError("manifest: field 'graph' must be a non-empty list")
    seen: set[str] = set()
    for i, node in enumerate(graph):
        if not isinstance(node, dict) or "name" not in node or "op" not in node or "inputs" not in node:
            raise UserError(f"manifest graph node {i}: needs name, op and inputs")
        if node["op"] not in OPS:
            raise UserError(f"manifest graph node {node['name']!r}: unknown op {node['op']!r}")
        for src in node["inputs"]:
            if src not in seen:
                raise UserError(f"manifest graph node {node['name']!r}: input {src!r} is not an earlier node")
        if node["op"] not in ("output",) and ("scale" not in node or "signed" not in node):
            raise UserError(f"manifest graph node {node['name']!r}: missing activation scale/signed")
        if node["op"] in ("conv", "linear") and node["name"] not in layer_names:
            raise UserError(f"manifest graph node {node['name']!r} has no entry in 'layers'")
        seen.add(node["name"])
    if graph[0]["op"] != "input" or graph[-1]["op"] != "output":
        raise UserError("manifest: the graph must start with an input node and end with an output node")


def load_image(path: str | Path) -> MemoryImage:
    """Read and verify a memory image directory."""
    path = Path(path)
    mpath = path / "manifest.yaml"
    if not mpath.exists():
        raise UserError(f"memory image {str(path)!r}: no manifest.yaml")
    manifest = read_yaml(mpath, "memory image manifest", mapping=False)
    if not isinstance(manifest, dict) or manifest.get("format") != "accelsim-memory-image":
        raise UserError(f"{mpath}: not an accelsim memory image manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{mpath}: format_version {manifest.get('format_version')!r} != {FORMAT_VERSION}")
    layout = get_layout(_need(manifest, "layout", str, "manifest"))
    for key, want in (("word_bits", layout.word_bits), ("lanes", layout.lanes),
                      ("weight_bits", layout.weight_bits), ("weights_per_word", layout.weights_per_word)):
        if _need(manifest, key, int, "manifest") != want:
            raise UserError(f"manifest: {key} = {manifest[key]} does not match layout {layout.name} ({want})")
    code = manifest.get("code")
    if code != (layout.code.name if layout.code else None):
        raise UserError(f"manifest: code {code!r} does not match layout {layout.name}")
    files = _need(manifest, "files", dict, "manifest")
    for fname in ("image.bin", "image.hex"):
        fpath = path / fname
        if not fpath.exists():
            raise UserError(f"memory image {str(path)!r}: {fname} is missing")
        if fname not in files:
            raise UserError(f"manifest: no sha256 for {fname}")
        if sha256_file(fpath) != files[fname]:
            raise UserError(f"{fpath}: sha256 does not match the manifest (file changed or truncated)")
    n_words = _need(manifest, "n_words", int, "manifest")
    raw = (path / "image.bin").read_bytes()
    if len(raw) != n_words * layout.lanes * 8:
        raise UserError(f"{path / 'image.bin'}: {len(raw)} bytes, expected {n_words * layout.lanes * 8}")
    words = np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(n_words, layout.lanes)
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
    _check_graph(manifest.get("graph"), {layer.name for layer in layers})
    _need(manifest, "input_shape", list, "manifest")
    return MemoryImage(path, manifest, layout, words, layers)
