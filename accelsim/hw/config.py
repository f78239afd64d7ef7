"""The accelerator configuration (YAML): the packaged defaults overridden by a user's file,
validated by the typed model :class:`accelsim.schema.AcceleratorFile`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import AcceleratorFile, validate

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "accelerator.yaml"


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
    ecc_rule: str
    dram_bytes_per_cycle: float
    dram_latency: int
    input_kib: float
    output_kib: float
    os_drain: str = "overlapped"       # output stationary: drain overlapped with the next fold, or serial
    activations_scaled: bool = False   # input/output buffers share the weight SRAM's voltage domain
    word_bits: int | None = None   # fixed by the image's layout when it is simulated

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved configuration (every field, packaged defaults included):
        part of a campaign trial's key (accelsim.campaign.params)."""
        from dataclasses import asdict

        from accelsim.fileio import sha256_json
        return sha256_json(asdict(self))

    @property
    def sram_words(self) -> int:
        return self.banks * self.words_per_bank

    def for_layout(self, word_bits: int) -> "AcceleratorConfig":
        if self.word_bits is not None and self.word_bits != word_bits:
            raise UserError(f"accelerator config: weight_sram.word_bits = {self.word_bits} does not match the "
                            f"image layout's {word_bits}-bit words")
        from dataclasses import replace
        return replace(self, word_bits=word_bits)


def _merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``, section by section (a user file gives only what it changes)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def parse_config(d: dict | None = None, where: str = "accelerator config") -> AcceleratorConfig:
    """The default configuration overridden by ``d`` (same nested layout as the YAML),
    validated by :class:`accelsim.schema.AcceleratorFile`."""
    if d is not None and not isinstance(d, dict):
        raise UserError(f"{where}: expected a YAML mapping")
    base = read_yaml(DEFAULT_CONFIG, "packaged accelerator config")
    f = validate(AcceleratorFile, _merge(base, d or {}), where)
    pe, sram, ecc = f.pe_array, f.weight_sram, f.ecc
    return AcceleratorConfig(
        clock_mhz=float(f.clock_mhz), rows=pe.rows, cols=pe.cols, dataflow=pe.dataflow, banks=sram.banks,
        words_per_bank=sram.words_per_bank, read_latency=sram.read_latency, ports=sram.ports,
        interleave=sram.interleave, burst_words=sram.burst_words, vdd_nominal=float(sram.vdd_nominal),
        ecc_latency=ecc.latency, ecc_lanes=ecc.lanes, policy=ecc.policy, max_retries=ecc.max_retries,
        ecc_rule=ecc.rule,
        dram_bytes_per_cycle=float(f.dram.bytes_per_cycle), dram_latency=f.dram.latency,
        input_kib=float(f.buffers.input_kib), output_kib=float(f.buffers.output_kib), os_drain=pe.os_drain,
        activations_scaled=f.activation_buffers.scaled, word_bits=sram.word_bits)


def load_config(path: str | Path | None = None) -> AcceleratorConfig:
    if path is None:
        return parse_config(None)
    return parse_config(read_yaml(path, "accelerator config"), f"accelerator config {path}")
