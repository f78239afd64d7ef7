"""The per-action energy table (YAML), validated by :class:`accelsim.schema.EnergyTableFile`.

Every action the energy model charges must be in the table; a user table that misses
one is refused with one line naming it (docs/energy.md explains each default and its
source). Units: pJ, KiB, volts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import EnergyTableFile, validate

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "configs" / "energy.yaml"
SCALAR_ACTIONS = ("register_pj_per_bit", "ecc_gate_switch_pj", "ecc_activity", "dram_pj_per_byte")
ACTIVATION_BITS = 8   # the accelerator's activations are 8-bit (accelsim.infer)
_OPERANDS = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


@dataclass(frozen=True)
class EnergyTable:
    """Energy per action at ``vdd_nominal`` (pJ).

    ``sram_read_pj_per_64b`` maps an SRAM array's capacity (KiB) to the energy of one
    64-bit read; it serves the weight SRAM (per bank) and the input/output buffers.
    ``mac_pj`` maps (weight bits, activation bits) to the energy of one multiply-accumulate.
    """

    vdd_nominal: float
    sram_read_pj_per_64b: tuple          # ((kib, pJ), ...) sorted by kib
    sram_write_pj_per_64b: tuple         # ((kib, pJ), ...) sorted by kib
    sram_leakage_uw_per_kib: dict        # cell type -> uW per KiB stored
    mac_pj: dict                         # (weight_bits, activation_bits) -> pJ
    register_pj_per_bit: float           # one flip-flop bit written
    ecc_gate_switch_pj: float
    ecc_activity: float
    dram_pj_per_byte: float
    dibl_per_volt: float
    logic_vdd: float | None = None       # None: the logic runs at vdd_nominal
    count_dram: str = "auto"
    source: str = ""

    def to_dict(self) -> dict:
        """JSON-able: capacities as [kib, pJ] pairs, MAC widths as 'WxA' keys."""
        from dataclasses import asdict
        return {k: ([list(p) for p in v] if k == "sram_read_pj_per_64b" else
                    {f"{w}x{a}": e for (w, a), e in v.items()} if k == "mac_pj" else v)
                for k, v in asdict(self).items()}

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved table: part of a cycle-level trial's key."""
        from accelsim.fileio import sha256_json
        return sha256_json(self.to_dict())

    def mac(self, weight_bits: int, activation_bits: int = ACTIVATION_BITS) -> float:
        """pJ per MAC of a ``weight_bits`` x ``activation_bits`` multiply and its accumulate."""
        key = (int(weight_bits), int(activation_bits))
        if key in self.mac_pj:
            return self.mac_pj[key]
        have = ", ".join(f"{w}x{a}" for w, a in sorted(self.mac_pj))
        raise UserError(f"energy table: no mac_pj entry for {key[0]}x{key[1]}-bit operands (has {have})")

    def leakage_uw_per_kib(self, cell: str) -> float:
        """Leakage power (uW per KiB stored) of SRAM cells of type ``cell``."""
        if cell not in self.sram_leakage_uw_per_kib:
            have = ", ".join(sorted(self.sram_leakage_uw_per_kib))
            raise UserError(f"energy table: no sram_leakage_uw_per_kib entry for cell type {cell!r} "
                            f"(the accelerator's weight_sram.cell; has {have})")
        return self.sram_leakage_uw_per_kib[cell]

    def sram_read_pj(self, kib: float) -> float:
        """pJ per 64-bit read of an SRAM array of ``kib`` KiB: log-log interpolation between
        the table's points (read energy grows as a power of capacity: longer bit and word
        lines), the end segments' slopes beyond them, a constant for a single point."""
        return _loglog(self.sram_read_pj_per_64b, kib)

    def sram_write_pj(self, kib: float) -> float:
        """pJ per 64-bit write of an SRAM array of ``kib`` KiB (interpolated as reads are)."""
        return _loglog(self.sram_write_pj_per_64b, kib)


def _loglog(pts: tuple, kib: float) -> float:
    """Log-log interpolation of ((capacity, pJ), ...) at ``kib``."""
    if len(pts) == 1:
        return pts[0][1]
    i = 1
    while i < len(pts) - 1 and kib > pts[i][0]:
        i += 1
    (k0, e0), (k1, e1) = pts[i - 1], pts[i]
    slope = math.log(e1 / e0) / math.log(k1 / k0)
    return e0 * (kib / k0) ** slope


def _operands(key) -> tuple[int, int]:
    """(weight bits, activation bits) of a validated mac_pj key: '4x8', or a bare weight width."""
    if isinstance(key, int):
        return key, ACTIVATION_BITS
    m = _OPERANDS.match(key)
    return int(m.group(1)), int(m.group(2))


def table_from_dict(d, where: str = "energy table") -> EnergyTable:
    """The table of a parsed YAML mapping, validated by :class:`accelsim.schema.EnergyTableFile`
    (an unknown action name is refused with the nearest valid one)."""
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a mapping")
    f = validate(EnergyTableFile, d, where)
    a = f.actions
    return EnergyTable(vdd_nominal=float(f.vdd_nominal),
                       sram_read_pj_per_64b=tuple(sorted((float(k), float(v)) for k, v in a.sram_read_pj_per_64b.items())),
                       sram_write_pj_per_64b=tuple(sorted((float(k), float(v))
                                                          for k, v in a.sram_write_pj_per_64b.items())),
                       sram_leakage_uw_per_kib={str(k): float(v) for k, v in a.sram_leakage_uw_per_kib.items()},
                       mac_pj={_operands(k): float(v) for k, v in a.mac_pj.items()},
                       dibl_per_volt=float(f.leakage_model.dibl_per_volt),
                       logic_vdd=None if f.logic_vdd is None else float(f.logic_vdd), count_dram=f.count_dram,
                       source=f.technology, **{k: float(getattr(a, k)) for k in SCALAR_ACTIONS})


def load_table(path: str | Path | None = None) -> EnergyTable:
    """The energy table at ``path`` (default: the packaged 45 nm table)."""
    path = Path(path) if path else DEFAULT_TABLE
    return table_from_dict(read_yaml(path, "energy table"), f"energy table {path}")
