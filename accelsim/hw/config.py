"""The accelerator configuration (YAML): the packaged defaults overridden by a named preset
(``accelsim/configs/accelerators/NAME.yaml``, docs/hardware.md) and by a user's file,
validated by the typed model :class:`accelsim.schema.AcceleratorFile`, whose subclass
:class:`AcceleratorConfig` is what the engines receive."""

from __future__ import annotations

import copy
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


class AcceleratorConfig(AcceleratorFile):
    """The validated accelerator file as the engines receive it: this IS the
    :class:`accelsim.schema.AcceleratorFile` model (its sections ``pe_array``, ``weight_sram``,
    ``ecc``, ``dram``, ``buffers``, ``activation_buffers`` and their defaults, stated there
    once), plus, derived here only, the flat names the engines read and the sizing fixed when
    an image is simulated (:meth:`for_layout`)."""

    # -- the engines' names for the sections' fields (read-only views, never copies) -----
    @property
    def rows(self) -> int:
        return self.pe_array.rows

    @property
    def cols(self) -> int:
        return self.pe_array.cols

    @property
    def dataflow(self) -> str:
        return self.pe_array.dataflow

    @property
    def os_drain(self) -> str:
        return self.pe_array.os_drain

    @property
    def accumulator_depth(self) -> int | None:
        return self.pe_array.accumulator_depth

    @property
    def psum_tiling(self) -> bool:
        return self.pe_array.psum_tiling

    @property
    def banks(self) -> int:
        return self.weight_sram.banks

    @property
    def words_per_bank(self) -> int:
        """Words per bank: given, or ``words`` split evenly over the banks; 1 for a
        ``words: fit`` SRAM not yet sized to an image (:meth:`for_layout`)."""
        sram = self.weight_sram
        if sram.words is None:
            return sram.words_per_bank
        return 1 if sram.words == "fit" else -(-int(sram.words) // sram.banks)

    @property
    def fit(self) -> bool:
        """``weight_sram.words: fit`` and not yet sized to an image."""
        return self.weight_sram.words == "fit"

    @property
    def resident(self) -> bool:
        return self.weight_sram.resident

    @property
    def cell(self) -> str:
        return self.weight_sram.cell

    @property
    def read_latency(self) -> int:
        return self.weight_sram.read_latency

    @property
    def ports(self) -> int:
        return self.weight_sram.ports

    @property
    def interleave(self) -> bool:
        return self.weight_sram.interleave

    @property
    def burst_words(self) -> int:
        return self.weight_sram.burst_words

    @property
    def vdd_nominal(self) -> float:
        """Volts of the weight SRAM's supply at nominal."""
        return self.weight_sram.vdd_nominal

    @property
    def ber_mapping(self) -> str:
        return self.weight_sram.ber_mapping

    @property
    def word_bits(self) -> int | None:
        return self.weight_sram.word_bits

    @property
    def ecc_latency(self) -> int:
        return self.ecc.latency

    @property
    def ecc_lanes(self) -> int:
        return self.ecc.lanes

    @property
    def policy(self) -> str:
        return self.ecc.policy

    @property
    def max_retries(self) -> int:
        return self.ecc.max_retries

    @property
    def ecc_rule(self) -> str:
        return self.ecc.rule

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram.bytes_per_cycle

    @property
    def dram_latency(self) -> int:
        return self.dram.latency

    @property
    def input_kib(self) -> float:
        return self.buffers.input_kib

    @property
    def output_kib(self) -> float:
        return self.buffers.output_kib

    @property
    def activations_scaled(self) -> bool:
        """The input/output buffers share the weight SRAM's voltage domain."""
        return self.activation_buffers.scaled

    # -- derived ------------------------------------------------------------------------
    @property
    def sram_words(self) -> int:
        return self.banks * self.words_per_bank

    @property
    def storage(self) -> str:
        """'resident' (weights stay in the SRAM) or 'staging' (refilled from DRAM every inference)."""
        return "resident" if self.resident else "staging"

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved configuration (every field, packaged defaults included):
        part of a campaign trial's key (accelsim.campaign.params)."""
        from accelsim.fileio import sha256_json
        return sha256_json(self.model_dump(mode="json"))

    def flat(self) -> dict:
        """JSON-able: every name an engine reads (the properties above) and the file's
        top-level scalars; what a simulation's result and a campaign's provenance record."""
        names = [n for n, v in vars(AcceleratorConfig).items() if isinstance(v, property) and n != "digest"]
        top = {k: v for k, v in self.model_dump(mode="json").items() if not isinstance(v, dict)}
        return {**top, **{n: getattr(self, n) for n in names}}

    def with_policy(self, policy: str) -> "AcceleratorConfig":
        """The same machine with the ECC stage's policy on uncorrectable words replaced."""
        return self.model_copy(update={"ecc": self.ecc.model_copy(update={"policy": policy})})

    def for_layout(self, word_bits: int, n_words: int | None = None) -> "AcceleratorConfig":
        """The configuration for an image of ``n_words`` words of ``word_bits`` bits: the word
        width fixed, and a ``words: fit`` SRAM sized to hold the image (at least two bursts)."""
        if self.word_bits is not None and self.word_bits != word_bits:
            raise UserError(f"accelerator config: weight_sram.word_bits = {self.word_bits} does not match the "
                            f"image layout's {word_bits}-bit words")
        update: dict = {"word_bits": word_bits}
        if self.fit and n_words is not None:
            per_bank = max(-(-int(n_words) // self.banks), -(-2 * self.burst_words // self.banks))
            update.update(words=per_bank * self.banks)
        return self.model_copy(update={"weight_sram": self.weight_sram.model_copy(update=update)})


def merge_sections(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``, section by section (a user file, or a SCALE-Sim cfg's
    overrides, gives only what it changes); neither is modified."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge_sections(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
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
    return merge_sections(base, over)


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
    return validate(AcceleratorConfig, _overlay(base, d), where)


def load_config(path: str | Path | None = None) -> AcceleratorConfig:
    """The configuration of a YAML file, or of a packaged preset named ``path`` (e.g.
    ``resident``); None: the packaged accelerator.yaml."""
    if path is None:
        return parse_config(None)
    if is_preset(str(path)):
        return parse_config({"preset": str(path)}, f"accelerator preset {path}")
    return parse_config(read_yaml(path, "accelerator config"), f"accelerator config {path}")
