"""Campaigns: determinism across workers and Dask, resume after a kill, the closed-form
residual check, the zero-residual invariant and bad input."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.ecc import data_mask
from accelsim.campaign.analyses import berzad, expected_residual_fraction, lowest_safe_voltage, residual_fraction
from accelsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
MODELS = str(ROOT / "models")
VOLATILE = ("seconds", "created")


def spec(**kw):
    d = {"name": "t", "models": ["lenet5"], "schemes": ["none-4b", "inplace-4b-64"],
         "voltages": [0.60, 0.53, 0.50], "chips": 2, "models_dir": MODELS, "samples": 200}
    d.update(kw)
    return {k: v for k, v in d.items() if v is not None}


def stable(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_same_bits_with_one_two_workers_and_dask(tmp_path):
    s = parse_spec(spec())
    run_campaign(s, tmp_path / "a.sqlite", workers=1, progress=False)
    run_campaign(s, tmp_path / "b.sqlite", workers=2, progress=False)
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        # the address, as `accelsim campaign --scheduler tcp://...` passes it
        run_campaign(s, tmp_path / "c.sqlite", scheduler=cluster.scheduler_address, progress=False)
    a, b, c = (stable(Store(tmp_path / f"{n}.sqlite").rows()) for n in "abc")
    assert len(a) == 12 and a == b == c
    # the persistent maps are nested: the same chip never loses faulty bits as V drops
    for scheme in ("none-4b", "inplace-4b-64"):
        for chip in (0, 1):
            inj = [r["injected_bits"] for r in a if r["scheme"] == scheme and r["chip"] == chip]
            assert inj == sorted(inj)   # rows come ordered by vdd descending
    ecc = [r for r in a if r["scheme"] == "inplace-4b-64" and r["vdd"] == 0.6]
    assert all(r["residual_bits"] == 0 and r["accuracy"] == r["baseline_accuracy"] for r in ecc)


def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec(voltages=[0.6, 0.56, 0.53, 0.51, 0.5], chips=4)))
    store = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "accelsim", "campaign", str(spec_path), "--store", str(store),
                             "--workers", "2", "--no-progress"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(store) as conn:
                done = conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        except sqlite3.Error:
            done = 0
        if done >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)   # the main process and its workers, mid-campaign
    proc.wait()
    partial = Store(store).done_keys()
    assert 5 <= len(partial) < 40, len(partial)
    s = parse_spec(yaml.safe_load(spec_path.read_text()))
    info = run_campaign(s, store, workers=1, progress=False)
    assert info["skipped"] == len(partial) and info["ran"] == 40 - len(partial)
    run_campaign(s, tmp_path / "clean.sqlite", workers=1, progress=False)
    # rows of the killed CLI run and of the library resume carry their own run's provenance digest
    # (per-row provenance); every result column must agree
    resumed, clean = (stable(Store(p).rows()) for p in (store, tmp_path / "clean.sqlite"))
    for row in resumed + clean:
        row.pop("provenance_sha256")
    assert resumed == clean


def test_monte_carlo_residual_matches_closed_form(tmp_path):
    s = parse_spec(spec(schemes=["inplace-4b-64", "none-4b"], voltages=None, bers=[1e-2, 3e-3],
                        fault_model="transient", chips=1, repeats=20, samples=20))
    run_campaign(s, tmp_path / "r.sqlite", progress=False)
    rows = Store(tmp_path / "r.sqlite").rows()
    for scheme in ("inplace-4b-64", "none-4b"):
        for ber in (1e-2, 3e-3):
            fr = np.array([r["residual_bits"] / r["data_bits"] for r in rows if r["scheme"] == scheme and r["ber"] == ber])
            expect = expected_residual_fraction(scheme, ber)
            assert abs(fr.mean() - expect) < 4 * fr.std(ddof=1) / np.sqrt(len(fr)), (scheme, ber, fr.mean(), expect)
    table = residual_fraction(rows)
    assert {(t["scheme"], t["ber"]) for t in table} == {(a, b) for a in ("inplace-4b-64", "none-4b") for b in (1e-2, 3e-3)}


def test_analyses_on_known_rows():
    rows = [{"model": "m", "scheme": "s", "layers": "all", "vdd": v, "ber": b, "accuracy": a, "baseline_accuracy": 0.9}
            for v, b, a in [(0.7, 1e-6, 0.9), (0.7, 1e-6, 0.9), (0.6, 1e-4, 0.9), (0.6, 1e-4, 0.9),
                            (0.55, 1e-3, 0.895), (0.55, 1e-3, 0.885), (0.5, 1e-2, 0.5), (0.5, 1e-2, 0.4)]]
    assert berzad(rows) == [{"model": "m", "scheme": "s", "layers": "all", "berzad": 1e-4, "repeats": 2, "baseline": 0.9,
                            "metric": "accuracy"}]
    safe = lowest_safe_voltage(rows, tolerance=0.01)
    assert safe[0]["vmin_safe"] == 0.55 and safe[0]["accuracy_at_vmin"] == pytest.approx(0.89)
    assert lowest_safe_voltage(rows, tolerance=0.0)[0]["vmin_safe"] == 0.6


def test_per_layer_selection_faults_only_that_layer(tmp_path):
    s = parse_spec(spec(schemes=["none-4b"], voltages=[0.5], layers=["classifier.2"], chips=1))
    run_campaign(s, tmp_path / "l.sqlite", progress=False)
    (row,) = Store(tmp_path / "l.sqlite").rows()
    per = row["per_layer"]
    assert per["classifier.2"]["injected_bits"] > 0
    assert all(v["injected_bits"] == 0 for k, v in per.items() if k != "classifier.2")


@pytest.mark.parametrize("change,match", [
    ({"bers": [-1e-3], "voltages": None}, r"campaign spec: bers\[0\]: must be > 0.0 \(got -0.001\)"),
    ({"bers": [2.0], "voltages": None}, r"campaign spec: bers\[0\]: must be <= 0.5 \(got 2.0\)"),
    ({"schemes": ["inplace-9b-64"]}, r"schemes\[0\]: must be one of .*\(got 'inplace-9b-64'; did you mean 'inplace-8b-64'\?\)"),
    ({"voltages": [0.3]}, r"voltages entry 0.3 is outside the BER curve's domain"),
    ({"models": ["alexnet"]}, "no checkpoint .*alexnet"),
    ({"chips": 0}, r"campaign spec: chips: must be >= 1 \(got 0\)"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_specs_name_the_field(change, match):
    d = spec(**change)
    with pytest.raises(UserError, match=match):
        parse_spec(d)


def test_unreadable_and_foreign_stores(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all, just text" * 20)
    with pytest.raises(UserError, match="not a readable SQLite file"):
        Store(junk)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(UserError, match="foreign SQLite file"):
        Store(foreign)
    assert junk.read_bytes().startswith(b"this is not")   # untouched
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(yaml.safe_dump(spec()))
    r = subprocess.run([sys.executable, "-m", "accelsim", "campaign", str(spec_path), "--store", str(foreign)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "foreign SQLite" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("policy", ["pass", "zero"])
def test_zero_residual_bits_give_exactly_the_fault_free_logits(policy):
    """Corrected single errors leave no residual bit, and the logits are then bit-identical;
    residual bits count what the network uses, so the invariant holds for every policy."""
    from accelsim.campaign.trial import decode_and_compare
    from accelsim.image.from_checkpoint import export_checkpoint
    from accelsim.infer import IntegerNetwork
    from accelsim.nn import load_digits_split
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        img = export_checkpoint(f"{MODELS}/lenet5-int8-wot-inplace-8b-64", "inplace-8b-64", Path(tmp) / "i")
        rng = np.random.default_rng(0)
        read = img.words.copy()
        bits = rng.integers(0, 64, len(read)).astype(np.uint64)   # one flip in every word
        read[:, 0] ^= np.uint64(1) << bits
        weights, per_layer, totals = decode_and_compare(img, read, policy)
        assert totals["injected_bits"] == len(read) and totals["corrected"] == len(read)
        assert totals["residual_bits"] == 0
        x = load_digits_split().x_test.numpy()[:100]
        net = IntegerNetwork(img)
        clean = net.forward(x)
        assert np.array_equal(net.forward(x, weights), clean)
        # a double error in one word is detected and leaves two wrong data bits (pass), or
        # the word's stored data bits (zero: the network gets a zero word)
        word = 3
        assert bin(int(img.words[word, 0])).count("1") > 4
        read = img.words.copy()
        read[word, 0] ^= np.uint64(0b11) << np.uint64(8)
        weights2, _, totals2 = decode_and_compare(img, read, policy)
        mask = int(data_mask(img.layout)[0])
        stored = bin(int(img.words[word, 0]) & mask).count("1")
        assert totals2["detected"] == 1 and totals2["residual_bits"] == (2 if policy == "pass" else stored)
        # two errors confined to check bits: the decoded data are right, but zero drops the word
        c0, c1 = img.layout.check_positions[:2]
        read = img.words.copy()
        read[word, 0] ^= (np.uint64(1) << np.uint64(c0)) | (np.uint64(1) << np.uint64(c1))
        weights3, _, totals3 = decode_and_compare(img, read, policy)
        assert totals3["detected"] == 1
        if policy == "pass":
            assert totals3["residual_bits"] == 0 and np.array_equal(net.forward(x, weights3), clean)
        else:
            assert totals3["residual_bits"] == stored > 0
            assert not all(np.array_equal(weights3[k], w) for k, w in net_weights(img).items())


def net_weights(img):
    from accelsim.infer import decode_weights
    return decode_weights(img)[0]


def test_bad_input_found_before_the_store_is_created(tmp_path):
    store = tmp_path / "never.sqlite"
    # persistent faults need a voltage on the curve; transient ones do not
    with pytest.raises(UserError, match=r"bers entry 0.45 is outside the BER curve's range"):
        parse_spec(spec(voltages=None, bers=[0.45]))
    assert parse_spec(spec(voltages=None, bers=[0.45], fault_model="transient")).bers == [0.45]
    with pytest.raises(UserError, match=r"layer selection 'features.9' matches no layer"):
        run_campaign(parse_spec(spec(layers=["features.9"])), store, progress=False)
    with pytest.raises(UserError, match=r"campaign spec: p_stuck1: must be a number \(got 'half'\)"):
        parse_spec(spec(fault_model="stuck", p_stuck1="half"))
    with pytest.raises(UserError, match=r"v_low = 0.55 V is above the sweep's lowest voltage 0.5"):
        parse_spec(spec(v_low=0.55))
    assert not store.exists()


def test_pinned_v_low_gives_the_same_chips_in_different_sweeps(tmp_path):
    common = dict(schemes=["none-4b"], chips=2, samples=50, v_low=0.46)
    run_campaign(parse_spec(spec(voltages=[0.50, 0.48], **common)), tmp_path / "a.sqlite", progress=False)
    run_campaign(parse_spec(spec(voltages=[0.50, 0.46], **common)), tmp_path / "b.sqlite", progress=False)
    a = {(r["chip"], r["vdd"]): r for r in Store(tmp_path / "a.sqlite").rows()}
    b = {(r["chip"], r["vdd"]): r for r in Store(tmp_path / "b.sqlite").rows()}
    for chip in (0, 1):
        assert a[(chip, 0.50)]["key"] == b[(chip, 0.50)]["key"]        # the same trial: resumable across sweeps
        assert a[(chip, 0.50)]["per_layer"] == b[(chip, 0.50)]["per_layer"]
        assert 0 < a[(chip, 0.50)]["injected_bits"] < a[(chip, 0.48)]["injected_bits"] < b[(chip, 0.46)]["injected_bits"]


def test_measured_fault_map_campaign(tmp_path):
    from accelsim.image import load_image
    from accelsim.campaign.runner import image_cache_dir, prepare_images

    s = parse_spec(spec(schemes=["none-4b", "inplace-4b-64"], voltages=[0.9, 0.5], chips=1))
    images = prepare_images(s, image_cache_dir(tmp_path / "m.sqlite"))
    n_words = min(load_image(d).words.shape[0] for d in images.values())
    # word 0 bits 0 and 1 below 0.6 V (a double error), word 3 bit 5 always, word 9 bit 2 stuck at 1
    # below 0.7 V, and one cell beyond every image (an SRAM larger than the model)
    csv = tmp_path / "map.csv"
    csv.write_text("word,bit,vmin,type\n0,0,0.6,flip\n0,1,0.6,flip\n3,5,,flip\n9,2,0.7,stuck1\n"
                   f"{n_words + 100},7,,flip\n")
    s = parse_spec(spec(schemes=["none-4b", "inplace-4b-64"], voltages=[0.9, 0.5], chips=1,
                        fault_model="measured", fault_map=str(csv)))
    run_campaign(s, tmp_path / "m.sqlite", progress=False)
    rows = {(r["scheme"], r["vdd"]): r for r in Store(tmp_path / "m.sqlite").rows()}
    words = {scheme: load_image(d).words for (_, scheme), d in images.items()}
    stuck_flips = {sch: int(not (int(w[9, 0]) >> 2) & 1) for sch, w in words.items()}
    for scheme in ("none-4b", "inplace-4b-64"):
        assert rows[(scheme, 0.9)]["injected_bits"] == 1
        assert rows[(scheme, 0.5)]["injected_bits"] == 3 + stuck_flips[scheme]
    assert rows[("none-4b", 0.9)]["residual_bits"] == 1
    ecc = rows[("inplace-4b-64", 0.5)]
    assert ecc["corrected"] == 1 + stuck_flips["inplace-4b-64"] and ecc["detected"] == 1
    assert rows[("inplace-4b-64", 0.9)]["accuracy"] == rows[("inplace-4b-64", 0.9)]["baseline_accuracy"]
    with pytest.raises(UserError, match="chips and repeats must be 1"):
        parse_spec(spec(fault_model="measured", fault_map=str(csv), chips=2))
    with pytest.raises(UserError, match="fault_map needs fault_model: measured"):
        parse_spec(spec(fault_map=str(csv)))
    csv.write_text("word,bit\n0,64\n")
    with pytest.raises(UserError, match=r"line 2: cell \(0, 64\) outside words of 64 bits"):
        parse_spec(spec(fault_model="measured", fault_map=str(csv), chips=1))


def _expected_baseline(checkpoint: str, scheme: str, out: Path, samples: int) -> float:
    """The fault-free accuracy of a checkpoint's image, exported afresh (no cache)."""
    from accelsim.image.from_checkpoint import export_checkpoint
    from accelsim.infer import IntegerNetwork
    from accelsim.nn import load_digits_split

    data = load_digits_split()
    pred = IntegerNetwork(export_checkpoint(checkpoint, scheme, out)).predict(data.x_test.numpy()[:samples])
    return float(np.mean(pred == data.y_test.numpy()[:samples]))


def test_cached_images_are_keyed_by_checkpoint_content(tmp_path):
    """Issue 15: two specs with the same (model, scheme) but different checkpoints, run into
    one store, each get their own image, baseline and export_sha256; a checkpoint
    overwritten in place is a new image too."""
    import shutil

    for name, src in (("a", "lenet5-int8"), ("b", "lenet5-int8-wot-inplace-8b-64")):
        for ext in (".safetensors", ".yaml"):
            shutil.copy(f"{MODELS}/{src}{ext}", tmp_path / f"{name}{ext}")
    want = {n: _expected_baseline(str(tmp_path / n), "none-8b", tmp_path / f"fresh-{n}", 450) for n in "ab"}
    assert want["a"] != want["b"]            # the two models are told apart by their accuracy
    store = tmp_path / "s.sqlite"
    common = dict(schemes=["none-8b"], voltages=[0.6], chips=1, samples=450)
    for n in "ab":
        run_campaign(parse_spec(spec(models={"lenet5": {"none-8b": str(tmp_path / n)}}, **common)), store,
                     progress=False)
    rows = {Path(r["checkpoint"]).name: r for r in Store(store).rows()}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["baseline_accuracy"] == want["a"] and rows["b"]["baseline_accuracy"] == want["b"]
    assert rows["a"]["export_sha256"] != rows["b"]["export_sha256"]
    assert len(rows["a"]["export_sha256"]) == 64
    # the same path, new bytes: a new image and new trials, not the stale ones
    for ext in (".safetensors", ".yaml"):
        shutil.copy(tmp_path / f"b{ext}", tmp_path / f"a{ext}")
    info = run_campaign(parse_spec(spec(models={"lenet5": {"none-8b": str(tmp_path / "a")}}, **common)), store,
                        progress=False)
    assert info["ran"] == 1
    a_rows = [r for r in Store(store).rows() if Path(r["checkpoint"]).name == "a"]
    new = [r for r in a_rows if r["export_sha256"] == rows["b"]["export_sha256"]]
    assert len(a_rows) == 2 and len(new) == 1 and new[0]["baseline_accuracy"] == want["b"]
    # the report tells the two images of (lenet5, none-8b) apart instead of averaging them
    from accelsim.report.build import label_models
    labels = {r["model"] for r in label_models(Store(store).rows())}
    assert labels == {f"lenet5@{rows[n]['export_sha256'][:8]}" for n in "ab"}
    from accelsim.report import report_from_store
    report_from_store(store, tmp_path / "rep")
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert summary.startswith("# accelsim report — t\n")
    for n in "ab":
        assert f"| lenet5@{rows[n]['export_sha256'][:8]} | none-8b | {want[n] * 100:.2f} % |" in summary


def test_version_1_store_is_read_but_not_extended(tmp_path):
    old = tmp_path / "v1.sqlite"
    Store(old).close()
    with sqlite3.connect(old) as conn:   # a store as version 1 wrote it: no export_sha256 column
        conn.execute('ALTER TABLE trials DROP COLUMN "export_sha256"')
        conn.execute("INSERT INTO trials (key, model, scheme, layers, vdd, ber, chip, repeat, accuracy, params, "
                     "per_layer) VALUES ('k', 'lenet5', 'none-4b', 'all', 0.6, 1e-6, 0, 0, 0.9, '{}', '{}')")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    rows = Store(old, create=False, readonly=True).rows()
    assert len(rows) == 1 and rows[0]["export_sha256"] is None and rows[0]["accuracy"] == 0.9
    with pytest.raises(UserError, match="schema version 1 keys its trials by the paths.*new store"):
        run_campaign(parse_spec(spec(schemes=["none-4b"], chips=1)), old, progress=False)
