"""The per-action energy table (YAML) and its validation.

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

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "configs" / "energy.yaml"
SCALAR_ACTIONS = ("sram_leakage_pj_per_kib_cycle", "register_pj_per_byte", "ecc_gate_switch_pj", "ecc_activity",
                  "dram_pj_per_byte")
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
    sram_leakage_pj_per_kib_cycle: float
    mac_pj: dict                         # (weight_bits, activation_bits) -> pJ
    register_pj_per_byte: float
    ecc_gate_switch_pj: float
    ecc_activity: float
    dram_pj_per_byte: float
    dibl_per_volt: float
    logic_vdd: float | None = None       # None: the logic runs at vdd_nominal
    count_dram: str = "auto"
    source: str = ""

    def mac(self, weight_bits: int, activation_bits: int = ACTIVATION_BITS) -> float:
        """pJ per MAC of a ``weight_bits`` x ``activation_bits`` multiply and its accumulate."""
        key = (int(weight_bits), int(activation_bits))
        if key in self.mac_pj:
            return self.mac_pj[key]
        have = ", ".join(f"{w}x{a}" for w, a in sorted(self.mac_pj))
        raise UserError(f"energy table: no mac_pj entry for {key[0]}x{key[1]}-bit operands (has {have})")

    def sram_read_pj(self, kib: float) -> float:
        """pJ per 64-bit read of an SRAM array of ``kib`` KiB: log-log interpolation between
        the table's points (read energy grows as a power of capacity: longer bit and word
        lines), the end segments' slopes beyond them, a constant for a single point."""
        pts = self.sram_read_pj_per_64b
        if len(pts) == 1:
            return pts[0][1]
        i = 1
        while i < len(pts) - 1 and kib > pts[i][0]:
            i += 1
        (k0, e0), (k1, e1) = pts[i - 1], pts[i]
        slope = math.log(e1 / e0) / math.log(k1 / k0)
        return e0 * (kib / k0) ** slope


def _number(d: dict, key: str, where: str, *, positive: bool = False) -> float:
    if key not in d:
        raise UserError(f"{where}: missing action {key!r}")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise UserError(f"{where}: {key} = {v!r} must be a number {'> 0' if positive else '>= 0'}")
    return float(v)


def _sram_curve(actions: dict, where: str) -> tuple:
    curve = actions.get("sram_read_pj_per_64b")
    if not isinstance(curve, dict) or not curve:
        raise UserError(f"{where}: missing action 'sram_read_pj_per_64b' (pJ per 64-bit read by SRAM KiB)")
    out = []
    for kib, pj in curve.items():
        try:
            k = float(kib)
        except (TypeError, ValueError):
            k = float("nan")
        if isinstance(kib, bool) or not k > 0 or not math.isfinite(k):
            raise UserError(f"{where}: sram_read_pj_per_64b capacity {kib!r} must be a number of KiB > 0")
        out.append((k, _number(curve, kib, f"{where} sram_read_pj_per_64b", positive=True)))
    return tuple(sorted(out))


def _mac_table(actions: dict, where: str) -> dict:
    macs = actions.get("mac_pj")
    if not isinstance(macs, dict) or not macs:
        raise UserError(f"{where}: missing action 'mac_pj' (pJ per MAC by operand bits, e.g. '4x8': 0.2)")
    out = {}
    for key, pj in macs.items():
        m = _OPERANDS.match(str(key))
        if m:
            bits = (int(m.group(1)), int(m.group(2)))
        elif isinstance(key, int) and not isinstance(key, bool):
            bits = (key, ACTIVATION_BITS)      # a bare width is the weight's, with 8-bit activations
        else:
            raise UserError(f"{where}: mac_pj key {key!r} must be '<weight bits>x<activation bits>' or a bit width")
        out[bits] = _number(macs, key, f"{where} mac_pj")
    return out


def table_from_dict(d, where: str = "energy table") -> EnergyTable:
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a mapping")
    known = {"technology", "vdd_nominal", "logic_vdd", "actions", "leakage_model", "count_dram"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise UserError(f"{where}: unknown field {unknown[0]!r}")
    actions = d.get("actions")
    if not isinstance(actions, dict):
        raise UserError(f"{where}: missing 'actions' mapping")
    kw = {k: _number(actions, k, where) for k in SCALAR_ACTIONS}
    if kw["ecc_activity"] > 1:
        raise UserError(f"{where}: ecc_activity = {kw['ecc_activity']} must be a share of gates in [0, 1]")
    extra = sorted(set(actions) - set(SCALAR_ACTIONS) - {"sram_read_pj_per_64b", "mac_pj"})
    if extra:
        raise UserError(f"{where}: unknown action {extra[0]!r}")
    vnom = _number(d, "vdd_nominal", where, positive=True)
    leak = d.get("leakage_model")
    if not isinstance(leak, dict):
        raise UserError(f"{where}: missing 'leakage_model' mapping (dibl_per_volt)")
    dibl = _number(leak, "dibl_per_volt", f"{where} leakage_model")
    logic_vdd = d.get("logic_vdd")
    if logic_vdd is not None:
        logic_vdd = _number(d, "logic_vdd", where, positive=True)
    count_dram = str(d.get("count_dram", "auto"))
    if count_dram not in ("auto", "always", "never"):
        raise UserError(f"{where}: count_dram {count_dram!r} must be auto, always or never")
    return EnergyTable(vdd_nominal=vnom, sram_read_pj_per_64b=_sram_curve(actions, where),
                       mac_pj=_mac_table(actions, where), dibl_per_volt=dibl, logic_vdd=logic_vdd,
                       count_dram=count_dram, source=str(d.get("technology", "")), **kw)


def load_table(path: str | Path | None = None) -> EnergyTable:
    """The energy table at ``path`` (default: the packaged 45 nm table)."""
    path = Path(path) if path else DEFAULT_TABLE
    return table_from_dict(read_yaml(path, "energy table"), f"energy table {path}")
