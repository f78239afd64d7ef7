"""Issue 15: inputs that used to give a plausible but wrong result with no error. Each test
fails on the code before the fix: a bad value is refused naming where it is, and a printed
figure is the one applied."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from accelsim.cli import main
from accelsim.errors import UserError
from accelsim.faults import ChipFaultMap, load_curve, map_to_nominal
from accelsim.hw import simulate
from accelsim.image import load_image
from accelsim.image.commands import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def lenet8(tmp_path_factory):
    return export_checkpoint(str(MODELS / "lenet5-int8"), "none-8b", tmp_path_factory.mktemp("ns") / "n8")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- simulate: the map floor and the printed BER -------------------------------------------

def test_simulate_refuses_a_map_floor_above_the_supply(lenet8, capsys):
    code, out, err = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", "--v-low", "0.8"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--v-low 0.8 V is above the supply 0.5 V" in err
    with pytest.raises(UserError, match=r"v_low = 0.8 V is above vdd = 0.5 V"):
        simulate(lenet8, vdd=0.5, chip=0, v_low=0.8)
    with pytest.raises(UserError, match="v_low .* needs a persistent or stuck chip"):
        simulate(lenet8, vdd=0.5, ber=1e-3, v_low=0.45)   # used to be dropped silently


def test_simulate_prints_the_ber_it_applies(lenet8, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out, _ = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.46", "--v-low", "0.44",
                            "-o", out_json], capsys)
    assert code == 0
    curve = map_to_nominal(load_curve(), 0.9, "scale")   # as the packaged accelerator reads it
    n_words = lenet8.words.shape[0]
    fmap = ChipFaultMap.sample(curve, n_words=n_words, width=64, chip=0, seed=0, v_low=0.44)
    faulty = int(np.count_nonzero(fmap.threshold > 0.46))
    printed = re.search(r"BER (\S+): ([\d,]+) faulty cells = (\S+) of the bits, ([\d,]+) stored bits read wrong",
                        " ".join(out.split()))
    assert float(printed.group(1)) == pytest.approx(curve.ber(0.46), rel=5e-3)
    assert int(printed.group(2).replace(",", "")) == faulty > 1000
    assert float(printed.group(3)) == pytest.approx(faulty / (n_words * 64), rel=5e-3)
    assert int(printed.group(4).replace(",", "")) == faulty   # flips: every faulty cell reads wrong
    d = json.loads(out_json.read_text())
    # every faulty cell is read at least once: the applied faults are the printed ones
    assert d["faults"]["faulty_cells"] == faulty and d["faults"]["faulty_bits_read"] >= faulty
    assert d["ber"] == pytest.approx(curve.ber(0.46))
    # stuck-at cells: the rate printed is the cells', and the wrong bits are those that differ
    code, out, _ = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.46", "--fault-model", "stuck"], capsys)
    stuck = ChipFaultMap.sample(curve, n_words=n_words, width=64, chip=0, seed=0, v_low=0.46, mode="stuck")
    wrong = int(np.bitwise_count(stuck.apply(lenet8.words, 0.46) ^ lenet8.words).sum())
    printed = re.search(r"cell fault rate (\S+): ([\d,]+) faulty cells .* ([\d,]+) stored bits read wrong",
                        " ".join(out.split()))
    assert int(printed.group(3).replace(",", "")) == wrong < 0.6 * int(printed.group(2).replace(",", ""))


@pytest.mark.parametrize("extra,match", [
    (["--ber", "1e-3", "--chip", "2"], "--chip describe a sampled chip and are not used with --ber"),
    (["--ber", "1e-3", "--fault-model", "stuck"], "--fault-model describe a sampled chip"),
    (["--ber", "1e-3", "--fault-map", "m.csv"], "two fault sources"),
    (["--fault-map", "m.csv", "--v-low", "0.45"], "--v-low describe a sampled chip and are not used with --fault-map"),
    (["--ber", "1e-3", "--curve", "c.yaml"], "--curve is not used with --ber"),
])
def test_simulate_refuses_options_it_would_ignore(lenet8, capsys, extra, match):
    code, out, err = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", *extra], capsys)
    assert code == 2 and out == "" and re.search(match, err) and err.count("\n") == 1


# --- checkpoints: weight scales and dtypes ------------------------------------------------

def _edited_checkpoint(tmp_path, src: str, key: str, value) -> str:
    """A copy of models/<src> with tensor ``key`` replaced (value: tensor or fn(tensor))."""
    state = st_load((MODELS / f"{src}.safetensors").read_bytes())
    state[key] = value(state[key]) if callable(value) else value
    (tmp_path / "ck.safetensors").write_bytes(st_save(state))
    shutil.copy(MODELS / f"{src}.yaml", tmp_path / "ck.yaml")
    return str(tmp_path / "ck")


def _set(i, v):
    def edit(t):
        t = t.clone()
        t.view(-1)[i] = v
        return t
    return edit


WOT8 = "lenet5-int8-wot-inplace-8b-64"


@pytest.mark.parametrize("src,key,value,match", [
    (WOT8, "features.3.weight_scale", _set(5, float("nan")), r"features.3.weight_scale holds nan at index 5"),
    (WOT8, "features.3.weight_scale", _set(2, -0.5), r"features.3.weight_scale holds -0.5 at channel 2; .* > 0"),
    (WOT8, "classifier.4.weight_scale", _set(0, 0.0), r"classifier.4.weight_scale holds 0.0 at channel 0"),
    (WOT8, "classifier.4.weight_scale", lambda t: t[:5], r"classifier.4.weight_scale has 5 values, the layer 10"),
    (WOT8, "classifier.0.weight", lambda t: (t * 100).to(torch.int32), r"classifier.0.weight has dtype int32"),
    ("lenet5-int8", "features.0.weight", lambda t: t > 0, r"features.0.weight has dtype bool"),
    ("lenet5-int8", "classifier.2.bias", _set(3, float("inf")), r"classifier.2.bias holds inf at index 3"),
])
def test_bad_checkpoint_tensors_are_refused_by_name(tmp_path, capsys, src, key, value, match):
    ck = _edited_checkpoint(tmp_path, src, key, value)
    code, out, err = run_cli(["export", ck, "--layout", "none-8b", "-o", tmp_path / "img"], capsys)
    assert code == 2 and err.count("\n") == 1 and re.search(match, err), err
    assert not (tmp_path / "img").exists()


def test_export_refuses_a_bad_trained_scale_on_a_model(tmp_path):
    """The same check when a model (not a checkpoint) carries the scale: export_image."""
    from accelsim.image import export_image
    from accelsim.nn import load_checkpoint

    model, _ = load_checkpoint(str(MODELS / WOT8))
    model.features[3].weight_scale[4] = -1.0
    with pytest.raises(UserError, match=r"layer 'features.3': weight_scale of output channel 4 is -1.0"):
        export_image(model, tmp_path / "i", layout="none-8b", input_shape=(1, 8, 8), bits=8)


# --- measured fault maps ------------------------------------------------------------------

@pytest.mark.parametrize("cell,match", [
    ("nan", r"line 3: vmin 'nan' must be a finite voltage > 0"),
    ("inf", r"line 3: vmin 'inf' must be a finite voltage > 0"),
    ("-0.4", r"line 3: vmin '-0.4' must be a finite voltage > 0"),
    ("0", r"line 3: vmin '0' must be a finite voltage > 0"),
    ("0.6V", r"line 3: vmin '0.6V' is not a number"),
])
def test_fault_map_vmin_must_be_a_voltage(tmp_path, cell, match):
    p = tmp_path / "m.csv"
    p.write_text(f"word,bit,vmin\n0,1,0.6\n2,3,{cell}\n")
    with pytest.raises(UserError, match=match):
        ChipFaultMap.from_csv(p, width=64)


def test_fault_map_nan_cell_is_refused_end_to_end(lenet8, tmp_path, capsys):
    p = tmp_path / "m.csv"
    p.write_text("word,bit,vmin\n0,1,0.6\n\n5,3,nan\n")
    code, out, err = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", "--fault-map", p], capsys)
    assert code == 2 and out == "" and "line 4: vmin 'nan'" in err and err.count("\n") == 1
    p.write_text("word,bit,vmin\n0,1,0.6\n5,3,\n")   # empty: faulty at every voltage
    m = ChipFaultMap.from_csv(p, width=64)
    assert m.threshold.tolist() == [0.6, np.inf] and m.faulty(0.7).tolist() == [1]


@pytest.mark.parametrize("text,match", [
    ("word,bit,vmn\n0,1,0.6\n", r"unknown column\(s\) 'vmn'"),
    ("word,bit,vmin\n0,1,0.6,stuck1\n", r"line 2: more fields than the header's 3"),
])
def test_fault_map_columns_are_checked(tmp_path, text, match):
    p = tmp_path / "m.csv"
    p.write_text(text)
    with pytest.raises(UserError, match=match):
        ChipFaultMap.from_csv(p, width=64)


# --- memory images: image.hex against image.bin, bits above the word width ----------------

def _rewrite(d: Path, name: str, data: bytes) -> None:
    """Replace an image file and record its new sha256 in the manifest (a consistent
    tamper: the checksums alone cannot catch it)."""
    import hashlib

    import yaml
    (d / name).write_bytes(data)
    m = yaml.safe_load((d / "manifest.yaml").read_text())
    m["files"][name] = hashlib.sha256(data).hexdigest()
    (d / "manifest.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    base = tmp_path_factory.mktemp("imgs")
    return {layout: export_checkpoint(str(MODELS / ckpt), layout, base / layout).path
            for layout, ckpt in (("ecc-8b-72", "lenet5-int8"), ("inplace-4b-32", "lenet5-int4-wot-inplace-4b-32"))}


def test_hex_must_hold_the_words_of_bin(images, tmp_path, capsys):
    d = tmp_path / "i"
    shutil.copytree(images["ecc-8b-72"], d)
    lines = (d / "image.hex").read_bytes().split(b"\n")
    first = lines[40][0:1]
    lines[40] = (b"1" if first == b"0" else b"0") + lines[40][1:]   # the top digit: bits 68..71
    _rewrite(d, "image.hex", b"\n".join(lines))
    code, out, err = run_cli(["inspect", d], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "image.hex, line 41: word at address 40 is" in err and "(1 of 2452 words differ)" in err
    lines[40] = b"zz" + lines[40][2:]
    _rewrite(d, "image.hex", b"\n".join(lines))
    with pytest.raises(UserError, match=r"image.hex, line 41: 'z' is not a hex digit"):
        load_image(d)


@pytest.mark.parametrize("layout,address,lane,bit,match", [
    ("ecc-8b-72", 17, 1, 8, r"word at address 17 has bits above its 72 bits \(lane 1 = 0x1[0-9a-f]{2};"),
    ("ecc-8b-72", 3, 1, 63, r"word at address 3 has bits above its 72 bits"),
    ("inplace-4b-32", 250, 0, 32, r"word at address 250 has bits above its 32 bits"),
])
def test_bits_above_the_code_width_are_refused(images, tmp_path, layout, address, lane, bit, match):
    d = tmp_path / "i"
    shutil.copytree(images[layout], d)
    words = load_image(d).words.copy()
    words[address, lane] |= np.uint64(1) << np.uint64(bit)
    from accelsim.image.export import _hex_lines
    _rewrite(d, "image.bin", words.astype("<u8").tobytes())
    _rewrite(d, "image.hex", _hex_lines(words, int(layout.split("-")[-1])))   # hex written from the same words
    with pytest.raises(UserError, match=match):
        load_image(d)


# --- campaign specs: values that were silently replaced or ignored ------------------------

def _spec(tmp_path, **kw):
    from accelsim.campaign import parse_spec
    d = {"name": "t", "models": ["lenet5"], "schemes": ["none-4b"], "voltages": [0.55], "chips": 1,
         "models_dir": str(MODELS), "samples": 50}
    d.update(kw)
    return parse_spec({k: v for k, v in d.items() if v is not None}, tmp_path)


def test_campaign_policy_comes_from_the_accelerator_config(tmp_path):
    (tmp_path / "acc.yaml").write_text("ecc:\n  policy: reread\n")
    # the spec's default policy used to replace the accelerator's reread without a word
    assert _spec(tmp_path, engine="cycle", accelerator="acc.yaml").policy == "reread"
    assert _spec(tmp_path, engine="cycle").policy == "pass"
    with pytest.raises(UserError, match=r"policy zero but accelerator config .*acc.yaml sets ecc.policy reread"):
        _spec(tmp_path, engine="cycle", accelerator="acc.yaml", policy="zero")
    with pytest.raises(UserError, match=r"policy reread needs engine: cycle"):
        _spec(tmp_path, policy="reread")


@pytest.mark.parametrize("change,match", [
    ({"models": {"lenet5": {"inplace-4b-64": "models/lenet5-int4"}}},   # meant for a scheme not swept
     r"models.lenet5 names scheme\(s\) inplace-4b-64 that are not in schemes \(none-4b\)"),
    ({"samples": 1000}, r"samples = 1000 is more than the 450 test images"),
    ({"accelerator": "acc.yaml"}, r"accelerator is used only with engine: cycle \(engine is fast\)"),
    ({"energy_table": "e.yaml"}, r"energy_table is used only with engine: cycle"),
    ({"engine": "cycle", "accelerator": "bad.yaml"}, r"bad.yaml: pe_array.rows: must be >= 1 \(got 0\)"),
    ({"p_stuck1": 0.9}, r"p_stuck1 applies to fault_model: stuck only \(fault_model is persistent\)"),
    ({"fault_model": "transient", "v_low": 0.5}, r"v_low .* applies to fault_model: persistent or stuck only"),
])
def test_campaign_spec_refuses_what_it_would_ignore(tmp_path, change, match):
    (tmp_path / "acc.yaml").write_text("ecc:\n  policy: pass\n")
    (tmp_path / "bad.yaml").write_text("pe_array:\n  rows: 0\n")
    from accelsim.energy.table import DEFAULT_TABLE
    shutil.copy(DEFAULT_TABLE, tmp_path / "e.yaml")
    with pytest.raises(UserError, match=match):
        _spec(tmp_path, **change)


# --- BER curves -------------------------------------------------------------------------------

@pytest.mark.parametrize("d,match", [   # (NaN/Inf and duplicate voltages: the typed schema, tests/test_schema.py)
    ({"table": [[0.5, 1e-2], [0.6, 1e-6]], "v_min": 0.4}, r"\[0.4, 0.6\] V reaches beyond the table's voltages \[0.5, 0.6\]"),
    ({"table": [[0.5, 1e-2], [0.6, 1e-6]], "v_max": 0.9}, r"\[0.5, 0.9\] V reaches beyond the table's voltages"),
])
def test_ber_curve_refuses_values_it_would_misuse(d, match):
    from accelsim.faults import curve_from_dict
    with pytest.raises(UserError, match=match):
        curve_from_dict(d)


def test_trial_cache_follows_an_image_re_exported_in_place(tmp_path):
    """A worker's per-process image cache is keyed by content, not by the directory path."""
    from accelsim.campaign import parse_spec
    from accelsim.campaign.trial import run_trial

    s = parse_spec({"models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9], "models_dir": str(MODELS),
                    "samples": 450})
    params = s.trials()[0]
    d = tmp_path / "img"
    export_checkpoint(str(MODELS / "lenet5-int8"), "none-8b", d)
    first = run_trial(params, str(d))["baseline_accuracy"]
    export_checkpoint(str(MODELS / WOT8), "none-8b", d, force=True)
    second = run_trial(params, str(d))["baseline_accuracy"]
    assert (first, second) == (pytest.approx(439 / 450), pytest.approx(436 / 450))


def test_run_refuses_quick_with_a_config(tmp_path, capsys):
    code, out, err = run_cli(["run", tmp_path / "my.yaml", "--quick", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "give a run config or --quick" in err and not (tmp_path / "o").exists()


def test_report_keeps_rows_that_measure_different_things_apart():
    from accelsim.report.build import label_models
    base = {"model": "lenet5", "scheme": "none-4b", "export_sha256": "ab" * 32, "samples": 450,
            "fault_model": "persistent", "engine": "fast", "policy": "pass"}
    rows = [dict(base), dict(base, samples=200), dict(base, scheme="inplace-4b-64")]
    assert [r["model"] for r in label_models(rows)] == ["lenet5[samples=450]", "lenet5[samples=200]", "lenet5"]
    rows = [dict(base), dict(base, export_sha256="cd" * 32, fault_model="transient")]
    assert [r["model"] for r in label_models(rows)] == ["lenet5@abababab[fault_model=persistent]",
                                                        "lenet5@cdcdcdcd[fault_model=transient]"]


@pytest.mark.parametrize("p1", [float("nan"), 1.5, -0.1])
def test_stuck_share_must_be_a_probability(p1):
    with pytest.raises(UserError, match=r"p_stuck1 = .* must be a probability in \[0, 1\]"):
        ChipFaultMap.sample(load_curve(), n_words=100, width=64, chip=0, v_low=0.5, mode="stuck", p_stuck1=p1)


def test_headline_names_the_voltage_its_energy_saving_is_measured_against():
    from accelsim.report.build import HEADLINE_COLS, _headline_rows, headline
    rows = [{"model": "lenet5", "scheme": "none-8b", "layers": "all", "vdd": v, "ber": b, "accuracy": 0.97,
             "baseline_accuracy": 0.97, "energy_pj": e, "chip": 0, "repeat": 0, "samples": 450}
            for v, b, e in ((0.60, 4.6e-6, 2000.0), (0.50, 1e-2, 1500.0))]
    (row,) = _headline_rows(headline(rows))
    cells = dict(zip(HEADLINE_COLS, row))
    # a sweep that stops at 0.60 V used to print its energy as the one "at nominal"
    assert cells["energy at highest swept V"] == "2.0 nJ at 0.60 V" and cells["energy saved"] == "25.0 %"


def test_measured_map_edited_after_the_spec_is_refused(tmp_path):
    from accelsim.campaign.trial import _measured_map
    p = tmp_path / "m.csv"
    p.write_text("word,bit,vmin\n0,1,0.6\n")
    from accelsim.fileio import sha256_file
    sha = sha256_file(p)           # as parse_spec records it in every trial's key
    p.write_text("word,bit,vmin\n0,2,0.6\n")
    _measured_map.cache_clear()    # a fresh worker
    with pytest.raises(UserError, match="changed since the campaign spec was read"):
        _measured_map(str(p), sha, 64)
    assert _measured_map(str(p), sha256_file(p), 64).cell.tolist() == [2]


def test_export_refuses_nan_calibration_before_writing(tmp_path):
    from accelsim.image import export_image
    from accelsim.nn import load_checkpoint

    model, _ = load_checkpoint(str(MODELS / "lenet5-int8"))
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    x[3, 0, 2, 2] = float("nan")
    # this used to write an image whose manifest then failed to load (input_scale inf)
    with pytest.raises(UserError, match="calibration data: sample 3 holds NaN or Inf"):
        export_image(model, tmp_path / "i", layout="none-8b", input_shape=(1, 8, 8), calibration=x)
    assert not (tmp_path / "i").exists()
