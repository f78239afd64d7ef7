"""Hostile environments (issue 24): output paths that are devices, 16-bit images, kills at
the wrong moment, SIGTERM, a busy / damaged / full store, the umask, Dask workers with
threads and another working directory, deterministic report files."""

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.store import SCHEMA_VERSION, trials_in
from accelsim.cli import main as cli_main
from accelsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
MODELS = str(ROOT / "models")
SPEC = {"name": "env", "models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9, 0.6], "chips": 1,
        "samples": 20, "models_dir": MODELS}


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    from accelsim.image.commands import export_checkpoint
    d = tmp_path_factory.mktemp("env") / "img"
    export_checkpoint(f"{MODELS}/lenet5-int8", "none-8b", d)
    return d


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("accelsim: error: ") and "Traceback" not in err, err
    return err


# 1. output paths that name a device ---------------------------------------------------------
def test_a_device_node_is_never_replaced_by_an_output(tmp_path, image, capsys):
    """simulate -o and --trace on a character device (made here with mknod, the same major
    and minor as /dev/null: never the real one) are refused; the node stays a device."""
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for option in ("-o", "--trace"):
        assert cli_main(["simulate", "--image", str(image), option, str(dev)]) == 2
        assert "exists and is not a regular file" in _one_line(capsys)
        st = os.lstat(dev)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]   # no temporary left beside it


# 2. 16-bit grey PNGs --------------------------------------------------------------------------
def test_sixteen_bit_grey_pngs_are_scaled_not_clipped(tmp_path):
    """A 16-bit grey pixel v reads as v / 65535 (it was clipped at 255 -> 1.0); the same image
    stored at 8 bits reads within 1/510 of it, so a digit scores the same in either depth."""
    from PIL import Image

    from accelsim.nn.data import load_data, parse_data
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, (2, 8, 8), dtype=np.uint8)
    eight[0, 0, :2] = (0, 255)
    for depth in (8, 16):
        for i, a in enumerate(eight):
            (tmp_path / str(depth) / "3").mkdir(parents=True, exist_ok=True)
            pixels = a if depth == 8 else a.astype(np.uint16) * 257   # 255 -> 65535
            Image.fromarray(pixels).save(tmp_path / str(depth) / "3" / f"{i}.png")
    assert Image.open(tmp_path / "16" / "3" / "0.png").mode in ("I;16", "I")
    x8 = load_data(parse_data(f"imagefolder:{tmp_path / '8'}")).x
    x16 = load_data(parse_data(f"imagefolder:{tmp_path / '16'}")).x
    np.testing.assert_array_equal(x8[:, 0], eight.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(x16[:, 0], (eight.astype(np.float32) * 257) / np.float32(65535))
    assert np.abs(x16 - x8).max() < 1e-6 and x16.max() == 1.0
    Image.fromarray(np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)).save(tmp_path / "one.png")
    (tmp_path / "solo").mkdir()
    (tmp_path / "one.png").rename(tmp_path / "solo" / "one.png")
    got = load_data(parse_data(f"imagefolder:{tmp_path / 'solo'}")).x.reshape(-1)
    np.testing.assert_array_equal(got, np.array([0, 1000, 32768, 65535], np.float32) / np.float32(65535))


# 5. unbounded reads -------------------------------------------------------------------------
def test_dev_zero_as_an_idx_file_is_refused_at_once(tmp_path, image, capsys):
    (tmp_path / "m").mkdir()
    os.symlink("/dev/zero", tmp_path / "m" / "t10k-images-idx3-ubyte")
    os.symlink("/dev/zero", tmp_path / "m" / "t10k-labels-idx1-ubyte")
    t0 = time.perf_counter()
    assert cli_main(["infer", str(image), "--data", f"mnist:{tmp_path / 'm'}"]) == 2
    assert "is not a regular file" in _one_line(capsys) and time.perf_counter() - t0 < 10


# 6. no warning before the error line ----------------------------------------------------------
@pytest.mark.slow
def test_no_stray_warning_before_the_error_line(tmp_path, image):
    """Pillow warns (DecompressionBombWarning) on an image above its pixel limit and numpy on an
    overflow; through a real process stderr holds the error line and nothing else."""
    from PIL import Image
    (tmp_path / "big" / "0").mkdir(parents=True)
    Image.new("1", (10_000, 9_000)).save(tmp_path / "big" / "0" / "a.png")   # 90 M pixels > Pillow's 89.5 M
    for data in (f"imagefolder:{tmp_path / 'big'}", "synthetic:4294967296x4294967296x2x1"):
        r = subprocess.run([sys.executable, "-m", "accelsim", "infer", str(image), "--data", data], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("accelsim: error: "), r.stderr


# 8. stores ------------------------------------------------------------------------------------
class _DiesAfterFirstTable(sqlite3.Connection):
    """A connection whose process 'dies' (an exception) right after the store's first table."""

    def execute(self, sql, *args):
        if sql.startswith("CREATE TABLE trials"):
            raise KeyboardInterrupt
        return super().execute(sql, *args)


def test_store_schema_is_created_in_one_transaction(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real(*a, **k, factory=_DiesAfterFirstTable))
    with pytest.raises(KeyboardInterrupt):
        Store(path)
    monkeypatch.setattr(sqlite3, "connect", real)
    with real(path) as c:   # nothing half-made survived: the next campaign takes the file as new
        assert c.execute("SELECT name FROM sqlite_master").fetchall() == []
    s = Store(path)
    assert s.meta()["schema_version"] == SCHEMA_VERSION and s.rows() == []
    s.close()


def test_store_full_is_one_line_and_keeps_committed_trials(tmp_path):
    import dataclasses
    params = parse_spec(SPEC).trials()[0]
    s = Store(tmp_path / "s.sqlite")
    s.write("k0", params, {"accuracy": 0.5})
    pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
    s.conn.execute(f"PRAGMA max_page_count = {pages}")   # SQLite's own 'database or disk is full'
    with pytest.raises(UserError, match=r"cannot write a trial \(database or disk is full\); the trials committed"):
        for i in range(1, 500):
            s.write(f"k{i}", dataclasses.replace(params, campaign="c" * 500), {"accuracy": 0.5})
    s.close()
    kept = sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT key FROM trials ORDER BY created").fetchall()
    assert kept[0] == ("k0",)


def test_store_follows_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        Store(tmp_path / "s.sqlite").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "s.sqlite").st_mode) == 0o664


def test_a_damaged_store_is_refused_and_not_extended(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "voltages": [0.9, 0.8, 0.7, 0.6, 0.5], "chips": 40}))
    run_campaign(parse_spec(yaml.safe_load(spec.read_text())), store, progress=False, limit=100)
    with open(store, "r+b") as f:   # 4 KiB of garbage into the middle of the file
        f.seek(os.path.getsize(store) // 2 // 4096 * 4096)
        f.write(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    before = store.read_bytes()
    assert cli_main(["campaign", str(spec), "--store", str(store), "--no-progress"]) == 2
    assert "is damaged (SQLite integrity check" in _one_line(capsys)
    assert cli_main(["report", str(store), "-o", str(tmp_path / "rep")]) == 2
    assert "is damaged" in _one_line(capsys)
    assert store.read_bytes() == before and not (tmp_path / "rep").exists()


# 11. kills at the wrong moment ------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_leftovers_of_a_killed_export_are_cleaned_and_a_replaced_output_restored(tmp_path, capsys):
    pid = _dead_pid()
    half = tmp_path / f".img.{pid}.abc123.tmp"      # a killed export's half-built image
    half.mkdir()
    (half / "image.bin").write_bytes(b"\x00" * 10)
    argv = ["export", f"{MODELS}/lenet5-int8", "--layout", "none-8b", "-o", str(tmp_path / "img")]
    assert cli_main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img"]
    # killed between the two renames of --force: the old image moved aside, the new not yet in place
    os.replace(tmp_path / "img", tmp_path / f".img.old.{pid}")
    assert cli_main(argv) == 2   # the old image is back, and without --force it is kept
    assert "pass --force" in _one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img"] and (tmp_path / "img" / "manifest.yaml").is_file()
    os.replace(tmp_path / "img", tmp_path / f".img.old.{pid}")
    assert cli_main(argv + ["--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img"]


@pytest.mark.slow
def test_sigterm_ends_the_worker_processes(tmp_path):
    import psutil
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "schemes": ["inplace-4b-64"], "voltages": None, "bers": [1e-2],
                                    "fault_model": "transient", "repeats": 20_000, "samples": 200}))
    store = tmp_path / "s.sqlite"
    main = subprocess.Popen([sys.executable, "-m", "accelsim", "campaign", str(spec), "--store", str(store),
                             "--workers", "2", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 240
        while trials_in(store) < 4 and main.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        workers = [c for c in psutil.Process(main.pid).children(recursive=True)]
        assert main.poll() is None and len(workers) >= 2, main.stderr.read() if main.poll() is not None else ""
        main.send_signal(signal.SIGTERM)   # the main process only, not its group
        assert main.wait(timeout=60) == 143
        assert main.stderr.read().strip() == "accelsim: terminated"
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == [], alive
    finally:
        if main.poll() is None:
            main.kill()
            main.wait()
    assert trials_in(store) >= 4   # committed trials kept


def test_a_second_campaign_on_a_busy_store_refuses_before_exporting(tmp_path, capsys):
    import fcntl
    store = tmp_path / "s.sqlite"
    Store(store).close()
    with open(store, "rb") as f:   # what a running campaign holds (Store.lock)
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump(SPEC))
        assert cli_main(["campaign", str(spec), "--store", str(store), "--no-progress"]) == 2
    assert "is being written by another campaign" in _one_line(capsys)
    assert not (tmp_path / "s.images").exists()   # nothing exported


def test_report_svgs_are_the_same_bytes_every_run(tmp_path):
    store = tmp_path / "s.sqlite"
    run_campaign(parse_spec(SPEC), store, progress=False)
    for out in ("a", "b"):
        assert cli_main(["report", str(store), "-o", str(tmp_path / out)]) == 0
    svgs = sorted(p.name for p in (tmp_path / "a").glob("*.svg"))
    assert svgs
    for name in svgs:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# 10. a card's model file runs only when the user names it -----------------------------------
def test_a_cards_model_file_runs_only_when_named(tmp_path, capsys):
    net = tmp_path / "net.py"
    net.write_text("import torch\nopen(__file__ + '.ran', 'a').write('x')\n"
                   "from accelsim.nn.zoo import build_model\n"
                   "def build():\n    return build_model('lenet5')\n")
    for ext in ("safetensors", "yaml"):
        text = Path(f"{MODELS}/lenet5-int8.{ext}").read_bytes()
        (tmp_path / f"c.{ext}").write_bytes(text.replace(b"model: lenet5", b"model: net.py:build") if ext == "yaml"
                                            else text)
    argv = ["export", str(tmp_path / "c"), "--layout", "none-8b", "-o", str(tmp_path / "img")]
    assert cli_main(argv) == 2
    assert "net.py (Python code, run with your rights)" in _one_line(capsys)
    assert not (tmp_path / "net.py.ran").exists() and not (tmp_path / "img").exists()
    assert cli_main(argv + ["--trust-model-file"]) == 0
    assert (tmp_path / "net.py.ran").read_text() == "x"
    spec = {**SPEC, "models": {"mine": {"checkpoint": str(tmp_path / "c")}}}
    with pytest.raises(UserError, match="give models.mine.factory: net.py:build beside the checkpoint"):
        parse_spec(spec)
    named = {**SPEC, "models": {"mine": {"factory": f"{net}:build", "checkpoint": str(tmp_path / "c")}}}
    assert run_campaign(parse_spec(named), tmp_path / "s.sqlite", progress=False)["ran"] == 2


# 7 and 9. Dask: threads share a worker, workers run in another folder ------------------------
@pytest.mark.slow
def test_dask_threads_and_a_relative_store_give_the_bits_of_one_worker(tmp_path, monkeypatch):
    """A scaled-activation-buffer campaign (engine cycle) on a real local Dask cluster whose one
    worker runs 2 threads and was started in another folder, with a relative --store: every
    row (all columns, the per-input masks) equals the --workers 1 run's."""
    from dask.distributed import LocalCluster
    acc = tmp_path / "acc.yaml"
    acc.write_text("activation_buffers:\n  scaled: true\n")
    spec = {**SPEC, "schemes": ["inplace-8b-64"], "voltages": None, "bers": [1e-2, 3e-2], "fault_model": "transient",
            "repeats": 8, "samples": 60, "engine": "cycle", "accelerator": str(acc),
            "models": {"lenet5": {"checkpoint": f"{MODELS}/lenet5-int8-wot-inplace-8b-64"}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")   # where the worker process starts
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0") as cluster:
        monkeypatch.chdir(tmp_path / "here")
        assert cli_main(["campaign", "../spec.yaml", "--store", "d.sqlite", "--scheduler",
                         cluster.scheduler_address, "--no-progress"]) == 0
    assert cli_main(["campaign", "../spec.yaml", "--store", "one.sqlite", "--workers", "1", "--no-progress"]) == 0

    def rows(name):
        out = {}
        for r in Store(tmp_path / "here" / name, create=False, readonly=True).rows():
            out[r["key"]] = {k: v for k, v in r.items() if k not in ("seconds", "created")}
        return out
    dask_rows, one = rows("d.sqlite"), rows("one.sqlite")
    assert len(one) == 16 and dask_rows == one
    assert len({r["accuracy"] for r in one.values()}) > 3   # activation faults at work: trials differ
