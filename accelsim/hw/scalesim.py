"""SCALE-Sim interchange: its architecture config (.cfg) as input, its report CSVs as output.

Config: the keys SCALE-Sim 3.0.0 reads (``scalesim/scale_config.py``, ``read_conf_file``),
in SCALE-Sim's meaning (docs/hardware.md has the table):

- ``[architecture_presets]`` ArrayHeight, ArrayWidth, Dataflow; FilterSramSzkB sizes the
  weight SRAM (in words of the image's layout), IfmapSramSzkB / OfmapSramSzkB the buffers;
- ``[layout]`` FilterSRAMBankNum and FilterSRAMBankPort: the weight SRAM's banks and ports
  per bank; with ``[run_presets] InterfaceBandwidth: USER``, FilterSRAMBankBandwidth is
  the filter SRAM's DRAM fill bandwidth (SCALE-Sim 3 gives ``Bandwidth`` to the OFMAP
  only). A cfg without ``[layout]`` is SCALE-Sim 2's: one filter SRAM without banks, and
  ``Bandwidth`` feeds every SRAM in USER mode;
- everything else present in the file (offsets, request buffers, IFMAP layout, sparsity,
  Ramulator, MemoryBanks, which neither SCALE-Sim reads) is listed as ignored, once.

The file is read with a size cap, without configparser's ``%`` interpolation (a value of
a used key that contains ``%`` is refused), and every number in its physical range.

Reports, one row per layer (one per channel of a depthwise layer of a SCALE-Sim topology,
as SCALE-Sim writes them): COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and
DETAILED_ACCESS_REPORT.csv with SCALE-Sim 3's columns first, in SCALE-Sim's meaning and
format (", " separated, a trailing comma), then accelsim's own (its cycles with memory,
decoder and re-read stalls, ECC outcomes, energy, bytes of stored words).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from accelsim.errors import UserError
from accelsim.fileio import read_text_capped
from accelsim.hw.pe_array import DATAFLOWS, fold_efficiency

ARCH, LAYOUT, RUN = "architecture_presets", "layout", "run_presets"
CFG_MAX_BYTES = 1 << 20          # a SCALE-Sim .cfg is a few hundred bytes
SRAM_KB = (1, 1 << 20)           # 1 kB .. 1 GiB of on-chip SRAM per buffer
ARRAY = (1, 4096)                # PE rows / columns (accelerator schema's range)
BANKS, PORTS = (1, 4096), (1, 64)
BANDWIDTH = (1, 1 << 20)         # bytes (SCALE-Sim words) per cycle
# the keys read here; any other key in the file is reported as ignored
USED = {(ARCH, "arrayheight"), (ARCH, "arraywidth"), (ARCH, "dataflow"), (ARCH, "filtersramszkb"),
        (ARCH, "ifmapsramszkb"), (ARCH, "ofmapsramszkb"), (RUN, "interfacebandwidth"),
        (LAYOUT, "filtersrambanknum"), (LAYOUT, "filtersrambankport")}


@dataclass(frozen=True)
class ScaleSimConfig:
    """A SCALE-Sim .cfg as accelerator-config overrides (the YAML's nested layout)."""
    overrides: dict
    ignored: tuple[str, ...] = ()   # "[section] Key" present in the file and not used
    kept: tuple[str, ...] = field(default=())   # what the accelerator config keeps, and why
    version: int = 3

    def notice(self, path) -> str:
        """One line for stderr: what of the file accelsim does not use."""
        parts = []
        if self.ignored:
            parts.append("ignored (no accelsim counterpart): " + ", ".join(self.ignored))
        parts.extend(self.kept)
        return f"SCALE-Sim config {path}: " + "; ".join(parts) if parts else ""


def _get(cp, section: str, key: str, where: str, *, required: bool = True):
    if not cp.has_option(section, key):
        if required:
            raise UserError(f"{where}: missing [{section}] {key}")
        return None
    raw = cp.get(section, key).strip().strip('"')
    if "%" in raw:
        raise UserError(f"{where}: [{section}] {key} = {raw[:40]!r} uses % interpolation, which accelsim does "
                        "not expand: write the value")
    return raw


def _integer(cp, section: str, key: str, where: str, bounds: tuple[int, int], *, required: bool = True):
    """An integer key (SCALE-Sim int()s them) within ``bounds``."""
    raw = _get(cp, section, key, where, required=required)
    if raw is None:
        return None
    lo, hi = bounds
    try:
        v = int(raw)
    except ValueError:
        raise UserError(f"{where}: [{section}] {key} = {raw[:40]!r} is not an integer in {lo:,}..{hi:,}") from None
    if not lo <= v <= hi:
        raise UserError(f"{where}: [{section}] {key} = {raw[:40]} is outside {lo:,}..{hi:,}")
    return v


def read_scalesim_config(path: str | Path, word_bits: int) -> ScaleSimConfig:
    """The accelerator-config overrides of a SCALE-Sim .cfg; word_bits: the image layout's
    word, to size the weight SRAM in words."""
    where = f"SCALE-Sim config {path}"
    text = read_text_capped(path, "SCALE-Sim config", CFG_MAX_BYTES)
    cp = configparser.ConfigParser(inline_comment_prefixes=("#", ";"), interpolation=None)
    try:
        cp.read_string(text)
    except configparser.Error as exc:
        raise UserError(f"{where}: not a SCALE-Sim config ({str(exc).splitlines()[0][:200]})") from None
    if not cp.has_section(ARCH):
        raise UserError(f"{where}: missing section [{ARCH}]")
    dataflow = (_get(cp, ARCH, "Dataflow", where) or "").lower()
    if dataflow not in DATAFLOWS:
        raise UserError(f"{where}: [{ARCH}] Dataflow {dataflow[:40]!r} is not one of {', '.join(DATAFLOWS)}")
    sizes = {k: _integer(cp, ARCH, f"{k}SramSzkB", where, SRAM_KB) for k in ("Ifmap", "Filter", "Ofmap")}
    out = {"pe_array": {"rows": _integer(cp, ARCH, "ArrayHeight", where, ARRAY),
                        "cols": _integer(cp, ARCH, "ArrayWidth", where, ARRAY), "dataflow": dataflow},
           "buffers": {"input_kib": sizes["Ifmap"], "output_kib": sizes["Ofmap"]}}
    kept, v3 = [], cp.has_section(LAYOUT)
    sram = {"interleave": True}   # SCALE-Sim maps consecutive elements across its banks
    if v3:
        sram["banks"] = _integer(cp, LAYOUT, "FilterSRAMBankNum", where, BANKS)
        sram["ports"] = _integer(cp, LAYOUT, "FilterSRAMBankPort", where, PORTS)
    else:
        kept.append("no [layout] section (SCALE-Sim 2): the weight SRAM keeps the accelerator config's banks "
                    "and ports")
    mode = _get(cp, RUN, "InterfaceBandwidth", where, required=False) if cp.has_section(RUN) else None
    used = set(USED)
    if mode is not None and mode.upper() == "USER":
        # SCALE-Sim 3 fills the filter SRAM at FilterSRAMBankBandwidth; SCALE-Sim 2 every SRAM at Bandwidth
        section, key = (LAYOUT, "FilterSRAMBankBandwidth") if v3 else (ARCH, "Bandwidth")
        raw = _get(cp, section, key, where)
        first = raw.split(",")[0].strip()
        try:
            bw = int(first)
        except ValueError:
            raise UserError(f"{where}: [{section}] {key} = {raw[:40]!r} is not an integer in "
                            f"{BANDWIDTH[0]:,}..{BANDWIDTH[1]:,}") from None
        if not BANDWIDTH[0] <= bw <= BANDWIDTH[1]:
            raise UserError(f"{where}: [{section}] {key} = {str(bw)[:40]} is outside {BANDWIDTH[0]:,}..{BANDWIDTH[1]:,}")
        out["dram"] = {"bytes_per_cycle": bw}
        used.add((section, key.lower()))
    else:
        kept.append("InterfaceBandwidth CALC (SCALE-Sim sizes the DRAM bandwidth so that it never stalls): "
                    "the accelerator config's dram.bytes_per_cycle is kept")
    banks = sram.get("banks")
    words = sizes["Filter"] * 1024 * 8 // word_bits
    if banks is not None:
        if words // banks < 1:
            raise UserError(f"{where}: [{ARCH}] FilterSramSzkB = {sizes['Filter']} holds no {word_bits}-bit word "
                            f"in each of {banks} banks")
        sram["words_per_bank"] = words // banks
    else:
        sram["total_words"] = words   # split over the accelerator config's banks by the caller
    out["weight_sram"] = sram
    ignored = tuple(f"[{s}] {k}" for s in cp.sections() for k in cp[s] if (s, k.lower()) not in used)
    return ScaleSimConfig(out, ignored, tuple(kept), 3 if v3 else 2)


def apply_overrides(d: dict, sc: ScaleSimConfig) -> dict:
    """The accelerator-config document ``d`` (the user's YAML, or {}) with a SCALE-Sim
    config on top. A SCALE-Sim 2 cfg (no banks) splits its filter SRAM over the banks
    the accelerator config has."""
    import copy

    from accelsim.hw.config import merge_sections, parse_config
    over = copy.deepcopy(sc.overrides)
    total = over["weight_sram"].pop("total_words", None)
    merged = merge_sections(d or {}, over)
    if total is not None:   # the banks the user's file gives, else its preset's, else the packaged ones
        preset = merged.get("preset")
        banks = ((merged.get("weight_sram") or {}).get("banks")
                 or parse_config({"preset": preset} if preset is not None else None).banks)
        if not isinstance(banks, int) or total // banks < 1:
            raise UserError(f"SCALE-Sim config: FilterSramSzkB holds no word in each of {banks} banks")
        merged["weight_sram"] = dict(merged["weight_sram"], words_per_bank=total // banks)
    return merged


UNKNOWN = "n/a"   # a quantity the model does not have (pandas reads it as NaN)
SCALESIM_COMPUTE = ("LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles", "Overall Util %",
                    "Mapping Efficiency %", "Compute Util %")
COMPUTE_COLUMNS = SCALESIM_COMPUTE + (
    "Layer Name", "accelsim Cycles", "accelsim Stall Cycles", "accelsim Overall Util %", "Compute Cycles",
    "ECC Corrected", "ECC Detected", "ECC Miscorrected", "ECC Undetected", "Re-reads", "Energy pJ")
SCALESIM_BANDWIDTH = ("LayerID", "Avg IFMAP SRAM BW", "Avg FILTER SRAM BW", "Avg OFMAP SRAM BW", "Avg IFMAP DRAM BW",
                      "Avg FILTER DRAM BW", "Avg OFMAP DRAM BW")
BANDWIDTH_COLUMNS = SCALESIM_BANDWIDTH + ("Layer Name", "FILTER SRAM Read Bits per Cycle",
                                          "FILTER DRAM Bytes per Cycle")
SCALESIM_DETAIL = ("LayerID", "SRAM IFMAP Start Cycle", "SRAM IFMAP Stop Cycle", "SRAM IFMAP Reads",
                   "SRAM Filter Start Cycle", "SRAM Filter Stop Cycle", "SRAM Filter Reads",
                   "SRAM OFMAP Start Cycle", "SRAM OFMAP Stop Cycle", "SRAM OFMAP Writes",
                   "DRAM IFMAP Start Cycle", "DRAM IFMAP Stop Cycle", "DRAM IFMAP Reads",
                   "DRAM Filter Start Cycle", "DRAM Filter Stop Cycle", "DRAM Filter Reads",
                   "DRAM OFMAP Start Cycle", "DRAM OFMAP Stop Cycle", "DRAM OFMAP Writes")
DETAIL_COLUMNS = SCALESIM_DETAIL + ("Layer Name", "SRAM Filter Read Words", "SRAM Filter Read Bits",
                                    "DRAM Filter Bytes")


def _line(values) -> str:
    return ", ".join(str(v) for v in values) + ",\n"


def _ratio(a, b) -> float:
    return round(a / max(b, 1), 6)


def _first_row(first: bool, other):
    """Values of the whole layer: on its first row, ``other`` on the rest."""
    return lambda v: v if first else other


def _per_row(rows: int):
    return lambda x: x // rows


def report_rows(result, image, energy_per_layer=None, *, per_channel: bool = False) -> dict[str, list[tuple]]:
    """The three reports' rows (with their header first) of a simulation result.

    SCALE-Sim's columns hold SCALE-Sim's quantities: Total Cycles is its compute model's
    count (:func:`accelsim.hw.pe_array.scalesim_total_cycles`, what SCALE-Sim reports when
    memory keeps up, its default CALC mode), Stall Cycles its memory stalls (0 there),
    utilization over those cycles; element counts are operands (8-bit activations,
    weights, 32-bit partial sums), DRAM filter reads are weights (SCALE-Sim's 1-byte
    words), and activation DRAM traffic, which this model does not have, is ``n/a``.
    accelsim's cycles (DRAM, SRAM, decoder and re-read stalls), ECC outcomes, energy and
    bytes of stored words are in its own columns. ``per_channel``: a depthwise layer (g
    groups) is g rows named ``<layer>Channel_<i>`` as SCALE-Sim writes a ``DP`` row of its
    topology; quantities of the whole layer (its timing, accelsim's columns) are on its
    first channel's row and ``n/a`` on the others."""
    from accelsim.hw.accelerator import layer_groups
    from accelsim.hw.controller import tile_schedule
    from accelsim.hw.pe_array import plan, scalesim_total_cycles

    cfg = result.config
    out = {"COMPUTE_REPORT.csv": [COMPUTE_COLUMNS], "BANDWIDTH_REPORT.csv": [BANDWIDTH_COLUMNS],
           "DETAILED_ACCESS_REPORT.csv": [DETAIL_COLUMNS]}
    tiles = tile_schedule(image.layers, [s.weight_passes for s in result.layers], cfg.sram_words)
    pes = cfg.rows * cfg.cols
    lid = 0
    for li, (s, layer) in enumerate(zip(result.layers, image.layers)):
        groups = layer_groups(layer)
        rows = groups if per_channel and groups > 1 else 1
        m, k, n = layer.gemm
        n_row = n // rows   # a channel row is one group's GEMM
        p = plan(m, k, n_row, cfg.rows, cfg.cols, cfg.dataflow, groups=groups // rows, os_drain=cfg.os_drain)
        mapping, compute_util = fold_efficiency(m, k, n_row, p)
        total = scalesim_total_cycles(p)
        loads = sum(t.n_words for t in tiles if t.layer == li) // max(layer.n_words, 1)
        cycles = max(s.cycles, 1)
        start = min(x for x in (s.start_cycle, s.dram_start, s.sram_start) if x >= 0)
        energy = energy_per_layer[li]["total"] if energy_per_layer else ""
        dram_window = s.dram_end - s.dram_start + 1 if s.dram_start >= 0 else 0
        filter_dram = layer.n_weights * loads
        for ch in range(rows):
            first = ch == 0
            name = f"{s.name}Channel_{ch}" if rows > 1 else s.name
            whole, ours = _first_row(first, UNKNOWN), _first_row(first, "")
            share = _per_row(rows)   # a count of the whole layer, per channel row
            out["COMPUTE_REPORT.csv"].append((
                lid, whole(s.end_cycle - start), total, 0, round(100 * share(s.macs) / (max(total, 1) * pes), 4),
                round(100 * mapping, 4), round(100 * compute_util, 4), name, ours(s.cycles), ours(s.stall_cycles),
                ours(round(100 * s.macs / (cycles * pes), 4)), p.compute_cycles, ours(s.corrected),
                ours(s.detected), ours(s.miscorrected), ours(s.undetected), ours(s.rereads),
                ours(energy if energy == "" else round(energy, 3))))
            out["BANDWIDTH_REPORT.csv"].append((
                lid, _ratio(share(s.input_reads), total), _ratio(share(layer.n_weights * s.weight_passes), total),
                _ratio(share(s.output_writes), total), UNKNOWN,
                whole(_ratio(filter_dram, dram_window) if dram_window else 0), UNKNOWN,
                name, ours(_ratio(s.sram_read_bits, cycles)),
                ours(_ratio(s.dram_bytes, dram_window) if dram_window else 0)))
            out["DETAILED_ACCESS_REPORT.csv"].append((
                lid, whole(s.start_cycle), whole(s.end_cycle), share(s.input_reads), whole(s.sram_start),
                whole(s.sram_end), share(layer.n_weights * s.weight_passes), whole(s.start_cycle),
                whole(s.end_cycle), share(s.output_writes), UNKNOWN, UNKNOWN, UNKNOWN,
                whole(max(s.dram_start, 0)), whole(max(s.dram_end, 0)), share(filter_dram),
                UNKNOWN, UNKNOWN, UNKNOWN, name, ours(s.sram_read_words), ours(s.sram_read_bits),
                ours(s.dram_bytes)))
            lid += 1
    return out


def report_texts(result, image, energy_per_layer=None, *, per_channel: bool = False) -> dict[str, str]:
    """{file name: text} of the three reports (written by the caller with its other outputs)."""
    return {name: "".join(_line(r) for r in rows)
            for name, rows in report_rows(result, image, energy_per_layer, per_channel=per_channel).items()}


def write_reports(out_dir: str | Path, result, image, energy_per_layer=None, *, per_channel: bool = False) -> list[Path]:
    """Write the three SCALE-Sim style reports into out_dir, all or none."""
    from accelsim.fileio import write_files

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--reports {out_dir} exists and is not a directory")
    files = {out_dir / name: text for name, text in report_texts(result, image, energy_per_layer,
                                                                  per_channel=per_channel).items()}
    write_files(files)
    return list(files)
