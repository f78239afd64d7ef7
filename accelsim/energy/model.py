"""Energy per inference from the cycle-level run's action counts.

Only the weight SRAM sits in the scaled voltage domain: its dynamic read energy scales as
(V / Vnom)^2 and its leakage power as (V / Vnom) * exp(k (V - Vnom)) (leakage current
falls with V through drain-induced barrier lowering; k = eta / (n V_T)). MACs, buffers,
the ECC decoder and DRAM stay at nominal voltage. The ECC decoder costs its Yosys gate
count times the energy of one gate evaluation per decoded word; a wider stored word
(72-bit ECC) costs its extra bits on every read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from accelsim.ecc.codec import DEFAULT_RULE
from accelsim.energy.table import EnergyTable, load_table

RTL_STATS = Path(__file__).resolve().parents[1] / "configs" / "rtl_stats.yaml"
COMPONENTS = ("sram_dynamic", "sram_leakage", "mac", "ecc", "buffers", "dram")


# NanGate FreePDK45 Open Cell Library, X1 cells (um^2): the area of a generic gate by type
GATE_AREA_UM2 = {"xor": 1.596, "and": 1.064, "or": 1.064, "not": 0.532, "mux": 1.862}


@functools.lru_cache(maxsize=None)
def _decoder_stats(code_name: str, rule: str) -> dict:
    stats = yaml.safe_load(RTL_STATS.read_text())
    if code_name not in stats or rule not in stats[code_name]["dec"]:
        raise KeyError(f"no Yosys statistics for the {code_name} decoder ({rule} rule) in {RTL_STATS}")
    return stats[code_name]["dec"][rule]


def decoder_area_um2(code_name: str | None, rule: str = DEFAULT_RULE) -> float:
    """Area of the code's decoder under the err_o ``rule``: Yosys cells by type x the
    45 nm X1 cell areas (um^2)."""
    if code_name is None:
        return 0.0
    dec = _decoder_stats(code_name, rule)
    return float(sum(dec[g] * a for g, a in GATE_AREA_UM2.items()))


def decoder_cells(code_name: str | None, rule: str = DEFAULT_RULE) -> int:
    """Yosys cell count of the code's decoder under the err_o ``rule`` (0 without ECC)."""
    if code_name is None:
        return 0
    return int(_decoder_stats(code_name, rule)["total"])


def voltage_factors(table: EnergyTable, vdd: float | None) -> tuple[float, float]:
    """(dynamic, leakage) multipliers of the weight-SRAM domain at vdd."""
    if vdd is None:
        return 1.0, 1.0
    r = vdd / table.vdd_nominal
    return r * r, r * math.exp(table.dibl_per_volt * (vdd - table.vdd_nominal))


@dataclass
class EnergyReport:
    vdd: float | None
    per_layer: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def total_pj(self) -> float:
        return float(sum(self.totals.values()))

    def summary(self) -> dict:
        return {"vdd": self.vdd, "total_pj": self.total_pj, **{f"{k}_pj": v for k, v in self.totals.items()}}


def energy_of(result, layout, *, vdd: float | None, table: EnergyTable | None = None) -> EnergyReport:
    """Energy per inference (pJ) per layer and component for a :class:`SimResult`."""
    table = table or load_table()
    dyn, leak = voltage_factors(table, vdd)
    cfg = result.config
    sram_kib = cfg.sram_words * layout.word_bits / 8 / 1024
    cells = decoder_cells(layout.code.name if layout.code else None, getattr(cfg, "ecc_rule", DEFAULT_RULE))
    image_words = len(result.decoded_words)
    resident = image_words <= cfg.sram_words
    count_dram = table.count_dram == "always" or (table.count_dram == "auto" and not resident)
    # activation buffers in the weight SRAM's voltage domain (activation_buffers.scaled) scale alike
    buf = dyn if getattr(cfg, "activations_scaled", False) else 1.0
    report = EnergyReport(vdd)
    totals = dict.fromkeys(COMPONENTS, 0.0)
    for s in result.layers:
        e = {
            "sram_dynamic": s.sram_read_words * layout.word_bits * table.sram_read_pj_per_bit * dyn,
            "sram_leakage": s.cycles * sram_kib * table.sram_leakage_pj_per_kib_cycle * leak,
            "mac": s.macs * table.mac(layout.weight_bits),
            "ecc": s.ecc_decodes * cells * table.ecc_gate_pj,
            "buffers": (s.input_reads * table.input_buffer_read_pj_per_byte
                        + s.output_writes * table.output_buffer_write_pj) * buf,
            "dram": s.dram_bytes * table.dram_pj_per_byte if count_dram else 0.0,
        }
        report.per_layer.append({"layer": s.name, **e, "total": sum(e.values())})
        for k, v in e.items():
            totals[k] += v
    report.totals = totals
    return report
