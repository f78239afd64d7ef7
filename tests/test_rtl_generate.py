"""The committed RTL is exactly what the generator writes from the codec's H matrices,
and the Yosys statistics the energy model reads are current."""

import os
import subprocess
import sys

import pytest
import yaml

from accelsim.ecc import get_code
from accelsim.rtl.cosim import HDL_DIR
from accelsim.rtl.generate import generate_all, render_decoder, rtl_codes
from accelsim.rtl.synth import code_stats, yosys_available
from accelsim.rtl.commands import STATS_YAML


def test_committed_hdl_equals_fresh_generation(tmp_path):
    paths = generate_all(tmp_path)
    assert len(paths) == 3 * len(rtl_codes())
    for path in paths:
        committed = HDL_DIR / path.name
        assert committed.exists(), f"{committed} missing: run `accelsim rtl generate`"
        assert committed.read_text() == path.read_text(), f"{committed.name} is stale: regenerate"


def test_decoder_text_carries_ports_and_h_fingerprint():
    code = get_code("hsiao-39-32")
    text = render_decoder(code)
    assert "module secded_39_32_dec (" in text
    for port in ("input  [38:0] data_i", "output [31:0] data_o", "output [6:0] syndrome_o",
                 "output [1:0] err_o"):
        assert port in text
    assert code.h_sha256 in text and "GENERATED" in text
    # one XOR-reduction per syndrome bit, one comparator per column
    assert text.count("assign syndrome_o[") == 7 and text.count("assign flip[") == 39


def test_cli_generate_writes_the_same_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "accelsim", "rtl", "generate", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "secded_72_64_dec.v").read_text() == (HDL_DIR / "secded_72_64_dec.v").read_text()


needs_yosys = pytest.mark.skipif(not yosys_available() and os.environ.get("ACCELSIM_REQUIRE_HDL") != "1",
                                 reason="yosys not installed")


@needs_yosys
def test_committed_stats_match_a_fresh_synthesis():
    committed = yaml.safe_load(STATS_YAML.read_text())
    assert set(committed) == {c.name for c in rtl_codes()}
    fresh = code_stats(get_code("hsiao-39-32"), HDL_DIR)
    assert committed["hsiao-39-32"] == fresh


@needs_yosys
def test_stats_grow_with_the_code():
    stats = yaml.safe_load(STATS_YAML.read_text())
    order = ["hsiao-13-8", "hsiao-22-16", "hsiao-32-26", "hsiao-39-32", "hsiao-64-57", "hsiao-72-64"]
    totals = [stats[c]["dec"]["total"] for c in order]
    assert totals == sorted(totals) and totals[0] > 0
    for c in order:
        dec, enc = stats[c]["dec"], stats[c]["enc"]
        assert dec["xor"] > 0 and dec["depth"] > enc["depth"] > 0
        assert enc["and"] == enc["or"] == 0   # an encoder is a pure XOR network
        assert dec["total"] == sum(dec[g] for g in ("xor", "and", "or", "not", "mux"))
