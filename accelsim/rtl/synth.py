"""Gate counts and logic depth of the generated RTL, by Yosys.

Each module is synthesized to a generic gate library (``abc -g`` with AND, NAND, OR,
NOR, XOR, XNOR, ANDNOT, ORNOT and MUX two-input cells, plus NOT), flattened; ``stat
-json`` gives the cells by type and ``ltp -noff`` the longest topological path (the
number of cells on it), our measure of logic depth. The energy model turns these counts
into decoder energy and area (docs/energy.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from accelsim.errors import UserError

GATE_LIBRARY = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"
GROUPS = {
    "xor": ("$_XOR_", "$_XNOR_"),
    "and": ("$_AND_", "$_NAND_", "$_ANDNOT_"),
    "or": ("$_OR_", "$_NOR_", "$_ORNOT_"),
    "not": ("$_NOT_",),
    "mux": ("$_MUX_",),
}


def yosys_available() -> bool:
    return shutil.which("yosys") is not None


def synthesize(sources: list[Path], top: str) -> dict:
    """Cells by group, total cells and depth of module ``top`` built from ``sources``."""
    if not yosys_available():
        raise UserError("yosys is not installed (Debian: apt-get install yosys)")
    with tempfile.TemporaryDirectory() as tmp:
        stat, ltp = Path(tmp) / "stat.json", Path(tmp) / "ltp.txt"
        reads = "; ".join(f"read_verilog {s}" for s in sources)
        script = (f"{reads}; synth -flatten -top {top}; abc -g {GATE_LIBRARY}; opt_clean; "
                  f"tee -q -o {stat} stat -json; tee -q -o {ltp} ltp -noff")
        proc = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed on {top}: {proc.stderr.strip()[-500:]}")
        cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
        depth = int(re.search(r"length=(\d+)", ltp.read_text()).group(1))
    unknown = set(cells) - {c for group in GROUPS.values() for c in group}
    if unknown:
        raise RuntimeError(f"unexpected cell types from yosys: {sorted(unknown)}")
    out = {g: sum(int(cells.get(c, 0)) for c in types) for g, types in GROUPS.items()}
    out["total"] = sum(int(v) for v in cells.values())
    out["depth"] = depth
    return out


def code_stats(code) -> dict:
    """{"enc": figures, "dec": {rule: figures}} for the RTL the generator writes for ``code``."""
    from accelsim.ecc.codec import RULES
    from accelsim.rtl.generate import module_name, render_decoder, render_encoder

    with tempfile.TemporaryDirectory() as tmp:
        enc = Path(tmp) / "enc.v"
        enc.write_text(render_encoder(code))
        out = {"enc": synthesize([enc], module_name(code, "enc")), "dec": {}}
        for rule in RULES:
            dec = Path(tmp) / f"dec_{rule}.v"
            dec.write_text(render_decoder(code, rule))
            out["dec"][rule] = synthesize([dec], module_name(code, "dec"))
    return out


# OpenTitan prim_secded_*_dec synthesized with this module's Yosys script (Yosys 0.23),
# as reported in issue 13 (docs/rtl.md): code -> (cells, depth).
OPENTITAN = {"hsiao-72-64": (354, 11), "hsiao-64-57": (322, 11), "hsiao-39-32": (190, 10),
             "hsiao-22-16": (107, 9), "hamming-72-64": (336, 12)}


def markdown_table(stats: dict) -> str:
    rows = ["| code | block | XOR/XNOR | AND/NAND/ANDNOT | OR/NOR/ORNOT | NOT | MUX | total cells | depth |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, kinds in stats.items():
        blocks = [("encoder", kinds["enc"])] + [(f"decoder ({rule})", s) for rule, s in kinds["dec"].items()]
        for label, s in blocks:
            rows.append(f"| {name} | {label} | {s['xor']} | {s['and']} | {s['or']} | {s['not']} | "
                        f"{s['mux']} | {s['total']} | {s['depth']} |")
    return "\n".join(rows) + "\n"


def opentitan_table(stats: dict) -> str:
    """Decoder cells / depth: OpenTitan's prim_secded next to ours under each rule."""
    rows = ["| code | OpenTitan cells / depth | accelsim parity | accelsim strict |", "|---|---|---|---|"]
    for name, (cells, depth) in OPENTITAN.items():
        dec = stats[name]["dec"]
        rows.append(f"| {name} | {cells} / {depth} | {dec['parity']['total']} / {dec['parity']['depth']} | "
                    f"{dec['strict']['total']} / {dec['strict']['depth']} |")
    return "\n".join(rows) + "\n"
