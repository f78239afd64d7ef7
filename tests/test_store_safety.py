"""Campaign stores under concurrency and kills: a second campaign on a store in use is
refused (two real processes), the lock dies with its process, and read-only commands
never write into a store."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.store import trials_in
from accelsim.cli import main as cli_main
from accelsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"name": "lock", "models": ["lenet5"], "schemes": ["inplace-4b-64"], "bers": [1e-3],
        "fault_model": "transient", "repeats": 400, "samples": 200, "models_dir": str(ROOT / "models")}


def test_second_campaign_on_a_store_in_use_is_refused(tmp_path):
    spec_path, store = tmp_path / "spec.yaml", tmp_path / "s.sqlite"
    # long enough that the first campaign is still writing when the second starts (trials
    # whose weights decode clean reuse the fault-free logits and take ~1 ms)
    spec = {**SPEC, "bers": [1e-2], "repeats": 20_000}
    spec_path.write_text(yaml.safe_dump(spec))
    argv = [sys.executable, "-m", "accelsim", "campaign", str(spec_path), "--store", str(store), "--no-progress"]
    first = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 180
        while trials_in(store) < 2 and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert first.poll() is None and trials_in(store) >= 2, first.stderr.read() if first.poll() is not None else ""
        second = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert "is being written by another campaign" in second.stderr and "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)   # the lock dies with the process: nothing stale
        first.wait()
    done = trials_in(store)
    assert 2 <= done < 20_000
    info = run_campaign(parse_spec(spec), store, progress=False, limit=3)
    assert info["ran"] == 3 and trials_in(store) == done + 3   # resumed: the finished rows are kept


# a campaign as `accelsim campaign` runs it, which says on stderr each time it starts an export
EXPORT_PROBE = """
import sys
import accelsim.campaign.runner as runner
real = runner.export_source
def export_source(*args, **kwargs):
    print("EXPORT-STARTED", file=sys.stderr, flush=True)
    return real(*args, **kwargs)
runner.export_source = export_source
from accelsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_campaigns_started_at_once_on_a_new_store_one_refuses_before_exporting(tmp_path):
    """Issue #24: on a store path that does not exist yet, the loser used to be refused only
    after it had exported every image; now it is refused before its first export."""
    spec_path, store = tmp_path / "spec.yaml", tmp_path / "new" / "s.sqlite"
    spec_path.write_text(yaml.safe_dump({**SPEC, "schemes": ["inplace-4b-64", "none-4b"], "repeats": 2,
                                         "samples": 50}))
    argv = [sys.executable, "-c", EXPORT_PROBE, "campaign", str(spec_path), "--store", str(store), "--no-progress"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in outs)
    assert codes == [0, 2], outs
    (_, won_out, won_err), = [o for o in outs if o[0] == 0]
    (_, _, lost_err), = [o for o in outs if o[0] == 2]
    assert won_err.count("EXPORT-STARTED") == 2 and "4 trials run" in won_out
    assert "EXPORT-STARTED" not in lost_err, lost_err      # refused before it exported anything
    assert lost_err.strip().splitlines() == [f"accelsim: error: campaign store {str(store)!r} is being written by "
                                             "another campaign; wait for it to finish (finished trials are kept "
                                             "and skipped)"]
    assert trials_in(store) == 4


def test_a_campaign_refused_before_its_store_exists_leaves_no_store(tmp_path):
    """The claim makes the new store's file at once; a campaign that stops before its
    first trial (here: a malformed scheduler address) removes that empty file again."""
    store = tmp_path / "s.sqlite"
    with pytest.raises(UserError, match="is not of the form tcp://host:port"):
        run_campaign(parse_spec({**SPEC, "repeats": 1}), store, progress=False, scheduler="no address")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    claim = Store.claim(store)
    with pytest.raises(UserError, match="is being written by another campaign"):
        Store.claim(store)
    claim.release()
    assert not store.exists()
    Store.claim(store).release()


def test_lock_is_per_store_object_and_released_on_close(tmp_path):
    a = Store(tmp_path / "s.sqlite")
    a.lock()
    b = Store(tmp_path / "s.sqlite")
    with pytest.raises(UserError, match=r"s.sqlite' is being written by another campaign"):
        b.lock()
    a.close()
    b.lock()
    b.close()


@pytest.mark.parametrize("content", [b"", b"plain text, not SQLite " * 40])
def test_report_never_writes_into_what_it_reads(tmp_path, content, capsys):
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir()))
    assert cli_main(["report", str(path), "-o", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("empty" in err or "not a readable SQLite file" in err)
    assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir())) == before


def test_report_opens_a_real_store_read_only(tmp_path):
    store = tmp_path / "s.sqlite"
    run_campaign(parse_spec({**SPEC, "repeats": 2, "samples": 20}), store, progress=False)
    os.chmod(store, 0o444)     # as root this does not stop a writer, so also compare bytes
    before = store.read_bytes()
    assert cli_main(["report", str(store), "-o", str(tmp_path / "rep")]) == 0
    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "s.images", "s.sqlite"]   # no -wal/-shm left
