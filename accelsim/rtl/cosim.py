"""Build and run the cocotb benches on Icarus Verilog through ``cocotb_tools.runner``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from accelsim.ecc import Code
from accelsim.rtl.generate import module_name

ROOT = Path(__file__).resolve().parents[2]
HDL_DIR = ROOT / "hdl"
BENCH_DIR = ROOT / "tests" / "hdl"


def simulator_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def run_bench(code: Code, toplevel_kind: str, testcases: list[str], build_dir: Path, *,
              reg_out: int | None = None, stats_file: Path | None = None, seed: int = 2024) -> None:
    """Build the ``toplevel_kind`` module of ``code`` (enc, dec or dec_pipe) and run the
    named cocotb tests of tests/hdl/secded_bench.py. Raises/exits on any failure."""
    from cocotb_tools.runner import get_runner

    top = module_name(code, toplevel_kind)
    sources = [HDL_DIR / f"{top}.v"]
    if toplevel_kind == "dec_pipe":
        sources.append(HDL_DIR / f"{module_name(code, 'dec')}.v")
    params = {"REG_OUT": reg_out} if reg_out is not None else {}
    runner = get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir, parameters=params,
                 always=True, timescale=("1ns", "1ps"))
    env = {"ACCELSIM_CODE": code.name, "ACCELSIM_SEED": str(seed),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])}
    if reg_out is not None:
        env["ACCELSIM_REG_OUT"] = str(reg_out)
    if stats_file is not None:
        env["ACCELSIM_STATS"] = str(stats_file)
    runner.test(hdl_toplevel=top, test_module="secded_bench", testcase=testcases,
                build_dir=build_dir, test_dir=BENCH_DIR, extra_env=env,
                results_xml=str(Path(build_dir).resolve() / "results.xml"))  # keep the source tree clean


def read_stats(stats_file: Path) -> list[dict]:
    if not stats_file.exists():
        return []
    return [json.loads(line) for line in stats_file.read_text().splitlines() if line.strip()]
