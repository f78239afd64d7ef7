"""Export a PyTorch model to a memory image: quantized, packed weight words + manifest.

Steps: capture the graph (BN folded, ReLU/ReLU6 fused), calibrate the activation scale of
every tensor on a calibration batch (max |x| over the batch; unsigned when the tensor is
never negative; 8-bit, or ``activation_bits`` for unsigned tensors), quantize each Conv2d/Linear weight symmetric per output channel at the
layout's weight width (reusing the trained scales of a QAT/WOT checkpoint), quantize
biases to int32 at scale s_w * s_in, pack the weights with the layout and write
``image.bin``, ``image.hex`` and ``manifest.yaml`` into a new directory atomically.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.fx
import yaml

from accelsim import __version__
from accelsim.ecc import Layout, get_layout
from accelsim.errors import UserError
from accelsim.fileio import atomic_directory, check_output_dir, sha256_file
from accelsim.image.graph import Op, capture
from accelsim.image.memory_image import FORMAT_VERSION, MemoryImage, load_image, manifest_digest
from accelsim.quant.fixed import quantize_symmetric, symmetric_scale

WEIGHT_OPS = ("conv", "linear")
# ops whose output keeps the scale of their input (no requantization on the way)
SCALE_PRESERVING = ("maxpool", "avgpool", "adaptive_avgpool", "flatten", "relu")


class _Recorder(torch.fx.Interpreter):
    """Runs the traced model and keeps min/max of every node's output, each rounded to the
    nearest float32 (see :func:`_calibrate`)."""

    def __init__(self, gm):
        super().__init__(gm)
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}

    def run_node(self, n):
        out = super().run_node(n)
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            self.lo[n.name] = min(self.lo.get(n.name, np.inf), float(np.float32(out.min().item())))
            self.hi[n.name] = max(self.hi.get(n.name, -np.inf), float(np.float32(out.max().item())))
        return out


def _calibrate(gm, calibration: torch.Tensor) -> _Recorder:
    """min/max of every tensor over the calibration batch, independent of the CPU's kernels.

    A float32 forward pass sums in an order that PyTorch picks by the processor (vector
    width, fused multiply-add: ``ATEN_CPU_CAPABILITY``), so the same model and data gave
    activation scales that differed in their 8th digit from one CPU to another. The pass runs
    in float64 instead (a float32 product is exact there and the sums' rounding errors stay
    near 1e-16) and each min/max is rounded to the nearest float32, which removes them; a
    model whose forward cannot run in float64 (it casts to float32 itself) is calibrated in
    float32 as before. docs/campaigns.md says which steps stay machine-dependent."""
    import copy

    try:
        return _record(copy.deepcopy(gm).double(), calibration.double())
    except (RuntimeError, TypeError):   # a float32-only op or cast inside the model's forward
        return _record(gm, calibration)


def _record(gm, calibration: torch.Tensor) -> _Recorder:
    rec = _Recorder(gm)
    with torch.no_grad():
        for i in range(0, len(calibration), 256):
            # standard strides: a (N, 1, H, W) tensor with channels-last strides makes convs return
            # channels-last outputs, on which the model's own x.view(x.size(0), -1) would fail
            rec.run(calibration[i:i + 256].clone(memory_format=torch.contiguous_format))
    return rec


def _act_scales(ops: list[Op], rec: _Recorder, activation_bits: int) -> dict[str, tuple[float, bool, int]]:
    """op name -> (scale, signed, bits) of its output.

    Unsigned tensors (after a ReLU) get ``activation_bits``; signed tensors and the network
    input stay 8-bit (QAT observes only ReLU outputs, so only those were trained at the
    lower width). Pooling, flatten and ReLU keep their input's scale and width."""
    out: dict[str, tuple[float, bool, int]] = {}
    for op in ops:
        if op.op == "output":
            continue
        if op.op in SCALE_PRESERVING:
            s, signed, bits = out[op.inputs[0]]
            out[op.name] = (s, signed and op.op != "relu", bits)
            continue
        lo, hi = rec.lo[op.value_node], rec.hi[op.value_node]
        signed = lo < 0
        bits = 8 if signed or op.op == "input" else activation_bits
        levels = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        peak = max(abs(lo), abs(hi))
        out[op.name] = ((peak / levels) if peak > 0 else 1.0, signed, bits)
    return out


def _quantize_layer(op: Op, bits: int, trained_bits: int | None,
                    per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """(q int64 flattened row-major, per-output-channel scale float64) for a conv/linear op.

    A QAT/WOT checkpoint's own ``weight_scale`` is reused when it was trained at no more
    bits than the layout holds, so its trained integers are stored exactly; otherwise the
    float weights are quantized symmetric at ``bits`` (per output channel, or one scale
    for the whole tensor, repeated per channel in the manifest)."""
    w = op.module.weight.detach().double()
    if not torch.all(torch.isfinite(w)) or not torch.all(torch.isfinite(op.module.bias.detach())):
        bad = int(torch.nonzero(~torch.isfinite(w.reshape(-1)))[0]) if not torch.all(torch.isfinite(w)) else None
        where = f" (weight {bad})" if bad is not None else " (bias)"
        raise UserError(f"layer {op.name!r} has NaN or Inf weights or bias{where}")
    oc = w.shape[0]
    flat = w.reshape(oc, -1)
    trained = hasattr(op.module, "weight_scale") and trained_bits is not None and trained_bits <= bits
    if trained and per_channel:
        s = op.module.weight_scale.detach().double().reshape(oc, 1)
        # a zero scale is exact only on an all-zero channel (BN with gamma 0): its q are 0
        # at any scale; any other non-positive or non-finite scale is refused, not replaced
        bad = ~torch.isfinite(s) | (s < 0) | ((s == 0) & (flat.abs().amax(dim=1, keepdim=True) > 0))
        if bool(bad.any()):
            c = int(torch.nonzero(bad.reshape(-1))[0])
            raise UserError(f"layer {op.name!r}: weight_scale of output channel {c} is {float(s[c, 0])} "
                            "(must be finite and > 0)")
        s = torch.where(s > 0, s, torch.ones_like(s))
    else:
        s = symmetric_scale(flat, bits, per_channel=per_channel, axis=0).expand(oc, 1)
    q, _ = quantize_symmetric(flat, bits, scale=s)
    return q.reshape(-1).numpy().astype(np.int64), s.reshape(oc).numpy().copy()


def _project(q: np.ndarray, layout: Layout) -> tuple[np.ndarray, int]:
    slots = np.arange(q.size) % layout.weights_per_word
    lo, hi = np.array([layout.weight_range(s) for s in range(layout.weights_per_word)]).T
    p = np.clip(q, lo[slots], hi[slots])
    return p, int(np.count_nonzero(p != q))


class _ManifestDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Safe YAML without anchors/aliases: a reader sees every value where it belongs."""

    def ignore_aliases(self, data) -> bool:
        return True


def _hex_digits(lane: np.ndarray, digits: int) -> np.ndarray:
    """(N, digits) ASCII hex digits of a uint64 lane, most significant first."""
    text = lane.astype(">u8").tobytes().hex().encode()
    return np.frombuffer(text, dtype="S1").reshape(len(lane), 16)[:, 16 - digits:]


def _hex_lines(words: np.ndarray, word_bits: int) -> bytes:
    """image.hex: one word per line, word_bits wide, MSB first (vectorized: a ResNet-18
    image has ~1.5 M lines)."""
    if words.shape[1] == 1:
        cols = [_hex_digits(words[:, 0], (word_bits + 3) // 4)]
    else:
        cols = [_hex_digits(words[:, 1], (word_bits - 64 + 3) // 4), _hex_digits(words[:, 0], 16)]
    newline = np.full((words.shape[0], 1), b"\n", dtype="S1")
    return np.ascontiguousarray(np.concatenate(cols + [newline], axis=1)).tobytes()


def export_image(model: torch.nn.Module, out_dir: str | Path, *, layout: str | Layout,
                 input_shape: tuple[int, ...], calibration: torch.Tensor | None = None,
                 bits: int | None = None, per_channel: bool = True, project: bool = False,
                 force: bool = False, source: dict | None = None, activation_bits: int = 8) -> MemoryImage:
    """Write the memory image of ``model`` to ``out_dir``; returns it loaded back.

    input_shape: (C, H, W) of one sample. calibration: float inputs (N, C, H, W) whose
    per-tensor max |x| sets every 8-bit activation scale (default: 64 seeded uniform
    [0, 1) samples). bits: the weight width the checkpoint was trained at (its
    ``weight_scale`` buffers are reused when it is <= the layout's width, so the trained
    integers are stored exactly). per_channel: one weight scale per output channel
    (default) or one per layer. project: clamp weights that do not fit the layout's
    throttled slots (WOT projection) instead of refusing them; the manifest's
    ``projected_weights`` counts how many moved. activation_bits: width of the unsigned
    (post-ReLU) activations, 2..8 (signed tensors and the input stay 8-bit).
    """
    t0 = time.perf_counter()
    check_output_dir(out_dir, "output directory", force=force)   # before any work, not after it
    layout = get_layout(layout) if isinstance(layout, str) else layout
    if not isinstance(activation_bits, int) or not 2 <= activation_bits <= 8:
        raise UserError(f"activation_bits = {activation_bits!r}: must be an integer 2..8")
    input_shape = tuple(int(v) for v in input_shape)
    ops, gm = capture(model, input_shape)
    if calibration is None:  # seeded uniform [0, 1) inputs, documented in docs/formats.md
        gen = torch.Generator().manual_seed(0)
        calibration = torch.rand(64, *input_shape, generator=gen)
    if tuple(calibration.shape[1:]) != input_shape:
        raise UserError(f"calibration data shape {tuple(calibration.shape[1:])} != input shape {input_shape}")
    finite = torch.isfinite(calibration.reshape(len(calibration), -1)).all(dim=1)
    if not bool(finite.all()):   # NaN/Inf inputs give NaN/Inf activation scales: an image that never loads
        raise UserError(f"calibration data: sample {int(torch.nonzero(~finite)[0])} holds NaN or Inf values")
    scales = _act_scales(ops, _calibrate(gm, calibration), activation_bits)
    shapes = {op.name: op.shape for op in ops}
    nodes, layers, chunks = [], [], []
    offset = moved = 0
    for op in ops:
        node = {"name": op.name, "op": op.op, "inputs": list(op.inputs), "shape": list(op.shape)}
        node.update({k: v for k, v in op.params.items()})
        if op.op != "output":
            node["scale"], node["signed"], node["bits"] = (float(scales[op.name][0]), bool(scales[op.name][1]),
                                                           int(scales[op.name][2]))
        nodes.append(node)
        if op.op not in WEIGHT_OPS:
            continue
        q, s_w = _quantize_layer(op, layout.weight_bits, bits, per_channel)
        if project:
            q, n = _project(q, layout)
            moved += n
        try:
            words = layout.pack(q)
        except UserError as exc:
            hint = "" if project else " (train with WOT for this layout, or export with --project)"
            raise UserError(f"layer {op.name!r}: {exc}{hint}") from None
        s_in = scales[op.inputs[0]][0]
        bias = np.round(op.module.bias.detach().double().numpy() / (s_w * s_in))
        if np.any(np.abs(bias) > 2**31 - 1):
            raise UserError(f"layer {op.name!r}: bias does not fit a 32-bit accumulator at its scale")
        in_shape = shapes[op.inputs[0]]
        w_shape = list(op.module.weight.shape)
        entry = {
            "name": op.name, "kind": op.op, "weight_shape": w_shape, "n_weights": int(q.size),
            "word_offset": offset, "n_words": int(words.shape[0]),
            "weight_scale": [float(v) for v in s_w], "bias": [int(v) for v in bias],
            "input": op.inputs[0], "input_scale": float(s_in), "relu": bool(op.params.get("relu", False)),
        }
        if "relu_max" in op.params:
            entry["relu_max"] = float(op.params["relu_max"])
        if op.op == "conv":
            groups = int(op.params["groups"])
            # gemm: (output pixels, reduction length per output = C_in/groups*kh*kw, output channels);
            # a grouped conv is `groups` independent GEMMs of N/groups columns each (docs/formats.md)
            entry.update({"in_channels": w_shape[1] * groups, "out_channels": w_shape[0],
                          "kernel": op.params["kernel"], "stride": op.params["stride"],
                          "padding": op.params["padding"], "dilation": op.params["dilation"], "groups": groups,
                          "input_hw": list(in_shape[1:]), "output_hw": list(op.shape[1:]),
                          "gemm": [int(op.shape[1] * op.shape[2]), int(np.prod(w_shape[1:])), w_shape[0]]})
        else:
            entry.update({"in_channels": w_shape[1], "out_channels": w_shape[0], "gemm": [1, w_shape[1], w_shape[0]]})
        layers.append(entry)
        chunks.append(words)
        offset += int(words.shape[0])
    for name, (scale, _, _) in scales.items():   # after the weights' own NaN/Inf check, which names the weight
        if not np.isfinite(scale):
            raise UserError(f"calibration: the activations of {name!r} overflow (scale {scale}); "
                            "check the model's weights and the calibration data")
    all_words = np.concatenate(chunks).astype("<u8")
    with atomic_directory(out_dir, force=force) as tmp:
        (tmp / "image.bin").write_bytes(all_words.tobytes())
        (tmp / "image.hex").write_bytes(_hex_lines(all_words, layout.word_bits))
        manifest = {
            "format": "accelsim-memory-image", "format_version": FORMAT_VERSION,
            "accelsim_version": __version__,
            "layout": layout.name, "code": layout.code.name if layout.code else None,
            "word_bits": layout.word_bits, "lanes": layout.lanes, "weight_bits": layout.weight_bits,
            "weights_per_word": layout.weights_per_word, "n_words": int(all_words.shape[0]),
            "byte_order": "little", "input_shape": list(input_shape),
            "activation_bits": activation_bits, "accumulator_bits": 32, "per_channel": bool(per_channel),
            "projected_weights": moved, "source": source or {},
            "files": {"image.bin": sha256_file(tmp / "image.bin"), "image.hex": sha256_file(tmp / "image.hex")},
            "layers": layers, "graph": nodes,
            "export_seconds": round(time.perf_counter() - t0, 3),
        }
        manifest["manifest_sha256"] = manifest_digest(manifest)
        # lists of numbers in flow style (one line each); libyaml's emitter when present
        (tmp / "manifest.yaml").write_text(yaml.dump(manifest, Dumper=_ManifestDumper, sort_keys=False,
                                                     width=120, default_flow_style=None))
    return load_image(out_dir)
