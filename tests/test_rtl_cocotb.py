"""Co-verification: the generated Verilog against the Python codec, on Icarus via cocotb.

Every code (both families, plain and inverted) in one simulation each: the encoder and
the decoder under both err_o rules on the same vectors, with functional coverage of the
syndrome classes. In CI (ACCELSIM_REQUIRE_HDL=1) a missing simulator is a failure.
"""

import os
from math import comb

import pytest

from accelsim.rtl.cosim import read_stats, run_bench, simulator_available
from accelsim.rtl.coverage import double_classes
from accelsim.rtl.generate import rtl_codes, unused_odd_syndromes

if not simulator_available():
    if os.environ.get("ACCELSIM_REQUIRE_HDL") == "1":
        raise RuntimeError("Icarus Verilog (iverilog, vvp) is required: ACCELSIM_REQUIRE_HDL=1")
    pytest.skip("Icarus Verilog not installed (apt-get install iverilog)", allow_module_level=True)

CODES = rtl_codes()


@pytest.mark.parametrize("code", CODES, ids=[c.name for c in CODES])
def test_rtl_matches_python_under_both_rules_with_full_coverage(code, tmp_path):
    stats = tmp_path / "stats.jsonl"
    run_bench(code, "codec", ["encoder_matches", "decoders_match_with_coverage"], tmp_path / "build",
              stats_file=stats)
    rows = {r["bench"]: r for r in read_stats(stats)}
    assert rows["encode"]["vectors"] == 502
    assert rows["decode"]["vectors"] == 16 * (code.n + 1) + comb(code.n, 2) + 1000 + 300 + 2
    cov = rows["coverage"]
    # every column hit as a single error, every double-error class hit
    assert cov["columns_hit"] == cov["columns"] == code.n
    assert cov["double_classes_hit"] == cov["double_classes"] == len(double_classes(code))
    strict, parity = cov["triples"]["strict"], cov["triples"]["parity"]
    assert strict["vectors"] == parity["vectors"] == 1000
    assert strict["undetected"] == parity["undetected"] == 0        # an odd syndrome is never 0
    assert parity["flagged"] == 0                                   # odd syndrome => "corrected"
    assert parity["miscorrected"] > 950
    if unused_odd_syndromes(code):      # strict flags the triples that match no column
        assert strict["flagged"] > 100 and strict["miscorrected"] > 400
    else:                               # full-length code: the rules are the same function
        assert strict == parity


@pytest.mark.parametrize("reg_out", [1, 0])
@pytest.mark.parametrize("code", [c for c in CODES if c.name in ("hsiao-72-64", "hamming-39-32-inv")],
                         ids=lambda c: c.name)
def test_pipelined_stream_cycle_by_cycle(code, reg_out, tmp_path):
    stats = tmp_path / "stats.jsonl"
    run_bench(code, "dec_pipe", ["pipelined_stream"], tmp_path / "build", reg_out=reg_out,
              stats_file=stats)
    assert read_stats(stats)[0]["vectors"] == 2000
