"""Energy per inference from the cycle-level run's action counts.

Only the weight SRAM sits in the scaled voltage domain (plus the activation buffers when
``activation_buffers.scaled``): its dynamic read energy scales as (V / Vnom)^2 (C V^2
switching) and its leakage power as (V / Vnom) * exp(k (V - Vnom)), k calibrated to Yang &
Murmann's 28 nm measurement (4.8x less leakage 280 mV below nominal; docs/energy.md).
MACs, PE flip-flops, accumulators, buffers, the ECC decoder and DRAM stay at nominal
voltage, or at the table's ``logic_vdd``. The ECC decoder costs its Yosys gate count x the
energy of one gate switching x the share of gates that switch per decoded word; a wider
stored word (the 72-bit ECC layout) costs its extra bits on every read and its extra cells
in leakage. docs/energy.md gives every default's source.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from accelsim.ecc.codec import DEFAULT_RULE
from accelsim.energy.table import ACTIVATION_BITS, EnergyTable, load_table

RTL_STATS = Path(__file__).resolve().parents[1] / "configs" / "rtl_stats.yaml"
COMPONENTS = ("sram_dynamic", "sram_leakage", "mac", "registers", "accumulators", "buffers", "ecc", "dram")
# the components in the weight SRAM's scaled voltage domain (buffers too when they are scaled)
DOMAIN = ("sram_dynamic", "sram_leakage")
PSUM_BYTES = 4   # 32-bit partial sums

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
    """(dynamic, leakage) multipliers of the weight-SRAM domain at ``vdd`` volts."""
    if vdd is None:
        return 1.0, 1.0
    r = vdd / table.vdd_nominal
    return r * r, r * math.exp(table.dibl_per_volt * (vdd - table.vdd_nominal))


@dataclass(frozen=True)
class UnitEnergies:
    """The per-action energies (pJ, at nominal voltage) one accelerator and layout pay."""

    sram_read_per_bit: float        # weight SRAM, per stored bit read (one bank's array)
    sram_leak_per_cycle: float      # whole weight SRAM, per cycle
    input_read_per_byte: float
    output_write_per_bit: float     # output buffer, per bit written (partial sums or outputs)
    output_read_per_bit: float      # output buffer, per bit of a partial sum read back
    accumulator_write: float        # one 32-bit partial sum into its column's accumulator bank
    accumulator_read: float
    register_per_mac: float         # flip-flop bits written per MAC: activation + psum (ws) or + weight (os)
    ecc_per_decode: float
    dram_per_byte: float


def unit_energies(table: EnergyTable, cfg, layout) -> UnitEnergies:
    """Per-action energies for accelerator ``cfg`` storing ``layout``'s words."""
    word_bits = layout.word_bits
    bank_kib = cfg.words_per_bank * word_bits / 8 / 1024
    # per MAC the array's pipeline flip-flops take the activation and the 32-bit partial sum
    # (ws, is) or the activation and the weight (os)
    moved_bits = ACTIVATION_BITS + (PSUM_BYTES * 8 if cfg.dataflow != "os" else layout.weight_bits)
    code = layout.code.name if layout.code is not None else None
    acc_kib = (cfg.accumulator_depth or 0) * PSUM_BYTES / 1024   # one bank per column
    return UnitEnergies(
        sram_read_per_bit=table.sram_read_pj(bank_kib) / 64,
        sram_leak_per_cycle=cfg.sram_words * word_bits / 8 / 1024 * table.leakage_uw_per_kib(cfg.cell) / cfg.clock_mhz,
        input_read_per_byte=table.sram_read_pj(cfg.input_kib) / 8,
        output_write_per_bit=table.sram_write_pj(cfg.output_kib) / 64,
        output_read_per_bit=table.sram_read_pj(cfg.output_kib) / 64,
        accumulator_write=table.sram_write_pj(acc_kib) * PSUM_BYTES * 8 / 64 if acc_kib else 0.0,
        accumulator_read=table.sram_read_pj(acc_kib) * PSUM_BYTES * 8 / 64 if acc_kib else 0.0,
        register_per_mac=moved_bits * table.register_pj_per_bit,
        ecc_per_decode=decoder_cells(code, cfg.ecc_rule) * table.ecc_gate_switch_pj
        * table.ecc_activity,
        dram_per_byte=table.dram_pj_per_byte)


@dataclass
class EnergyReport:
    """Energy of one inference (pJ): ``per_layer`` rows and ``totals`` per component."""

    vdd: float | None
    units: UnitEnergies | None = None
    per_layer: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def total_pj(self) -> float:
        return float(sum(self.totals.values()))

    def summary(self) -> dict:
        return {"vdd": self.vdd, "total_pj": self.total_pj, **{f"{k}_pj": v for k, v in self.totals.items()}}


def energy_of(result, layout, *, vdd: float | None, table: EnergyTable | None = None) -> EnergyReport:
    """Energy per inference (pJ) per layer and component of a :class:`~accelsim.hw.SimResult`
    whose weight SRAM ran at ``vdd`` volts (None: nominal)."""
    table = table or load_table()
    cfg = result.config
    u = unit_energies(table, cfg, layout)
    dyn, leak = voltage_factors(table, vdd)
    logic = ((table.logic_vdd or table.vdd_nominal) / table.vdd_nominal) ** 2
    resident = cfg.resident or len(result.decoded_words) <= cfg.sram_words
    count_dram = table.count_dram == "always" or (table.count_dram == "auto" and not resident)
    # activation buffers in the weight SRAM's voltage domain (activation_buffers.scaled) scale alike
    buf = dyn if cfg.activations_scaled else logic
    report = EnergyReport(vdd, u)
    totals = dict.fromkeys(COMPONENTS, 0.0)
    for s in result.layers:
        weight_bits = getattr(s, "weight_bits", layout.weight_bits)
        act_bits = getattr(s, "activation_bits", 8)
        out_bits = getattr(s, "output_bits", PSUM_BYTES * 8)
        e = {
            "sram_dynamic": s.sram_read_bits * u.sram_read_per_bit * dyn,
            "sram_leakage": s.cycles * u.sram_leak_per_cycle * leak,
            "mac": s.macs * table.mac(weight_bits, act_bits) * logic,
            # register_per_mac moves an 8-bit activation; a narrower one moves fewer bits
            "registers": s.macs * (u.register_per_mac + (act_bits - ACTIVATION_BITS) * table.register_pj_per_bit)
            * logic,
            "accumulators": (s.accumulator_writes * u.accumulator_write + s.accumulator_reads * u.accumulator_read)
            * logic,
            # the input buffer holds activations packed at their width: 4-bit ones are half a byte
            "buffers": (s.input_reads * u.input_read_per_byte * act_bits / 8
                        + s.output_writes * out_bits * u.output_write_per_bit
                        + s.output_reads * PSUM_BYTES * 8 * u.output_read_per_bit) * buf,
            "ecc": s.ecc_decodes * u.ecc_per_decode * logic,
            # weights refilled from DRAM (a staging SRAM), and activations the buffers cannot hold
            "dram": ((s.dram_bytes if count_dram else 0) + (s.spill_bytes if table.count_dram != "never" else 0))
            * u.dram_per_byte,
        }
        report.per_layer.append({"layer": s.name, **e, "total": sum(e.values())})
        for k, v in e.items():
            totals[k] += v
    report.totals = totals
    return report


def check_table(table: EnergyTable, image) -> None:
    """UserError (one line, before any trial) unless ``table`` prices every (weight bits,
    activation bits) MAC of ``image``."""
    from accelsim.image.memory_image import input_bits
    for layer in image.layers:
        table.mac(image.layout.weight_bits, input_bits(image, layer))


def domain_components(activations_scaled: bool) -> tuple[str, ...]:
    """The components in the weight SRAM's scaled voltage domain."""
    return DOMAIN + (("buffers",) if activations_scaled else ())


def scale_energy(components: dict, table: EnergyTable, vdd_from: float | None, vdd_to: float,
                 activations_scaled: bool = False) -> dict:
    """Per-component energies of one run moved from ``vdd_from`` to ``vdd_to`` (same cycles):
    only the scaled domain's components change (the buffers' dynamic energy too when
    ``activations_scaled``)."""
    d0, l0 = voltage_factors(table, vdd_from)
    d1, l1 = voltage_factors(table, vdd_to)
    out = dict(components)
    out["sram_dynamic"] = components["sram_dynamic"] * d1 / d0
    out["sram_leakage"] = components["sram_leakage"] * l1 / l0
    if activations_scaled:
        out["buffers"] = components["buffers"] * d1 / d0
    return out
