"""The accelerator configuration (YAML): the packaged defaults overridden by a user's file,
validated by the typed model :class:`accelsim.schema.AcceleratorFile`; the engines receive
that validated model itself (:class:`AcceleratorConfig`), not a copy of its fields."""

from __future__ import annotations

import copy
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import AcceleratorFile, validate

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "accelerator.yaml"


# the flat names the engines read, each the path of one field of the validated document
# (accelsim.schema.AcceleratorFile): the one table between the file and the engines
FIELDS = {
    "clock_mhz": ("clock_mhz",), "rows": ("pe_array", "rows"), "cols": ("pe_array", "cols"),
    "dataflow": ("pe_array", "dataflow"), "os_drain": ("pe_array", "os_drain"),
    "banks": ("weight_sram", "banks"), "words_per_bank": ("weight_sram", "words_per_bank"),
    "read_latency": ("weight_sram", "read_latency"), "ports": ("weight_sram", "ports"),
    "interleave": ("weight_sram", "interleave"), "burst_words": ("weight_sram", "burst_words"),
    "vdd_nominal": ("weight_sram", "vdd_nominal"), "word_bits": ("weight_sram", "word_bits"),
    "ecc_latency": ("ecc", "latency"), "ecc_lanes": ("ecc", "lanes"), "policy": ("ecc", "policy"),
    "max_retries": ("ecc", "max_retries"), "ecc_rule": ("ecc", "rule"),
    "dram_bytes_per_cycle": ("dram", "bytes_per_cycle"), "dram_latency": ("dram", "latency"),
    "input_kib": ("buffers", "input_kib"), "output_kib": ("buffers", "output_kib"),
    "activations_scaled": ("activation_buffers", "scaled"),
}


def _field(section: str, leaf: str):
    return property(lambda self: getattr(getattr(self, section), leaf), doc=f"{section}.{leaf} of the document")


class AcceleratorConfig(AcceleratorFile):
    """The validated accelerator document itself (frozen; defaults are the schema's and the
    packaged file's, stated once), read by the engines through the flat names of FIELDS
    (``cfg.rows`` is ``cfg.pe_array.rows``). ``word_bits`` None: fixed by the image's
    layout when it is simulated (:meth:`for_layout`)."""

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved configuration (every field, packaged defaults included):
        part of a campaign trial's key (accelsim.campaign.params)."""
        from accelsim.fileio import sha256_json
        return sha256_json(self.flat())   # the flat form: the keys of stores written before this type

    def flat(self) -> dict:
        """The FIELDS as one flat mapping (the ``config`` of simulate's JSON output)."""
        return {name: getattr(self, name) for name in FIELDS}

    def replace(self, **changes) -> "AcceleratorConfig":
        """A copy with some FIELDS changed (``cfg.replace(policy="zero")``), validated again."""
        doc = self.model_dump(by_alias=True)
        for name, value in changes.items():
            *section, leaf = FIELDS[name]
            node = doc
            for part in section:
                node = node[part]
            node[leaf] = value
        return type(self).model_validate(doc)

    @property
    def sram_words(self) -> int:
        return self.banks * self.words_per_bank

    def for_layout(self, word_bits: int) -> "AcceleratorConfig":
        if self.word_bits is not None and self.word_bits != word_bits:
            raise UserError(f"accelerator config: weight_sram.word_bits = {self.word_bits} does not match the "
                            f"image layout's {word_bits}-bit words")
        return self.replace(word_bits=word_bits)


for _name, _path in FIELDS.items():
    if len(_path) == 2:   # clock_mhz is a field of the document already
        setattr(AcceleratorConfig, _name, _field(*_path))


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
    return validate(AcceleratorConfig, _merge(base, d or {}), where)


def load_config(path: str | Path | None = None) -> AcceleratorConfig:
    if path is None:
        return parse_config(None)
    return parse_config(read_yaml(path, "accelerator config"), f"accelerator config {path}")
