"""The per-action energy table (YAML) and its validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "configs" / "energy.yaml"
SCALAR_ACTIONS = ("sram_read_pj_per_bit", "sram_leakage_pj_per_kib_cycle", "ecc_gate_pj",
                  "input_buffer_read_pj_per_byte", "output_buffer_write_pj", "dram_pj_per_byte")


@dataclass(frozen=True)
class EnergyTable:
    vdd_nominal: float
    sram_read_pj_per_bit: float
    sram_leakage_pj_per_kib_cycle: float
    mac_pj: dict            # weight bits -> pJ per MAC
    ecc_gate_pj: float
    input_buffer_read_pj_per_byte: float
    output_buffer_write_pj: float
    dram_pj_per_byte: float
    dibl_per_volt: float
    count_dram: str
    source: str = ""

    def mac(self, bits: int) -> float:
        if bits in self.mac_pj:
            return self.mac_pj[bits]
        raise UserError(f"energy table: no mac_pj entry for {bits}-bit weights (has {sorted(self.mac_pj)})")


def _number(d: dict, key: str, where: str) -> float:
    if key not in d:
        raise UserError(f"{where}: missing action {key!r}")
    v = d[key]
    # NaN passes `v < 0` and would make every energy NaN; inf likewise poisons the totals
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise UserError(f"{where}: {key} = {v!r} must be a finite number >= 0")
    return float(v)


def table_from_dict(d, where: str = "energy table") -> EnergyTable:
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a mapping")
    actions = d.get("actions")
    if not isinstance(actions, dict):
        raise UserError(f"{where}: missing 'actions' mapping")
    kw = {k: _number(actions, k, where) for k in SCALAR_ACTIONS}
    macs = actions.get("mac_pj")
    if not isinstance(macs, dict) or not macs:
        raise UserError(f"{where}: missing action 'mac_pj' (pJ per MAC by weight bits)")
    try:
        mac_pj = {int(b): float(v) for b, v in macs.items()}
    except (TypeError, ValueError):
        raise UserError(f"{where}: mac_pj must map bit widths to pJ") from None
    for b, v in mac_pj.items():
        if not math.isfinite(v) or v < 0:
            raise UserError(f"{where}: mac_pj {b} = {v} must be a finite number >= 0")
    vnom = _number(d, "vdd_nominal", where)
    if vnom <= 0:   # the (V / Vnom)^2 scaling divides by it
        raise UserError(f"{where}: vdd_nominal = {vnom} must be > 0")
    leak = d.get("leakage_model") or {}
    dibl = _number(leak, "dibl_per_volt", f"{where} leakage_model") if leak else 2.6
    count_dram = str(d.get("count_dram", "auto"))
    if count_dram not in ("auto", "always", "never"):
        raise UserError(f"{where}: count_dram {count_dram!r} must be auto, always or never")
    return EnergyTable(vdd_nominal=vnom, mac_pj=mac_pj, dibl_per_volt=dibl, count_dram=count_dram,
                       source=str(d.get("technology", "")), **kw)


def load_table(path: str | Path | None = None) -> EnergyTable:
    path = Path(path) if path else DEFAULT_TABLE
    return table_from_dict(read_yaml(path, "energy table", mapping=False), f"energy table {path}")
