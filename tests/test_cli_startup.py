"""The CLI answers --help, schema and config errors before the heavy stack is imported
(issue #21: `accelsim --help` took 3.8 s, a typo'd config field 14-28 s)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib", "numba", "simpy")

PROBE = """
import contextlib, io, json, sys
from accelsim.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "stderr": err.getvalue(),
                  "heavy": sorted(m for m in sys.modules if m.split('.')[0] in %r)}))
""" % (HEAVY,)


def _probe(tmp_path, *argv):
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def typo_config(tmp_path):
    from accelsim.run import QUICK_RUN
    text = QUICK_RUN.read_text().replace("\nchips: 2", "\nchipz: 2")
    assert "chipz" in text
    (tmp_path / "typo.yaml").write_text(text)
    return tmp_path / "typo.yaml"


def test_help_imports_no_heavy_module(tmp_path):
    got = _probe(tmp_path, "--help")
    assert got["code"] == 0
    assert got["heavy"] == []
    sub = _probe(tmp_path, "simulate", "--help")
    assert sub["code"] == 0 and sub["heavy"] == []


def test_schema_imports_no_heavy_module(tmp_path):
    got = _probe(tmp_path, "schema", "run")
    assert got["code"] == 0 and got["heavy"] == []


def test_config_typo_answers_before_torch(tmp_path, typo_config):
    got = _probe(tmp_path, "run", str(typo_config), "-o", str(tmp_path / "out"))
    assert got["code"] == 2
    assert "unknown field 'chipz' (did you mean 'chips'?)" in got["stderr"]
    assert got["heavy"] == []
    assert not (tmp_path / "out").exists()
    spec = tmp_path / "spec.yaml"
    spec.write_text("models: [lenet5]\nschemes: [none-4b]\nvoltages: [0.9]\nchipz: 2\n")
    got = _probe(tmp_path, "campaign", str(spec), "--store", str(tmp_path / "s.sqlite"))
    assert got["code"] == 2 and "'chipz'" in got["stderr"] and got["heavy"] == []
    # an existing output folder is refused before the models are loaded
    (tmp_path / "taken").mkdir()
    got = _probe(tmp_path, "run", "--quick", "-o", str(tmp_path / "taken"))
    assert got["code"] == 2 and "exists; pass --force" in got["stderr"] and got["heavy"] == []


def test_argument_error_imports_no_heavy_module(tmp_path):
    got = _probe(tmp_path, "train", "--bits", "9", "-o", "x")
    assert got["code"] == 2 and "9 must be in 1..8" in got["stderr"] and got["heavy"] == []
