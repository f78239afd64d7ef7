"""A trial's parameters: one typed, frozen object, built once by the campaign spec, hashed
for the trial's key, stored as JSON in the trial's row and read by attribute.

The key is the SHA-256 of the canonical JSON of :meth:`TrialParams.key_fields`: every
parameter plus the content digest of every file the trial is made from — the image
(``export_sha256``), the accelerator and energy table (``accelerator_sha256``,
``energy_table_sha256``: the digest of the validated, merged configuration, so a value
inherited from the packaged defaults counts too), the BER curve (its parameters,
``curve``), a measured fault map (``fault_map_sha256``) and the evaluated inputs
(``data_sha256``). A file's *path* is recorded (``accelerator``, ``energy_table``,
``fault_map``) but is not part of the key: an edited file re-runs the trials it affects,
a moved one does not.

Rule for new fields: a field that only some trials have defaults to ``None`` and is left
out of the key while it is ``None``, so adding one keeps every existing trial's key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

# recorded in the row, not hashed: where a file was, not what it held
PATH_FIELDS = ("accelerator", "energy_table", "fault_map")


@dataclass(frozen=True)
class TrialParams:
    """One trial of a campaign (units: volts, bit error rate per bit per read)."""

    campaign: str
    model: str
    scheme: str                 # the ECC layout (accelsim.ecc.get_layout)
    checkpoint: str             # the ModelSource key (a label; its content is export_sha256)
    fault_model: str            # transient | persistent | stuck | measured
    point: str                  # vdd | ber: which of the two the sweep set
    vdd: float                  # V, rounded to 1 uV
    ber: float
    chip: int
    repeat: int
    layers: str                 # 'all', a layer name or a layer kind
    samples: int
    engine: str                 # fast | cycle
    policy: str                 # pass | zero | reread
    seed: int
    v_low: float                # V: every chip's map is drawn down to it (nested maps)
    p_stuck1: float
    curve: Mapping[str, Any] = field(default_factory=dict)   # accelsim.faults.curve_params
    export_sha256: str | None = None          # what the image was made from (campaign.runner.image_keys)
    accelerator: str | None = None            # path (None: packaged config)
    accelerator_sha256: str | None = None     # digest of the resolved config (hw.config.config_digest)
    energy_table: str | None = None           # path (None: packaged table)
    energy_table_sha256: str | None = None    # digest of the resolved table (energy.table.table_digest)
    fault_map: str | None = None              # measured map CSV path
    fault_map_sha256: str | None = None
    data: Mapping[str, Any] | None = None     # DataSpec.to_dict(); None: the bundled digits
    data_sha256: str | None = None            # of the evaluated subset
    chip_model: Mapping[str, Any] | None = None   # ChipModel.params(); None: iid (accelsim.faults.chip_model)

    def to_dict(self) -> dict:
        """JSON-able, as stored in the row's ``params`` column; optional fields that are
        None are left out."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            out[f.name] = _plain(value)
        return out

    def key_fields(self) -> dict:
        """What the key hashes: :meth:`to_dict` without the files' paths."""
        return {k: v for k, v in self.to_dict().items() if k not in PATH_FIELDS}

    @property
    def key(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`key_fields` (the row's primary key)."""
        text = json.dumps(self.key_fields(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes) -> "TrialParams":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrialParams":
        """The params of a stored row (unknown keys of other versions are dropped)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def trial_key(params: TrialParams) -> str:
    """The trial's key (:attr:`TrialParams.key`)."""
    return params.key
