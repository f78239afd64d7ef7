"""The typed config models (accelsim.schema): strict types, finite numbers, ranges,
cross-field rules, unknown keys with the nearest name, frozen values, one error line
naming the file and the field path; safe YAML."""

import glob
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from accelsim.campaign import parse_spec
from accelsim.errors import UserError
from accelsim.fileio import parse_yaml, read_yaml
from accelsim.nn.checkpoint import load_card
from accelsim.run import load_run_config
from accelsim.schema import KINDS, CampaignSpec, ModelCard, RunConfig, validate

ROOT = Path(__file__).resolve().parents[1]
MODELS = str(ROOT / "models")
CARD = yaml.safe_load((ROOT / "models/lenet5-int8.yaml").read_text())


def campaign(**kw):
    d = {"models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9, 0.5], "models_dir": MODELS}
    d.update(kw)
    return d


def test_every_packaged_config_and_card_validates():
    for path in glob.glob(str(ROOT / "models/*.yaml")):
        card = load_card(path)
        assert isinstance(card, ModelCard) and card.bits in (1, 2, 4, 8, 32)
    for name in ("run.yaml", "run-quick.yaml", "run-resnet18-sdc.yaml"):
        cfg = load_run_config(ROOT / "accelsim/configs" / name)
        assert isinstance(cfg, RunConfig) and cfg.workers >= 1 and 0 <= cfg.tolerance < 1
    assert load_run_config(None).voltages[0] == 0.90


@pytest.mark.parametrize("bits", [0, 9, 16, 99, -1])
def test_model_card_bits_outside_1_to_8_are_refused(tmp_path, bits):
    # issue 15: bits: 0 / bits: 99 used to be accepted
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(dict(CARD, bits=bits)))
    with pytest.raises(UserError, match=rf"model card .*m.yaml: bits: must be 1..8 \(quantized\) or 32 \(float\), "
                                        rf"got {bits}"):
        load_card(tmp_path / "m")


@pytest.mark.parametrize("edit,match", [
    ({"bits": "8"}, r"bits: must be an integer \(got '8'\)"),
    ({"bits": True}, r"bits: must be an integer \(got True\)"),
    ({"accuracy": 1.5}, r"accuracy: must be <= 1"),
    ({"accuracy": float("nan")}, r"accuracy: must be a finite number"),
    ({"layout": "Inplace-8b-64"}, r"layout: .*did you mean 'inplace-8b-64'"),
    ({"seed": 2**64}, r"seed: must be <= 9223372036854775807"),
    ({"acuracy": 0.9}, r"unknown field 'acuracy' \(did you mean 'accuracy'\?\)"),
])
def test_bad_model_cards_name_the_field(tmp_path, edit, match):
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(dict(CARD, **edit)))
    with pytest.raises(UserError, match=match):
        load_card(p)


@pytest.mark.parametrize("edit,match", [
    ({"chips": 0}, r"campaign spec: chips: must be >= 1 \(got 0\)"),
    ({"chips": 1.5}, r"chips: must be an integer \(got 1.5\)"),
    ({"chips": "2"}, r"chips: must be an integer \(got '2'\)"),
    ({"chips": True}, r"chips: must be an integer \(got True\)"),
    ({"chips": 10**12}, r"chips: must be <= 1000000 \(got 1000000000000\)"),
    ({"chips": 1000, "repeats": 1000}, r"2,000,000 trials planned, more than the limit of 1,000,000"),
    ({"seed": 2**63}, r"seed: must be <= 9223372036854775807 \(got 9223372036854775808\)"),
    ({"seed": -1}, r"seed: must be >= 0 \(got -1\)"),
    ({"schemes": ["NONE-8B"]}, r"schemes\[0\]: .*\(got 'NONE-8B'; did you mean 'none-8b'\?\)"),
    ({"voltages": [0.9, float("nan")]}, r"voltages\[1\]: must be a finite number"),
    ({"voltages": [float("inf")]}, r"voltages\[0\]: must be a finite number"),
    ({"voltages": []}, r"voltages: must have at least 1 entry"),
    ({"chipz": 2}, r"unknown field 'chipz' \(did you mean 'chips'\?\)"),
    ({"accelerator": ["a.yaml"]}, r"accelerator: must be a string \(got \['a.yaml'\]\)"),
    ({"ber_curve": 5}, r"ber_curve: must be a path or a mapping \(got 5\)"),
    ({"ber_curve": {"v_ref": float("nan")}}, r"ber_curve.v_ref: must be a finite number"),
    ({"p_stuck1": 1.5}, r"p_stuck1: must be <= 1"),
    ({"engine": "Cycle"}, r"engine: .*did you mean 'cycle'"),
    ({"bers": [1e-3]}, r"give exactly one of voltages or bers"),
    ({"fault_map": "m.csv"}, r"fault_map needs fault_model: measured"),
    ({"v_low": 0.6, "voltages": [0.9, 0.55]}, r"v_low = 0.6 V is above the sweep's lowest voltage 0.55 V"),
    ({"models": {"lenet5": {"none-8b": 3}}}, r"models.lenet5.none-8b: must be a string \(got 3\)"),
    ({"models": []}, r"models: must have at least 1 entry"),
])
def test_bad_campaign_fields(edit, match):
    with pytest.raises(UserError, match=match):
        parse_spec(campaign(**edit))


@pytest.mark.parametrize("edit,match", [
    ({"workers": 1.5}, r"workers: must be an integer \(got 1.5\)"),
    ({"workers": 0}, r"workers: must be >= 1 \(got 0\)"),
    ({"tolerance": 1}, r"tolerance: must be < 1.0 \(got 1\)"),
    ({"tolerance": -0.1}, r"tolerance: must be >= 0"),
    ({"tolerance": float("nan")}, r"tolerance: must be a finite number"),
    ({"output": ["runs"]}, r"output: must be a string"),
    ({"bers": [0.1]}, r"unknown field 'bers'"),
])
def test_bad_run_configs(tmp_path, edit, match):
    d = yaml.safe_load((ROOT / "accelsim/configs/run-quick.yaml").read_text())
    d.update(edit)
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(UserError, match=rf"run config .*r.yaml: {match}"):
        load_run_config(p)


def test_models_are_frozen_and_typed():
    s = validate(CampaignSpec, campaign(), "campaign spec")
    with pytest.raises(ValidationError):
        s.chips = 5
    assert s.models == {"lenet5": None} and s.voltages == [0.9, 0.5] and s.chips == 1 and s.seed == 0
    assert set(KINDS) == {"run", "campaign", "accelerator", "energy", "ber-curve", "manifest", "model-card"}


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))


@pytest.mark.parametrize("text,match", [
    (BOMB, r"line 1: YAML aliases \(\*name\) are not accepted"),
    ("a: &x 1\nb: *x\n", r"line 1: YAML aliases"),
    ("{1.5: a}", r"line 1: key '1.5' is not a string"),
    ("? [a, b]\n: 1\n", r"line 1: key a list is not a string"),
    ("null: 1", r"line 1: key 'null' is not a string"),
    ("a: " + "[" * 40 + "]" * 40, r"line 1: nested more than 32 levels deep"),
    ("a: 1\n---\nb: 2\n", r"not valid YAML at line 2"),
    ("x: !!python/object/apply:os.system [ls]", r"not valid YAML"),
    ("a: [1, 2\n", r"not valid YAML"),
])
def test_hostile_yaml_is_refused_fast(tmp_path, text, match):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(UserError, match=rf"spec .*c.yaml: {match}"):
        read_yaml(p, "spec")
    assert time.perf_counter() - t0 < 5   # a hang, not a timing target


def test_read_yaml_size_limit_and_odd_paths(tmp_path, monkeypatch):
    import accelsim.fileio as fileio
    monkeypatch.setattr(fileio, "YAML_MAX_BYTES", 100)
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "x" * 200)
    with pytest.raises(UserError, match=r"big.yaml: 203 bytes, more than the limit of 100"):
        read_yaml(p, "spec")
    with pytest.raises(UserError, match=r"spec '.*' is not a file"):
        read_yaml(tmp_path, "spec")
    with pytest.raises(UserError, match=r"spec: expected a file path, got list"):
        read_yaml(["a.yaml"], "spec")
    assert parse_yaml("mac_pj: {8: 0.3}", "x") == {"mac_pj": {8: 0.3}}   # integer keys stay allowed


def test_schema_command_prints_json_schema_and_reference_page_is_current(capsys):
    import json

    from accelsim.cli import main
    from accelsim.schema import reference

    assert main(["schema", "campaign"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["chips"] == {"default": 1, "description": schema["properties"]["chips"]["description"],
                                             "maximum": 1000000, "minimum": 1, "title": "Chips", "type": "integer"}
    assert schema["additionalProperties"] is False and "schemes" in schema["required"]
    assert main(["schema", "accelerator"]) == 0   # a user file is merged over the packaged one
    accel = json.loads(capsys.readouterr().out)
    assert "required" not in accel and "required" not in accel["$defs"]["PeArray"]
    assert accel["$defs"]["PeArray"]["properties"]["dataflow"]["enum"] == ["ws", "os", "is"]
    assert main(["schema", "manifest"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["byte_order"]["const"] == "little"
    # docs/config-reference.md is generated from the same models: regenerate with
    # `python -m accelsim.schema.reference` when this fails
    assert reference.PAGE.read_text() == reference.render()
    for kind in KINDS:
        assert f"## {kind}" in reference.render()
