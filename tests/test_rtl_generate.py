"""The committed RTL is exactly what the generator writes from the codec's H matrices,
and the Yosys statistics the energy model reads are current."""

import os
import subprocess
import sys

import pytest
import yaml

from accelsim.cli import main
from accelsim.ecc import get_code
from accelsim.rtl.commands import STATS_YAML
from accelsim.rtl.cosim import HDL_DIR
from accelsim.rtl.generate import (emitted_form, generate_all, module_name, render_decoder,
                                   rtl_codes, unused_odd_syndromes)
from accelsim.rtl.synth import OPENTITAN, code_stats, yosys_available


def test_committed_hdl_equals_fresh_generation(tmp_path):
    paths = generate_all(tmp_path, c_header=True)
    assert len(paths) == 2 * len(rtl_codes()) + 2   # enc + dec per code, the pipe, secded.h
    for path in paths:
        committed = HDL_DIR / path.name
        assert committed.exists(), f"{committed} missing: run `accelsim rtl generate --c`"
        assert committed.read_text() == path.read_text(), f"{committed.name} is stale: regenerate"
    stale = {p.name for p in HDL_DIR.iterdir()} - {p.name for p in paths}
    assert not stale, f"files in hdl/ the generator no longer writes: {sorted(stale)}"


def test_module_names_follow_design_md():
    assert module_name(get_code("hsiao-72-64"), "dec") == "secded_72_64_dec"
    assert module_name(get_code("hamming-72-64"), "enc") == "secded_hamming_72_64_enc"
    assert module_name(get_code("hsiao-39-32-inv"), "dec") == "secded_39_32_dec_inv"
    assert module_name(get_code("hamming-13-8-inv"), "enc") == "secded_hamming_13_8_enc_inv"


def test_decoder_text_carries_ports_rule_and_h_fingerprint():
    code = get_code("hsiao-39-32")
    text = render_decoder(code, "strict")
    assert "module secded_39_32_dec (" in text
    for port in ("input  [38:0] data_i", "output [31:0] data_o", "output [6:0] syndrome_o",
                 "output [1:0] err_o"):
        assert port in text
    assert code.h_sha256 in text and "GENERATED" in text and "err_o rule: strict" in text
    # one XOR-reduction per syndrome bit, one comparator per data bit
    assert text.count("assign syndrome_o[") == 7 and text.count("assign data_o[") == 32
    # strict (39,32): 64 odd syndromes, 39 columns -> 25 unused ones are compared against
    assert len(unused_odd_syndromes(code)) == 25 and text.count("(syndrome_o == 7'h") == 32 + 25
    parity = render_decoder(code, "parity")
    assert "no_column" not in parity and "assign err_o[0] = odd;" in parity


def test_full_length_codes_emit_the_parity_form_under_both_rules():
    for name in ("hsiao-64-57", "hsiao-32-26", "hamming-64-57", "hamming-32-26"):
        code = get_code(name)
        assert unused_odd_syndromes(code) == []
        assert emitted_form(code, "strict") == emitted_form(code, "parity") == "parity"
        strict, parity = (render_decoder(code, r).split("`timescale")[1] for r in ("strict", "parity"))
        assert strict == parity
    assert emitted_form(get_code("hsiao-72-64"), "strict") == "strict-unused"


def test_cli_generate_writes_the_same_files_and_refuses_a_bad_rule(tmp_path, capsys):
    out = subprocess.run([sys.executable, "-m", "accelsim", "rtl", "generate", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "secded_72_64_dec.v").read_text() == (HDL_DIR / "secded_72_64_dec.v").read_text()
    assert not (tmp_path / "secded.h").exists()
    assert main(["rtl", "generate", "--out", str(tmp_path / "p"), "--rule", "parity", "--c"]) == 0
    assert "err_o rule: parity" in (tmp_path / "p" / "secded_72_64_dec.v").read_text()
    assert (tmp_path / "p" / "secded.h").read_text() == (HDL_DIR / "secded.h").read_text()
    assert main(["rtl", "generate", "--out", str(tmp_path / "b"), "--rule", "lenient"]) == 2
    assert "lenient" in capsys.readouterr().err and not (tmp_path / "b").exists()


needs_yosys = pytest.mark.skipif(not yosys_available() and os.environ.get("ACCELSIM_REQUIRE_HDL") != "1",
                                 reason="yosys not installed")


@needs_yosys
def test_committed_stats_match_a_fresh_synthesis():
    committed = yaml.safe_load(STATS_YAML.read_text())
    assert set(committed) == {c.name for c in rtl_codes()}
    fresh = code_stats(get_code("hsiao-39-32"))
    assert committed["hsiao-39-32"] == fresh


def test_parity_decoders_at_or_below_opentitan():
    """Issue 13: with the parity rule every decoder is no larger and no deeper than
    OpenTitan's prim_secded for the same code under the same Yosys script."""
    stats = yaml.safe_load(STATS_YAML.read_text())
    for name, (cells, depth) in OPENTITAN.items():
        ours = stats[name]["dec"]["parity"]
        assert ours["total"] <= cells and ours["depth"] <= depth, (name, ours, cells, depth)


def test_stats_grow_with_the_code():
    stats = yaml.safe_load(STATS_YAML.read_text())
    order = ["hsiao-13-8", "hsiao-22-16", "hsiao-32-26", "hsiao-39-32", "hsiao-64-57", "hsiao-72-64"]
    for rule in ("strict", "parity"):
        totals = [stats[c]["dec"][rule]["total"] for c in order]
        assert totals == sorted(totals) and totals[0] > 0
    for c in stats:
        enc = stats[c]["enc"]
        assert enc["and"] == enc["or"] == 0   # an encoder is a pure XOR network (+ NOT when inverted)
        for rule in ("strict", "parity"):
            dec = stats[c]["dec"][rule]
            assert dec["xor"] > 0 and dec["depth"] > enc["depth"] > 0
            assert dec["total"] == sum(dec[g] for g in ("xor", "and", "or", "not", "mux"))
