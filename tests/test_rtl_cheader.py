"""hdl/secded.h (``accelsim rtl generate --c``) compiled with the system C compiler gives
the Python codec's codewords, syndromes, data and status under both err_o rules."""

import shutil
import subprocess

import numpy as np
import pytest

from accelsim.ecc import RULES
from accelsim.rtl.cosim import HDL_DIR
from accelsim.rtl.generate import rtl_codes

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")

PROGRAM = r"""
#include <inttypes.h>
#include <stdio.h>
#include "secded.h"

/* stdin: "<code> enc <lo> <hi>" or "<code> <rule 0|1> <lo> <hi>" (hex lanes); one answer a line */
int main(void) {
  char name[64], op[8];
  uint64_t in[2], out[2];
  while (scanf("%63s %7s %" SCNx64 " %" SCNx64, name, op, &in[0], &in[1]) == 4) {
    const secded_code_t *c = secded_find(name);
    if (!c) { printf("unknown %s\n", name); return 1; }
    if (op[0] == 'e') {
      secded_encode(c, in, out);
      printf("%" PRIx64 " %" PRIx64 "\n", out[0], out[1]);
    } else {
      unsigned s;
      int status = secded_decode(c, in, op[0] - '0', out, &s);
      printf("%" PRIx64 " %" PRIx64 " %d %u\n", out[0], out[1], status, s);
    }
  }
  return 0;
}
"""


def lanes2(words: np.ndarray) -> list[tuple[int, int]]:
    return [(int(w[0]), int(w[1]) if len(w) > 1 else 0) for w in words]


def test_c_header_matches_the_python_codec(tmp_path):
    (tmp_path / "check.c").write_text(PROGRAM)
    exe = tmp_path / "check"
    build = subprocess.run([CC, "-std=c99", "-O1", "-Wall", "-Werror", "-I", str(HDL_DIR),
                            str(tmp_path / "check.c"), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    rng = np.random.default_rng(13)
    lines, expected = [], []
    for code in rtl_codes():
        data = rng.integers(0, 2**63, size=(64, code.lanes_in), dtype=np.uint64) * np.uint64(2) + \
            rng.integers(0, 2, size=(64, code.lanes_in), dtype=np.uint64)
        data &= code._data_mask
        cw = code.encode(data)
        for (lo, hi), (clo, chi) in zip(lanes2(data), lanes2(cw)):
            lines.append(f"{code.name} enc {lo:x} {hi:x}")
            expected.append(f"{clo:x} {chi:x}")
        # 0..3 flipped bits per word, plus the all-zero and all-one words
        flips = rng.integers(0, 4, size=len(cw))
        bad = cw.copy()
        for i, m in enumerate(flips):
            for p in rng.choice(code.n, m, replace=False):
                bad[i, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
        ones = np.zeros((1, code.lanes_out), np.uint64)
        for p in range(code.n):
            ones[0, p // 64] |= np.uint64(1) << np.uint64(p % 64)
        bad = np.concatenate([bad, np.zeros_like(ones), ones])
        for r, rule in enumerate(RULES):
            d = code.decode_detail(bad, rule)
            for (lo, hi), (dlo, dhi), st, s in zip(lanes2(bad), lanes2(d.data), d.status, d.syndrome):
                lines.append(f"{code.name} {r} {lo:x} {hi:x}")
                expected.append(f"{dlo:x} {dhi:x} {int(st)} {int(s)}")
    run = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-500:]
    got = run.stdout.splitlines()
    assert len(got) == len(expected) == len(rtl_codes()) * (64 + 2 * 66)
    bad_rows = [(lines[i], got[i], expected[i]) for i in range(len(got)) if got[i] != expected[i]]
    assert not bad_rows, bad_rows[:5]


def test_c_header_rule_order_matches_python():
    text = (HDL_DIR / "secded.h").read_text()
    assert RULES == ("strict", "parity")
    assert "SECDED_RULE_STRICT = 0, SECDED_RULE_PARITY = 1" in text
    assert text.count("static const secded_code_t secded_") == len(rtl_codes())
