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
    plots = ["accuracy_energy_pareto", "accuracy_vs_voltage", "energy_breakdown", "energy_relative",
             "energy_vs_voltage", "layer_sensitivity_inplace-4b-64", "layer_sensitivity_none-4b", "residual_vs_ber",
             "sdc_vs_voltage", "yield_vs_voltage"]
    assert names == sorted([f"{p}.{ext}" for p in plots for ext in ("png", "svg")]
                           + ["report.html", "results.csv", "results.json", "statistics.csv", "summary.md"])
    text = html.read_text()
    assert text.count("data:image/png;base64,") == 10 and "src=\"http" not in text
    for p in plots:   # every figure links its SVG, and the SVG is a real vector file
        assert f'href="{p}.svg"' in text
        assert (out / f"{p}.svg").read_text().lstrip().startswith("<?xml") and "<svg" in (out / f"{p}.svg").read_text()
    csv_lines = (out / "results.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + 16
    data = json.loads((out / "results.json").read_text())
    assert len(data["trials"]) == 16 and {h["scheme"] for h in data["headline"]} == {"none-4b", "inplace-4b-64"}
    # per-component energy is stored per trial and adds up to the total
    from accelsim.campaign.store import ENERGY_COLUMNS
    for t in data["trials"]:
        assert t["cycles"] > 0
        assert sum(t[c] for c in ENERGY_COLUMNS) == pytest.approx(t["energy_pj"], rel=1e-12)
        assert t["energy_sram_dynamic_pj"] > 0 and t["energy_mac_pj"] > 0
    ecc = [t for t in data["trials"] if t["scheme"] == "inplace-4b-64"]
    assert all(t["energy_ecc_pj"] > 0 for t in ecc)
    assert all(t["energy_ecc_pj"] == 0 for t in data["trials"] if t["scheme"] == "none-4b")
    bars = {(b["scheme"], b["label"].split()[0]) for b in data["energy_breakdown"]}
    assert ("none-4b", "nominal") in bars and ("inplace-4b-64", "nominal") in bars
    rel = dict(data["energy_relative"]["lenet5/inplace-4b-64"])
    assert 1.0 < rel[0.9] < 1.05            # ECC decode costs a little over the unprotected layout
    # provenance: the spec, seeds, sample sizes, the resolved tables, version
    for needle in ("Provenance", "root seed(s)", "chips x repeats, inputs per trial", "BER curve",
                   "accelerator, resolved", "energy table, values (pJ)", "sram_read_pj_per_64b", "accelsim version",
                   "git commit", "Cycles and latency per inference", "Energy by component", "yield [95 % CI]",
                   "run date (UTC)", "host / CPU", "library versions", "torch: ", "evaluation data",
                   "content sha256", "models (files and sha256)", "models/lenet5-int4.safetensors"):
        assert needle in text, needle
    assert str(ROOT) not in text     # bundled models are named relative to the source tree, not by local path
    meta = data["meta"]
    assert len(meta["data_source"]["sha256"]) == 64 and meta["data_source"]["inputs"] == 100
    files = meta["checkpoints"]["lenet5/none-4b"]
    # relative to the working directory here (no config folder given), or to the source tree
    assert files["weights"]["path"] in ("models/lenet5-int4.safetensors", "<accelsim>/models/lenet5-int4.safetensors")
    assert len(files["weights"]["sha256"]) == 64
    # 2 chips cannot support a 95 % yield claim: the report says so, and how many would
    assert "Too few samples" in text and "needs &gt;= 73 chips" in text
    assert any("needs >= 73 chips" in w for w in data["warnings"]) and "needs >= 73 chips" in (out / "summary.md").read_text()
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


def test_report_files_follow_the_umask(store, tmp_path):
    import os
    old = os.umask(0o022)
    try:
        report_from_store(store, tmp_path / "r")
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "r").iterdir()} == {0o644}
    from accelsim.fileio import atomic_write_text
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o640


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
           "chips": 2, "engine": "cycle", "samples": 100, "workers": 1, "models_dir": str(ROOT / "models"),
           "sensitivity": {"scheme": "none-4b", "voltages": [0.49]}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    r = run_cli(["run", "run.yaml", "-o", "out"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "How low can the weight SRAM go?" in r.stdout and "inplace-4b-64" in r.stdout
    assert "where it is safe" in r.stdout and "energy per inference there" in r.stdout and "warning:" in r.stdout and "needs >= 73 chips" in r.stdout
    html = (tmp_path / "out" / "report" / "report.html").read_text()
    assert "Per-layer sensitivity, none-4b: accuracy drop (points), faults in this layer only" in html
    # the run config as given (its text) and as resolved (defaults filled in), both YAML
    assert "run config, as given" in html and "run config, resolved" in html
    meta = json.loads((tmp_path / "out" / "report" / "results.json").read_text())["meta"]
    assert yaml.safe_load(meta["run_config_text"]) == cfg
    resolved = yaml.safe_load(meta["run_config_resolved"])
    assert resolved["chips"] == 2 and resolved["yield"] == 0.95 and resolved["tolerance"] == 0.01
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("where it is safe"))):]
    end = table.index(next(ln for ln in table if ln.startswith(("BER curve:", "safe V:"))))
    assert max(len(ln.rstrip()) for ln in table[:end]) <= 80
    trials = json.loads((tmp_path / "out" / "report" / "results.json").read_text())["trials"]
    single = [t for t in trials if t["layers"] != "all"]
    assert sorted({t["layers"] for t in single}) == ["classifier.0", "classifier.2", "classifier.4", "features.0",
                                                     "features.3"] and len(single) == 10
    # the per-layer trials use the main sweep's chips (maps drawn down to its lowest voltage)
    assert {json.loads(t["params"])["v_low"] for t in trials} == {0.49}
    again = run_cli(["run", "run.yaml", "-o", "out"], tmp_path)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    resumed = run_cli(["run", "run.yaml", "-o", "out", "--force"], tmp_path)
    assert resumed.returncode == 0 and "22 trials (0 run now, 22 resumed)" in resumed.stdout   # main sweep + per-layer study
    for change, match in [({"models": ["lenet7"]}, "no checkpoint"), ({"schemes": ["ecc-9"]}, "run config bad.yaml: schemes[0]: must be one of"),
                          ({"voltages": [0.2]}, "outside the BER curve's domain"),
                          ({"energy_table": "missing.yaml"}, "energy table 'missing.yaml' does not exist"),
                          ({"yield": 1.5}, "run config bad.yaml: yield: must be < 1"),
                          ({"sensitivity": "each"}, "run config bad.yaml: sensitivity: must be a mapping")]:
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**cfg, **change}))
        r = run_cli(["run", "bad.yaml", "-o", "bad"], tmp_path)
        assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, (change, r.stderr)
        assert not (tmp_path / "bad").exists()
    table = yaml.safe_load((ROOT / "accelsim/configs/energy.yaml").read_text())
    del table["actions"]["ecc_gate_switch_pj"]
    (tmp_path / "energy.yaml").write_text(yaml.safe_dump(table))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**cfg, "energy_table": "energy.yaml"}))
    r = run_cli(["run", "bad.yaml", "-o", "bad"], tmp_path)
    assert r.returncode == 2 and "energy table energy.yaml: actions.ecc_gate_switch_pj: missing (required)" in r.stderr


def test_energies_and_voltages_print_in_units_that_fit():
    from accelsim.report.build import energy_text, volts
    from accelsim.report.plots import energy_unit
    assert energy_unit([8.5e9, 1.0]) == ("mJ", 1e9) and energy_unit([]) == ("pJ", 1.0)
    assert energy_unit([999.9]) == ("pJ", 1.0) and energy_unit([1000.0]) == ("nJ", 1e3)
    assert [energy_text(v) for v in (8519571491.0, 2000.0, 12.25, 1.4e6)] == ["8.5 mJ", "2.0 nJ", "12.2 pJ", "1.4 µJ"]
    # 5 mV steps keep their third decimal (0.515 V used to print as 0.52 V)
    assert [volts(v) for v in (0.515, 0.5, 0.9, 0.545, 0.5149999999)] == \
        ["0.515 V", "0.50 V", "0.90 V", "0.545 V", "0.515 V"]


def test_sdc_campaign_report_names_sdc_everywhere(tmp_path):
    """An SDC run's tables head SDC values as SDC (never 'accuracy'), its degradation is
    positive when worse, its BERZAD table is the SDC analogue, and statistics.csv holds one
    row per model x scheme x voltage."""
    import csv
    spec = parse_spec({"name": "sdc", "models": ["lenet5"], "schemes": ["none-4b"], "voltages": [0.9, 0.46],
                       "chips": 2, "engine": "fast", "samples": 60, "metric": "sdc",
                       "models_dir": str(ROOT / "models")})
    run_campaign(spec, tmp_path / "s.sqlite", progress=False)
    html_text = report_from_store(tmp_path / "s.sqlite", tmp_path / "r", tolerance=0.01).read_text()
    md = (tmp_path / "r" / "summary.md").read_text()
    for text in (html_text, md):
        assert "accuracy [95 % CI]" not in text and "top-1 SDC [95 % CI]" in text
        assert "Statistics per voltage: top-1 SDC" in text and "SDC rise (points)" in text
        assert "Highest BER with a top-1 SDC rate of at most 1 %" in text and "BERZAD (highest" not in text
        assert "fault-free SDC" not in text
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    rows = list(csv.DictReader((tmp_path / "r" / "statistics.csv").open()))
    assert [(r["model"], r["scheme"], float(r["vdd"])) for r in rows] == [("lenet5", "none-4b", 0.9),
                                                                          ("lenet5", "none-4b", 0.46)]
    for r, st in zip(rows, data["statistics"]):
        assert r["metric"] == "sdc" and float(r["mean"]) == pytest.approx(st["mean"])
        assert float(r["degradation"]) == pytest.approx(st["mean"])          # SDC rise: faulty - 0
        assert float(r["yield_lo"]) == pytest.approx(st["yield_lo"]) and int(r["chips"]) == 2
        assert float(r["sdc_top1"]) == pytest.approx(st["mean"])
    assert float(rows[0]["mean"]) == 0.0 and float(rows[1]["mean"]) > 0.05   # 0.46 V corrupts the 4-bit net
    assert "+" + f"{float(rows[1]['mean']) * 100:.2f}" in md                  # rise printed positive
    assert (tmp_path / "r" / "yield_vs_voltage.png").is_file()
    assert (tmp_path / "r" / "sdc_energy_pareto.png").exists() is False      # fast engine: no energy


def test_headline_energies_reproduce_the_saving():
    from accelsim.report.build import energy_pair
    # 5.36 -> 5.33 uJ is 0.56 % saved: "5.4 uJ -> 5.3 uJ" would read as 1.9 %
    a, b = energy_pair(5.364e6, 5.334e6, 1 - 5.334 / 5.364)
    assert (a, b) == ("5.36 µJ", "5.33 µJ")      # one decimal more than energy_text, no further
    assert f"{(1 - float(b.split()[0]) / float(a.split()[0])) * 100:.1f}" == f"{(1 - 5.334 / 5.364) * 100:.1f}"
    assert energy_pair(214.6e3, 167.9e3, 1 - 167.9 / 214.6) == ("214.6 nJ", "167.9 nJ")
