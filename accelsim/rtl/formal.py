"""Formal proofs of the generated RTL with Yosys SAT, and the exact checks on H behind them.

SAT is slow on XOR-heavy miters whose error positions are symbolic (encode -> flip at a
free position -> decode), so the SEC-DED properties are split (DESIGN.md):

1. :func:`check_code` checks, exactly and in Python, that the code's H, G, inversion and
   status table have the properties: H [I; G] = 0 (every encoded word has syndrome 0, so
   decode(encode(d)) = d with err 00), the columns are nonzero and distinct and every
   column's syndrome class is "corrected" (a single flip is undone with err 01), and the
   sum of any two columns is classified "uncorrectable" (any double flip gives err 10),
   under the given ``err_o`` rule.
2. :func:`prove_decoder` proves with ``sat -prove`` over all 2**n inputs that the
   generated decoder equals a reference written straight from H: syndrome = H . (stored
   word with its inverted bits restored), row by row, data_o[j] = data_i[j] ^ (syndrome ==
   h_j), err_o from the class of the syndrome in the Python codec's status table (a case
   over all 2**r syndromes). Written row by row, the syndrome logic of the two sides maps
   to the same XOR cells, so the solver spends its time on the comparators and the err_o
   logic, not on re-associating wide XORs (a bit-serial reference took 560 s for (64,57)).
   :func:`prove_encoder` does the same for the encoder against G.
3. :func:`prove_pipe` proves by induction that ``secded_dec_pipe`` equals the
   combinational decoder one cycle later (REG_OUT=1) or in the same cycle (REG_OUT=0).

Together: the RTL has the SEC-DED properties on every input, and equals the Python codec
(syndrome, data and status) on every input.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.ecc import Code, gf2
from accelsim.ecc.codec import check_rule
from accelsim.rtl.generate import PIPE_MODULE, module_name, pipe_parameters


@dataclass(frozen=True)
class Proof:
    """Outcome of one Yosys SAT proof."""
    what: str
    proved: bool
    seconds: float
    log: str


def _hex(value: int, width: int) -> str:
    return f"{width}'h{value:0{(width + 3) // 4}x}"


def check_code(code: Code, rule: str) -> None:
    """AssertionError unless (H, G, inversion, status table) give SEC-DED under ``rule``."""
    n, k = code.n, code.k
    generator = np.concatenate([np.eye(k, dtype=np.uint8), code.G.T], axis=1)   # (k, n) rows
    assert not gf2.matmul(code.H, generator.T).any(), f"{code.name}: H [I; G] != 0"
    cols = [int(c) for c in code.columns]
    assert all(cols) and len(set(cols)) == n, f"{code.name}: columns not nonzero and distinct"
    table = code.status_table(rule)
    assert table[0] == 0, f"{code.name}: syndrome 0 is not clean"
    bad = [j for j, c in enumerate(cols) if table[c] != 1]
    assert not bad, f"{code.name} ({rule}): single errors at {bad} not classified corrected"
    pairs = [(i, j) for i, j in itertools.combinations(range(n), 2) if table[cols[i] ^ cols[j]] != 2]
    assert not pairs, f"{code.name} ({rule}): double errors {pairs[:5]} not classified uncorrectable"


def render_reference_decoder(code: Code, rule: str, top: str = "ref_dec") -> str:
    """A decoder written from H, the inversion and the status table, nothing else:
    syndrome bit i = row i of H times the stored word with its inverted bits restored."""
    n, k, r = code.n, code.k, code.r
    table = code.status_table(check_rule(rule))
    corrected = [s for s in range(1 << r) if table[s] == 1]
    lines = [f"module {top} (input [{n - 1}:0] data_i, output [{k - 1}:0] data_o,",
             f"  output [{r - 1}:0] syndrome_o, output reg [1:0] err_o);",
             f"  wire [{n - 1}:0] word = data_i ^ {_hex(code.invert_word, n)};"]
    lines += [f"  assign syndrome_o[{i}] = ^(word & {_hex(_row(code.H[i]), n)});" for i in range(r)]
    lines += [f"  assign data_o[{j}] = data_i[{j}] ^ (syndrome_o == {_hex(int(code.columns[j]), r)});"
              for j in range(k)]
    lines += ["  always @* begin", "    case (syndrome_o)", f"      {r}'d0: err_o = 2'b00;",
              "      " + ", ".join(_hex(s, r) for s in corrected) + ": err_o = 2'b01;",
              "      default: err_o = 2'b10;", "    endcase", "  end", "endmodule", ""]
    return "\n".join(lines)


def _row(bits) -> int:
    return sum(1 << int(j) for j in np.flatnonzero(bits))


def render_reference_encoder(code: Code, top: str = "ref_enc") -> str:
    """An encoder written from G: check bit i is the XOR of the data bits j with G[i, j],
    then the inverted bits flipped."""
    n, k, r = code.n, code.k, code.r
    checks = ", ".join(f"^(data_i & {_hex(_row(code.G[i]), k)})" for i in reversed(range(r)))
    return "\n".join([f"module {top} (input [{k - 1}:0] data_i, output [{n - 1}:0] data_o);",
                      f"  assign data_o = {{{checks}, data_i}} ^ {_hex(code.invert_word, n)};",
                      "endmodule", ""])


def yosys_available() -> bool:
    return shutil.which("yosys") is not None


def _run_yosys(files: dict[str, str], script: str, what: str) -> Proof:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
        t0 = time.perf_counter()
        proc = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    # `sat -verify` makes yosys exit nonzero when the proof fails; any other error is a bug
    if proc.returncode != 0 and "proof did fail" not in log:
        raise RuntimeError(f"yosys failed on {what}: {log[-800:]}")
    return Proof(what, proc.returncode == 0, seconds, log)


def _equivalence(gold_text: str, gold_top: str, gate_text: str, gate_top: str, what: str) -> Proof:
    script = ("read_verilog gold.v; read_verilog gate.v; proc -norom; opt_clean; "
              f"miter -equiv -flatten -make_assert {gold_top} {gate_top} miter; "
              "hierarchy -top miter; opt -fast; sat -verify -prove-asserts miter")
    return _run_yosys({"gold.v": gold_text, "gate.v": gate_text}, script, what)


def prove_decoder(code: Code, rule: str, rtl_text: str) -> Proof:
    """SAT: the decoder RTL ``rtl_text`` equals the H reference on all 2**n inputs."""
    return _equivalence(render_reference_decoder(code, rule), "ref_dec", rtl_text,
                        module_name(code, "dec"), f"{code.name} decoder ({rule})")


def prove_encoder(code: Code, rtl_text: str) -> Proof:
    """SAT: the encoder RTL equals the G reference on all 2**k inputs."""
    return _equivalence(render_reference_encoder(code), "ref_enc", rtl_text,
                        module_name(code, "enc"), f"{code.name} encoder")


def render_pipe_check(code: Code, reg_out: int) -> str:
    """A checker: the pipe's outputs equal the decoder's (and valid_i) delayed REG_OUT cycles."""
    n, k, r = code.n, code.k, code.r
    params = ", ".join(f".{p}({v})" for p, v in pipe_parameters(code, reg_out).items())
    dec = module_name(code, "dec")
    width = 1 + k + r + 2
    lines = [
        "module pipe_check (input clk_i, input rst_ni, input valid_i, input [%d:0] data_i);" % (n - 1),
        "  wire valid_o; wire [%d:0] data_o; wire [%d:0] syndrome_o; wire [1:0] err_o;" % (k - 1, r - 1),
        f"  {PIPE_MODULE} #({params}) dut (.clk_i(clk_i), .rst_ni(rst_ni), .valid_i(valid_i),",
        "    .data_i(data_i), .valid_o(valid_o), .data_o(data_o), .syndrome_o(syndrome_o), .err_o(err_o));",
        "  wire [%d:0] d; wire [%d:0] s; wire [1:0] e;" % (k - 1, r - 1),
        f"  {dec} comb (.data_i(data_i), .data_o(d), .syndrome_o(s), .err_o(e));",
        f"  wire [{width - 1}:0] now = {{valid_i, d, s, e}};",
    ]
    if reg_out:
        lines += [f"  reg [{width - 1}:0] last;",
                  "  always @(posedge clk_i or negedge rst_ni)",
                  f"    if (!rst_ni) last <= {width}'d0; else last <= now;",
                  "  always @* assert ({valid_o, data_o, syndrome_o, err_o} == last);"]
    else:
        lines.append("  always @* assert ({valid_o, data_o, syndrome_o, err_o} == now);")
    lines += ["endmodule", ""]
    return "\n".join(lines)


def prove_pipe(code: Code, hdl_dir: Path, reg_out: int) -> Proof:
    """Induction: secded_dec_pipe equals the combinational decoder one cycle later."""
    hdl_dir = Path(hdl_dir)
    files = {"check.v": render_pipe_check(code, reg_out),
             "pipe.v": (hdl_dir / f"{PIPE_MODULE}.v").read_text(),
             "dec.v": (hdl_dir / f"{module_name(code, 'dec')}.v").read_text()}
    script = ("read_verilog pipe.v; read_verilog dec.v; read_verilog -formal check.v; "
              "hierarchy -top pipe_check; proc -norom; flatten; async2sync; opt; "
              "sat -verify -prove-asserts -tempinduct -set-init-zero -seq 1 pipe_check")
    return _run_yosys(files, script, f"{code.name} pipe REG_OUT={reg_out}")


def render_direct_check(code: Code) -> str:
    """Encoder -> any error pattern e -> decoder, with the SEC-DED properties asserted on
    the RTL itself: e = 0 gives d and err 00, one flipped bit gives d and err 01, two give
    err 10. Symbolic error positions make this XOR-heavy: used for the small codes."""
    n, k = code.n, code.k
    return "\n".join([
        f"module direct_check (input [{k - 1}:0] d, input [{n - 1}:0] e);",
        f"  wire [{n - 1}:0] cw; wire [{k - 1}:0] data_o; wire [{code.r - 1}:0] syndrome_o; wire [1:0] err_o;",
        f"  {module_name(code, 'enc')} u_enc (.data_i(d), .data_o(cw));",
        f"  {module_name(code, 'dec')} u_dec (.data_i(cw ^ e), .data_o(data_o), .syndrome_o(syndrome_o), .err_o(err_o));",
        f"  wire [{n - 1}:0] rest = e & (e - 1'b1);           // e without its lowest set bit",
        "  wire one = (e != 0) && (rest == 0);",
        "  wire two = (rest != 0) && ((rest & (rest - 1'b1)) == 0);",
        "  always @* begin",
        "    if (e == 0) assert (data_o == d && err_o == 2'b00);",
        "    if (one) assert (data_o == d && err_o == 2'b01);",
        "    if (two) assert (err_o == 2'b10);",
        "  end",
        "endmodule", ""])


def prove_direct(code: Code, enc_text: str, dec_text: str) -> Proof:
    """SAT on the RTL alone: round trip, every single and every double error."""
    script = ("read_verilog enc.v; read_verilog dec.v; read_verilog -formal check.v; "
              "hierarchy -top direct_check; proc -norom; flatten; opt -fast; "
              "sat -verify -prove-asserts direct_check")
    return _run_yosys({"enc.v": enc_text, "dec.v": dec_text, "check.v": render_direct_check(code)},
                      script, f"{code.name} direct SEC-DED")
