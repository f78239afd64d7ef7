"""What each exact shortcut of a trial saves (accelsim/campaign/shortcuts.py): one JSON line.

On the paper study's ResNet-18 @224 images (``--images``: an image cache of
benchmarks/paper_study.py ``--store``, e.g. study.images/), ecc-8b-72, chip 0, 64 inputs,
CPU seconds of this process on one thread (a loaded machine slows both sides alike):

- ``decode``: decode + compare of all 1.46 M words (the full path) against the sparse
  decode of the words read differently, and against the nested decode that reuses the
  chip's words decoded at the next lower voltage;
- ``trial``: a whole fast-engine trial with every shortcut against the full path, per
  voltage (a fault-free outcome above the first error, inference from the first changed
  layer below it), and the same trial looked up by content a second time;
- ``cycle``: a cycle-engine trial whose cycles and energy are simulated (SimPy) against
  one that reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

VOLTAGES = (0.70, 0.62, 0.60, 0.58, 0.56)


def cpu(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True, help="image cache folder of a paper_study.py --store run")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)

    from accelsim.campaign import shortcuts, trial
    from accelsim.campaign.params import TrialParams
    from accelsim.faults import curve_params, load_curve
    from accelsim.image import load_image
    from accelsim.infer import decode_weights
    from accelsim.nn.data import parse_data

    image_dir = str(next(p for p in Path(args.images).iterdir() if p.name.startswith("resnet18-ecc-8b-72")))
    image = load_image(image_dir)
    clean = decode_weights(image)[0]

    def params(vdd, engine="fast"):
        curve = load_curve(None)
        return TrialParams(campaign="shortcuts", model="resnet18", scheme="ecc-8b-72", checkpoint="seeded",
                           fault_model="persistent", point="vdd", vdd=vdd, ber=float(curve.ber(vdd)), chip=0,
                           repeat=0, layers="all", samples=64, engine=engine, policy="pass", seed=0,
                           v_low=min(VOLTAGES), p_stuck1=0.5, curve=curve_params(curve),
                           data=parse_data("synthetic:64x3x224x224").to_dict())

    trial.run_trial(params(0.70), image_dir)   # contexts, kernels, fault-free activations
    out = {"benchmark": "shortcuts", "image": "resnet18 ecc-8b-72 @224, 64 inputs", "words": len(image.words),
           "load_average_1min": round(os.getloadavg()[0], 2), "decode": {}, "trial": {}, "cycle": {}}
    nested = shortcuts.NestedDecodes()
    for vdd in sorted(VOLTAGES):       # lowest first: each higher voltage derives from it
        read = trial.faulty_words(image, params(vdd), [(0, len(image.words))])
        t_full, _ = cpu(lambda: trial.decode_and_compare(image, read, "pass"))
        t_sparse, _ = cpu(lambda: shortcuts.sparse_decode_and_compare(image, read, "pass", clean))
        before = nested.reused
        t_nested, got = cpu(lambda: shortcuts.sparse_decode_and_compare(image, read, "pass", clean, nested=nested,
                                                                          chip_key="chip0"))
        out["decode"][str(vdd)] = {"words_read_differently": int(shortcuts.touched_words(image.words, read).size),
                                   "residual_bits": got[2]["residual_bits"], "full_ms": round(t_full * 1e3, 1),
                                   "sparse_ms": round(t_sparse * 1e3, 2), "nested_ms": round(t_nested * 1e3, 2),
                                   "words_reused": nested.reused - before,
                                   "speedup_sparse": round(t_full / max(t_sparse, 1e-6), 1)}
    for vdd in VOLTAGES:
        p = params(vdd)
        t_off, row_off = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=False))
        trial._OUTCOMES.entries.clear()
        t_on, row_on = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=True))
        t_again, _ = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=True))
        same = {k: v for k, v in row_on.items() if k != "seconds"} == {k: v for k, v in row_off.items()
                                                                      if k != "seconds"}
        out["trial"][str(vdd)] = {"residual_bits": row_on["residual_bits"], "full_s": round(t_off, 3),
                                  "shortcuts_s": round(t_on, 3), "speedup": round(t_off / max(t_on, 1e-6), 1),
                                  "content_lookup_s": round(t_again, 3), "same_row": same}
    p = params(0.60, "cycle")
    trial._CYCLES.clear()
    t_sim, _ = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=True))
    t_reuse, _ = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=True))
    t_cycle_off, _ = cpu(lambda: trial.run_trial(p, image_dir, shortcuts=False))
    out["cycle"] = {"vdd": 0.60, "simulated_s": round(t_sim, 3), "reused_s": round(t_reuse, 3),
                    "full_path_s": round(t_cycle_off, 3), "speedup": round(t_cycle_off / max(t_reuse, 1e-6), 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
