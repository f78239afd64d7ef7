"""The per-action energy table (YAML), validated by :class:`accelsim.schema.EnergyTableFile`,
whose subclass :class:`EnergyTable` is what the energy model receives.

Every action the energy model charges must be in the table; a user table that misses
one is refused with one line naming it (docs/energy.md explains each default and its
source). Units: pJ, KiB, volts.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import EnergyTableFile, validate

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "configs" / "energy.yaml"
ACTIVATION_BITS = 8   # the accelerator's activations are 8-bit (accelsim.infer)
_OPERANDS = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


class EnergyTable(EnergyTableFile):
    """Energy per action at ``vdd_nominal`` (pJ): this IS the validated
    :class:`accelsim.schema.EnergyTableFile` (its fields and defaults stated there once),
    plus the lookups the energy model makes, derived here only.

    ``actions.sram_read_pj_per_64b`` maps an SRAM array's capacity (KiB) to the energy of
    one 64-bit read; it serves the weight SRAM (per bank) and the input/output buffers.
    ``actions.mac_pj`` maps operand widths ('WxA', or a bare weight width with 8-bit
    activations) to the energy of one multiply-accumulate.
    """

    # -- the energy model's names for the file's fields (read-only views) ---------------
    @property
    def register_pj_per_bit(self) -> float:
        return self.actions.register_pj_per_bit

    @property
    def ecc_gate_switch_pj(self) -> float:
        return self.actions.ecc_gate_switch_pj

    @property
    def ecc_activity(self) -> float:
        return self.actions.ecc_activity

    @property
    def dram_pj_per_byte(self) -> float:
        return self.actions.dram_pj_per_byte

    @property
    def dibl_per_volt(self) -> float:
        """k of the leakage model P_leak ~ V exp(k (V - Vnom)), per volt."""
        return self.leakage_model.dibl_per_volt

    @property
    def mac_pj(self) -> dict:
        """(weight bits, activation bits) -> pJ per MAC."""
        return {_operands(k): float(v) for k, v in self.actions.mac_pj.items()}

    def to_dict(self) -> dict:
        """JSON-able (a campaign's provenance): the file's fields as validated, and the
        energy model's names above at the top level."""
        names = [n for n, v in vars(EnergyTable).items() if isinstance(v, property) and n != "digest"]
        flat = {n: getattr(self, n) for n in names}
        flat["mac_pj"] = {f"{w}x{a}": e for (w, a), e in flat["mac_pj"].items()}
        return {**self.model_dump(mode="json"), **flat}

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved table: part of a cycle-level trial's key."""
        from accelsim.fileio import sha256_json
        return sha256_json(self.model_dump(mode="json"))

    def mac(self, weight_bits: int, activation_bits: int = ACTIVATION_BITS) -> float:
        """pJ per MAC of a ``weight_bits`` x ``activation_bits`` multiply and its accumulate."""
        key = (int(weight_bits), int(activation_bits))
        macs = self.mac_pj
        if key in macs:
            return macs[key]
        have = ", ".join(f"{w}x{a}" for w, a in sorted(macs))
        raise UserError(f"energy table: no mac_pj entry for {key[0]}x{key[1]}-bit operands (has {have})")

    def leakage_uw_per_kib(self, cell: str) -> float:
        """Leakage power (uW per KiB stored) of SRAM cells of type ``cell``."""
        leak = self.actions.sram_leakage_uw_per_kib
        if cell not in leak:
            raise UserError(f"energy table: no sram_leakage_uw_per_kib entry for cell type {cell!r} "
                            f"(the accelerator's weight_sram.cell; has {', '.join(sorted(leak))})")
        return float(leak[cell])

    def sram_read_pj(self, kib: float) -> float:
        """pJ per 64-bit read of an SRAM array of ``kib`` KiB: log-log interpolation between
        the table's points (read energy grows as a power of capacity: longer bit and word
        lines), the end segments' slopes beyond them, a constant for a single point."""
        return _loglog(self.actions.sram_read_pj_per_64b, kib)

    def sram_write_pj(self, kib: float) -> float:
        """pJ per 64-bit write of an SRAM array of ``kib`` KiB (interpolated as reads are)."""
        return _loglog(self.actions.sram_write_pj_per_64b, kib)


def _loglog(table: dict, kib: float) -> float:
    """Log-log interpolation of {capacity: pJ} at ``kib``."""
    pts = sorted((float(k), float(v)) for k, v in table.items())
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
    return validate(EnergyTable, d, where)


def load_table(path: str | Path | None = None) -> EnergyTable:
    """The energy table at ``path`` (default: the packaged 45 nm table)."""
    path = Path(path) if path else DEFAULT_TABLE
    return table_from_dict(read_yaml(path, "energy table"), f"energy table {path}")
