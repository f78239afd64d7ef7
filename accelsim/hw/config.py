"""The accelerator configuration (YAML), validated with one clear error per bad field."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.hw.pe_array import DATAFLOWS, OS_DRAINS

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "accelerator.yaml"
POLICIES = ("pass", "zero", "reread")


@dataclass(frozen=True)
class AcceleratorConfig:
    clock_mhz: float
    rows: int
    cols: int
    dataflow: str
    banks: int
    words_per_bank: int
    read_latency: int
    ports: int
    interleave: bool
    burst_words: int
    vdd_nominal: float
    ecc_latency: int
    ecc_lanes: int
    policy: str
    max_retries: int
    dram_bytes_per_cycle: float
    dram_latency: int
    input_kib: float
    output_kib: float
    os_drain: str = "overlapped"       # output stationary: drain overlapped with the next fold, or serial
    activations_scaled: bool = False   # input/output buffers share the weight SRAM's voltage domain
    word_bits: int | None = None   # fixed by the image's layout when it is simulated

    @property
    def sram_words(self) -> int:
        return self.banks * self.words_per_bank

    def for_layout(self, word_bits: int) -> "AcceleratorConfig":
        if self.word_bits is not None and self.word_bits != word_bits:
            raise UserError(f"accelerator config: weight_sram.word_bits = {self.word_bits} does not match the "
                            f"image layout's {word_bits}-bit words")
        from dataclasses import replace
        return replace(self, word_bits=word_bits)


_FIELDS = {  # yaml path -> (attribute, type, minimum)
    ("clock_mhz",): ("clock_mhz", float, 1e-3),
    ("pe_array", "rows"): ("rows", int, 1),
    ("pe_array", "cols"): ("cols", int, 1),
    ("pe_array", "dataflow"): ("dataflow", str, None),
    ("pe_array", "os_drain"): ("os_drain", str, None),
    ("weight_sram", "banks"): ("banks", int, 1),
    ("weight_sram", "words_per_bank"): ("words_per_bank", int, 1),
    ("weight_sram", "read_latency"): ("read_latency", int, 0),
    ("weight_sram", "ports"): ("ports", int, 1),
    ("weight_sram", "interleave"): ("interleave", bool, None),
    ("weight_sram", "burst_words"): ("burst_words", int, 1),
    ("weight_sram", "vdd_nominal"): ("vdd_nominal", float, 1e-3),
    ("weight_sram", "word_bits"): ("word_bits", int, 1),
    ("ecc", "latency"): ("ecc_latency", int, 0),
    ("ecc", "lanes"): ("ecc_lanes", int, 1),
    ("ecc", "policy"): ("policy", str, None),
    ("ecc", "max_retries"): ("max_retries", int, 0),
    ("dram", "bytes_per_cycle"): ("dram_bytes_per_cycle", float, 1e-6),
    ("dram", "latency"): ("dram_latency", int, 0),
    ("buffers", "input_kib"): ("input_kib", float, 1e-6),
    ("buffers", "output_kib"): ("output_kib", float, 1e-6),
    ("activation_buffers", "scaled"): ("activations_scaled", bool, None),
}


def _merge(base: dict, over: dict, path="") -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if k not in base and path + k != "weight_sram.word_bits" and k != "word_bits":
            raise UserError(f"accelerator config: unknown field {path + k!r}")
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            out[k] = _merge(base[k], v, f"{path}{k}.")
        else:
            out[k] = v
    return out


def parse_config(d: dict | None = None) -> AcceleratorConfig:
    """The default configuration overridden by ``d`` (same nested layout as the YAML)."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    if d is not None and not isinstance(d, dict):
        raise UserError("accelerator config: expected a YAML mapping")
    merged = _merge(base, d or {})
    kw = {}
    for path, (attr, typ, lo) in _FIELDS.items():
        node = merged
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        name = ".".join(path)
        if node is None:
            if attr == "word_bits":
                continue
            raise UserError(f"accelerator config: missing field {name!r}")
        if typ is bool:
            if not isinstance(node, bool):
                raise UserError(f"accelerator config: {name} = {node!r} must be true or false")
        elif typ is str:
            node = str(node)
        else:
            if isinstance(node, bool) or not isinstance(node, (int, float)) or (typ is int and int(node) != node):
                raise UserError(f"accelerator config: {name} = {node!r} must be {'an integer' if typ is int else 'a number'}")
            node = typ(node)
            if node < lo:
                raise UserError(f"accelerator config: {name} = {node} must be >= {lo}")
        kw[attr] = node
    if kw["dataflow"] not in DATAFLOWS:
        raise UserError(f"accelerator config: pe_array.dataflow {kw['dataflow']!r} is not one of {', '.join(DATAFLOWS)}")
    if kw["os_drain"] not in OS_DRAINS:
        raise UserError(f"accelerator config: pe_array.os_drain {kw['os_drain']!r} is not one of {', '.join(OS_DRAINS)}")
    if kw["policy"] not in POLICIES:
        raise UserError(f"accelerator config: ecc.policy {kw['policy']!r} is not one of {', '.join(POLICIES)}")
    cfg = AcceleratorConfig(**kw)
    _check_buffers(cfg)
    if cfg.burst_words * 2 > cfg.sram_words:
        raise UserError(f"accelerator config: weight_sram.burst_words = {cfg.burst_words} cannot be double-buffered "
                        f"in an SRAM of {cfg.sram_words} words")
    return cfg


def _check_buffers(cfg: AcceleratorConfig) -> None:
    """The smallest tile the array works on must fit: one 8-bit input per PE row and one
    32-bit partial sum per PE column (ws and is; the transpose for os)."""
    need_in, need_out = (cfg.rows, 4 * cfg.cols) if cfg.dataflow != "os" else (cfg.cols, 4 * cfg.rows)
    if cfg.input_kib * 1024 < need_in:
        raise UserError(f"accelerator config: buffers.input_kib = {cfg.input_kib} cannot hold one input vector "
                        f"of {need_in} bytes for a {cfg.rows}x{cfg.cols} array")
    if cfg.output_kib * 1024 < need_out:
        raise UserError(f"accelerator config: buffers.output_kib = {cfg.output_kib} cannot hold one row of "
                        f"partial sums ({need_out} bytes) for a {cfg.rows}x{cfg.cols} array")


def load_config(path: str | Path | None = None) -> AcceleratorConfig:
    if path is None:
        return parse_config(None)
    return parse_config(read_yaml(path, "accelerator config"))
