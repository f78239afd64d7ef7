"""cocotb vectors/s through Icarus Verilog for each generated decoder: one JSON line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from accelsim.rtl.cosim import read_stats, run_bench
from accelsim.rtl.generate import rtl_codes


def main():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for code in rtl_codes():
            stats = Path(tmp) / f"{code.name}.jsonl"
            run_bench(code, "dec", ["clean_and_single_errors", "double_errors", "multi_errors"],
                      Path(tmp) / code.name, stats_file=stats)
            rows = read_stats(stats)
            n = sum(r["vectors"] for r in rows)
            s = sum(r["seconds"] for r in rows)
            out[code.name] = {"vectors": n, "seconds": round(s, 2), "vectors_per_s": round(n / s)}
    print(json.dumps({"benchmark": "rtl_vectors", "simulator": "icarus", "decoders": out}))


if __name__ == "__main__":
    main()
