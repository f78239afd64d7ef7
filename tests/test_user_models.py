"""A user's own network and data: a model file with a factory, an ImageFolder, trained with
`accelsim train`, swept by `accelsim run` from another folder; memory images as model
references; the SDC metric with and without labels; every bad reference one line."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.infer.outcome import sdc_rates, top_classes
from accelsim.cli import main
from accelsim.errors import UserError
from accelsim.report import report_from_store

ROOT = Path(__file__).resolve().parents[1]

NET = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A user's small CNN for 3x12x12 inputs and 3 classes."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 3 * 3, classes)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


def build():
    return TinyNet()
'''


def colour_folder(root: Path, per_class: int, seed: int, classes=("red", "green", "blue")):
    """Class c has a bright channel c; sizes vary, so the config declares resize and crop."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 90, (14, 14 + i % 3, 3))
            a[..., c % 3] += 120 + rng.integers(0, 40)
            Image.fromarray(a.astype(np.uint8)).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The user's project: net.py, train/ and val/ folders, two checkpoints made by
    `accelsim train` (int8 QAT with WOT for inplace-8b-64; float32, the kind a user's own
    training code saves, quantized by the exporter for none-8b)."""
    proj = tmp_path_factory.mktemp("proj")
    (proj / "net.py").write_text(NET)
    colour_folder(proj / "train", 20, 0)
    colour_folder(proj / "val", 8, 1)
    common = ["--model", f"{proj}/net.py:build", "--data", f"imagefolder:{proj}/train", "--resize", "12",
              "--crop", "12", "--epochs", "4"]
    assert main(["train", *common, "--bits", "8", "--layout", "inplace-8b-64", "--qat-epochs", "5",
                 "-o", str(proj / "ckpt" / "net-int8")]) == 0
    assert main(["train", *common, "-o", str(proj / "ckpt" / "net-fp32")]) == 0
    return proj


RUN = {"name": "mynet", "schemes": ["none-8b", "inplace-8b-64"],
       "models": {"mynet": {"factory": "net.py:build",
                            "checkpoints": {"none-8b": "ckpt/net-fp32.safetensors",
                                            "inplace-8b-64": "ckpt/net-int8.safetensors"}}},
       "data": {"source": "imagefolder:val", "resize": 12, "crop": 12},
       "voltages": [0.9, 0.5, 0.435], "chips": 2, "engine": "fast", "samples": 20, "tolerance": 0.05, "workers": 1}


def test_card_names_the_model_file_relative_to_itself(project):
    card = yaml.safe_load((project / "ckpt" / "net-int8.yaml").read_text())
    assert card["model"] == "../net.py:build" and card["input_shape"] == [3, 12, 12] and card["num_classes"] == 3
    assert card["dataset"] == "imagefolder:../train" and card["bits"] == 8   # portable: relative to the card
    assert card["accuracy"] >= 0.8   # bright-channel colours: an easy task


def test_user_model_and_image_folder_through_accelsim_run(project, tmp_path, monkeypatch, capsys):
    (project / "run.yaml").write_text(yaml.safe_dump(RUN))
    monkeypatch.chdir(tmp_path)             # another folder: paths resolve against the config's
    assert main(["run", str(project / "run.yaml"), "-o", "out"]) == 0
    assert "How low can the weight SRAM go?" in capsys.readouterr().out
    data = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    trials = data["trials"]
    assert len(trials) == 12 and data["metric"] == "accuracy"
    for t in trials:
        # a changed prediction is needed to change accuracy: |drop| <= top-1 SDC
        assert abs(t["accuracy"] - t["baseline_accuracy"]) <= t["sdc_top1"] + 1e-12
        assert t["sdc_top5"] is None            # 3 classes: the top 5 hold every class
        assert t["samples"] == 20 and json.loads(t["params"])["data"]["resize"] == [12]
    nominal = [t for t in trials if t["vdd"] == 0.9]
    assert all(t["sdc_top1"] == 0 and t["accuracy"] == t["baseline_accuracy"] for t in nominal)
    assert max(t["sdc_top1"] for t in trials if t["vdd"] == 0.435) > 0.2      # BER 0.1 breaks the net
    assert min(t["baseline_accuracy"] for t in trials) >= 0.8
    assert {h["scheme"] for h in data["headline"]} == {"none-8b", "inplace-8b-64"}
    names = {p.name for p in (tmp_path / "out" / "report").iterdir()}
    assert {"accuracy_vs_voltage.png", "sdc_vs_voltage.png", "report.html"} <= names


def test_memory_images_and_unlabelled_inputs_give_an_sdc_sweep(project, tmp_path):
    img = tmp_path / "img"
    assert main(["export", str(project / "ckpt" / "net-fp32"), "--layout", "none-8b", "-o", str(img), "--trust-model-file",
                 "--data", f"imagefolder:{project}/train", "--resize", "12", "--crop", "12"]) == 0
    # the same state dict through the model file instead of its card: the same words
    assert main(["export", str(project / "ckpt" / "net-fp32.safetensors"), "--model", f"{project}/net.py:build",
                 "--layout", "none-8b", "-o", str(tmp_path / "img2"), "--data", f"imagefolder:{project}/train",
                 "--resize", "12", "--crop", "12"]) == 0
    assert (tmp_path / "img2" / "image.bin").read_bytes() == (img / "image.bin").read_bytes()
    x = np.random.default_rng(3).random((24, 3, 12, 12)).astype(np.float32)   # synthetic, no labels
    np.savez(tmp_path / "synthetic.npz", x=x)
    spec = parse_spec({"name": "u", "models": {"mine": {"images": {"none-8b": "img"}}}, "schemes": ["none-8b"],
                       "data": "npz:synthetic.npz", "voltages": [0.9, 0.435], "chips": 2, "samples": 24},
                      tmp_path)
    assert spec.metric == "sdc"
    run_campaign(spec, tmp_path / "s.sqlite", progress=False)
    run_campaign(spec, tmp_path / "w2.sqlite", workers=2, progress=False)   # spawned workers load the data
    rows = Store(tmp_path / "s.sqlite").rows()
    volatile = ("seconds", "created")
    assert [{k: v for k, v in r.items() if k not in volatile} for r in rows] == \
        [{k: v for k, v in r.items() if k not in volatile} for r in Store(tmp_path / "w2.sqlite").rows()]
    assert len(rows) == 4 and all(r["accuracy"] is None and r["baseline_accuracy"] is None for r in rows)
    assert [r["sdc_top1"] for r in rows if r["vdd"] == 0.9] == [0.0, 0.0]
    assert all(r["sdc_top1"] > 0 for r in rows if r["vdd"] == 0.435)
    report = report_from_store(tmp_path / "s.sqlite", tmp_path / "r", tolerance=0.0)
    out = json.loads((tmp_path / "r" / "results.json").read_text())
    assert out["metric"] == "sdc" and out["headline"][0]["vmin_safe"] == 0.9
    assert out["headline"][0]["baseline"] == 0.0   # the fault-free network's SDC rate, by definition
    assert not (tmp_path / "r" / "accuracy_vs_voltage.png").exists() and (tmp_path / "r" / "sdc_vs_voltage.png").exists()
    assert "top-1 SDC rate" in report.read_text()
    with pytest.raises(UserError, match="no labels"):
        report_from_store(tmp_path / "s.sqlite", tmp_path / "r2", metric="accuracy")
    with pytest.raises(UserError, match="metric accuracy needs labels"):
        parse_spec({**{"models": {"mine": {"images": {"none-8b": "img"}}}, "schemes": ["none-8b"],
                       "data": "npz:synthetic.npz", "voltages": [0.9]}, "metric": "accuracy"}, tmp_path)


def test_sdc_rates_by_hand():
    clean = np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [1, 0, 2, 3, 4], [2, 3, 4, 5, 6]])
    faulty = np.array([[0, 2, 1, 3, 4], [6, 5, 7, 8, 9], [9, 8, 7, 6, 5], [2, 4, 3, 5, 6]])
    # top-1 changed in rows 1 and 2; the clean top-1 class left the faulty top 5 only in row 2
    assert sdc_rates(clean, faulty, 10) == (0.5, 0.25)
    assert sdc_rates(clean, faulty, 5) == (0.5, None)

    class Net:   # ties go to the lower class index, as argmax does
        def output_scale(self):
            return np.array([1.0, 1.0, 2.0])
    out = np.array([[2, 2, 1], [0, 3, 1]], dtype=np.int32)
    assert top_classes(Net(), out, k=2).tolist() == [[0, 1], [1, 2]]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(6, 12), st.integers(0, 2**32 - 1))
def test_sdc_bounds_hold_for_any_logits(n, classes, seed):
    """top-5 SDC <= top-1 SDC (an unchanged top-1 class is in the top 5), and the accuracy
    change is at most the top-1 SDC rate, for any integer logits (ties included)."""
    rng = np.random.default_rng(seed)

    class Net:
        def output_scale(self):
            return np.ones(classes)
    clean_out = rng.integers(-3, 4, (n, classes)).astype(np.int32)
    faulty_out = np.where(rng.random((n, classes)) < 0.3, rng.integers(-3, 4, (n, classes)), clean_out).astype(np.int32)
    clean, faulty = top_classes(Net(), clean_out), top_classes(Net(), faulty_out)
    assert np.array_equal(clean[:, 0], clean_out.argmax(axis=1))   # the same tie rule as argmax
    sdc1, sdc5 = sdc_rates(clean, faulty, classes)
    labels = rng.integers(0, classes, n)
    drop = abs(np.mean(clean[:, 0] == labels) - np.mean(faulty[:, 0] == labels))
    assert sdc5 <= sdc1 and drop <= sdc1 + 1e-12
    assert sdc_rates(clean, clean, classes) == (0.0, 0.0)


@pytest.mark.parametrize("version", [3, 4])
def test_older_stores_are_read_but_not_extended(tmp_path, version):
    """Versions 3 and 4 keyed trials by their files' paths: read as they are, refused for writing."""
    path = tmp_path / "old.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:   # what a version-3/4 store looked like
        conn.execute("ALTER TABLE trials DROP COLUMN provenance_sha256")
        conn.execute("DROP TABLE provenance")
        if version == 3:
            conn.execute("ALTER TABLE trials DROP COLUMN sdc_top1")
            conn.execute("ALTER TABLE trials DROP COLUMN sdc_top5")
        conn.execute("INSERT INTO trials (key, model, accuracy) VALUES ('old', 'm', 0.75)")
        conn.execute(f"UPDATE meta SET value = '{version}' WHERE key = 'schema_version'")
    row = Store(path, create=False, readonly=True).rows()[0]   # read as it is
    assert (row["accuracy"], row["sdc_top1"], row["provenance_sha256"]) == (0.75, None, None)
    with pytest.raises(UserError, match=f"schema version {version} keys its trials by the paths"):
        Store(path, create=False)


def test_version_5_store_gains_the_accumulator_energy_column(tmp_path):
    """Version 5 had no energy_accumulators_pj: a writer adds it (NULL for the rows there)."""
    path = tmp_path / "v5.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE trials DROP COLUMN energy_accumulators_pj")
        conn.execute("INSERT INTO trials (key, model, accuracy) VALUES ('old', 'm', 0.75)")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    assert Store(path, create=False, readonly=True).rows()[0].get("energy_accumulators_pj") is None
    store = Store(path, create=False)
    assert store.meta()["schema_version"] == 6
    have = {r[1] for r in store.conn.execute("PRAGMA table_info(trials)")}
    assert "energy_accumulators_pj" in have
    store.close()


def test_bundled_models_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = parse_spec({"models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9]})
    assert spec.checkpoints[("lenet5", "none-8b")].path == str(ROOT / "models" / "lenet5-int8")


BAD_NET = {"syntax.py": "def build(:\n", "noclass.py": "def other():\n    return 1\n",
           "raises.py": "def build():\n    raise RuntimeError('no weights here')\n",
           "notmodule.py": "def build():\n    return 42\n",
           "tanh.py": NET.replace("return self.fc(torch.flatten(x, 1))", "return torch.tanh(self.fc(torch.flatten(x, 1)))")}


@pytest.mark.parametrize("change,match", [
    ({"factory": "missing.py:build"}, "model file .*missing.py' does not exist"),
    ({"factory": "net.py"}, "expected path/to/file.py:factory"),
    ({"factory": "syntax.py:build"}, "importing it failed: SyntaxError"),
    ({"factory": "noclass.py:build"}, "no function 'build' \\(callables found: other\\)"),
    ({"factory": "raises.py:build"}, "build\\(\\) raised RuntimeError: no weights here"),
    ({"factory": "notmodule.py:build"}, "returned int, not a torch.nn.Module"),
    ({"factory": "tanh.py:build"}, "not supported by the accelerator"),
    ({"checkpoints": {"none-8b": "ckpt/none.safetensors", "inplace-8b-64": "ckpt/net-int8"}},
     "state dict .*none.safetensors' for scheme none-8b does not exist"),
    ({"checkpoints": {"none-8b": "ckpt/net-fp32"}}, "has no checkpoint or image for scheme inplace-8b-64"),
    ({"checkpoints": {"none-8b": "lenet.safetensors", "inplace-8b-64": "ckpt/net-int8"}},
     "does not fit model .*net.py:build: missing key 'conv1.weight'"),
    ({"checkpoints": {"ecc-8b-72": "ckpt/net-int8"}}, "models.mynet names scheme\\(s\\) ecc-8b-72 that are not in schemes"),
    ({"colour": "red"}, "models.mynet: unknown field 'colour' \\(known: checkpoint, checkpoints, factory"),
    ({"project": "yes"}, "models.mynet.project: must be true or false \\(got 'yes'\\)"),
    ({"data": "npz:big.npz"}, "inputs of shape \\(3, 14, 14\\) do not match model 'mynet'"),
    ({"data": "digits"}, "inputs of shape \\(1, 8, 8\\) do not match model 'mynet'"),
    ({"data": {"source": "imagefolder:numeric", "resize": 12, "crop": 12}}, "label 7 is out of range for model 'mynet' \\(none-8b\\) \\(3 classes"),
    ({"metric": "mse"}, "metric: must be one of 'accuracy' or 'sdc' \\(got 'mse'\\)"),
    ({"factory": "net.py:build", "images": {"none-8b": "x"}}, "images stand alone"),
    ({"data": {"source": "imagefolder:val", "crop": [12, 12, 3]}}, "data"),
    ({"data": "imagefolder:nowhere"}, "directory .*nowhere' does not exist"),
    ({"images": {"none-8b": "ckpt", "inplace-8b-64": "ckpt"}}, "memory image .*ckpt': no manifest.yaml"),
    ({"seed": 1}, "models.mynet: seed stands for seeded weights: no checkpoint\\(s\\) or images beside it"),
    ({"seed": -1, "alone": True}, "models.mynet.seed: must be >= 0"),
    ({"seed": 1, "alone": True}, "models.mynet.seed: 'mynet' is not a zoo model \\(lenet5, .*\\); give "
                                 "models.mynet.factory: FILE.py:NAME beside the seed"),
])
def test_bad_model_and_data_references_are_one_line_with_nothing_written(project, tmp_path, capsys, change, match):
    for name, text in BAD_NET.items():
        (project / name).write_text(text)
    np.savez(project / "big.npz", x=np.zeros((20, 3, 14, 14), np.float32))
    if not (project / "numeric").exists():
        colour_folder(project / "numeric", 7, 4, classes=("0", "1", "7"))
    (project / "lenet.safetensors").write_bytes((ROOT / "models" / "lenet5-fp32.safetensors").read_bytes())
    entry = dict(RUN["models"]["mynet"])
    top = {k: change[k] for k in ("data", "metric") if k in change}
    if "images" in change or "alone" in change:     # the change is the whole entry
        entry = {}
    entry.update({k: v for k, v in change.items() if k not in top and k != "alone"})
    cfg = {**RUN, "models": {"mynet": entry}, **top}
    (project / "bad.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["run", str(project / "bad.yaml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    import re
    assert re.search(match, err), err
    assert not out.exists()


def test_seeded_zoo_weights_export_the_network_built_under_that_seed(tmp_path):
    """``{seed: N}``: no checkpoint, the zoo model initialised under N; its cached image is
    what export_image writes for build_model(name, seed=N) after the data-dependent init, and
    another seed is another image and another trial."""
    import torch

    from accelsim.campaign.runner import image_cache_dir
    from accelsim.image import export_image
    from accelsim.nn import build_model
    from accelsim.image import load_image
    from accelsim.nn.data import DataSpec, calibration_set
    from accelsim.nn.seeded import data_dependent_init

    def spec(seed):
        return parse_spec({"name": "s", "models": {"lenet5": {"seed": seed}}, "schemes": ["none-8b", "ecc-8b-72"],
                           "bers": [1e-3], "fault_model": "transient", "samples": 100, "metric": "sdc"}, tmp_path)

    store = tmp_path / "s.db"
    assert run_campaign(spec(3), store, progress=False)["ran"] == 2
    assert run_campaign(spec(3), store, progress=False)["ran"] == 0          # resumed: the same trials
    assert run_campaign(spec(4), store, progress=False)["ran"] == 2          # another seed: new trials
    rows = Store(store, create=False, readonly=True).rows()
    assert sorted({r["checkpoint"] for r in rows}) == ["lenet5#seed=3", "lenet5#seed=4"]
    assert len({r["export_sha256"] for r in rows}) == 4
    for r in rows:
        assert 0 <= r["sdc_top1"] <= 1 and r["samples"] == 100
    none = {r["checkpoint"]: r for r in rows if r["scheme"] == "none-8b"}
    assert all(r["residual_bits"] == r["injected_bits"] > 0 for r in none.values())   # no ECC: every flip stays

    calibration = calibration_set(DataSpec())
    ref = export_image(data_dependent_init(build_model("lenet5", seed=3), calibration), tmp_path / "ref",
                       layout="none-8b", input_shape=(1, 8, 8), calibration=calibration)
    cached = {load_image(d).manifest.source["seed"]: d for d in image_cache_dir(store).glob("lenet5-none-8b-*")}
    assert sorted(cached) == [3, 4]
    assert (cached[3] / "image.bin").read_bytes() == (ref.path / "image.bin").read_bytes()
    assert (cached[4] / "image.bin").read_bytes() != (ref.path / "image.bin").read_bytes()
    # the init moved the classifier's bias (centred on the data); the image holds the moved one
    assert [layer.bias.tolist() for layer in load_image(cached[3]).layers] == \
        [layer.bias.tolist() for layer in ref.layers]
    with torch.no_grad():   # seed 3 and 4 are different networks
        assert not torch.equal(build_model("lenet5", seed=3).features[0].weight,
                               build_model("lenet5", seed=4).features[0].weight)


def test_seeded_user_factory_runs_an_unlabelled_sdc_sweep(project, tmp_path):
    """``{factory: FILE.py:NAME, seed: N}``: the user's network with seeded weights, scored by
    the SDC rate on unlabelled inputs; the model file's bytes are part of the image key."""
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(5).random((16, 3, 12, 12)).astype(np.float32))
    (tmp_path / "net.py").write_text(NET)
    cfg = {"name": "f", "models": {"mine": {"factory": "net.py:build", "seed": 1}}, "schemes": ["none-8b"],
           "data": "npz:x.npz", "voltages": [0.9, 0.435], "chips": 2}
    spec = parse_spec(cfg, tmp_path)
    assert spec.metric == "sdc" and spec.checkpoints[("mine", "none-8b")].key == f"{tmp_path / 'net.py'}:build#seed=1"
    run_campaign(spec, tmp_path / "f.db", progress=False)
    rows = Store(tmp_path / "f.db", create=False, readonly=True).rows()
    assert len(rows) == 4 and all(r["accuracy"] is None for r in rows)
    assert all(r["sdc_top1"] == 0 for r in rows if r["vdd"] == 0.9)
    assert max(r["sdc_top1"] for r in rows if r["vdd"] == 0.435) > 0     # BER 0.1
    key = rows[0]["export_sha256"]
    (tmp_path / "net.py").write_text(NET + "\n# edited\n")
    assert parse_spec(cfg, tmp_path) and run_campaign(parse_spec(cfg, tmp_path), tmp_path / "f.db",
                                                      progress=False)["ran"] == 4
    assert key not in {r["export_sha256"] for r in Store(tmp_path / "f.db", create=False, readonly=True).rows()
                       if r["created"] > max(x["created"] for x in rows)}


def test_fine_tune_a_user_model_file_from_its_checkpoint(project, tmp_path):
    """``train --from CHECKPOINT --model FILE.py:NAME``: QAT + WOT for inplace-8b-64 starts from
    the user's float checkpoint (its accuracy, unchanged) and exports without projection."""
    from accelsim.ecc import get_layout
    from accelsim.image.from_checkpoint import export_checkpoint
    from accelsim.nn import load_checkpoint
    from accelsim.quant.qat import count_out_of_layout

    start, card0 = load_checkpoint(project / "ckpt" / "net-fp32", trust=True)
    out = tmp_path / "ft"
    assert main(["train", "--from", str(project / "ckpt" / "net-fp32"), "--model", f"{project}/net.py:build",
                 "--data", f"imagefolder:{project}/train", "--resize", "12", "--crop", "12", "--bits", "8",
                 "--layout", "inplace-8b-64", "--epochs", "0", "--qat-epochs", "3", "-o", str(out)]) == 0
    card = yaml.safe_load((tmp_path / "ft.yaml").read_text())
    assert card["from"] == str(project / "ckpt" / "net-fp32") and card["layout"] == "inplace-8b-64"
    assert card["fp32_accuracy"] == card0.accuracy          # the start is the user's checkpoint
    # 4 float epochs leave near-uniform weights: ~40 % of them start outside their 7-bit slots
    # (one QAT epoch does not recover from that clamp; three do)
    assert card["wot_out_of_range_before"] == count_out_of_layout(start, 8, get_layout("inplace-8b-64"))
    assert 0.3 < card["wot_fraction_out_of_range_before"] < 0.6
    assert card["accuracy"] >= 0.9 and card["bits"] == 8
    img = export_checkpoint(str(out), "inplace-8b-64", tmp_path / "img", trust_model_file=True)
    assert img.manifest.projected_weights == 0             # WOT left every weight in its slots


@pytest.mark.parametrize("name", ["resnet-small", "squeezenet-small"])
def test_data_dependent_init_makes_a_seeded_network_tell_inputs_apart(name):
    """A seeded network predicts (nearly) one class for every input; after the init every
    BatchNorm holds its input's statistics and each class's mean output is the same."""
    import torch

    from accelsim.nn import build_model
    from accelsim.nn.data import DataSpec, calibration_set
    from accelsim.nn.seeded import CENTRE_MAX, data_dependent_init

    x = calibration_set(DataSpec())
    model = build_model(name, seed=0)
    with torch.no_grad():
        before = model(x).argmax(1)
    assert torch.bincount(before).max() >= 0.9 * len(x)
    data_dependent_init(model, x)
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.__setitem__(mod, i[0]))
             for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    assert (len(seen) >= 2 if name == "resnet-small" else not seen) and not model.training   # SqueezeNet: no norms
    for k, (bn, inp) in enumerate(seen.items()):   # in the order they ran
        # exact for the first norm; a later one saw inputs that earlier norms normalised by
        # their batch's statistics (passes of 64), not by the running ones
        tol = 1e-5 if k == 0 else 0.02
        var = inp.var(dim=(0, 2, 3))
        assert torch.all((bn.running_mean - inp.mean(dim=(0, 2, 3))).abs() <= tol * var.sqrt() + 1e-6)
        assert torch.allclose(bn.running_var, var, rtol=2 * tol, atol=1e-6)
    means = (out if name == "resnet-small" else out[:CENTRE_MAX]).mean(0)
    assert float(means.max() - means.min()) < 1e-4 * float(out.abs().max())
    after = out.argmax(1)
    assert len(after.unique()) == 10 and torch.bincount(after).max() < 0.4 * len(x)


@pytest.mark.parametrize("layout", ["inplace-8b-64", "inplace-4b-32"])
def test_seeded_weights_fit_an_in_place_layout_before_export(layout, tmp_path):
    """Seeded weights are too wide for in-place slots: the exporter's projection clamps a
    quarter of them and the network predicts (nearly) one class. fit_layout clamps them the
    way WOT leaves them; after BatchNorm folding (depthwise convs too) nothing is projected."""
    import torch

    from accelsim.ecc import get_layout
    from accelsim.image import export_image
    from accelsim.infer import IntegerNetwork
    from accelsim.nn import build_model
    from accelsim.nn.data import DataSpec, calibration_set
    from accelsim.nn.seeded import data_dependent_init, fit_layout

    x = calibration_set(DataSpec())
    tops, projected = [], []
    for fit in (False, True):
        model = build_model("mobilenet-v2-small", seed=0)
        if fit:
            total = sum(m.weight.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
            assert 0.1 * total < fit_layout(model, get_layout(layout)) < 0.6 * total
        data_dependent_init(model, x)
        img = export_image(model, tmp_path / str(fit), layout=layout, input_shape=(1, 8, 8),
                           calibration=x, project=True)
        projected.append(img.manifest.projected_weights)
        tops.append(np.bincount(IntegerNetwork(img).predict(x[:500].numpy()), minlength=10))
    assert projected[0] > 1000 and projected[1] == 0
    assert tops[0].max() >= 495 and (tops[1] > 0).sum() >= 5 and tops[1].max() < 475


def test_seeded_zoo_network_takes_any_input_size_it_accepts(tmp_path):
    spec = parse_spec({"models": {"resnet18": {"seed": 0}}, "schemes": ["none-8b"], "voltages": [0.9],
                       "data": "synthetic:4x3x32x32"}, tmp_path)             # CIFAR-sized ResNet-18
    assert spec.metric == "sdc" and spec.checkpoints[("resnet18", "none-8b")].key == "resnet18#seed=0"
    with pytest.raises(UserError, match=r"model 'resnet18' \(none-8b\) does not accept inputs of shape \(1, 32, 32\)"):
        parse_spec({"models": {"resnet18": {"seed": 0}}, "schemes": ["none-8b"], "voltages": [0.9],
                    "data": "synthetic:4x1x32x32"}, tmp_path)


def test_infer_uses_the_data_the_image_was_made_for(project, tmp_path, capsys):
    """No --data: the image's manifest records the card's data (its transform too), so
    infer scores the user's folder, not digits; the card names it relative to itself."""
    img = tmp_path / "img"
    assert main(["export", str(project / "ckpt" / "net-int8"), "--layout", "inplace-8b-64", "-o", str(img),
                 "--trust-model-file"]) == 0
    source = yaml.safe_load((img / "manifest.yaml").read_text())["source"]
    assert source["data"] == {"source": f"imagefolder:{project / 'train'}", "resize": [12], "crop": [12, 12]}
    capsys.readouterr()
    assert main(["infer", str(img)]) == 0
    recorded = capsys.readouterr().out
    assert f"inputs of imagefolder:{project / 'train'}" in recorded
    assert main(["infer", str(img), "--data", f"imagefolder:{project}/train", "--resize", "12", "--crop", "12"]) == 0
    explicit = capsys.readouterr().out
    assert recorded.split("(")[0] == explicit.split("(")[0]   # the same accuracy on the same inputs
