"""CLI start-up: one JSON line.

Wall time (best of ``--repeats`` fresh interpreters, ``python -m accelsim ...``) of the
answers a user waits for before any work starts: ``--help``, ``schema run``, an argument
error, a config typo and a config whose data path is missing, with the third-party modules
each one imported (numpy, pydantic, torch, ...). Target: every one under 0.5 s on an idle
machine, --help and argument errors without numpy or pydantic, config errors without torch
or numpy. The 1-minute load average is printed with the figures: on a loaded machine every
figure grows.

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5
WATCHED = ("numpy", "pydantic", "yaml", "scipy", "torch", "matplotlib", "numba", "simpy", "rich")

# runs the CLI as `python -m accelsim` does, then names the watched modules it imported
PROBE = """
import runpy, sys
sys.argv = ["accelsim", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("accelsim", run_name="__main__")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
finally:
    print("IMPORTED " + ",".join(sorted(m for m in sys.modules if m in %r)), file=sys.stderr)
sys.exit(code)
""" % (WATCHED,)


def cases(folder: Path) -> dict[str, list[str]]:
    from accelsim.run import QUICK_RUN

    text = QUICK_RUN.read_text()
    (folder / "typo.yaml").write_text(text.replace("\nchips: 2", "\nchipz: 2"))
    (folder / "nodata.yaml").write_text(text + "\ndata: mnist:no/such/folder\n")
    return {"help": ["--help"], "schema": ["schema", "run"], "argument_error": ["train", "--bits", "9", "-o", "m"],
            "config_typo": ["run", "typo.yaml", "-o", "out"], "data_error": ["run", "nodata.yaml", "-o", "out"]}


def measure(argv: list[str], cwd: Path, repeats: int) -> dict:
    times, imported, code = [], "", None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd)
        times.append(time.perf_counter() - t0)
        imported = out.stderr.rsplit("IMPORTED ", 1)[-1].strip()
        code = out.returncode
    return {"best_s": round(min(times), 3), "median_s": round(sorted(times)[len(times) // 2], 3),
            "imported": imported.split(",") if imported else [], "exit": code}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures = {name: measure(argv, folder, args.repeats) for name, argv in cases(folder).items()}
    print(json.dumps({"benchmark": "cli_startup", "repeats": args.repeats, "load_average_1min": round(load, 2),
                      "load_average_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                      "target_s": TARGET_S, **figures,
                      "all_under_target": all(f["best_s"] < TARGET_S for f in figures.values())}))


if __name__ == "__main__":
    main()
