"""Hostile input through the real CLI: every case must end with exit status 2, exactly one
line on stderr (``accelsim: error: ...``, no traceback) and no file created or changed.

Property-based cases (hypothesis) mutate a valid config of every kind (run, campaign,
accelerator, energy table, BER curve, manifest, model card) with a value of the wrong
type, NaN/inf, or an unknown key; a hand-made corpus covers YAML bombs, non-string keys,
bad paths, bad stores, images, CSVs, checkpoints and command-line values. Cases run
in-process through accelsim.cli.main for speed; a few go through real subprocesses.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from accelsim.campaign.store import SCHEMA_VERSION, Store
from accelsim.cli import main as cli_main
from accelsim.image.from_checkpoint import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MODELS = str(ROOT / "models")
CASES = {"n": 0}          # cases run in this session (the report quotes it)


# fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Valid inputs every case starts from (never written by a case: snapshotted too)."""
    d = tmp_path_factory.mktemp("fuzz-base")
    export_checkpoint(f"{MODELS}/lenet5-int8", "none-8b", d / "img")
    for ext in ("safetensors", "yaml"):
        shutil.copy(f"{MODELS}/lenet5-int8.{ext}", d / f"lenet.{ext}")
    Store(d / "store.sqlite").close()
    write_yaml(d / "spec.yaml", campaign_spec())
    (d / "map.csv").write_text("word,bit,vmin\n0,3,0.6\n5,1,0.55\n")
    return d


@pytest.fixture
def cases(tmp_path, base):
    counter = {"i": 0}

    def new_dir() -> Path:
        counter["i"] += 1
        d = tmp_path / f"c{counter['i']}"
        d.mkdir()
        return d
    return new_dir


def _snapshot(*roots: Path) -> dict:
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            st_ = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            out[str(p)] = (st_.st_size if p.is_file() else 0, st_.st_mtime_ns if p.is_file() else 0, digest)
    return out


def check_refused(argv: list[str], workdir: Path, base_dir: Path, expect: str | None = None) -> str:
    """Run the CLI in-process in ``workdir``: exit 2, one stderr line, nothing written."""
    CASES["n"] += 1
    before = _snapshot(workdir, base_dir)
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = cli_main([str(a) for a in argv])
            except SystemExit as exc:   # argparse's own errors
                rc = exc.code
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    assert rc == 2, (argv, rc, text, out.getvalue()[-500:])
    assert text.endswith("\n") and text.count("\n") == 1 and text.startswith("accelsim: error: "), (argv, text)
    assert "Traceback" not in text
    if expect is not None:
        assert expect in text, (argv, text)
    assert _snapshot(workdir, base_dir) == before, (argv, "files changed")
    return text


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# valid starting points -------------------------------------------------------------------
def campaign_spec():
    return {"name": "f", "models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9, 0.6], "chips": 1,
            "samples": 5, "models_dir": MODELS}


def run_config():
    return {**campaign_spec(), "output": "out", "tolerance": 0.01, "workers": 1}


ACCEL = yaml.safe_load((ROOT / "accelsim/configs/accelerator.yaml").read_text())
ENERGY = yaml.safe_load((ROOT / "accelsim/configs/energy.yaml").read_text())
CURVE = {k: v for k, v in yaml.safe_load((ROOT / "accelsim/configs/ber-synthetic.yaml").read_text()).items()}
CARD = yaml.safe_load((ROOT / "models/lenet5-int8.yaml").read_text())
FREE_FORM = {("source",), ("config",)}     # manifest source, card config: any mapping is valid


def _paths(node, prefix=()):
    """Every (path, value) in a nested document, skipping free-form subtrees."""
    if prefix in FREE_FORM:
        return
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            yield from _paths(v, prefix + (i,))


def _wrong_values(value) -> list:
    """Values a strict model must refuse where ``value`` is valid: wrong type, NaN, inf."""
    nan, inf = float("nan"), float("inf")
    if isinstance(value, bool):
        return [0, 1, "true", "yes", [True], 1.0]
    if isinstance(value, int):
        return [str(value), True, [value], {"v": value}, nan, inf, -inf]
    if isinstance(value, float):
        return [str(value), True, [value], {"v": value}, nan, inf, -inf]
    if isinstance(value, str):
        return [1, 2.5, True, [value], {"v": value}]
    if isinstance(value, list):
        return ["x", 3, True]
    if isinstance(value, dict):
        return ["x", 3, [1, 2], True]
    return []


def _set(doc, path, value):
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


@st.composite
def mutation(draw, doc: dict):
    """(mutated copy, description): one leaf replaced by a wrong value, or an unknown key added."""
    doc = json.loads(json.dumps(doc))
    paths = [(p, v) for p, v in _paths(doc) if p and _wrong_values(v)]
    maps = [(p, v) for p, v in _paths(doc) if isinstance(v, dict)]
    if draw(st.integers(0, 5)) == 0:
        path, node = draw(st.sampled_from(maps))
        key = draw(st.from_regex(r"\A[a-z]{2,8}_zz[a-z]{0,4}\Z"))
        node[key] = draw(st.sampled_from([1, "x", [1], {"a": 1}]))
        return doc, f"unknown key {'.'.join(map(str, path + (key,)))}"
    path, value = draw(st.sampled_from(paths))
    bad = draw(st.sampled_from(_wrong_values(value)))
    _set(doc, path, bad)
    return doc, f"{'.'.join(map(str, path))} = {bad!r}"


FUZZ = settings(max_examples=70, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


# property-based cases: one per config kind ---------------------------------------------------
@FUZZ
@given(m=mutation(campaign_spec()))
def test_fuzz_campaign_spec(cases, base, m):
    d = cases()
    write_yaml(d / "spec.yaml", m[0])
    check_refused(["campaign", "spec.yaml", "--store", "s.sqlite", "--no-progress"], d, base)


@FUZZ
@given(m=mutation(run_config()))
def test_fuzz_run_config(cases, base, m):
    d = cases()
    write_yaml(d / "run.yaml", m[0])
    check_refused(["run", "run.yaml", "-o", "out"], d, base)


@FUZZ
@given(m=mutation(ACCEL))
def test_fuzz_accelerator(cases, base, m):
    d = cases()
    write_yaml(d / "acc.yaml", m[0])
    check_refused(["simulate", "--image", base / "img", "--config", "acc.yaml", "-o", "r.json"], d, base)


@FUZZ
@given(m=mutation(ENERGY))
def test_fuzz_energy_table(cases, base, m):
    d = cases()
    write_yaml(d / "energy.yaml", m[0])
    write_yaml(d / "spec.yaml", {**campaign_spec(), "engine": "cycle", "energy_table": "energy.yaml"})
    check_refused(["campaign", "spec.yaml", "--store", "s.sqlite", "--no-progress"], d, base)


@FUZZ
@given(m=mutation(CURVE))
def test_fuzz_ber_curve(cases, base, m):
    d = cases()
    write_yaml(d / "curve.yaml", m[0])
    check_refused(["simulate", "--image", base / "img", "--curve", "curve.yaml", "--vdd", "0.6"], d, base)


@pytest.fixture(scope="module")
def manifest(base):
    return yaml.safe_load((base / "img" / "manifest.yaml").read_text())


@FUZZ
@given(data=st.data())
def test_fuzz_manifest(cases, base, manifest, data):
    doc, _ = data.draw(mutation(manifest))
    d = cases()
    shutil.copytree(base / "img", d / "img")
    write_yaml(d / "img" / "manifest.yaml", doc)
    check_refused(["inspect", "img"], d, base)


@FUZZ
@given(m=mutation(CARD))
def test_fuzz_model_card(cases, base, m):
    d = cases()
    shutil.copy(base / "lenet.safetensors", d / "m.safetensors")
    write_yaml(d / "m.yaml", m[0])
    check_refused(["export", "m", "--layout", "none-8b", "-o", "img"], d, base)


# the hand-made corpus -----------------------------------------------------------------------
BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))
YAML_TEXTS = {
    "alias bomb": BOMB, "alias": "models: &m [lenet5]\nschemes: *m\n", "non-string key": "{1.5: a}\n",
    "list key": "? [a, b]\n: 1\n", "null key": "~: 1\n", "bool key": "yes: 1\n", "deep": "a: " + "[" * 60 + "]" * 60,
    "two documents": "a: 1\n---\nb: 2\n", "python tag": "a: !!python/object/apply:os.system [ls]\n",
    "unclosed": "a: [1, 2\n", "tab": "a:\n\t- 1\n", "a list": "- 1\n- 2\n", "a scalar": "42\n", "empty": "",
    "binary": b"\xff\xfe\x00garbage\x80", "date key": "2024-01-01: 1\n", "merge key": "<<: {a: 1}\n",
    "NUL in text": "a: b\x00c\n", "huge int": f"chips: {10**40}\n",
}
YAML_COMMANDS = {   # file name -> argv that reads it
    "campaign": ["campaign", "f.yaml", "--store", "s.sqlite", "--no-progress"],
    "run": ["run", "f.yaml", "-o", "out"],
    "accelerator": ["simulate", "--image", "{img}", "--config", "f.yaml"],
    "curve": ["simulate", "--image", "{img}", "--curve", "f.yaml"],
}


@pytest.mark.parametrize("command", sorted(YAML_COMMANDS))
@pytest.mark.parametrize("name", sorted(YAML_TEXTS))
def test_hostile_yaml_files(cases, base, command, name):
    d = cases()
    text = YAML_TEXTS[name]
    (d / "f.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    argv = [a.replace("{img}", str(base / "img")) for a in YAML_COMMANDS[command]]
    check_refused(argv, d, base)


def _campaign_case(d, **edit):
    write_yaml(d / "spec.yaml", {**campaign_spec(), **edit})
    return ["campaign", "spec.yaml", "--store", "s.sqlite", "--no-progress"]


CAMPAIGN_EDITS = {
    "upper-case scheme": ({"schemes": ["NONE-8B"]}, "did you mean 'none-8b'"),
    "seed 2^64": ({"seed": 2**64}, "seed: must be <= 9223372036854775807"),
    "seed -1": ({"seed": -1}, "seed: must be >= 0"),
    "chips 10^12": ({"chips": 10**12}, "chips: must be <= 1000000"),
    "too many trials": ({"chips": 1000, "repeats": 1000}, "trials planned, more than the limit"),
    "workers field": ({"workers": 2}, "unknown field 'workers'"),
    "nan voltage": ({"voltages": [float("nan")]}, "voltages[0]: must be a finite number"),
    "inf voltage": ({"voltages": [float("inf")]}, "voltages[0]: must be a finite number"),
    "voltage outside curve": ({"voltages": [0.2]}, "outside the BER curve's domain"),
    "bers and voltages": ({"bers": [1e-3]}, "exactly one of voltages or bers"),
    "ber 0": ({"bers": [0.0], "voltages": None}, "bers[0]: must be > 0"),
    "list as accelerator path": ({"accelerator": ["a.yaml"]}, "accelerator: must be a string"),
    "mapping as energy path": ({"energy_table": {"a": 1}}, "energy_table: must be a string"),
    "number as curve": ({"ber_curve": 3}, "ber_curve: must be a path or a mapping"),
    "missing accelerator": ({"accelerator": "nope.yaml", "engine": "cycle"}, "does not exist"),
    "accelerator with engine fast": ({"accelerator": str(ROOT / "accelsim/configs/accelerator.yaml")},
                                     "used only with engine: cycle"),
    "missing curve": ({"ber_curve": "nope.yaml"}, "does not exist"),
    "missing fault map": ({"fault_model": "measured", "fault_map": "nope.csv"}, "does not exist"),
    "fault map without measured": ({"fault_map": "map.csv"}, "fault_map needs fault_model: measured"),
    "unknown model": ({"models": ["alexnet"]}, "no checkpoint"),
    "p_stuck1 nan": ({"p_stuck1": float("nan")}, "p_stuck1: must be a finite number"),
    "v_low above sweep": ({"v_low": 0.95}, "v_low"),
    "layers empty": ({"layers": []}, "layers"),
    "engine upper": ({"engine": "CYCLE"}, "did you mean 'cycle'"),
    "samples 0": ({"samples": 0}, "samples: must be >= 1"),
    "samples 1.5": ({"samples": 1.5}, "samples: must be an integer"),
    "name list": ({"name": ["a"]}, "name: must be a string"),
    "models_dir int": ({"models_dir": 5}, "models_dir: must be a string"),
    "models override not a path": ({"models": {"lenet5": {"none-8b": [1]}}}, "models.lenet5.none-8b"),
    "NUL in path": ({"accelerator": "a\x00b.yaml"}, "accelerator"),
}


@pytest.mark.parametrize("case", sorted(CAMPAIGN_EDITS))
def test_hostile_campaign_fields(cases, base, case):
    d = cases()
    edit, expect = CAMPAIGN_EDITS[case]
    edit = {k: v for k, v in edit.items()}
    spec = {**campaign_spec(), **edit}
    write_yaml(d / "spec.yaml", {k: v for k, v in spec.items() if v is not None})
    check_refused(["campaign", "spec.yaml", "--store", "s.sqlite", "--no-progress"], d, base, expect)


def _nan_checkpoint(d: Path, base: Path):
    from safetensors.torch import load
    state = load((base / "lenet.safetensors").read_bytes())
    key = next(k for k in state if k.endswith(".weight") and state[k].dim() > 1)
    state[key] = state[key].clone()
    state[key].view(-1)[3] = float("nan")
    (d / "m.safetensors").write_bytes(st_save(state))
    shutil.copy(base / "lenet.yaml", d / "m.yaml")


def _scale_checkpoint(d: Path, base: Path, value: float):
    from safetensors.torch import load
    state = load((base / "lenet.safetensors").read_bytes())
    key = next(k for k in state if k.endswith("weight_scale"))
    state[key] = state[key].clone()
    state[key].view(-1)[0] = value
    (d / "m.safetensors").write_bytes(st_save(state))
    shutil.copy(base / "lenet.yaml", d / "m.yaml")


def _int_checkpoint(d: Path, base: Path):
    from safetensors.torch import load
    state = load((base / "lenet.safetensors").read_bytes())
    key = next(k for k in state if k.endswith(".weight"))
    state[key] = state[key].to(torch.int32)
    (d / "m.safetensors").write_bytes(st_save(state))
    shutil.copy(base / "lenet.yaml", d / "m.yaml")


def _card(d: Path, base: Path, **edit):
    shutil.copy(base / "lenet.safetensors", d / "m.safetensors")
    write_yaml(d / "m.yaml", {**CARD, **edit})


def _image(d: Path, base: Path, fn):
    shutil.copytree(base / "img", d / "img")
    fn(d / "img")


def _edit_manifest(img: Path, fn):
    m = yaml.safe_load((img / "manifest.yaml").read_text())
    fn(m)
    write_yaml(img / "manifest.yaml", m)


def _truncate(path: Path, n: int):
    path.write_bytes(path.read_bytes()[:-n])


def _foreign_store(path: Path):
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE people (name TEXT)")
    c.commit()
    c.close()


def _store_missing_column(path: Path):
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    c.execute("CREATE TABLE trials (key TEXT PRIMARY KEY, model TEXT)")
    c.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", "accelsim-campaign"),
                                                     ("schema_version", str(SCHEMA_VERSION))])
    c.commit()
    c.close()


def _store_bad_row(path: Path, base: Path):
    shutil.copy(base / "store.sqlite", path)
    c = sqlite3.connect(path)
    c.execute("INSERT INTO trials (key, model, scheme, layers, vdd, accuracy, per_layer) "
              "VALUES ('k', 'm', 's', 'all', 'high', 0.5, '{}')")
    c.commit()
    c.close()


# name -> (setup(d, base), argv, expected text)
CORPUS = {
    # command-line values
    "--workers 0": (None, ["campaign", "{base}/spec.yaml", "--store", "s.sqlite", "--workers", "0"], "--workers"),
    "--workers 1.5": (None, ["campaign", "{base}/spec.yaml", "--store", "s.sqlite", "--workers", "1.5"],
                      "not an integer"),
    "run --workers -1": (None, ["run", "--quick", "--workers", "-1"], "--workers"),
    "--clip nan": (None, ["train", "--clip", "nan", "-o", "m"], "not a finite number"),
    "--lr inf": (None, ["train", "--lr", "inf", "-o", "m"], "not a finite number"),
    "--bits 0": (None, ["train", "--bits", "0", "-o", "m"], "--bits"),
    "--bits 99": (None, ["train", "--bits", "99", "-o", "m"], "--bits"),
    "--seed 2^64": (None, ["train", "--seed", str(2**64), "-o", "m"], "--seed"),
    "train bad model": (None, ["train", "--model", "alexnet", "-o", "m"], "alexnet"),
    "train out parent is a file": (lambda d, b: (d / "f").write_text("x"), ["train", "-o", "f/m"], "is a file"),
    "train out is a dir": (lambda d, b: (d / "m.safetensors").mkdir(), ["train", "-o", "m"], "m.safetensors"),
    "--vdd nan": (None, ["simulate", "--image", "{base}/img", "--vdd", "nan"], "not a finite number"),
    "--vdd -1": (None, ["simulate", "--image", "{base}/img", "--vdd", "-1"], "--vdd"),
    "--v-low above --vdd": (None, ["simulate", "--image", "{base}/img", "--vdd", "0.6", "--v-low", "0.7"],
                            "above the supply"),
    "--ber 2": (None, ["simulate", "--image", "{base}/img", "--ber", "2"], "--ber"),
    "--chip -1": (None, ["simulate", "--image", "{base}/img", "--chip", "-1"], "--chip"),
    "--tolerance nan": (None, ["report", "{base}/store.sqlite", "-o", "rep", "--tolerance", "nan"], "finite"),
    "--tolerance 1": (None, ["report", "{base}/store.sqlite", "-o", "rep", "--tolerance", "1"], "--tolerance"),
    "schema unknown kind": (None, ["schema", "spec"], "invalid choice"),
    "export unknown layout": (None, ["export", "{base}/lenet", "--layout", "none-9b", "-o", "img"], "none-9b"),
    "export upper-case layout": (None, ["export", "{base}/lenet", "--layout", "NONE-8B", "-o", "img"], "invalid choice"),
    "scheduler garbage": (None, ["campaign", "{base}/spec.yaml", "--store", "s.sqlite", "--scheduler", "not an address"],
                          "Dask scheduler address"),
    "scheduler nobody": (None, ["campaign", "{base}/spec.yaml", "--store", "s.sqlite", "--scheduler",
                                "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    # output paths
    "export out parent is a file": (lambda d, b: (d / "f").write_text("x"),
                                    ["export", "{base}/lenet", "--layout", "none-8b", "-o", "f/img"], "is a file"),
    "export out is a file": (lambda d, b: (d / "f").write_text("x"),
                             ["export", "{base}/lenet", "--layout", "none-8b", "-o", "f", "--force"], "not a directory"),
    "export out exists": (lambda d, b: (d / "img").mkdir(),
                          ["export", "{base}/lenet", "--layout", "none-8b", "-o", "img"], "pass --force"),
    "report out exists": (lambda d, b: (d / "rep").mkdir(), ["report", "{base}/store.sqlite", "-o", "rep"], None),
    "report out parent is a file": (lambda d, b: (d / "f").write_text("x"),
                                    ["report", "{base}/store.sqlite", "-o", "f/rep"], None),
    "store is a directory": (lambda d, b: (d / "s.sqlite").mkdir(),
                             ["campaign", "{base}/spec.yaml", "--store", "s.sqlite"], "is a directory"),
    "store parent is a file": (lambda d, b: (d / "f").write_text("x"),
                               ["campaign", "{base}/spec.yaml", "--store", "f/s.sqlite"], "is a file"),
    "simulate -o is a directory": (lambda d, b: (d / "r.json").mkdir(),
                                   ["simulate", "--image", "{base}/img", "-o", "r.json"], "is a directory"),
    "simulate --trace parent is a file": (lambda d, b: (d / "f").write_text("x"),
                                          ["simulate", "--image", "{base}/img", "--trace", "f/t.json"], "is a file"),
    "run out parent is a file": (lambda d, b: (d / "f").write_text("x"), ["run", "--quick", "-o", "f/out"], "is a file"),
    "run out is a file": (lambda d, b: (d / "f").write_text("x"), ["run", "--quick", "-o", "f", "--force"],
                          "not a directory"),
    # stores
    "report on empty file": (lambda d, b: (d / "e.sqlite").write_bytes(b""), ["report", "e.sqlite", "-o", "rep"],
                             "empty"),
    "report on text file": (lambda d, b: (d / "t.sqlite").write_text("not a database " * 50),
                            ["report", "t.sqlite", "-o", "rep"], "not a readable SQLite file"),
    "report on foreign store": (lambda d, b: _foreign_store(d / "x.sqlite"), ["report", "x.sqlite", "-o", "rep"],
                                "foreign"),
    "report on store without columns": (lambda d, b: _store_missing_column(d / "x.sqlite"),
                                        ["report", "x.sqlite", "-o", "rep"], "has no column(s)"),
    "report on store with a bad row": (lambda d, b: _store_bad_row(d / "x.sqlite", b),
                                       ["report", "x.sqlite", "-o", "rep"], "is not a number"),
    "report on missing store": (None, ["report", "nope.sqlite", "-o", "rep"], "does not exist"),
    "report on a directory": (lambda d, b: (d / "x.sqlite").mkdir(), ["report", "x.sqlite", "-o", "rep"], None),
    "campaign on foreign store": (lambda d, b: _foreign_store(d / "x.sqlite"),
                                  ["campaign", "{base}/spec.yaml", "--store", "x.sqlite"], "foreign"),
    "campaign on store without columns": (lambda d, b: _store_missing_column(d / "x.sqlite"),
                                          ["campaign", "{base}/spec.yaml", "--store", "x.sqlite"], "no column"),
    "campaign on text store": (lambda d, b: (d / "t.sqlite").write_text("hello " * 100),
                               ["campaign", "{base}/spec.yaml", "--store", "t.sqlite"], "not a readable SQLite"),
    # images
    "truncated image.bin": (lambda d, b: _image(d, b, lambda i: _truncate(i / "image.bin", 8)), ["inspect", "img"],
                            "truncated"),
    "truncated image.hex": (lambda d, b: _image(d, b, lambda i: _truncate(i / "image.hex", 5)), ["inspect", "img"],
                            "image.hex"),
    "bad hex digit": (lambda d, b: _image(d, b, lambda i: (i / "image.hex").write_bytes(
        b"g" + (i / "image.hex").read_bytes()[1:])), ["inspect", "img"], "image.hex"),
    "flipped bin bit": (lambda d, b: _image(d, b, lambda i: (i / "image.bin").write_bytes(
        bytes([(i / "image.bin").read_bytes()[0] ^ 1]) + (i / "image.bin").read_bytes()[1:])), ["infer", "img"],
        "sha256"),
    "missing manifest": (lambda d, b: _image(d, b, lambda i: (i / "manifest.yaml").unlink()), ["inspect", "img"],
                         "no manifest.yaml"),
    "manifest is a list": (lambda d, b: _image(d, b, lambda i: (i / "manifest.yaml").write_text("- 1\n")),
                           ["inspect", "img"], "expected a mapping"),
    "manifest alias bomb": (lambda d, b: _image(d, b, lambda i: (i / "manifest.yaml").write_text(BOMB)),
                            ["inspect", "img"], "aliases"),
    "manifest byte_order big": (lambda d, b: _image(d, b, lambda i: _edit_manifest(
        i, lambda m: m.__setitem__("byte_order", "big"))), ["infer", "img"], "byte_order"),
    "manifest groups 2": (lambda d, b: _image(d, b, lambda i: _edit_manifest(
        i, lambda m: m["layers"][0].__setitem__("groups", 2))), ["inspect", "img"], "groups"),
    "manifest node shape": (lambda d, b: _image(d, b, lambda i: _edit_manifest(
        i, lambda m: m["graph"][1].__setitem__("shape", [1, 2, 3]))), ["inspect", "img"], "shape"),
    "manifest edited scale": (lambda d, b: _image(d, b, lambda i: _edit_manifest(
        i, lambda m: m["layers"][0]["weight_scale"].__setitem__(0, 1.5))), ["inspect", "img"], None),
    "image is a file": (lambda d, b: (d / "img").write_text("x"), ["inspect", "img"], "no manifest.yaml"),
    "image missing": (None, ["infer", "nope"], "is neither a memory image directory nor a checkpoint"),
    # fault maps
    "fault map vmin nan": (lambda d, b: (d / "m.csv").write_text("word,bit,vmin\n0,1,nan\n"),
                           ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "vmin"),
    "fault map text": (lambda d, b: (d / "m.csv").write_text("word,bit\nzero,one\n"),
                       ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "line 2"),
    "fault map no header": (lambda d, b: (d / "m.csv").write_text(""),
                            ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "header"),
    "fault map binary": (lambda d, b: (d / "m.csv").write_bytes(b"word,bit\n\xff\xfe\x00,\x80\n"),
                         ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "m.csv"),
    "fault map extra field": (lambda d, b: (d / "m.csv").write_text("word,bit\n1,2,3\n"),
                              ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "line 2"),
    "fault map bit too high": (lambda d, b: (d / "m.csv").write_text("word,bit\n1,64\n"),
                               ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "outside"),
    "fault map unknown column": (lambda d, b: (d / "m.csv").write_text("word,bit,vmn\n1,2,0.5\n"),
                                 ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "unknown column"),
    "fault map is a directory": (lambda d, b: (d / "m.csv").mkdir(),
                                 ["simulate", "--image", "{base}/img", "--fault-map", "m.csv"], "m.csv"),
    # checkpoints
    "checkpoint garbage": (lambda d, b: ((d / "m.safetensors").write_bytes(b"\x00" * 64),
                                        shutil.copy(b / "lenet.yaml", d / "m.yaml")),
                           ["export", "m", "--layout", "none-8b", "-o", "img"], "safetensors"),
    "checkpoint NaN weight": (lambda d, b: _nan_checkpoint(d, b), ["export", "m", "--layout", "none-8b", "-o", "img"],
                              "NaN"),
    "checkpoint negative scale": (lambda d, b: _scale_checkpoint(d, b, -0.5),
                                  ["export", "m", "--layout", "none-8b", "-o", "img"], "weight_scale"),
    "checkpoint NaN scale": (lambda d, b: _scale_checkpoint(d, b, float("nan")),
                             ["export", "m", "--layout", "none-8b", "-o", "img"], "weight_scale"),
    "checkpoint int32 weight": (lambda d, b: _int_checkpoint(d, b), ["export", "m", "--layout", "none-8b", "-o", "img"],
                                "int32"),
    "checkpoint missing card": (lambda d, b: shutil.copy(b / "lenet.safetensors", d / "m.safetensors"),
                                ["export", "m", "--layout", "none-8b", "-o", "img"], "does not exist"),
    "card bits 0": (lambda d, b: _card(d, b, bits=0), ["export", "m", "--layout", "none-8b", "-o", "img"], "bits"),
    "card bits 99": (lambda d, b: _card(d, b, bits=99), ["export", "m", "--layout", "none-8b", "-o", "img"], "bits"),
    "card unknown model": (lambda d, b: _card(d, b, model="alexnet"),
                           ["export", "m", "--layout", "none-8b", "-o", "img"], "alexnet"),
    "card seed 2^64": (lambda d, b: _card(d, b, seed=2**64), ["export", "m", "--layout", "none-8b", "-o", "img"],
                       "seed"),
    "checkpoint nan in campaign": (lambda d, b: (_nan_checkpoint(d, b), write_yaml(
        d / "spec.yaml", {**campaign_spec(), "models": {"lenet5": {"none-8b": "m"}}})),
        ["campaign", "spec.yaml", "--store", "s.sqlite", "--no-progress"], "NaN"),
    # run configs
    "run workers 1.5": (lambda d, b: write_yaml(d / "r.yaml", {**run_config(), "workers": 1.5}),
                        ["run", "r.yaml"], "workers: must be an integer"),
    "run tolerance 1": (lambda d, b: write_yaml(d / "r.yaml", {**run_config(), "tolerance": 1.0}),
                        ["run", "r.yaml"], "tolerance"),
    "run bad energy table": (lambda d, b: (write_yaml(d / "e.yaml", {**ENERGY, "actions": {
        **ENERGY["actions"], "mac_pj": {8: -1.0}}}),
        write_yaml(d / "r.yaml", {**run_config(), "engine": "cycle", "energy_table": "e.yaml"})),
        ["run", "r.yaml"], "mac_pj"),
    "run energy action typo": (lambda d, b: (write_yaml(d / "e.yaml", {**ENERGY, "actions": {
        **ENERGY["actions"], "dram_pj_per_bytes": 1.0}}),
        write_yaml(d / "r.yaml", {**run_config(), "engine": "cycle", "energy_table": "e.yaml"})), ["run", "r.yaml"],
        "did you mean"),
    "run config is a directory": (lambda d, b: (d / "r.yaml").mkdir(), ["run", "r.yaml"], "is not a file"),
    "run config missing": (None, ["run", "nope.yaml"], "does not exist"),
    "campaign spec huge": (lambda d, b: (d / "big.yaml").write_bytes(b"a: " + b"x" * (33 * 1024 * 1024)),
                           ["campaign", "big.yaml", "--store", "s.sqlite"], "more than the limit"),
    "accelerator bool rows": (lambda d, b: write_yaml(d / "a.yaml", {"pe_array": {"rows": True}}),
                              ["simulate", "--image", "{base}/img", "--config", "a.yaml"], "rows"),
    "accelerator word bits mismatch": (lambda d, b: write_yaml(d / "a.yaml", {"weight_sram": {"word_bits": 72}}),
                                       ["simulate", "--image", "{base}/img", "--config", "a.yaml"], "word_bits"),
    "curve nan point": (lambda d, b: write_yaml(d / "c.yaml", {"points": [[0.5, float("nan")], [0.6, 1e-4]]}),
                        ["simulate", "--image", "{base}/img", "--curve", "c.yaml"], "finite"),
    "curve rising": (lambda d, b: write_yaml(d / "c.yaml", {"table": [[0.5, 1e-6], [0.6, 1e-2]]}),
                     ["simulate", "--image", "{base}/img", "--curve", "c.yaml"], "must not increase"),
}


def refuse_corpus_case(corpus: dict, name: str, cases, base: Path) -> Path:
    """Case ``name`` of a hand-made hostile corpus ({name: (setup(folder, base) or None, argv
    with {base}, text the refusal names)}) set up in a fresh folder; the command must refuse it
    in one line (check_refused). Returns the folder."""
    setup, argv, expect = corpus[name]
    d = cases()
    if setup is not None:
        setup(d, base)
    check_refused([a.replace("{base}", str(base)) for a in argv], d, base, expect)
    return d


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hand_made_corpus(cases, base, name):
    refuse_corpus_case(CORPUS, name, cases, base)


def test_edited_scale_is_detected_by_the_manifest_hash(cases, base):
    d = cases()
    _image(d, base, lambda i: _edit_manifest(i, lambda m: m["layers"][0]["bias"].__setitem__(0, 7)))
    text = check_refused(["inspect", "img"], d, base)
    assert "manifest_sha256" in text or "changed" in text


SUBPROCESS = {   # through a real process: the console script's exit status and stderr
    "alias bomb": (lambda d: (d / "f.yaml").write_text(BOMB), ["campaign", "f.yaml", "--store", "s.sqlite"]),
    "--workers 0": (lambda d: write_yaml(d / "f.yaml", campaign_spec()),
                    ["campaign", "f.yaml", "--store", "s.sqlite", "--workers", "0"]),
    "report on empty file": (lambda d: (d / "e.sqlite").write_bytes(b""), ["report", "e.sqlite", "-o", "rep"]),
    "export out parent is a file": (lambda d: (d / "f").write_text("x"),
                                    ["export", f"{MODELS}/lenet5-int8", "--layout", "none-8b", "-o", "f/img"]),
}


@pytest.mark.parametrize("name", sorted(SUBPROCESS))
def test_hostile_input_through_a_real_process(tmp_path, name):
    setup, argv = SUBPROCESS[name]
    setup(tmp_path)
    CASES["n"] += 1
    before = _snapshot(tmp_path)
    r = subprocess.run([sys.executable, "-m", "accelsim", *argv], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("accelsim: error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert _snapshot(tmp_path) == before


@pytest.fixture(scope="module", autouse=True)
def _report_case_count():
    yield
    print(f"\nfuzz cases run in {__name__}: {CASES['n']}")


def _small_files():
    """In the child: files may not grow past 4 KiB, and writing past it fails with EFBIG
    instead of killing the process (a real OS error on the output, as a full disk gives)."""
    import resource
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.mark.parametrize("argv", [
    ["export", f"{MODELS}/lenet5-int8", "--layout", "none-8b", "-o", "img"],
    ["simulate", "--image", "{img}", "-o", "r.json"],
])
def test_write_failure_is_one_line_and_leaves_nothing(tmp_path, base, argv):
    CASES["n"] += 1
    argv = [a.replace("{img}", str(base / "img")) for a in argv]
    before = _snapshot(tmp_path)
    r = subprocess.run([sys.executable, "-m", "accelsim", *argv], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, preexec_fn=_small_files)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("accelsim: error: cannot write ") and "File too large" in r.stderr, r.stderr
    assert _snapshot(tmp_path) == before    # no half-written output, no temporary left behind


# round two (issue 24): data sources, model files, stores and output paths -----------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_chunk(path: Path, kind: bytes, data: bytes) -> None:
    """A valid 8x8 grey PNG with one extra ancillary chunk before IDAT (a text or ICC bomb)."""
    from PIL import Image
    buf = io.BytesIO()
    Image.new("L", (8, 8), 7).save(buf, "PNG")
    raw = buf.getvalue()
    at = raw.index(b"IDAT") - 4
    path.write_bytes(raw[:at] + _png_chunk(kind, data) + raw[at:])


def _image_folder(d: Path, name: str = "imgs", classes=("0",), fn=None) -> Path:
    from PIL import Image
    root = d / name
    for c in classes:
        (root / c).mkdir(parents=True)
        if fn is None:
            Image.new("L", (8, 8), 100).save(root / c / "a.png")
        else:
            fn(root / c / "a.png")
    return root


def _idx(d: Path, images: bytes, labels: bytes | None = None, gz: bool = False) -> None:
    import gzip as gzip_
    m = d / "mnist"
    m.mkdir()
    labels = labels if labels is not None else b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"\x01\x02"
    for name, raw in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        if gz:
            (m / (name + ".gz")).write_bytes(raw if raw[:2] != b"\x00\x00" else gzip_.compress(raw))
        else:
            (m / name).write_bytes(raw)


def _idx_header(*dims: int) -> bytes:
    return b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(v.to_bytes(4, "big") for v in dims)


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _npz_declaring(path: Path, shape: tuple) -> None:
    """An npz whose x.npy header declares ``shape`` (uint8) over 16 bytes of data."""
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", header.getvalue() + b"\x00" * 16)   # the writer puts the magic first


def _model_file(d: Path, body: str, name: str = "m.py") -> Path:
    (d / name).write_text("import sys\nimport torch\n" + body)
    shutil.copy(Path(MODELS) / "lenet5-int8.safetensors", d / "w.safetensors")
    return d / name


FACTORY_EXIT_BODIES = {
    "sys.exit(0) at import": "sys.exit(0)\n",
    "sys.exit(3) at import": "sys.exit(3)\n",
    "KeyboardInterrupt at import": "raise KeyboardInterrupt\n",
    "sys.exit(0) in factory": "def build():\n    sys.exit(0)\n",
    "KeyboardInterrupt in factory": "def build():\n    raise KeyboardInterrupt\n",
    "GeneratorExit in factory": "def build():\n    raise GeneratorExit('x')\n",
}


def _trial_store(d: Path, base: Path, sql: str | None = None, params=()) -> Path:
    """A copy of the module's finished two-trial store, edited by ``sql``."""
    path = d / "t.sqlite"
    shutil.copy(base / "trials.sqlite", path)
    if sql:
        c = sqlite3.connect(path)
        c.execute(sql, params)
        c.commit()
        c.close()
    return path


def _damage(path: Path) -> None:
    """4 KiB of garbage written over the store's second page (a disk or a user gone wrong)."""
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def trials_store(base):
    """base/trials.sqlite: a finished campaign of two trials (lenet5, none-8b, two voltages)."""
    spec = write_yaml(base / "two.yaml", {**campaign_spec(), "samples": 20})
    assert cli_main(["campaign", str(spec), "--store", str(base / "trials.sqlite"), "--no-progress"]) == 0
    shutil.rmtree(base / "trials.images")
    return base / "trials.sqlite"


ROUND_TWO = {
    # 1. output paths that are not regular files
    "simulate -o char device": (lambda d, b: os.mknod(d / "dev", 0o020666, os.makedev(1, 3)),
                                ["simulate", "--image", "{base}/img", "-o", "dev"], "not a regular file"),
    "simulate --trace FIFO": (lambda d, b: os.mkfifo(d / "fifo"),
                              ["simulate", "--image", "{base}/img", "--trace", "fifo"], "not a regular file"),
    "train -o dangling link": (lambda d, b: os.symlink(d / "nowhere", d / "m.safetensors"),
                               ["train", "-o", "m", "--epochs", "0"], "not a regular file"),
    # 2. model files that exit, wrong labels, samples, values
    **{f"export model file {k}": (lambda d, b, body=v: _model_file(d, body),
                                  ["export", "w.safetensors", "--model", "m.py:build", "--layout", "none-8b",
                                   "-o", "img"], "m.py") for k, v in FACTORY_EXIT_BODIES.items()},
    "campaign model file sys.exit": (lambda d, b: (_model_file(d, "sys.exit(0)\n"), write_yaml(
        d / "s.yaml", {**campaign_spec(), "models": {"mine": {"factory": "m.py:build", "seed": 1}}})),
        ["campaign", "s.yaml", "--store", "s.sqlite", "--no-progress"], "sys.exit(0)"),
    "train model file KeyboardInterrupt": (lambda d, b: _model_file(d, "def build():\n    raise KeyboardInterrupt\n"),
                                           ["train", "--model", "m.py:build", "-o", "m"], "KeyboardInterrupt"),
    "npz labels uint64 2^64-1": (lambda d, b: _npz(d / "u.npz", x=np.zeros((4, 1, 8, 8), np.uint8),
                                                   y=np.full(4, 2**64 - 1, np.uint64)),
                                 ["infer", "{base}/img", "--data", "npz:u.npz"], "18446744073709551615"),
    "train on npz labels uint64": (lambda d, b: _npz(d / "u.npz", x=np.zeros((10, 1, 8, 8), np.uint8),
                                                     y=np.full(10, 2**64 - 1, np.uint64)),
                                   ["train", "--data", "npz:u.npz", "-o", "m", "--epochs", "1"], "is above"),
    "npz label past the model's classes": (lambda d, b: _npz(d / "l.npz", x=np.zeros((4, 1, 8, 8), np.uint8),
                                                             y=np.array([0, 1, 2, 10])),
                                           ["infer", "{base}/img", "--data", "npz:l.npz"], "label 10 is out of range"),
    "infer --samples beyond the data": (None, ["infer", "{base}/img", "--samples", "100000"], "holds only 450"),
    "--data empty": (None, ["infer", "{base}/img", "--data", ""], "empty"),
    "--data blank": (None, ["train", "--data", "  ", "-o", "m"], "empty"),
    "--image with --layout": (None, ["simulate", "--image", "{base}/img", "--layout", "none-4b"],
                              "--layout none-4b applies to --topology only"),
    "report sdc_top1 -1": (lambda d, b: _trial_store(d, b, "UPDATE trials SET sdc_top1 = -1"),
                           ["report", "t.sqlite", "-o", "rep"], "sdc_top1 = -1.0 is outside 0..1"),
    "report sdc_top1 7.5": (lambda d, b: _trial_store(d, b, "UPDATE trials SET sdc_top1 = 7.5"),
                            ["report", "t.sqlite", "-o", "rep"], "outside 0..1"),
    "report accuracy inf": (lambda d, b: _trial_store(d, b, "UPDATE trials SET accuracy = 9e999"),
                            ["report", "t.sqlite", "-o", "rep"], "not a finite number"),
    "report negative count": (lambda d, b: _trial_store(d, b, "UPDATE trials SET residual_bits = -4"),
                              ["report", "t.sqlite", "-o", "rep"], "negative"),
    # 3. model labels used in file names
    "label ../../escaped": (lambda d, b: write_yaml(d / "s.yaml", {**campaign_spec(), "models": {
        "../../escaped": {"checkpoint": f"{MODELS}/lenet5-int8"}}}),
        ["campaign", "s.yaml", "--store", "s.sqlite"], "not usable in a file name"),
    "label absolute": (lambda d, b: write_yaml(d / "s.yaml", {**campaign_spec(), "models": {
        "/tmp/escaped": {"checkpoint": f"{MODELS}/lenet5-int8"}}}),
        ["campaign", "s.yaml", "--store", "s.sqlite"], "not usable in a file name"),
    "label with NUL": (lambda d, b: write_yaml(d / "s.yaml", {**campaign_spec(), "models": {
        "a\x00b": {"checkpoint": f"{MODELS}/lenet5-int8"}}}),
        ["campaign", "s.yaml", "--store", "s.sqlite"], "not usable in a file name"),
    "label 300 characters": (lambda d, b: write_yaml(d / "s.yaml", {**campaign_spec(), "models": {
        "m" * 300: {"checkpoint": f"{MODELS}/lenet5-int8"}}}),
        ["campaign", "s.yaml", "--store", "s.sqlite"], "too long"),
    # 4. idx files
    "idx truncated header": (lambda d, b: _idx(d, b"\x00\x00\x08\x03\x00\x00"),
                             ["infer", "{base}/img", "--data", "mnist:mnist"], "truncated IDX header"),
    "idx impossible dims": (lambda d, b: _idx(d, _idx_header(2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 64),
                            ["infer", "{base}/img", "--data", "mnist:mnist"], "more than the limit"),
    "idx corrupt gzip": (lambda d, b: _idx(d, b"\x1f\x8b\x08\x00" + b"\xff" * 64, gz=True),
                         ["infer", "{base}/img", "--data", "mnist:mnist"], "not readable"),
    "idx zero samples": (lambda d, b: _idx(d, _idx_header(0, 8, 8), _idx_header(0)),
                         ["infer", "{base}/img", "--data", "mnist:mnist"], "no samples"),
    "idx 255 dimensions": (lambda d, b: _idx(d, b"\x00\x00\x08\xff" + b"\x00\x00\x00\x01" * 255),
                           ["infer", "{base}/img", "--data", "mnist:mnist"], "255 dimensions"),
    # 4. npz files
    "npz truncated": (lambda d, b: (d / "t.npz").write_bytes(
        _npz(d / "v.npz", x=np.zeros((50, 1, 8, 8), np.float32)).read_bytes()[:3000]),
        ["infer", "{base}/img", "--data", "npz:t.npz"], "not readable as an npz archive"),
    "npz corrupt member": (lambda d, b: (d / "c.npz").write_bytes(
        (lambda raw: raw[:200] + bytes(x ^ 0x55 for x in raw[200:400]) + raw[400:])(
            _npz(d / "v.npz", x=np.ones((50, 1, 8, 8), np.float32)).read_bytes())),
        ["infer", "{base}/img", "--data", "npz:c.npz"], "c.npz"),
    ".npy named .npz": (lambda d, b: np.save(d / "a.npy", np.zeros((4, 1, 8, 8), np.float32)) or
                        (d / "a.npy").rename(d / "a.npz"),
                        ["infer", "{base}/img", "--data", "npz:a.npz"], "a single .npy array"),
    "npz header declaring 561 GiB": (lambda d, b: _npz_declaring(d / "h.npz", (561 << 30,)),
                                     ["infer", "{base}/img", "--data", "npz:h.npz"], "declares"),
    "npz header declaring more than its data": (lambda d, b: _npz_declaring(d / "h.npz", (100, 1, 8, 8)),
                                                ["infer", "{base}/img", "--data", "npz:h.npz"], "truncated"),
    "npz object array": (lambda d, b: _npz(d / "o.npz", x=np.array([None, 1], dtype=object)),
                         ["infer", "{base}/img", "--data", "npz:o.npz"], "pickle"),
    # 4. image folders
    "image zTXt bomb": (lambda d, b: _image_folder(d, fn=lambda p: _png_with_chunk(
        p, b"zTXt", b"k\x00\x00" + __import__("zlib").compress(b"a" * (4 << 20)))),
        ["infer", "{base}/img", "--data", "imagefolder:imgs"], "not a readable image"),
    "image iCCP bomb": (lambda d, b: _image_folder(d, fn=lambda p: _png_with_chunk(
        p, b"iCCP", b"p\x00\x00" + __import__("zlib").compress(b"\x00" * (64 << 20)))),
        ["infer", "{base}/img", "--data", "imagefolder:imgs"], "not a readable image"),
    "image --resize 1000000": (lambda d, b: _image_folder(d),
                               ["infer", "{base}/img", "--data", "imagefolder:imgs", "--resize", "1000000"],
                               "more than 16384 pixels"),
    "image huge integer class folder": (lambda d, b: _image_folder(d, classes=("0", "9" * 30)),
                                        ["infer", "{base}/img", "--data", "imagefolder:imgs"], "is a label above"),
    "image 5000-digit class folder": (lambda d, b: _image_folder(d, classes=("0", "1" * 200)),
                                      ["infer", "{base}/img", "--data", "imagefolder:imgs"], "is a label above"),
    # 4. synthetic sizes
    "synthetic product wraps int64": (None, ["infer", "{base}/img", "--data", "synthetic:4294967296x4294967296x1x1"],
                                      "is more than"),
    "synthetic product wraps to a small number": (
        None, ["infer", "{base}/img", "--data", f"synthetic:{2**62 + 1}x4x1x1"], "is more than"),
    # 4. old stores and stores edited by hand
    "store NULL schema_version": (lambda d, b: _trial_store(d, b, "UPDATE meta SET value = NULL "
                                                                  "WHERE key = 'schema_version'"),
                                  ["report", "t.sqlite", "-o", "rep"], "schema version None"),
    "campaign on NULL schema_version": (lambda d, b: _trial_store(d, b, "UPDATE meta SET value = NULL "
                                                                        "WHERE key = 'schema_version'"),
                                        ["campaign", "{base}/spec.yaml", "--store", "t.sqlite"], "schema version"),
    "report list per_layer": (lambda d, b: _trial_store(d, b, "UPDATE trials SET per_layer = '[1, 2]'"),
                              ["report", "t.sqlite", "-o", "rep"], "per_layer is not a mapping"),
    "report non-JSON meta.spec": (lambda d, b: _trial_store(d, b, "UPDATE meta SET value = '{nope' WHERE key = 'spec'"),
                                  ["report", "t.sqlite", "-o", "rep"], "not a JSON mapping"),
    "report list meta.spec": (lambda d, b: _trial_store(d, b, "UPDATE meta SET value = '[1, 2]' WHERE key = 'spec'"),
                              ["report", "t.sqlite", "-o", "rep"], "list, not a JSON mapping"),
    "report meta.spec models a number": (lambda d, b: _trial_store(
        d, b, "UPDATE meta SET value = json_set(value, '$.models', 5) WHERE key = 'spec'"),
        ["report", "t.sqlite", "-o", "rep"], "models = 5"),
    "report NULL vdd": (lambda d, b: _trial_store(d, b, "UPDATE trials SET vdd = NULL"),
                        ["report", "t.sqlite", "-o", "rep"], "vdd = None is empty"),
    "campaign fault map word above int64": (lambda d, b: ((d / "m.csv").write_text(f"word,bit\n{2**70},1\n"),
                                                           write_yaml(d / "s.yaml", {**campaign_spec(),
                                                                      "fault_model": "measured", "fault_map": "m.csv"})),
                                            ["campaign", "s.yaml", "--store", "s.sqlite"], "outside"),
    # 8. a damaged store
    "campaign on a damaged store": (lambda d, b: _damage(_trial_store(d, b)),
                                    ["campaign", "{base}/spec.yaml", "--store", "t.sqlite", "--no-progress"], "damaged"),
    "report on a damaged store": (lambda d, b: _damage(_trial_store(d, b)), ["report", "t.sqlite", "-o", "rep"],
                                  "damaged"),
    # 10. a card's model file runs only when named
    "export card naming a model file": (lambda d, b: (_model_file(d, "open('ran', 'w')\ndef build():\n    pass\n"),
                                                      shutil.copy(b / "lenet.safetensors", d / "c.safetensors"),
                                                      (d / "c.yaml").write_text((b / "lenet.yaml").read_text().replace(
                                                          "model: lenet5", "model: m.py:build"))),
                                        ["export", "c", "--layout", "none-8b", "-o", "img"], "--trust-model-file"),
    "campaign card naming a model file": (lambda d, b: (_model_file(d, "open('ran', 'w')\ndef build():\n    pass\n"),
                                                        shutil.copy(b / "lenet.safetensors", d / "c.safetensors"),
                                                        (d / "c.yaml").write_text((b / "lenet.yaml").read_text().replace(
                                                            "model: lenet5", "model: m.py:build")),
                                                        write_yaml(d / "s.yaml", {**campaign_spec(), "models": {
                                                            "mine": {"checkpoint": "c"}}})),
                                          ["campaign", "s.yaml", "--store", "s.sqlite"], "models.mine.factory"),
    "train --from a card naming a model file": (lambda d, b: (
        _model_file(d, "open('ran', 'w')\ndef build():\n    pass\n"),
        shutil.copy(b / "lenet.safetensors", d / "c.safetensors"),
        (d / "c.yaml").write_text((b / "lenet.yaml").read_text().replace("model: lenet5", "model: m.py:build"))),
        ["train", "--from", "c", "-o", "out"], "--model FILE.py:NAME"),
}


@pytest.mark.parametrize("name", sorted(ROUND_TWO))
def test_round_two_corpus(cases, base, trials_store, name):
    d = refuse_corpus_case(ROUND_TWO, name, cases, base)
    assert not (d / "ran").exists()   # no model file named only by a card was imported


def check_clean(argv: list[str], workdir: Path, base_dir: Path) -> int:
    """Hostile but possibly valid input: exit 0, or exit 2 with one line; never a traceback,
    never a change to ``base_dir``."""
    CASES["n"] += 1
    before = _snapshot(base_dir)
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = cli_main([str(a) for a in argv])
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    assert rc in (0, 2), (argv, rc, text)
    if rc == 2:
        assert text.count("\n") == 1 and text.startswith("accelsim: error: "), (argv, text)
    else:
        assert text == "", (argv, text)
    assert _snapshot(base_dir) == before
    return rc


DATA_FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@DATA_FUZZ
@given(ndim=st.integers(0, 6), dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 12), min_size=0, max_size=6),
       cut=st.integers(-70, 70), gz=st.booleans(), flip=st.integers(0, 80))
def test_fuzz_idx_files(cases, base, ndim, dims, cut, gz, flip):
    """An idx file with any header (ndim, dims), truncated or extended, gzipped or not, one byte
    flipped: the lenet image's infer reads it in one line or not at all."""
    d = cases()
    header = b"\x00\x00\x08" + bytes([ndim]) + b"".join(v.to_bytes(4, "big") for v in dims)
    body = bytes(range(256)) * 3
    raw = bytearray(header + (body[:cut] if cut < 0 else body + body[:cut]))
    if flip < len(raw):
        raw[flip] ^= 0xA5
    n = dims[0] if dims else 0
    _idx(d, bytes(raw), _idx_header(n) + bytes(min(n, 4096)) if n < 4096 else None, gz=gz)
    check_clean(["infer", base / "img", "--data", "mnist:mnist"], d, base)


@DATA_FUZZ
@given(n=st.integers(0, 6), dtype=st.sampled_from(["uint8", "float32", "float64", "int16", "float16"]),
       ydtype=st.sampled_from(["int64", "uint64", "int8", "uint32", "float32", "bool"]),
       yvalue=st.sampled_from([0, 9, 10, -1, 2**31, 2**63 - 1]), cut=st.integers(0, 4000), flip=st.integers(0, 5000))
def test_fuzz_npz_files(cases, base, n, dtype, ydtype, yvalue, cut, flip):
    """npz files of any x dtype and count, labels of any dtype and value (wrapped into it), then
    cut short or one byte flipped: read in one line or refused in one line."""
    d = cases()
    x = np.random.default_rng(n).random((n, 1, 8, 8)).astype(dtype)
    with np.errstate(all="ignore"):
        y = np.array([yvalue] * n).astype(ydtype)
    raw = bytearray(_npz(d / "v.npz", x=x, y=y).read_bytes())
    intact = flip >= len(raw) and cut == 0
    if flip < len(raw):
        raw[flip] ^= 0x5A
    (d / "f.npz").write_bytes(bytes(raw[:len(raw) - cut] if cut < len(raw) else raw))
    rc = check_clean(["infer", base / "img", "--data", "npz:f.npz"], d, base)
    if intact:   # read when x is N images of a float or uint8 type and the labels, as stored, are 0..9
        valid = (n > 0 and dtype != "int16" and ydtype not in ("bool", "float32")
                 and 0 <= int(y[0]) <= 9)
        assert rc == (0 if valid else 2), (n, dtype, ydtype, yvalue, rc)


@DATA_FUZZ
@given(modes=st.lists(st.sampled_from(["L", "RGB", "I;16", "1", "P", "RGBA", "LA", "I"]), min_size=1, max_size=3),
       size=st.integers(1, 12), cut=st.integers(0, 200), flip=st.integers(0, 300),
       classes=st.sampled_from([("0",), ("a", "b"), ("3", "12"), ()]))
def test_fuzz_image_folders(cases, base, modes, size, cut, flip, classes):
    """Image folders of any Pillow mode and size (8 and 16 bits), labelled or not, one file cut
    short or one byte flipped: read in one line or refused in one line."""
    from PIL import Image
    d = cases()
    root = d / "imgs"
    folders = [root / c for c in classes] or [root]
    for i, mode in enumerate(modes):
        folder = folders[i % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.new(mode, (size, size + i % 2), 1 if mode == "1" else 200).save(folder / f"{i}.png")
    victim = sorted(root.rglob("*.png"))[0]
    raw = bytearray(victim.read_bytes())
    if flip < len(raw):
        raw[flip] ^= 0x33
    victim.write_bytes(bytes(raw[:max(len(raw) - cut, 0)]))
    check_clean(["infer", base / "img", "--data", "imagefolder:imgs", "--resize", "8", "--crop", "8"], d, base)


MODEL_BODIES = st.sampled_from([
    "sys.exit({n})", "raise KeyboardInterrupt", "raise SystemExit({n})", "raise RuntimeError('x' * {n})",
    "raise MemoryError", "raise RecursionError", "raise ValueError('')", "raise StopIteration",
    "return {n}", "return None", "return torch.nn.Identity()", "return torch.nn.Linear({n} + 1, 3)",
    "return [torch.nn.Linear(64, 10)]", "1 / 0", "import nonexistent_module_zz",
])


@DATA_FUZZ
@given(at_import=st.booleans(), body=MODEL_BODIES, n=st.integers(0, 300))
def test_fuzz_model_files(cases, base, at_import, body, n):
    """A model file doing anything at import or in its factory (exits, interrupts, raises, returns
    the wrong thing): export refuses it in one line naming the file, and writes nothing."""
    d = cases()
    line = body.format(n=n)
    if at_import:
        code = (line.replace("return ", "_ = ") + "\ndef build():\n    return torch.nn.Linear(64, 10)\n")
    else:
        code = "def build():\n    " + line + "\n"
    _model_file(d, code)
    text = check_refused(["export", "w.safetensors", "--model", "m.py:build", "--layout", "none-8b", "-o", "img"],
                         d, base)
    assert "m.py" in text or "does not" in text or "not a torch.nn.Module" in text, text


# SCALE-Sim configs and topology CSVs (issue 24) ----------------------------------------------
SCALESIM_TOPOLOGY = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
SCALESIM_CFG = ("[general]\nrun_name = f\n[architecture_presets]\nArrayHeight: 4\nArrayWidth: 4\nIfmapSramSzkB: 16\n"
                "FilterSramSzkB: 16\nOfmapSramSzkB: 16\nDataflow: ws\n[layout]\nFilterSRAMBankNum: 2\n"
                "FilterSRAMBankPort: 1\nFilterSRAMBankBandwidth: 8\n[run_presets]\nInterfaceBandwidth: USER\n")


def _interpolation_bomb() -> str:
    """~600 bytes whose % interpolation expands to 2^40 characters (configparser's default
    BasicInterpolation took 56 s and printed a 100 MB error line)."""
    keys = "".join(f"a{i} = %(a{i - 1})s%(a{i - 1})s%(a{i - 1})s%(a{i - 1})s\n" for i in range(1, 11))
    return "[DEFAULT]\na0 = xxxxxxxxxx\n" + keys + SCALESIM_CFG.replace("ArrayHeight: 4", "ArrayHeight: %(a10)s")


SCALESIM_CFG_CASES = {
    "interpolation bomb": (_interpolation_bomb(), "interpolation"),
    "interpolated value": (SCALESIM_CFG.replace("ArrayWidth: 4", "ArrayWidth: %(x)s"), "interpolation"),
    "filter sram inf": (SCALESIM_CFG.replace("FilterSramSzkB: 16", "FilterSramSzkB: inf"),
                        "FilterSramSzkB = 'inf' is not an integer in 1..1,048,576"),
    "filter sram 1e300": (SCALESIM_CFG.replace("FilterSramSzkB: 16", "FilterSramSzkB: 1e300"),
                          "FilterSramSzkB = '1e300' is not an integer in 1..1,048,576"),
    "ifmap sram 10^300": (SCALESIM_CFG.replace("IfmapSramSzkB: 16", f"IfmapSramSzkB: {10**300}"), "outside 1.."),
    "ofmap sram 0": (SCALESIM_CFG.replace("OfmapSramSzkB: 16", "OfmapSramSzkB: 0"), "outside 1.."),
    "array 10^30": (SCALESIM_CFG.replace("ArrayWidth: 4", f"ArrayWidth: {10**30}"), "outside 1..4,096"),
    "banks 0": (SCALESIM_CFG.replace("FilterSRAMBankNum: 2", "FilterSRAMBankNum: 0"), "FilterSRAMBankNum"),
    "bandwidth nan": (SCALESIM_CFG.replace("FilterSRAMBankBandwidth: 8", "FilterSRAMBankBandwidth: nan"),
                      "FilterSRAMBankBandwidth"),
    "bandwidth 1e300": (SCALESIM_CFG.replace("FilterSRAMBankBandwidth: 8", f"FilterSRAMBankBandwidth: {10**300}"),
                        "outside 1.."),
    "duplicate key": (SCALESIM_CFG + "[layout]\nFilterSRAMBankNum: 3\n", "not a SCALE-Sim config"),
}


@pytest.mark.parametrize("name", sorted(SCALESIM_CFG_CASES))
def test_hostile_scalesim_config(cases, base, name):
    text, expect = SCALESIM_CFG_CASES[name]
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, 8, 8, 3, 3, 2, 4, 1,\n")
    (d / "a.cfg").write_text(text)
    err = check_refused(["simulate", "--topology", "net.csv", "--scalesim-config", "a.cfg", "-o", "r.json",
                         "--reports", "rep"], d, base, expect)
    assert len(err) < 400   # one short line, never the expanded value


FUZZ_SMALL = settings(FUZZ, max_examples=30)   # a refusal costs one CLI run; 30 cover each key / field
SCALESIM_KEYS = ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB", "FilterSRAMBankNum",
                 "FilterSRAMBankPort", "FilterSRAMBankBandwidth")


@FUZZ_SMALL
@given(key=st.sampled_from(SCALESIM_KEYS), bad=st.one_of(
    st.integers(2**20 + 1, 10**400), st.integers(-10**6, 0),
    st.sampled_from(["", "x", "1.5", "1e300", "inf", "-inf", "nan", "%(x)s", "100%", "0x10", "1.0"])))
def test_fuzz_scalesim_config_keys(cases, base, key, bad):
    """Any key accelsim reads from a SCALE-Sim .cfg, out of its range or not an integer:
    one line naming the key."""
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, 8, 8, 3, 3, 2, 4, 1,\n")
    lines = [f"{key}: {bad}" if line.split(":")[0] == key else line for line in SCALESIM_CFG.splitlines()]
    (d / "a.cfg").write_text("\n".join(lines) + "\n")
    check_refused(["simulate", "--topology", "net.csv", "--scalesim-config", "a.cfg"], d, base, key)


def _endless_fifo(path: Path):
    """A named pipe whose writer never ends (until the reader closes it)."""
    import threading

    os.mkfifo(path)

    def write():
        with contextlib.suppress(OSError), open(path, "wb") as f:
            while True:
                f.write(b"x" * 65536)

    threading.Thread(target=write, daemon=True).start()


def test_hostile_scalesim_devices(cases, base, tmp_path):
    """/dev/zero or an endless pipe as topology or .cfg is read up to a size cap, not until
    memory runs out."""
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, 8, 8, 3, 3, 2, 4, 1,\n")
    check_refused(["simulate", "--topology", "/dev/zero"], d, base, "more than the limit")
    check_refused(["simulate", "--topology", "net.csv", "--scalesim-config", "/dev/zero"], d, base,
                  "more than the limit")
    _endless_fifo(tmp_path / "topo.fifo")
    check_refused(["simulate", "--topology", tmp_path / "topo.fifo"], d, base, "more than the limit")
    _endless_fifo(tmp_path / "cfg.fifo")
    check_refused(["simulate", "--topology", "net.csv", "--scalesim-config", tmp_path / "cfg.fifo"], d, base,
                  "more than the limit")


TOPOLOGY_CASES = {
    "ifmap 10^30": (f"c1, {10**30}, 8, 3, 3, 2, 4, 1,\n", "outside 1..1,048,576"),
    "field over the csv limit": ("c" * 200_000 + ", 8, 8, 3, 3, 2, 4, 1,\n", "not a CSV row"),
    "weights need TiB": ("c1, 1000, 1000, 1000, 1000, 1000, 1000, 1,\n", "more than the limit"),
    "gemm weights need TiB": ("fc, 1, 1048576, 1048576,\n", "more than the limit"),
    "sparsity colon": ("c1, 8, 8, 3, 3, 2, 4, 1, :,\n", "not a ratio"),
    "sparsity 0:0": ("c1, 8, 8, 3, 3, 2, 4, 1, 0:0,\n", "not a ratio"),
}


@pytest.mark.parametrize("name", sorted(TOPOLOGY_CASES))
def test_hostile_topology(cases, base, name):
    row, expect = TOPOLOGY_CASES[name]
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + row)
    check_refused(["simulate", "--topology", "net.csv", "-o", "r.json"], d, base, expect)


@FUZZ_SMALL
@given(index=st.integers(0, 6), bad=st.one_of(
    st.integers(2**20 + 1, 10**40), st.integers(-10**6, 0), st.sampled_from(["", "x", "1.5", "1e3", "nan", "0x10",
                                                                            "∞", "--1"])))
def test_fuzz_topology_fields(cases, base, index, bad):
    """A conv row with one field out of range or not an integer: refused, naming it."""
    d = cases()
    fields = ["16", "16", "3", "3", "2", "4", "1"]
    fields[index] = str(bad)
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, " + ", ".join(fields) + ",\n")
    check_refused(["simulate", "--topology", "net.csv"], d, base, "net.csv line 2")


def test_simulate_topology_refuses_data(cases, base):
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, 8, 8, 3, 3, 2, 4, 1,\n")
    check_refused(["simulate", "--topology", "net.csv", "--data", "digits"], d, base, "--data and --samples need")


def test_simulate_writes_all_outputs_or_none(cases, base):
    """A report path that cannot be written fails before -o, --trace or any report is
    written (an existing -o is kept as it was)."""
    d = cases()
    (d / "net.csv").write_text(SCALESIM_TOPOLOGY + "c1, 8, 8, 3, 3, 2, 4, 1,\n")
    (d / "r.json").write_text("kept")
    (d / "rep" / "BANDWIDTH_REPORT.csv").mkdir(parents=True)   # a directory where a report goes
    check_refused(["simulate", "--topology", "net.csv", "-o", "r.json", "--trace", "t.json", "--reports", "rep"],
                  d, base, "BANDWIDTH_REPORT.csv")
    assert (d / "r.json").read_text() == "kept" and not (d / "t.json").exists()
    assert sorted(p.name for p in (d / "rep").iterdir()) == ["BANDWIDTH_REPORT.csv"]
