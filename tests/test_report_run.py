"""Reports from a real store, the headline, and the main job end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.errors import UserError
from accelsim.report import headline, report_from_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("rep") / "s.sqlite"
    spec = parse_spec({"name": "rep", "models": ["lenet5"], "schemes": ["none-4b", "inplace-4b-64"],
                       "voltages": [0.9, 0.53, 0.5, 0.47], "chips": 2, "engine": "cycle", "samples": 100,
                       "models_dir": str(ROOT / "models")})
    run_campaign(spec, path, progress=False)
    return path


def test_report_files_and_rows(store, tmp_path):
    out = tmp_path / "r"
    html = report_from_store(store, out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["accuracy_energy_pareto.png", "accuracy_vs_voltage.png", "energy_vs_voltage.png",
                     "layer_sensitivity.png", "report.html", "residual_vs_ber.png", "results.csv",
                     "results.json", "sdc_vs_voltage.png", "summary.md"]
    text = html.read_text()
    assert text.count("data:image/png;base64,") == 6 and "src=\"http" not in text
    csv_lines = (out / "results.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + 16
    data = json.loads((out / "results.json").read_text())
    assert len(data["trials"]) == 16 and {h["scheme"] for h in data["headline"]} == {"none-4b", "inplace-4b-64"}
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with pytest.raises(UserError, match="exists; pass --force"):
        report_from_store(store, out)
    report_from_store(store, out, force=True)


def test_headline_on_known_rows():
    rows = []
    for vdd, acc, energy in [(0.9, 0.95, 100.0), (0.6, 0.95, 60.0), (0.55, 0.945, 50.0), (0.5, 0.90, 40.0)]:
        for chip in range(2):
            rows.append({"model": "m", "scheme": "s", "layers": "all", "vdd": vdd, "ber": 0.0, "chip": chip,
                         "accuracy": acc, "baseline_accuracy": 0.95, "energy_pj": energy})
    (h,) = headline(rows, 0.01)
    assert h["vmin_safe"] == 0.55 and h["v_nominal"] == 0.9
    assert h["energy_saved"] == pytest.approx(0.5)
    assert headline(rows, 0.0)[0]["vmin_safe"] == 0.6


def test_empty_store_and_missing_store(tmp_path):
    Store(tmp_path / "e.sqlite").close()
    with pytest.raises(UserError, match="no finished trials"):
        report_from_store(tmp_path / "e.sqlite", tmp_path / "out")
    r = subprocess.run([sys.executable, "-m", "accelsim", "report", str(tmp_path / "none.sqlite"), "-o",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and not (tmp_path / "o").exists()


def run_cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True, cwd=cwd)


def test_main_job_end_to_end_and_bad_configs(tmp_path):
    cfg = {"name": "tiny", "models": ["lenet5"], "schemes": ["none-4b", "inplace-4b-64"], "voltages": [0.9, 0.52, 0.49],
           "chips": 2, "engine": "cycle", "samples": 100, "workers": 1, "models_dir": str(ROOT / "models")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    r = run_cli(["run", "run.yaml", "-o", "out"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "How low can the weight SRAM go?" in r.stdout and "inplace-4b-64" in r.stdout
    assert (tmp_path / "out" / "report" / "report.html").exists()
    again = run_cli(["run", "run.yaml", "-o", "out"], tmp_path)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    resumed = run_cli(["run", "run.yaml", "-o", "out", "--force"], tmp_path)
    assert resumed.returncode == 0 and "(0 run now, 12 resumed)" in resumed.stdout
    for change, match in [({"models": ["lenet7"]}, "no checkpoint"), ({"schemes": ["ecc-9"]}, "run config bad.yaml: schemes[0]: must be one of"),
                          ({"voltages": [0.2]}, "outside the BER curve's domain"),
                          ({"energy_table": "missing.yaml"}, "energy table 'missing.yaml' does not exist")]:
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**cfg, **change}))
        r = run_cli(["run", "bad.yaml", "-o", "bad"], tmp_path)
        assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, (change, r.stderr)
        assert not (tmp_path / "bad").exists()
    table = yaml.safe_load((ROOT / "accelsim/configs/energy.yaml").read_text())
    del table["actions"]["ecc_gate_pj"]
    (tmp_path / "energy.yaml").write_text(yaml.safe_dump(table))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**cfg, "energy_table": "energy.yaml"}))
    r = run_cli(["run", "bad.yaml", "-o", "bad"], tmp_path)
    assert r.returncode == 2 and "energy table energy.yaml: actions.ecc_gate_pj: missing (required)" in r.stderr
