"""Build and run the cocotb benches on Icarus Verilog through ``cocotb_tools.runner``.

Toplevels: ``codec`` — a harness (written into the build directory) holding the code's
encoder and its decoder under both ``err_o`` rules side by side, so one simulation checks
all three against the Python codec on the same vectors; ``dec_pipe`` — the one
parameterized ``secded_dec_pipe`` wrapper set to the code.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from accelsim.ecc import Code
from accelsim.ecc.codec import DEFAULT_RULE, RULES
from accelsim.rtl import HDL_DIR
from accelsim.rtl.generate import PIPE_MODULE, module_name, pipe_parameters, render_decoder

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "tests" / "hdl"
HARNESS = "secded_codec_harness"


def simulator_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _rule_module(code: Code, rule: str) -> str:
    return module_name(code, "dec") + ("" if rule == DEFAULT_RULE else f"_{rule}")


def render_harness(code: Code) -> str:
    """enc_i -> enc_o through the encoder; dec_i -> the decoder under each rule, all outputs
    on one bus (one read per vector): rule i's {err_o, syndrome_o, data_o} at bit
    i * (k + r + 2), in the order of RULES."""
    n, k, r = code.n, code.k, code.r
    width = len(RULES) * (k + r + 2)
    body = [f"  {module_name(code, 'enc')} u_enc (.data_i(enc_i), .data_o(enc_o));"]
    for i, rule in enumerate(RULES):
        base = i * (k + r + 2)
        body.append(f"  {_rule_module(code, rule)} u_{rule} (.data_i(dec_i), .data_o(dec_o[{base + k - 1}:{base}]), "
                    f".syndrome_o(dec_o[{base + k + r - 1}:{base + k}]), "
                    f".err_o(dec_o[{base + k + r + 1}:{base + k + r}]));")
    return "\n".join(["`timescale 1ns / 1ps", f"module {HARNESS} (",
                      f"  input  [{k - 1}:0] enc_i,", f"  output [{n - 1}:0] enc_o,",
                      f"  input  [{n - 1}:0] dec_i,", f"  output [{width - 1}:0] dec_o", ");",
                      *body, "endmodule", ""])


def _codec_sources(code: Code, build_dir: Path) -> list[Path]:
    """The committed encoder and default-rule decoder, the other rules' decoders rendered
    under a suffixed module name, and the harness."""
    src = Path(build_dir) / "src"
    src.mkdir(parents=True, exist_ok=True)
    sources = [HDL_DIR / f"{module_name(code, 'enc')}.v", HDL_DIR / f"{module_name(code, 'dec')}.v"]
    for rule in RULES:
        if rule == DEFAULT_RULE:
            continue
        text = render_decoder(code, rule).replace(f"module {module_name(code, 'dec')} (",
                                                  f"module {_rule_module(code, rule)} (")
        path = src / f"{_rule_module(code, rule)}.v"
        path.write_text(text)
        sources.append(path)
    harness = src / f"{HARNESS}.v"
    harness.write_text(render_harness(code))
    return sources + [harness]


def run_bench(code: Code, toplevel_kind: str, testcases: list[str], build_dir: Path, *,
              reg_out: int | None = None, stats_file: Path | None = None, seed: int = 2024) -> None:
    """Build the ``toplevel_kind`` (codec or dec_pipe) of ``code`` and run the named cocotb
    tests of tests/hdl/secded_bench.py. Raises/exits on any failure."""
    from cocotb_tools.runner import get_runner

    build_dir = Path(build_dir)
    params = {}
    if toplevel_kind == "codec":
        top, sources = HARNESS, _codec_sources(code, build_dir)
    elif toplevel_kind == "dec_pipe":
        top = PIPE_MODULE
        sources = [HDL_DIR / f"{PIPE_MODULE}.v", HDL_DIR / f"{module_name(code, 'dec')}.v"]
        params = pipe_parameters(code, 1 if reg_out is None else reg_out)
    else:
        raise ValueError(f"unknown bench toplevel {toplevel_kind!r}")
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
                results_xml=str(build_dir.resolve() / "results.xml"))  # keep the source tree clean


def read_stats(stats_file: Path) -> list[dict]:
    if not stats_file.exists():
        return []
    return [json.loads(line) for line in stats_file.read_text().splitlines() if line.strip()]
