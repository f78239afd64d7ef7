"""Cells / depth of every generated decoder under each err_o rule, next to OpenTitan's
prim_secded, and the time of every Yosys SAT proof: one JSON line.

    .venv/bin/python benchmarks/rtl_formal.py [--no-synth]
"""

from __future__ import annotations

import argparse
import json
import time

from accelsim.ecc.codec import RULES
from accelsim.rtl.cosim import HDL_DIR
from accelsim.rtl.formal import check_code, prove_decoder, prove_encoder, prove_pipe
from accelsim.rtl.generate import render_decoder, render_encoder, rtl_codes
from accelsim.rtl.synth import OPENTITAN, code_stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-synth", action="store_true", help="proof times only")
    args = ap.parse_args()
    t_all = time.perf_counter()
    codes, proof_s, failed = {}, 0.0, []
    for code in rtl_codes():
        row = {}
        if not args.no_synth:
            st = code_stats(code)
            row["enc"] = [st["enc"]["total"], st["enc"]["depth"]]
            for rule in RULES:
                row[f"dec_{rule}"] = [st["dec"][rule]["total"], st["dec"][rule]["depth"]]
            if code.name in OPENTITAN:
                row["opentitan_dec"] = list(OPENTITAN[code.name])
        proofs = [prove_encoder(code, render_encoder(code)), prove_pipe(code, HDL_DIR, 1)]
        for rule in RULES:
            check_code(code, rule)
            proofs.append(prove_decoder(code, rule, render_decoder(code, rule)))
        row["proof_s"] = {p.what.split(" ", 1)[1]: round(p.seconds, 2) for p in proofs}
        proof_s += sum(p.seconds for p in proofs)
        failed += [p.what for p in proofs if not p.proved]
        codes[code.name] = row
    print(json.dumps({"benchmark": "rtl_formal", "yosys": "0.23", "codes": codes,
                      "proof_seconds_total": round(proof_s, 1), "failed": failed,
                      "wall_seconds": round(time.perf_counter() - t_all, 1)}))


if __name__ == "__main__":
    main()
