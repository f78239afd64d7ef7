"""Content-keyed trials: a trial's key hashes the content of every file it is made from,
an edited file re-runs the trials it affects, and every row names its own run's
provenance (issue 22: a 16x16 ws -> 4x4 os edit of acc.yaml used to leave the old row)."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from accelsim.campaign import Store, load_spec, run_campaign
from accelsim.campaign.params import PATH_FIELDS, TrialParams

ROOT = Path(__file__).resolve().parents[1]
WS16 = {"pe_array": {"rows": 16, "cols": 16, "dataflow": "ws"}}
OS4 = {"pe_array": {"rows": 4, "cols": 4, "dataflow": "os"}}


def _campaign(tmp_path: Path, acc: dict, **kw) -> Path:
    (tmp_path / "acc.yaml").write_text(yaml.safe_dump(acc))
    spec = {"name": "edit", "models": ["lenet5"], "schemes": ["inplace-8b-64"], "voltages": [0.6],
            "models_dir": str(ROOT / "models"), "samples": 20, "engine": "cycle", "accelerator": "acc.yaml", **kw}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _cycles(store: Path) -> list[int]:
    s = Store(store, create=False, readonly=True)
    try:
        return [r["cycles"] for r in s.rows()]
    finally:
        s.close()


def test_an_edited_accelerator_re_runs_the_trial(tmp_path):
    spec_path = _campaign(tmp_path, WS16)
    store = tmp_path / "s.sqlite"
    assert run_campaign(load_spec(spec_path), store, progress=False)["ran"] == 1
    (ws,) = _cycles(store)
    _campaign(tmp_path, OS4)   # the same path, another machine
    again = run_campaign(load_spec(spec_path), store, progress=False)
    assert (again["ran"], again["skipped"]) == (1, 0)
    fresh = tmp_path / "fresh" / "s.sqlite"
    run_campaign(load_spec(spec_path), fresh, progress=False)
    (os4,) = _cycles(fresh)
    assert os4 != ws and sorted(_cycles(store)) == sorted([ws, os4])
    # the report keeps the two machines' rows apart instead of averaging them
    from accelsim.report.build import label_models
    s = Store(store, create=False, readonly=True)
    labels = sorted(r["model"] for r in label_models(s.rows()))
    s.close()
    assert len(set(labels)) == 2 and all(label.startswith("lenet5[accelerator_sha256=") for label in labels)
    # a third run of the unchanged spec runs nothing
    assert run_campaign(load_spec(spec_path), store, progress=False)["ran"] == 0


def test_every_new_row_names_the_new_machine(tmp_path):
    spec_path = _campaign(tmp_path, WS16, voltages=[0.6, 0.55], chips=2)
    store = tmp_path / "s.sqlite"
    run_campaign(load_spec(spec_path), store, progress=False)
    _campaign(tmp_path, OS4, voltages=[0.6, 0.55], chips=2)
    run_campaign(load_spec(spec_path), store, progress=False)
    s = Store(store, create=False, readonly=True)
    rows, docs = s.rows(), s.provenance()
    s.close()
    assert len(rows) == 8 and len(docs) == 2
    machines = {}
    for r in rows:
        pe = docs[r["provenance_sha256"]]["accelerator_config"]
        machines.setdefault((pe["rows"], pe["cols"], pe["dataflow"]), []).append(r)
    assert sorted(machines) == [(4, 4, "os"), (16, 16, "ws")]
    for machine, mine in machines.items():
        assert len(mine) == 4
        digest = docs[mine[0]["provenance_sha256"]]["accelerator_sha256"]
        assert all(yaml.safe_load(r["params"])["accelerator_sha256"] == digest for r in mine)
    from accelsim.report import report_from_store
    summary = (report_from_store(store, tmp_path / "report", metric="accuracy").parent / "summary.md").read_text()
    assert "runs into this store" in summary and "2: the values above are the latest run" in summary


def test_a_comment_or_a_moved_file_keeps_the_keys(tmp_path):
    """The digest is of the validated, merged config: layout and location do not count."""
    spec_path = _campaign(tmp_path, WS16)
    key = load_spec(spec_path).trials()[0].key
    (tmp_path / "acc.yaml").write_text("# same machine\n" + yaml.safe_dump(WS16, default_flow_style=True))
    assert load_spec(spec_path).trials()[0].key == key
    (tmp_path / "moved.yaml").write_text(yaml.safe_dump(WS16))
    moved = load_spec(_campaign(tmp_path, WS16, accelerator="moved.yaml")).trials()[0]
    assert moved.accelerator.endswith("moved.yaml") and moved.key == key
    # a value the packaged defaults give counts: stating it changes nothing, changing it does
    _campaign(tmp_path, {**WS16, "weight_sram": {"read_latency": 2}})
    assert load_spec(spec_path).trials()[0].key == key
    _campaign(tmp_path, {**WS16, "weight_sram": {"read_latency": 7}})
    assert load_spec(spec_path).trials()[0].key != key


def test_an_edited_energy_table_re_keys_the_trial(tmp_path):
    table = yaml.safe_load((ROOT / "accelsim" / "configs" / "energy.yaml").read_text())
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(table))
    cycle = _campaign(tmp_path, WS16, energy_table="e.yaml")
    key = load_spec(cycle).trials()[0].key
    assert load_spec(_campaign(tmp_path, WS16)).trials()[0].key == key   # the packaged table's content
    table["actions"]["dram_pj_per_byte"] *= 2
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(table))
    assert load_spec(_campaign(tmp_path, WS16, energy_table="e.yaml")).trials()[0].key != key


def test_trial_params_are_frozen_and_keyed_by_content():
    p = TrialParams(campaign="c", model="m", scheme="none-8b", checkpoint="", fault_model="transient", point="ber",
                    vdd=0.5, ber=1e-3, chip=0, repeat=0, layers="all", samples=10, engine="fast", policy="pass",
                    seed=0, v_low=0.5, p_stuck1=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.vdd = 0.6
    assert "accelerator" not in p.to_dict()   # an unset optional field keeps the old keys
    assert p.replace(accelerator="/a.yaml").key == p.key   # a path alone is not content
    assert p.replace(accelerator_sha256="0" * 64).key != p.key
    assert TrialParams.from_dict(p.to_dict()) == p
    assert set(PATH_FIELDS) <= {f.name for f in dataclasses.fields(TrialParams)}


def test_files_are_read_once_per_campaign(tmp_path, monkeypatch):
    """The accelerator and the energy table are read and validated by parse_spec, once,
    however many trials run (they used to be read again by every trial)."""
    import accelsim.energy.table as table_mod
    import accelsim.hw.config as config_mod
    table = yaml.safe_load((ROOT / "accelsim" / "configs" / "energy.yaml").read_text())
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(table))
    spec_path = _campaign(tmp_path, WS16, energy_table="e.yaml", voltages=[0.6, 0.55], chips=2)
    reads = []
    for mod in (config_mod, table_mod):
        real = mod.read_yaml
        monkeypatch.setattr(mod, "read_yaml", lambda path, *a, _real=real, **k: (reads.append(Path(path).name),
                                                                                 _real(path, *a, **k))[1])
    info = run_campaign(load_spec(spec_path), tmp_path / "s.sqlite", progress=False)
    assert info["ran"] == 4
    assert reads.count("acc.yaml") == 1 and reads.count("e.yaml") == 1
