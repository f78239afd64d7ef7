"""The per-action energy table (YAML), validated by :class:`accelsim.schema.EnergyTableFile`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import EnergyTableFile, validate

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


def table_from_dict(d, where: str = "energy table") -> EnergyTable:
    """The table of a parsed YAML mapping, validated by :class:`accelsim.schema.EnergyTableFile`
    (an unknown action name is refused with the nearest valid one)."""
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a mapping")
    f = validate(EnergyTableFile, d, where)
    a = f.actions
    return EnergyTable(vdd_nominal=float(f.vdd_nominal), mac_pj={int(b): float(v) for b, v in a.mac_pj.items()},
                       dibl_per_volt=float(f.leakage_model.dibl_per_volt), count_dram=f.count_dram,
                       source=f.technology, **{k: float(getattr(a, k)) for k in SCALAR_ACTIONS})


def load_table(path: str | Path | None = None) -> EnergyTable:
    path = Path(path) if path else DEFAULT_TABLE
    return table_from_dict(read_yaml(path, "energy table", mapping=False), f"energy table {path}")
