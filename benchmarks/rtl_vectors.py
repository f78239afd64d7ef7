"""cocotb vectors/s through Icarus Verilog for each generated code (encoder + both rules'
decoders in one simulation): one JSON line."""

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
            run_bench(code, "codec", ["encoder_matches", "decoders_match_with_coverage"],
                      Path(tmp) / code.name, stats_file=stats)
            rows = [r for r in read_stats(stats) if "seconds" in r]
            n = sum(r["vectors"] for r in rows)
            s = sum(r["seconds"] for r in rows)
            out[code.name] = {"vectors": n, "seconds": round(s, 2), "vectors_per_s": round(n / s)}
    print(json.dumps({"benchmark": "rtl_vectors", "simulator": "icarus", "codes": out}))


if __name__ == "__main__":
    main()
