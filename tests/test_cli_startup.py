"""The CLI answers --help, schema and config errors before the heavy stack is imported
(issue #21: `accelsim --help` took 3.8 s, a typo'd config field 14-28 s; benchmarks/cli_startup.py
times them). --help and argument errors load neither numpy nor pydantic; schema and config
errors load pydantic (it is the validator) but not numpy."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib", "numba", "simpy", "numpy", "scipy", "pydantic", "yaml", "rich")
# what a config check may load: the validator and the YAML reader
CONFIG_CHECK = ["pydantic", "yaml"]

PROBE = """
import contextlib, io, json, sys
from accelsim.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "stderr": err.getvalue(),
                  "heavy": sorted({m.split('.')[0] for m in sys.modules} & set(%r))}))
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
    assert got["code"] == 0 and got["heavy"] == ["pydantic"]


def test_config_typo_answers_before_torch(tmp_path, typo_config):
    got = _probe(tmp_path, "run", str(typo_config), "-o", str(tmp_path / "out"))
    assert got["code"] == 2
    assert "unknown field 'chipz' (did you mean 'chips'?)" in got["stderr"]
    assert got["heavy"] == CONFIG_CHECK
    assert not (tmp_path / "out").exists()
    spec = tmp_path / "spec.yaml"
    spec.write_text("models: [lenet5]\nschemes: [none-4b]\nvoltages: [0.9]\nchipz: 2\n")
    got = _probe(tmp_path, "campaign", str(spec), "--store", str(tmp_path / "s.sqlite"))
    assert got["code"] == 2 and "'chipz'" in got["stderr"] and got["heavy"] == CONFIG_CHECK
    # an existing output folder is refused before the models are loaded
    (tmp_path / "taken").mkdir()
    got = _probe(tmp_path, "run", "--quick", "-o", str(tmp_path / "taken"))
    assert got["code"] == 2 and "exists; pass --force" in got["stderr"] and got["heavy"] == CONFIG_CHECK


def test_argument_error_imports_no_heavy_module(tmp_path):
    got = _probe(tmp_path, "train", "--bits", "9", "-o", "x")
    assert got["code"] == 2 and "9 must be in 1..8" in got["stderr"] and got["heavy"] == []
    got = _probe(tmp_path, "export", "models/lenet5-int8", "--layout", "inplace-8b-6")
    assert got["code"] == 2 and "invalid choice: 'inplace-8b-6'" in got["stderr"] and got["heavy"] == []
    got = _probe(tmp_path, "schema", "runn")
    assert got["code"] == 2 and "invalid choice: 'runn'" in got["stderr"] and got["heavy"] == []


@pytest.mark.parametrize("source, message", [
    ("mnsit:/x", "unknown source 'mnsit'"),
    ("mnist:no/such/folder", "no/such/folder' does not exist"),
    ("npz:inputs.npz", "inputs.npz' does not exist"),
    ("synthetic:0x1x8x8", "synthetic needs NxCxHxW"),
    ("synthetic:100000x3x224x224", "synthetic: 15,052,800,000 values is more than 134,217,728"),
])
def test_a_bad_data_spec_answers_before_torch(tmp_path, source, message):
    """The data spec (its text, sizes and path) of a config and of --data is checked by the
    one validator (accelsim.schema.data_source) before torch or numpy is imported."""
    from accelsim.run import QUICK_RUN
    (tmp_path / "cfg.yaml").write_text(QUICK_RUN.read_text() + f"\ndata: {source}\n")
    got = _probe(tmp_path, "run", "cfg.yaml", "-o", "out")
    assert got["code"] == 2 and message in got["stderr"] and got["stderr"].startswith("accelsim: error: run config")
    assert got["heavy"] == CONFIG_CHECK and not (tmp_path / "out").exists()
    (tmp_path / "spec.yaml").write_text(f"models: [lenet5]\nschemes: [none-4b]\nvoltages: [0.9]\ndata: {source}\n")
    got = _probe(tmp_path, "campaign", "spec.yaml", "--store", "s.sqlite")
    assert got["code"] == 2 and message in got["stderr"] and got["heavy"] == CONFIG_CHECK
    assert not (tmp_path / "s.sqlite").exists()
    for argv in (["train", "-o", "m"], ["export", "models/lenet5-int8", "--layout", "none-8b", "-o", "img"],
                 ["infer", "models/lenet5-int8"], ["simulate", "--image", "img"]):
        got = _probe(tmp_path, *argv, "--data", source)
        assert got["code"] == 2 and message in got["stderr"], (argv, got)
        assert got["heavy"] == ["pydantic"], (argv, got["heavy"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml", "spec.yaml"]


def test_run_to_a_file_shows_progress_before_it_ends(tmp_path):
    """`accelsim run > log`: labelled progress lines reach the file while the run is going."""
    import os
    import time

    import yaml

    from accelsim.run import QUICK_RUN
    cfg = yaml.safe_load(QUICK_RUN.read_text())
    cfg.update(voltages=[0.9, 0.5], samples=60, sensitivity=None, engine="cycle")
    cfg.pop("sensitivity")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    log = tmp_path / "log.txt"
    env = {**os.environ, "ACCELSIM_PROGRESS_INTERVAL": "0.5"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "accelsim", "run", "run.yaml", "-o", "out"], stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        seen_running = None
        while proc.poll() is None:
            text = log.read_text()
            if "main sweep trials:" in text and "report:" not in text:
                seen_running = text
            time.sleep(0.2)
    assert proc.returncode == 0, log.read_text()
    assert seen_running is not None, log.read_text()          # written before the run ended
    final = log.read_text()
    assert "main sweep trials: 0/8 to start" in final and "main sweep trials: 8/8 (100 %)" in final
    assert "— done" in final and "report:" in final
    assert final.index("main sweep trials: 0/8") < final.index("where it is safe")


def test_train_prints_one_line_per_epoch_through_a_pipe(tmp_path):
    """`accelsim train ... | cat`: a line per epoch with loss, train and held-out accuracy
    and time; --quiet silences them."""
    import re
    cmd = f"'{sys.executable}' -m accelsim train --epochs 2 --qat-epochs 1 --bits 4 -o m | cat"
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if " epoch " in ln]
    assert [ln.split(":")[0] for ln in lines] == ["lenet5 fp32 epoch 1/2", "lenet5 fp32 epoch 2/2",
                                                   "lenet5 int4 QAT epoch 1/1"]
    pattern = re.compile(r": loss (\d+\.\d{4}), train accuracy (\d+\.\d\d) %, held-out accuracy (\d+\.\d\d) %, "
                         r"\d+\.\d s$")
    figures = [pattern.search(ln) for ln in lines]
    assert all(figures), lines
    losses = [float(m.group(1)) for m in figures]
    assert losses[1] < losses[0]                         # the second epoch learnt something
    assert all(0 < float(m.group(3)) <= 100 for m in figures)
    quiet = subprocess.run(cmd.replace("-o m", "-o q --quiet"), shell=True, capture_output=True, text=True,
                           cwd=tmp_path, timeout=600)
    assert quiet.returncode == 0 and " epoch " not in quiet.stdout and "test accuracy" in quiet.stdout


def test_train_refuses_an_unexportable_network_before_the_first_epoch(tmp_path):
    (tmp_path / "net.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(64, 10)\n\n    def forward(self, x):\n"
        "        return torch.sigmoid(self.fc(x.flatten(1)))\n\n\ndef build():\n    return Net()\n")
    out = subprocess.run([sys.executable, "-m", "accelsim", "train", "--model", "net.py:build", "--epochs", "50",
                          "-o", "m"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 2, out.stderr
    assert "cannot be exported after training" in out.stderr and "torch.sigmoid" in out.stderr
    assert " epoch " not in out.stdout and not (tmp_path / "m.safetensors").exists()


def test_worker_fault_free_passes_have_a_progress_line_of_their_own(tmp_path):
    """`accelsim campaign --workers 2 > log`: the workers' fault-free passes are a labelled
    step of their own (started, done, with its time) before the trial count starts."""
    import os
    import re

    import yaml
    spec = {"name": "w", "models": ["lenet5"], "schemes": ["inplace-4b-64", "none-4b"], "bers": [1e-3],
            "fault_model": "transient", "repeats": 3, "samples": 120}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = {**os.environ, "ACCELSIM_PROGRESS_SHOW_AFTER": "0"}
    out = subprocess.run([sys.executable, "-m", "accelsim", "campaign", "spec.yaml", "--store", "s.sqlite",
                          "--workers", "2"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    label = "fault-free passes in 2 worker processes: 2 images, 120 inputs, in each worker"
    started = lines.index(f"{label} ... (elapsed 0:00:00)")
    done = [i for i, ln in enumerate(lines) if re.fullmatch(re.escape(label) + r": done in \d:\d\d:\d\d", ln)]
    trials = lines.index("trials: 0/6 to start")
    assert started < done[0] < trials, lines
    assert lines[-1].startswith("s.sqlite: 6 trials run, 0 already done, 6 in the sweep")
