"""SCALE-Sim interchange: its architecture config (.cfg) as input, its report CSVs as output.

Config (configparser, SCALE-Sim 2/3): ``[architecture_presets]`` ArrayHeight, ArrayWidth,
Dataflow (ws | os | is), IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB, optional
MemoryBanks and Bandwidth (used when ``[run_presets] InterfaceBandwidth`` is USER). They
map onto the accelerator config: the array and dataflow, the input/output buffers, the
weight SRAM's size (FilterSramSzkB, in words of the image's layout) and banks, and the
DRAM bandwidth (SCALE-Sim's words are bytes). Other fields are SCALE-Sim's own and ignored.

Reports, one row per layer (docs/hardware.md gives each column's definition):
COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv with SCALE-Sim 3's
columns first, written as SCALE-Sim writes them (", " separated, a trailing comma), then
ours (layer name, compute cycles, ECC outcomes, energy).
"""

from __future__ import annotations

import configparser
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import atomic_write_text
from accelsim.hw.pe_array import DATAFLOWS, fold_efficiency

ARCH = "architecture_presets"


def _get(cp, section: str, key: str, where: str, *, required: bool = True):
    if not cp.has_option(section, key):
        if required:
            raise UserError(f"{where}: missing [{section}] {key}")
        return None
    return cp.get(section, key).strip().strip('"')


def _positive(cp, key: str, where: str, *, required: bool = True, kind=int):
    raw = _get(cp, ARCH, key, where, required=required)
    if raw is None:
        return None
    try:
        v = kind(raw)
    except ValueError:
        raise UserError(f"{where}: [{ARCH}] {key} = {raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not v > 0:
        raise UserError(f"{where}: [{ARCH}] {key} = {raw} must be > 0")
    return v


def scalesim_overrides(path: str | Path, word_bits: int) -> dict:
    """Accelerator-config overrides (the YAML's nested layout) from a SCALE-Sim .cfg;
    word_bits: the image layout's word, to size the weight SRAM in words."""
    where = f"SCALE-Sim config {path}"
    cp = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    try:
        text = Path(path).read_text()
        cp.read_string(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{where}: cannot read ({exc.__class__.__name__})") from None
    except configparser.Error as exc:
        raise UserError(f"{where}: not a SCALE-Sim config ({str(exc).splitlines()[0]})") from None
    if not cp.has_section(ARCH):
        raise UserError(f"{where}: missing section [{ARCH}]")
    dataflow = (_get(cp, ARCH, "Dataflow", where) or "").lower()
    if dataflow not in DATAFLOWS:
        raise UserError(f"{where}: [{ARCH}] Dataflow {dataflow!r} is not one of {', '.join(DATAFLOWS)}")
    banks = _positive(cp, "MemoryBanks", where, required=False) or 1
    filter_kib = _positive(cp, "FilterSramSzkB", where, kind=float)
    words_per_bank = int(filter_kib * 1024 * 8 // word_bits // banks)
    if words_per_bank < 1:
        raise UserError(f"{where}: [{ARCH}] FilterSramSzkB = {filter_kib} holds no {word_bits}-bit word per bank")
    out = {"pe_array": {"rows": _positive(cp, "ArrayHeight", where), "cols": _positive(cp, "ArrayWidth", where),
                        "dataflow": dataflow},
           "buffers": {"input_kib": _positive(cp, "IfmapSramSzkB", where, kind=float),
                       "output_kib": _positive(cp, "OfmapSramSzkB", where, kind=float)},
           "weight_sram": {"banks": banks, "words_per_bank": words_per_bank}}
    mode = _get(cp, "run_presets", "InterfaceBandwidth", where, required=False) if cp.has_section("run_presets") else None
    if mode is not None and mode.upper() == "USER":
        bw = _get(cp, ARCH, "Bandwidth", where)
        try:
            first = float(bw.split(",")[0])
        except ValueError:
            raise UserError(f"{where}: [{ARCH}] Bandwidth = {bw!r} is not a number") from None
        if not first > 0:
            raise UserError(f"{where}: [{ARCH}] Bandwidth = {bw} must be > 0")
        out["dram"] = {"bytes_per_cycle": first}
    return out


def deep_update(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


COMPUTE_COLUMNS = ("LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles", "Overall Util %",
                   "Mapping Efficiency %", "Compute Util %", "Layer Name", "Compute Cycles", "ECC Corrected",
                   "ECC Detected", "ECC Miscorrected", "ECC Undetected", "Re-reads", "Energy pJ")
BANDWIDTH_COLUMNS = ("LayerID", "Avg IFMAP SRAM BW", "Avg FILTER SRAM BW", "Avg OFMAP SRAM BW", "Avg IFMAP DRAM BW",
                     "Avg FILTER DRAM BW", "Avg OFMAP DRAM BW", "Layer Name", "FILTER SRAM Read Bits per Cycle")
DETAIL_COLUMNS = ("LayerID", "SRAM IFMAP Start Cycle", "SRAM IFMAP Stop Cycle", "SRAM IFMAP Reads",
                  "SRAM Filter Start Cycle", "SRAM Filter Stop Cycle", "SRAM Filter Reads",
                  "SRAM OFMAP Start Cycle", "SRAM OFMAP Stop Cycle", "SRAM OFMAP Writes",
                  "DRAM IFMAP Start Cycle", "DRAM IFMAP Stop Cycle", "DRAM IFMAP Reads",
                  "DRAM Filter Start Cycle", "DRAM Filter Stop Cycle", "DRAM Filter Reads",
                  "DRAM OFMAP Start Cycle", "DRAM OFMAP Stop Cycle", "DRAM OFMAP Writes",
                  "Layer Name", "SRAM Filter Read Words", "SRAM Filter Read Bits")


def _line(values) -> str:
    return ", ".join(str(v) for v in values) + ",\n"


def report_rows(result, image, energy_per_layer=None) -> dict[str, list[tuple]]:
    """The three reports' rows (with their header first) of a simulation result.

    Element counts (SRAM reads of IFMAP/filter, OFMAP writes) are operands as SCALE-Sim
    counts them: 8-bit activations, weights (not packed words), 32-bit partial sums;
    DRAM counts are bytes (SCALE-Sim's 1-byte words). Activations stay on chip in this
    model: their DRAM columns are 0."""
    cfg = result.config
    out = {"COMPUTE_REPORT.csv": [COMPUTE_COLUMNS], "BANDWIDTH_REPORT.csv": [BANDWIDTH_COLUMNS],
           "DETAILED_ACCESS_REPORT.csv": [DETAIL_COLUMNS]}
    from accelsim.hw.accelerator import layer_groups
    from accelsim.hw.pe_array import plan
    for lid, (s, layer) in enumerate(zip(result.layers, image.layers)):
        p = plan(*layer.gemm, cfg.rows, cfg.cols, cfg.dataflow, groups=layer_groups(layer), os_drain=cfg.os_drain)
        mapping, compute_util = fold_efficiency(*layer.gemm, p)
        cycles = max(s.cycles, 1)
        start = min(x for x in (s.start_cycle, s.dram_start, s.sram_start) if x >= 0)
        filter_reads = layer.n_weights * s.weight_passes
        energy = energy_per_layer[lid]["total"] if energy_per_layer else ""
        out["COMPUTE_REPORT.csv"].append((
            lid, s.end_cycle - start, s.cycles, s.stall_cycles, round(100 * s.macs / (cycles * cfg.rows * cfg.cols), 4),
            round(100 * mapping, 4), round(100 * compute_util, 4), s.name, s.compute_cycles, s.corrected,
            s.detected, s.miscorrected, s.undetected, s.rereads, energy if energy == "" else round(energy, 3)))
        dram_window = max(s.dram_end - s.dram_start + 1, 1) if s.dram_start >= 0 else 1
        out["BANDWIDTH_REPORT.csv"].append((
            lid, round(s.input_reads / cycles, 6), round(filter_reads / cycles, 6), round(s.output_writes / cycles, 6),
            0, round(s.dram_bytes / dram_window, 6), 0, s.name, round(s.sram_read_bits / cycles, 6)))
        out["DETAILED_ACCESS_REPORT.csv"].append((
            lid, s.start_cycle, s.end_cycle, s.input_reads, s.sram_start, s.sram_end, filter_reads,
            s.start_cycle, s.end_cycle, s.output_writes, 0, 0, 0, max(s.dram_start, 0), max(s.dram_end, 0),
            s.dram_bytes, 0, 0, 0, s.name, s.sram_read_words, s.sram_read_bits))
    return out


def write_reports(out_dir: str | Path, result, image, energy_per_layer=None) -> list[Path]:
    """Write the three SCALE-Sim style reports into out_dir (each file atomically)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--reports {out_dir} exists and is not a directory")
    paths = []
    for name, rows in report_rows(result, image, energy_per_layer).items():
        path = out_dir / name
        atomic_write_text(path, "".join(_line(r) for r in rows))
        paths.append(path)
    return paths
