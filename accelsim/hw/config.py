"""The accelerator configuration (YAML): the packaged defaults overridden by a named preset
(``accelsim/configs/accelerators/NAME.yaml``, docs/hardware.md) and by a user's file,
validated by the typed model :class:`accelsim.schema.AcceleratorFile`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import AcceleratorFile, validate

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "accelerator.yaml"
PRESETS_DIR = Path(__file__).resolve().parents[1] / "configs" / "accelerators"
# what a campaign or `accelsim run` simulates when its config names no accelerator
DEFAULT_PRESET = "resident"


def preset_names() -> list[str]:
    """The packaged accelerator presets (file stems of accelsim/configs/accelerators/)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def is_preset(ref) -> bool:
    """Whether ``ref`` (a config path or name) names a packaged preset rather than a file."""
    return isinstance(ref, str) and ref in preset_names()


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
    ber_mapping: str = "none"          # how a BER curve of another nominal voltage maps (docs/faults.md)
    word_bits: int | None = None   # fixed by the image's layout when it is simulated
    preset: str | None = None      # the named preset the configuration starts from
    fit: bool = False              # weight_sram.words: fit -- words_per_bank is set by for_image
    resident: bool = False         # weights loaded once, no DRAM traffic per inference
    cell: str = "itrs-lstp"        # SRAM cell type whose leakage the energy table prices
    accumulator_depth: int | None = None   # 32-bit psums per PE column next to the array (None: none)
    psum_tiling: bool = False      # ws without accumulators: M in chunks whose psums fit the output buffer

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

    def for_layout(self, word_bits: int, n_words: int | None = None) -> "AcceleratorConfig":
        """The configuration for an image of ``n_words`` words of ``word_bits`` bits: the word
        width fixed, and a ``words: fit`` SRAM sized to hold the image (at least two bursts)."""
        if self.word_bits is not None and self.word_bits != word_bits:
            raise UserError(f"accelerator config: weight_sram.word_bits = {self.word_bits} does not match the "
                            f"image layout's {word_bits}-bit words")
        from dataclasses import replace
        out = replace(self, word_bits=word_bits)
        if self.fit and n_words is not None:
            out = replace(out, words_per_bank=max(-(-int(n_words) // self.banks),
                                                  -(-2 * self.burst_words // self.banks)))
        return out

    @property
    def storage(self) -> str:
        """'resident' (weights stay in the SRAM) or 'staging' (refilled from DRAM every inference)."""
        return "resident" if self.resident else "staging"


def _merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``, section by section (a user file gives only what it changes)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def _overlay(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``; an SRAM size given one way (words, words_per_bank)
    replaces the base's size given the other way."""
    sram = over.get("weight_sram")
    if isinstance(sram, dict) and isinstance(base.get("weight_sram"), dict):
        base = copy.deepcopy(base)
        for given, other in (("words", "words_per_bank"), ("words_per_bank", "words")):
            if given in sram and other not in sram:
                base["weight_sram"].pop(other, None)
    return _merge(base, over)


def preset_dict(name: str, where: str = "accelerator config") -> dict:
    """The packaged defaults overridden by preset ``name`` (a raw mapping, not validated)."""
    if not is_preset(name):
        raise UserError(f"{where}: preset {name!r} is not one of {', '.join(preset_names())}")
    base = read_yaml(DEFAULT_CONFIG, "packaged accelerator config")
    over = read_yaml(PRESETS_DIR / f"{name}.yaml", f"accelerator preset {name}")
    return {**_overlay(base, over), "preset": name}


def parse_config(d: dict | None = None, where: str = "accelerator config") -> AcceleratorConfig:
    """The default configuration overridden by ``d`` (same nested layout as the YAML),
    validated by :class:`accelsim.schema.AcceleratorFile`. ``d`` may name a ``preset:``
    it overrides (else it overrides the packaged accelerator.yaml)."""
    if d is not None and not isinstance(d, dict):
        raise UserError(f"{where}: expected a YAML mapping")
    d = d or {}
    preset = d.get("preset")
    if preset is not None:
        base = preset_dict(str(preset), where)
    else:
        base = read_yaml(DEFAULT_CONFIG, "packaged accelerator config")
    f = validate(AcceleratorFile, _overlay(base, d), where)
    pe, sram, ecc = f.pe_array, f.weight_sram, f.ecc
    fit = sram.words == "fit"
    per_bank = (sram.words_per_bank if sram.words is None else
                1 if fit else -(-int(sram.words) // sram.banks))
    return AcceleratorConfig(
        clock_mhz=float(f.clock_mhz), rows=pe.rows, cols=pe.cols, dataflow=pe.dataflow, banks=sram.banks,
        words_per_bank=per_bank, read_latency=sram.read_latency, ports=sram.ports,
        interleave=sram.interleave, burst_words=sram.burst_words, vdd_nominal=float(sram.vdd_nominal),
        ecc_latency=ecc.latency, ecc_lanes=ecc.lanes, policy=ecc.policy, max_retries=ecc.max_retries,
        ecc_rule=ecc.rule,
        dram_bytes_per_cycle=float(f.dram.bytes_per_cycle), dram_latency=f.dram.latency,
        input_kib=float(f.buffers.input_kib), output_kib=float(f.buffers.output_kib), os_drain=pe.os_drain,
        activations_scaled=f.activation_buffers.scaled, ber_mapping=sram.ber_mapping, word_bits=sram.word_bits,
        preset=f.preset, fit=fit, resident=sram.resident, cell=sram.cell, accumulator_depth=pe.accumulator_depth,
        psum_tiling=pe.psum_tiling)


def load_config(path: str | Path | None = None) -> AcceleratorConfig:
    """The configuration of a YAML file, or of a packaged preset named ``path`` (e.g.
    ``resident``); None: the packaged accelerator.yaml."""
    if path is None:
        return parse_config(None)
    if is_preset(str(path)):
        return parse_config({"preset": str(path)}, f"accelerator preset {path}")
    return parse_config(read_yaml(path, "accelerator config"), f"accelerator config {path}")
