"""The memory image manifest (``manifest.yaml``), written by ``accelsim export``.

Types, ranges and the values the engine implements are checked here; the geometry
(offsets, shapes through the graph, scales between nodes) is checked by
:func:`accelsim.image.memory_image.load_image`, which needs the layout and the file sizes.
A value the engine does not implement (``byte_order: big``, ``activation_bits: 1``,
``accumulator_bits: 16``) is refused naming the field, never ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, Name, PositiveFloat
from accelsim.schema.campaign import SchemeName

OPS = ("input", "conv", "linear", "relu", "maxpool", "avgpool", "adaptive_avgpool", "add",
       "flatten", "cat", "output")
Dim = Annotated[int, Field(ge=1, le=2**31)]
Pair = Annotated[list[Annotated[int, Field(ge=1, le=2**16)]], Field(min_length=2, max_length=2)]
PadPair = Annotated[list[Annotated[int, Field(ge=0, le=2**16)]], Field(min_length=2, max_length=2)]
Int32 = Annotated[int, Field(ge=-2**31, le=2**31 - 1)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LayerEntry(ConfigModel):
    """One Conv2d/Linear layer: where its words are and how it is quantized."""

    name: Name
    kind: Literal["conv", "linear"]
    weight_shape: Annotated[list[Dim], Field(min_length=2, max_length=4)]
    n_weights: Dim
    word_offset: Annotated[int, Field(ge=0)]
    n_words: Dim
    weight_scale: Annotated[list[PositiveFloat], Field(min_length=1)] = Field(description="per output channel")
    bias: Annotated[list[Int32], Field(min_length=1)] = Field(description="int32 at scale weight_scale * input_scale")
    input: Name = Field(description="graph node feeding this layer")
    input_scale: PositiveFloat
    relu: bool = Field(description="ReLU fused into the output")
    gemm: Annotated[list[Dim], Field(min_length=3, max_length=3)] = Field(description="(M, K, N) of the GEMM")
    in_channels: Dim
    out_channels: Dim
    kernel: Pair | None = None
    stride: Pair | None = None
    padding: PadPair | None = None
    dilation: Pair | None = Field(None, description="[dh, dw] (absent: [1, 1])")
    groups: Dim | None = Field(None, description="grouped conv: in_channels = weight_shape[1] x groups; "
                                                 "depthwise: groups = in_channels (absent: 1)")
    relu_max: PositiveFloat | None = Field(None, description="upper clamp of a fused ReLU6 (real units)")
    input_hw: Pair | None = None
    output_hw: Pair | None = None


class GraphNode(ConfigModel):
    """One node of the integer inference graph, in execution order."""

    name: Name
    op: Literal[OPS]
    inputs: Annotated[list[Name], Field(max_length=1000)]
    shape: Annotated[list[Dim], Field(min_length=1, max_length=3)] = Field(description="(C, H, W) or (features,)")
    scale: PositiveFloat | None = Field(None, description="activation scale of the output")
    signed: bool | None = None
    bits: Annotated[int, Field(ge=2, le=8)] | None = Field(None, description="activation width (absent: 8)")
    relu: bool | None = None
    relu_max: PositiveFloat | None = Field(None, description="upper clamp of a fused ReLU6 (real units)")
    max: PositiveFloat | None = Field(None, description="upper clamp of a relu node (ReLU6: 6.0)")
    kernel: Pair | None = None
    stride: Pair | None = None
    padding: PadPair | None = None
    dilation: Pair | None = None
    groups: Dim | None = None
    ceil_mode: bool | None = None
    output_size: Pair | None = None


class ImageFiles(ConfigModel):
    image_bin: Sha256 = Field(alias="image.bin")
    image_hex: Sha256 = Field(alias="image.hex")


class Manifest(ConfigModel):
    """What image.bin holds: layout, code, every layer's words and quantization, the graph."""

    format: Literal["accelsim-memory-image"]
    format_version: Literal[1]
    accelsim_version: str
    layout: SchemeName
    code: str | None
    word_bits: Dim
    lanes: Dim
    weight_bits: Annotated[int, Field(ge=1, le=8)]
    weights_per_word: Dim
    n_words: Dim
    byte_order: Literal["little"] = Field(description="image.bin is little-endian; nothing else is implemented")
    input_shape: Annotated[list[Dim], Field(min_length=1, max_length=3)]
    activation_bits: Annotated[int, Field(ge=2, le=8)] = Field(
        description="width of unsigned (post-ReLU) activations; signed ones and the input are 8-bit")
    accumulator_bits: Literal[32] = Field(description="32-bit accumulators (the engine implements only 32)")
    per_channel: bool
    projected_weights: Annotated[int, Field(ge=0)]
    source: dict[str, Any] = Field(default_factory=dict, description="what it was exported from (free form)")
    files: ImageFiles
    layers: Annotated[list[LayerEntry], Field(min_length=1)]
    graph: Annotated[list[GraphNode], Field(min_length=2)]
    export_seconds: Annotated[float, Field(ge=0)] | None = None
    manifest_sha256: Sha256 = Field(description="SHA-256 of this manifest without this field (canonical JSON): "
                                                "an edited layer, scale or bias is detected")
