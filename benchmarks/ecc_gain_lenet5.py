"""ECC's voltage gain on LeNet-5, Fashion-MNIST next to the digits: one JSON line per data set.

    python benchmarks/ecc_gain_lenet5.py [fashion-mnist] [digits] [--write]

The demo's job (accelsim/configs/run.yaml: schemes none-8b, inplace-8b-64, ecc-8b-72, its
voltages, chips, sequential decisions, tolerance and yield target, the default BER curve,
the cycle engine) restricted to LeNet-5: on Fashion-MNIST with the checkpoints of
models/fashion-mnist and the demo's test images (the same trial keys as the demo's LeNet-5
rows, so the same figures), on the digits with the bundled checkpoints and the whole
450-image digits test split. Per scheme: the safe voltage (the yield's point estimate
reaches the target) and the one its 95 % Wilson lower bound supports, and the gain of each
code over none-8b in mV. Also wall and CPU seconds (this process and its workers).
``--write`` stores the figures (not the seconds) in benchmarks/ecc_gain_lenet5.json, the
numbers of docs/campaigns.md (tests/test_doc_claims.py compares the two).
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from accelsim.fileio import atomic_write_text, read_yaml
from accelsim.run import DEFAULT_RUN, run_job

COMMITTED = Path(__file__).with_suffix(".json")
SCHEMES = ("none-8b", "inplace-8b-64", "ecc-8b-72")
DIGITS_SAMPLES = 450   # the whole digits test split


def config(data: str) -> dict:
    cfg = {**read_yaml(DEFAULT_RUN, "run config"), "models": ["lenet5"], "schemes": list(SCHEMES),
           "name": f"ecc-gain-lenet5-{data}"}
    if data == "digits":   # the bundled digits checkpoints (models/), found from the package
        for key in ("data", "models_dir"):
            cfg.pop(key, None)
        cfg["samples"] = DIGITS_SAMPLES
    return cfg


def gain_mv(none: float | None, code: float | None) -> float | None:
    """mV by which a code lowers the safe voltage below none-8b's (None: one of them has none)."""
    return None if none is None or code is None else round(1000 * (none - code), 1)


def measure(data: str) -> dict:
    cpu0 = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_job(config(data), Path(tmp) / "run", progress=False, base_dir=DEFAULT_RUN.parent)
    cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) - cpu0
    rows = {h["scheme"]: h for h in result["headline"]}
    schemes = {s: {"fault_free": rows[s]["baseline"], "safe_v": rows[s]["vmin_safe"],
                   "safe_v_lower_bound": rows[s]["vmin_lower"], "yield_there": rows[s]["yield_at_vmin"],
                   "chips": rows[s]["chips"], "inputs": rows[s]["inputs"]} for s in SCHEMES}
    gains = {code: {"safe_v_mv": gain_mv(schemes["none-8b"]["safe_v"], schemes[code]["safe_v"]),
                    "lower_bound_mv": gain_mv(schemes["none-8b"]["safe_v_lower_bound"],
                                              schemes[code]["safe_v_lower_bound"])}
             for code in ("ecc-8b-72", "inplace-8b-64")}
    return {"benchmark": "ecc_gain_lenet5", "data": result["data"], "curve": result["curve"],
            "voltages": config(data)["voltages"], "schemes": schemes, "gain_over_none_8b": gains,
            "trials": result["campaign"]["total"], "wall_seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(cpu, 1)}


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("--")] or ["fashion-mnist", "digits"]
    unknown = [n for n in names if n not in ("fashion-mnist", "digits")]
    if unknown:
        print(f"unknown data set {unknown[0]!r}: fashion-mnist or digits", file=sys.stderr)
        return 2
    committed = json.loads(COMMITTED.read_text()) if COMMITTED.exists() else {}
    for data in names:
        out = measure(data)
        print(json.dumps(out), flush=True)
        if "--write" in argv:
            committed[data] = {k: v for k, v in out.items() if k not in ("wall_seconds", "cpu_seconds")}
            atomic_write_text(COMMITTED, json.dumps(committed, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
