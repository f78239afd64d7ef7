"""CACTI 7 (the binary ZigZag ships) at 45 nm: 64-bit read and write energy and bank leakage of
one-bank SRAMs by capacity, for low-standby-power (itrs-lstp) and high-performance (itrs-hp)
cells and periphery -- the [C] figures of accelsim/configs/energy.yaml and docs/energy.md.

    python benchmarks/cacti_sram.py [KIB ...]      # one JSON line
"""

from __future__ import annotations

import json
import sys

from zigzag_env import run_in_zigzag

SCRIPT = r'''
import json, pathlib, re, subprocess, sys, tempfile
import zigzag
from zigzag.cacti.cacti_master.cacti_config_creator import CactiConfig
master = pathlib.Path(zigzag.__file__).parent / "cacti" / "cacti_master"
out = {}
for cell in ("itrs-lstp", "itrs-hp"):
    for kib in map(int, sys.argv[1:]):
        c = CactiConfig()
        c.baseline_config = [l.replace('-Data array cell type - "itrs-hp"', f'-Data array cell type - "{cell}"')
                             .replace('-Data array peripheral type - "itrs-hp"', f'-Data array peripheral type - "{cell}"')
                             for l in c.baseline_config]
        vals = {"mem_type": '"ram"', "cache_size": kib * 1024, "IO_bus_width": 64, "ex_rd_port": 0,
                "ex_wr_port": 0, "rd_wr_port": 1, "bank_count": 1, "technology": 0.045, "line_size": 8}
        with tempfile.TemporaryDirectory() as d:
            cfg = f"{d}/sram.cfg"
            c.write_config([v["string"] + str(vals.get(k, v["default"])) + "\n" for k, v in c.config_options.items()], cfg)
            txt = subprocess.run(["./cacti", "-infile", cfg], cwd=master, capture_output=True, text=True).stdout
        def num(pat):
            m = re.search(pat, txt)
            return float(m.group(1)) if m else None
        out[f"{cell}/{kib}KiB"] = {"read_pj_per_64b": 1e3 * num(r"Total dynamic read energy per access \(nJ\): ([\d.e+-]+)"),
                                   "write_pj_per_64b": 1e3 * num(r"Total dynamic write energy per access \(nJ\): ([\d.e+-]+)"),
                                   "leakage_mw": num(r"Total leakage power of a bank \(mW\): ([\d.e+-]+)")}
print(json.dumps(out))
'''


def main(argv: list[str]) -> None:
    sizes = argv or ["8", "32", "64", "256", "1024", "4096"]
    figures = json.loads(run_in_zigzag(SCRIPT, *sizes))
    print(json.dumps({"benchmark": "cacti_sram", "technology_um": 0.045, "port_bits": 64, "figures": figures}))


if __name__ == "__main__":
    main(sys.argv[1:])
