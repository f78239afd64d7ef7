"""One object from file to engine (issue 22): what the engines receive is the validated
pydantic model (or one type derived from it in one place), so a field added to a file
model is reachable by the engines without a hand copy that could miss it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from accelsim.campaign.runner import provenance
from accelsim.campaign.spec import RESOLVED, Spec, parse_spec
from accelsim.campaign.trial import _machine
from accelsim.errors import UserError
from accelsim.hw.config import AcceleratorConfig, load_config, preset_names
from accelsim.schema import AcceleratorFile, CampaignSpec, validate


def _leaves(d: dict, path=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, path + (k,))
        else:
            yield path + (k,), v


def _set(d: dict, path, value) -> dict:
    out = dict(d)
    out[path[0]] = _set(d[path[0]], path[1:], value) if len(path) > 1 else value
    return out


def _others(v) -> list:
    """Other values of the same kind as ``v``, for a field whose value is ``v``."""
    if isinstance(v, bool):
        return [not v]
    if isinstance(v, int):
        return [v + 1, v - 1]
    if isinstance(v, float):
        return [v * 2, v / 2]
    if isinstance(v, str):
        return [v + "x", "fit", 4096, *("ws", "os", "is", "serial", "pass", "zero", "reread", "parity",
                                       "scale", "shift", "none")]
    return []


def _changed(model, doc: dict, path, value):
    """``doc`` validated by ``model`` with the field at ``path`` set to another valid value."""
    for other in [*_others(value), "auto", 1.0]:
        if other != value:
            try:
                return validate(model, _set(doc, path, other), "t")
            except UserError:
                continue
    pytest.fail(f"no other valid value tried for {'.'.join(path)} = {value!r}")


@pytest.mark.parametrize("name", [None, *preset_names()])
def test_every_accelerator_field_reaches_the_engine(name):
    """The engine's object IS the validated model; and every field of the file (every leaf
    of every section) changes what the engine reads (flat(), the names the engines and the
    provenance use) and the digest that keys trials: a field the flat view missed fails."""
    cfg = load_config(name)
    assert isinstance(cfg, AcceleratorFile) and type(cfg) is AcceleratorConfig
    dump = cfg.model_dump()
    assert validate(AcceleratorFile, dump, "t").model_dump() == dump   # nothing added or dropped
    flat = cfg.flat()
    leaves = [(p, v) for p, v in _leaves(dump) if v is not None]
    assert len(leaves) >= 25
    for path, value in leaves:
        changed = _changed(AcceleratorConfig, dump, path, value)
        node = changed
        for part in path:
            node = getattr(node, part)
        assert node != value
        assert changed.flat() != flat, f"{'.'.join(path)} is not reachable through the engine's names"
        assert changed.digest != cfg.digest


def test_accelerator_names_read_the_sections():
    cfg = load_config("resident")
    assert (cfg.rows, cfg.cols, cfg.dataflow) == (cfg.pe_array.rows, cfg.pe_array.cols, cfg.pe_array.dataflow)
    assert (cfg.ecc_latency, cfg.policy, cfg.dram_latency) == (cfg.ecc.latency, cfg.ecc.policy, cfg.dram.latency)
    assert cfg.fit and cfg.words_per_bank == 1
    sized = cfg.for_layout(72, n_words=5000)   # 8 banks: ceil(5000 / 8) = 625 words each
    assert (sized.word_bits, sized.words_per_bank, sized.sram_words, sized.fit) == (72, 625, 5000, False)
    assert cfg.with_policy("zero").policy == "zero" and cfg.policy == "pass"


def _spec(**over):
    return parse_spec({"models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.8, 0.7], "samples": 10,
                       "engine": "cycle", **over}, Path("."))


def test_spec_reads_every_campaign_field_from_the_validated_file():
    """A Spec holds the validated CampaignSpec; every field of it is an attribute of the
    Spec, with the file's value unless the Spec resolves it (RESOLVED, each documented);
    a field restated by hand beside the file (a copy) is refused."""
    spec = _spec(seed=7, chips=2, sequential={"target": 0.9})
    assert isinstance(spec.file, CampaignSpec)
    assert set(RESOLVED) <= set(CampaignSpec.model_fields)
    copied = {f.name for f in dataclasses.fields(Spec)} & set(CampaignSpec.model_fields)
    assert copied <= set(RESOLVED), f"hand copies of file fields: {sorted(copied - set(RESOLVED))}"
    for name in CampaignSpec.model_fields:
        if name not in RESOLVED:
            assert getattr(spec, name) == getattr(spec.file, name), name
    assert (spec.seed, spec.chips, spec.sequential.target, spec.voltages) == (7, 2, 0.9, [0.8, 0.7])
    assert spec.n_trials() == 4 and len(spec.trials()) == 4


def test_a_preset_accelerator_stays_a_name(tmp_path, monkeypatch):
    """`accelerator: resident` names the packaged preset: the resolved spec, every trial and
    the provenance say `resident`, not a path under the working folder (which a trial run
    on its own, or in another folder, could not read)."""
    monkeypatch.chdir(tmp_path)
    for spec in (_spec(accelerator="resident"), _spec()):   # named, or the default of engine: cycle
        assert spec.accelerator == "resident"
        trial = spec.trials()[0]
        assert trial.accelerator == "resident"
        machine, _ = _machine(trial, None, None)   # read back from the trial alone
        assert machine == spec.accelerator_config and machine.preset == "resident"
        assert provenance(spec, tmp_path)["accelerator"] == "resident"
    (tmp_path / "acc.yaml").write_text("preset: streamed\n")
    spec = _spec(accelerator="acc.yaml")
    assert spec.accelerator == str(tmp_path / "acc.yaml") and spec.accelerator_config.preset == "streamed"


def test_energy_table_is_the_validated_file():
    """The energy model's table IS the validated EnergyTableFile: every field of the file
    (every leaf) changes the table's digest (a cycle-level trial's key) and its to_dict (the
    provenance); the names the energy model reads are views of the file's fields."""
    from accelsim.energy.table import DEFAULT_TABLE, EnergyTable, load_table
    from accelsim.fileio import read_yaml
    from accelsim.schema import EnergyTableFile

    table = load_table()
    assert isinstance(table, EnergyTableFile) and type(table) is EnergyTable
    raw = read_yaml(DEFAULT_TABLE, "t")
    dump = table.model_dump()
    raw = {**raw, "logic_vdd": 0.8, "count_dram": "always"}   # the optional fields given too
    base = validate(EnergyTable, raw, "t")
    for path, value in _leaves(raw):   # a capacity or a MAC width is a key: its value changes
        changed = _changed(EnergyTable, raw, path, value)
        assert changed.digest != base.digest and changed.to_dict() != base.to_dict(), path
    assert table.dram_pj_per_byte == table.actions.dram_pj_per_byte == dump["actions"]["dram_pj_per_byte"]
    assert table.dibl_per_volt == table.leakage_model.dibl_per_volt and table.to_dict()["dibl_per_volt"] == 4.27
    assert table.mac(8) == table.actions.mac_pj["8x8"] and table.sram_read_pj(8) == 10.0


def test_ber_curve_is_the_validated_file_with_its_law_resolved():
    """A BerCurve is the validated BerCurveFile (name, label, node, source, nominal kept as
    given) with the law resolved; a law given by parameters must give all of them and its
    domain: no built-in default law fills the gaps."""
    from accelsim.faults import curve_from_dict, load_curve
    from accelsim.faults.ber_curve import DEFAULT_CURVE_FILE, SYNTHETIC_CURVE_FILE, BerCurve
    from accelsim.fileio import read_yaml
    from accelsim.schema import BerCurveFile

    for path in (DEFAULT_CURVE_FILE, SYNTHETIC_CURVE_FILE):
        curve, f = load_curve(path), validate(BerCurveFile, read_yaml(path, "t"), "t")
        assert isinstance(curve, BerCurveFile) and type(curve) is BerCurve
        for name in BerCurveFile.model_fields:
            if name not in ("kind", "mu", "sigma", "points", "measured", "v_ref", "ber_ref", "mv_per_decade"):
                assert getattr(curve, name) == getattr(f, name), name
    fitted = load_curve(DEFAULT_CURVE_FILE)
    assert fitted.kind == "probit" and fitted.measured is None and (fitted.measured_lo, fitted.measured_hi) == (0.54, 0.61)
    for partial, match in (({"v_ref": 0.5, "v_min": 0.4, "v_max": 0.9}, "missing ber_ref, mv_per_decade"),
                           ({}, "needs v_ref, ber_ref and mv_per_decade"),
                           ({"kind": "probit", "mu": 0.4, "sigma": 0.03}, "needs its domain"),
                           ({"v_ref": 0.5, "ber_ref": 1e-2, "mv_per_decade": 30.0, "v_max": 0.9}, "needs its domain")):
        with pytest.raises(UserError, match=match):
            curve_from_dict(partial)


def test_scalesim_2_filter_sram_splits_over_the_presets_banks():
    """A SCALE-Sim 2 cfg (no [layout]) gives its filter SRAM as a total: it is split over the
    banks of the accelerator file it overrides, a preset's included (tpu-v1: 32 banks), not
    over the packaged default's 8."""
    from accelsim.hw.scalesim import ScaleSimConfig, apply_overrides

    sc = ScaleSimConfig(overrides={"weight_sram": {"total_words": 4096}}, version=2)
    assert apply_overrides({"preset": "tpu-v1"}, sc)["weight_sram"]["words_per_bank"] == 4096 // 32
    assert apply_overrides({}, sc)["weight_sram"]["words_per_bank"] == 4096 // 8
    assert apply_overrides({"weight_sram": {"banks": 4}}, sc)["weight_sram"]["words_per_bank"] == 1024
