"""A killed campaign resumes to exactly the rows of an uninterrupted one: one JSON line.

The same campaign (LeNet-5, two schemes, five voltages, four chips: 40 trials, two worker
processes) is started into one store again and again and killed with SIGKILL (the main
process and its workers) at seeded random moments: half at a random time after start
(during start-up, image export, store creation or trials), half when the store holds a
random number of rows (mid-campaign). After at least ``--kills`` kills it runs to the
end; its rows must equal, value for value, those of a run that was never interrupted.

    python benchmarks/campaign_kill_resume.py [--kills 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.store import trials_in

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ("seconds", "created")
SPEC = {"name": "kill", "models": ["lenet5"], "schemes": ["none-4b", "inplace-4b-64"],
        "voltages": [0.6, 0.56, 0.53, 0.51, 0.5], "chips": 4, "samples": 100,
        "models_dir": str(ROOT / "models")}


def stable(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def start(spec_path: Path, store: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "accelsim", "campaign", str(spec_path), "--store", str(store),
                             "--workers", "2", "--no-progress"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec_path = tmp / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(SPEC))
        spec = parse_spec(SPEC)
        total = spec.n_trials()
        clean = tmp / "clean.sqlite"
        run_campaign(spec, clean, workers=1, progress=False)
        store = tmp / "killed.sqlite"
        kills, at_kill, finished_early, errors = [], [], 0, []
        while len(kills) < args.kills:
            by_time = len(kills) % 2 == 0
            delay = float(rng.uniform(0.2, 6.0))
            target = int(rng.integers(trials_in(store) + 1, total)) if trials_in(store) + 1 < total else total
            proc = start(spec_path, store)
            began = time.perf_counter()
            while proc.poll() is None:
                if (by_time and time.perf_counter() - began >= delay) or (not by_time and trials_in(store) >= target):
                    break
                time.sleep(0.01)
            if proc.poll() is not None:          # finished (or failed) before the kill
                err = proc.stderr.read().decode()
                if proc.returncode != 0:
                    errors.append(err.strip()[-300:])
                finished_early += 1
                if trials_in(store) >= total:      # start over from an empty store: more kills to do
                    store.unlink()
                    for side in ("-wal", "-shm"):
                        Path(str(store) + side).unlink(missing_ok=True)
                continue
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills.append(round(time.perf_counter() - began, 2) if by_time else f"rows>={target}")
            at_kill.append(trials_in(store))
        final = subprocess.run([sys.executable, "-m", "accelsim", "campaign", str(spec_path), "--store", str(store),
                                "--workers", "2", "--no-progress"], capture_output=True, text=True)
        a, b = Store(store, create=False, readonly=True), Store(clean, create=False, readonly=True)
        resumed, reference = stable(a.rows()), stable(b.rows())
        a.close()
        b.close()
    print(json.dumps({
        "benchmark": "campaign_kill_resume", "trials": total, "kills": len(kills), "kill_points": kills,
        "rows_at_kill": at_kill, "runs_finished_before_kill": finished_early, "failed_runs": errors,
        "final_exit": final.returncode, "rows": len(resumed), "rows_equal_uninterrupted": resumed == reference,
        "duplicate_keys": len(resumed) - len({r["key"] for r in resumed}), "seconds": round(time.perf_counter() - t0, 1),
    }))
    return 0 if resumed == reference and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
