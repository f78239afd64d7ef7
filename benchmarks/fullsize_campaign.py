"""Full-size campaign speed: one JSON line.

- ResNet-18 and MobileNetV2 @224 (seeded weights, exported none-8b), a batch of 64 seeded
  uniform inputs: torch fp32 inference of the same model (what a user would run) and the
  fast integer-exact engine, timed alternately in this one run (best of ``--repeats``);
  for ResNet-18 also the float64 integer path it replaces (timed once), whose logits the
  engine's must equal bit for bit.
- Trials per minute of `run_trial` (64 inputs per trial, transient faults at BER 1e-5,
  1e-4, 1e-3) for ResNet-18 and MobileNetV2 @224 (when the zoo has it), fast and cycle
  engine; the speed-up of incremental over full recompute per BER (none-8b and ecc-8b-72)
  and per single-layer selection, and of a whole trial against the float64 full pass.
- Peak resident memory: of the fast engine alone (64 inputs in passes of 64 and of 16, with
  a trial context's cached activations), of the float64 path, of this process.

Run: ``.venv/bin/python benchmarks/fullsize_campaign.py`` (``--quick``: fewer trials).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim.campaign import trial as trial_mod
from accelsim.image import export_image, load_image
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.fast import FastIntegerNetwork
from accelsim.nn import build_model
from accelsim.nn.zoo import list_models
from _timing import best_times  # benchmarks/_timing.py

BATCH = 64
BERS = (1e-5, 1e-4, 1e-3)
SCHEME = "none-8b"   # no ECC: every trial at these BERs leaves faulty weights to infer with


def synthetic_inputs(n: int) -> np.ndarray:
    return torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(1)).numpy()


def export(name: str, out: Path, layout: str = SCHEME):
    model = build_model(name, seed=0).eval()
    calib = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    return model, export_image(model, out, layout=layout, input_shape=(3, 224, 224), calibration=calib)


def side_by_side(model, img, x: np.ndarray, repeats: int) -> dict:
    """torch fp32 vs the fast engine on the same batch, alternately, best of ``repeats``."""
    net, weights = FastIntegerNetwork(img), decode_weights(img)[0]
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        model(xt[:2])
    net.forward(x[:2], weights)     # compiles the kernels

    def torch_fp32():
        with torch.inference_mode():
            model(xt)

    torch_s, fast_s = best_times([torch_fp32, lambda: net.forward(x, weights)], repeats, warm=False)
    return {"batch": len(x), "torch_fp32_ms": round(torch_s * 1e3), "fast_ms": round(fast_s * 1e3),
            "fast_over_torch": round(fast_s / torch_s, 2)}


def _in_child(fn, *args):
    """Run fn in a fresh process: its own peak resident memory, no other engine's."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def float64_child(image_dir: str) -> dict:
    """The float64 path on the batch (its im2col matrices take GBs: measured apart)."""
    img = load_image(image_dir)
    weights = decode_weights(img)[0]
    x = synthetic_inputs(BATCH)
    t = time.perf_counter()
    logits = IntegerNetwork(img).forward(x, weights)
    return {"ms": round((time.perf_counter() - t) * 1e3), "logits": logits,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def fast_memory_child(image_dir: str, batch: int) -> dict:
    """The fast engine alone: a forward of 64 inputs in passes of ``batch``, the cached
    fault-free activations of a trial context and one faulty trial's forward."""
    from accelsim.infer.fast import IncrementalRun

    img = load_image(image_dir)
    weights = decode_weights(img)[0]
    x = synthetic_inputs(BATCH)
    net = FastIntegerNetwork(img)
    t = time.perf_counter()
    logits = net.forward(x, weights, batch=batch)
    ms = (time.perf_counter() - t) * 1e3
    run = IncrementalRun(net, x, weights=weights, batch=batch)
    faulty = dict(weights)
    last = img.layers[-1].name
    faulty[last] = -faulty[last]
    run.forward(faulty)
    return {"ms": round(ms), "logits": logits, "cached_activation_mb": round(run.cached_bytes() / 2**20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _params(model: str, engine: str, ber: float, repeat: int):
    from accelsim.campaign.params import TrialParams
    return TrialParams(**{"campaign": "bench", "model": model, "scheme": SCHEME, "checkpoint": "seeded", "fault_model": "transient",
            "point": "ber", "vdd": 0.5, "ber": ber, "chip": 0, "repeat": repeat, "layers": "all",
            "samples": BATCH, "engine": engine, "policy": "pass", "seed": 0, "v_low": 0.5, "p_stuck1": 0.5,
            "curve": {}, "accelerator": None, "energy_table": None,
            "data": {"source": f"synthetic:{BATCH}x3x224x224"}})


def trial_rates(model: str, image_dir: str, engine: str, trials: int) -> dict:
    """Trials per minute over the BERs, ``trials`` per BER, 64 inputs each; the first trial
    builds the context (the fault-free pass whose activations later trials reuse) outside
    the timing."""
    def one(ber, rep):
        trial_mod.run_trial(_params(model, engine, ber, rep), image_dir)
    one(BERS[0], 10_000)
    t = time.perf_counter()
    for ber in BERS:
        for rep in range(trials):
            one(ber, rep)
    n = trials * len(BERS)
    return {"trials": n, "trials_per_min": round(60 * n / (time.perf_counter() - t), 1)}


def recompute_speedup(img, x: np.ndarray, float64_ms: float | None) -> dict:
    """Per BER, one trial's weights: the incremental forward vs a full fast forward (and the
    float64 path's full forward, measured once above, for the whole trial's before/after)."""
    from accelsim.campaign.trial import decode_and_compare, faulty_words, word_ranges
    from accelsim.infer.fast import IncrementalRun

    net = FastIntegerNetwork(img)
    run = IncrementalRun(net, x)
    out = {"cached_activation_mb": round(run.cached_bytes() / 2**20, 1)}
    for ber in BERS:
        params = _params("m", "fast", ber, 0)
        t = time.perf_counter()
        weights = decode_and_compare(img, faulty_words(img, params, word_ranges(img, "all")), "pass")[0]
        decode_s = time.perf_counter() - t
        inc_s, full_s = _incremental_and_full_seconds(run, net, x, weights)
        changed = run.changed_layers(weights)
        entry = {"changed_layers": len(changed), "restart_node": run.restart_point(changed) if changed else None,
                 "inject_decode_ms": round(decode_s * 1e3), "incremental_ms": round(inc_s * 1e3),
                 "full_ms": round(full_s * 1e3), "full_over_incremental": round(full_s / max(inc_s, 1e-9), 2)}
        if float64_ms is not None:   # a trial before: inject/decode + the float64 full pass
            entry["trial_speedup_vs_float64_full"] = round((decode_s + float64_ms / 1e3) / (decode_s + inc_s), 1)
        out[f"{ber:g}"] = entry
    return out


def _incremental_and_full_seconds(run, net, x: np.ndarray, weights) -> tuple[float, float]:
    """Seconds of an incremental and of a full forward pass with the same decoded weights;
    the two must give identical logits."""
    t = time.perf_counter()
    inc = run.forward(weights)
    inc_s = time.perf_counter() - t
    t = time.perf_counter()
    full = net.forward(x, weights)
    full_s = time.perf_counter() - t
    assert np.array_equal(inc, full)
    return inc_s, full_s


def layer_selection_speedup(img, x: np.ndarray, picks: int = 4) -> dict:
    """A per-layer sensitivity sweep (``layers:`` one layer at a time, BER 1e-3): incremental
    vs full recompute for a few layers spread over the network."""
    from accelsim.campaign.trial import decode_and_compare, faulty_words, word_ranges
    from accelsim.infer.fast import IncrementalRun

    net = FastIntegerNetwork(img)
    run = IncrementalRun(net, x)
    names = [layer.name for layer in img.layers]
    out = {}
    for name in [names[i] for i in np.linspace(0, len(names) - 1, picks).round().astype(int)]:
        params = _params("m", "fast", 1e-3, 0).replace(layers=name)
        weights = decode_and_compare(img, faulty_words(img, params, word_ranges(img, name)), "pass")[0]
        inc_s, full_s = _incremental_and_full_seconds(run, net, x, weights)
        out[name] = {"incremental_ms": round(inc_s * 1e3), "full_ms": round(full_s * 1e3),
                     "full_over_incremental": round(full_s / max(inc_s, 1e-9), 1)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one trial per BER and engine")
    ap.add_argument("--repeats", type=int, default=3, help="alternating torch/fast timings (best is kept)")
    ap.add_argument("--models", nargs="+", default=None, help="zoo names (default: resnet18 mobilenet_v2)")
    args = ap.parse_args()
    trials = 1 if args.quick else 2
    out = {"benchmark": "fullsize_campaign", "scheme": SCHEME, "inputs_per_trial": BATCH, "bers": list(BERS),
           "torch_threads": torch.get_num_threads(), "models": {}}
    x = synthetic_inputs(BATCH)
    models = args.models or ["resnet18"] + (["mobilenet_v2"] if "mobilenet_v2" in list_models() else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            model, img = export(name, Path(tmp) / name)
            entry = {"weights": img.n_weights, "inference": side_by_side(model, img, x, args.repeats)}
            del model
            memory = {}
            for batch in (BATCH, 16):
                child = _in_child(fast_memory_child, str(img.path), batch)
                memory[f"batch_{batch}"] = {k: v for k, v in child.items() if k != "logits"}
            entry["fast_engine_alone"] = memory
            f64_ms = None
            if name == "resnet18":
                ref = _in_child(float64_child, str(img.path))
                f64_ms = ref["ms"]
                entry["float64_path"] = {"ms": ref["ms"], "peak_rss_mb": ref["peak_rss_mb"],
                                         "over_fast": round(ref["ms"] / entry["inference"]["fast_ms"], 1),
                                         "bit_identical": bool(np.array_equal(ref["logits"], child["logits"]))}
            entry["recompute"] = recompute_speedup(img, x, f64_ms)
            entry["layer_selection_1e-3"] = layer_selection_speedup(img, x)
            entry["fast"] = trial_rates(name, str(img.path), "fast", trials)
            entry["cycle"] = trial_rates(name, str(img.path), "cycle", trials)
            if name == "resnet18":   # with ECC most trials leave few layers (or none) wrong
                _, ecc = export(name, Path(tmp) / f"{name}-ecc", layout="ecc-8b-72")
                entry["recompute_ecc-8b-72"] = recompute_speedup(ecc, x, f64_ms)
            out["models"][name] = entry
            print(json.dumps({name: entry}), file=sys.stderr, flush=True)   # progress
    out["load_average_1_5_15"] = [round(v, 1) for v in os.getloadavg()]   # a shared machine slows everything
    out["peak_rss_mb_torch_and_fast"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
