"""Trials per minute of two public fault injectors on the paper study's network and inputs.

Run by benchmarks/paper_study.py ``--peers`` inside their own venv (PyTorchFI 0.6.0 and
MRFI 2.1.0 from PyPI, installed with ``--no-deps``; torch and this checkout are made
importable by a .pth file so no second torch is downloaded). Prints one JSON line.

The network is the study's seeded ResNet-18 (accelsim's zoo model, seed 0, BatchNorm
statistics set on the same synthetic inputs as the study's seeded export; without the
in-place slot projection, which is layout-specific), evaluated on the study's 64 synthetic
inputs @224 on one thread. A trial flips weight bits at ``--ber`` per bit of an 8-bit
weight and runs one inference, as each tool does it:

- PyTorchFI: the tool injects values at given weight positions (declare_weight_fi) into a
  copy of the model; the 8-bit view is ours (symmetric per-tensor int8, every bit flipped
  with probability ber, the flipped integers dequantized): PyTorchFI has no quantization
  or bit-flip model of weights.
- MRFI: its own config (SymmericQuantization 8 bit per tensor, RandomPositionByRate at
  8 x ber per weight, IntRandomBitFlip of one of the 8 bits), applied on every forward.

Neither has ECC, SRAM words, per-chip persistent maps nested in voltage, a cycle or energy
model; both run fp32 inference of a fake-quantized network, not integer inference.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn


def study_network():
    from accelsim.nn import build_model
    from accelsim.nn.data import calibration_set, evaluation_set, parse_data
    from accelsim.nn.seeded import data_dependent_init

    spec = parse_data("synthetic:64x3x224x224")
    model = build_model("resnet18", seed=0)
    data_dependent_init(model, calibration_set(spec))
    x = torch.from_numpy(np.array(evaluation_set(spec, 64).x, dtype=np.float32))   # a writable copy
    return model.eval(), x


def flipped_int8(w: torch.Tensor, ber: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions, new float values) of a weight tensor whose symmetric per-tensor int8
    form gets each of its 8 bits flipped with probability ``ber``."""
    scale = float(w.abs().max()) / 127 or 1.0
    q = torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8).numpy().reshape(-1)
    n_bits = q.size * 8
    flips = np.unique(rng.choice(n_bits, size=rng.binomial(n_bits, ber), replace=False)) if n_bits else []
    pos = np.unique(np.asarray(flips, dtype=np.int64) // 8)
    word = q.view(np.uint8).copy()
    for f in flips:
        word[f // 8] ^= np.uint8(1 << (f % 8))
    return pos, word.view(np.int8)[pos].astype(np.float32) * scale


def pytorchfi_trials(model, x, ber: float, trials: int, seed: int) -> dict:
    from pytorchfi.core import fault_injection

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    fi = fault_injection(model, len(x), input_shape=list(x.shape[1:]), layer_types=[nn.Conv2d, nn.Linear],
                         use_cuda=False)
    rng = np.random.default_rng(seed)
    times, flipped = [], 0
    for _ in range(trials):
        t = time.process_time()
        args = dict(layer_num=[], k=[], dim1=[], dim2=[], dim3=[], value=[])
        for i, layer in enumerate(layers):
            pos, values = flipped_int8(layer.weight.detach(), ber, rng)
            for p, v in zip(pos, values):
                idx = np.unravel_index(int(p), tuple(layer.weight.shape))
                idx = tuple(int(j) for j in idx) + (None,) * (4 - len(idx))
                for key, val in zip(("layer_num", "k", "dim1", "dim2", "dim3", "value"), (i, *idx, float(v))):
                    args[key].append(val)
            flipped += len(pos)
        corrupted = fi.declare_weight_fi(**args)
        with torch.inference_mode():
            corrupted(x)
        times.append(time.process_time() - t)
    return {"version": "0.6.0", "trial_cpu_s": round(float(np.mean(times)), 2),
            "trials_per_min_one_core": round(60 / float(np.mean(times)), 2), "trials": trials,
            "weights_changed_per_trial": round(flipped / trials, 1)}


MRFI_CONFIG = """
faultinject:
  - type: weight
    name: [weight]
    quantization:
      method: SymmericQuantization
      dynamic_range: auto
      bit_width: 8
    enabled: True
    selector:
      method: RandomPositionByRate
      poisson: True
      rate: {rate}
    error_mode:
      method: IntRandomBitFlip
      bit_width: 8
    module_type: [Conv2d, Linear]
"""


def mrfi_trials(model, x, ber: float, trials: int, seed: int) -> dict:
    from mrfi import MRFI, EasyConfig

    torch.manual_seed(seed)
    fi_model = MRFI(model, EasyConfig.load_string(MRFI_CONFIG.format(rate=8 * ber)))
    times = []
    for _ in range(trials):
        t = time.process_time()
        with torch.inference_mode():
            fi_model(x)
        times.append(time.process_time() - t)
    return {"version": "2.1.0", "trial_cpu_s": round(float(np.mean(times)), 2),
            "trials_per_min_one_core": round(60 / float(np.mean(times)), 2), "trials": trials}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ber", type=float, default=1e-4)
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, x = study_network()
    t = time.process_time()
    with torch.inference_mode():
        model(x)
    out = {"ber": args.ber, "inputs": len(x), "threads": 1,
           "fault_free_fp32_inference_cpu_s": round(time.process_time() - t, 2)}
    for name, fn in (("pytorchfi", pytorchfi_trials), ("mrfi", mrfi_trials)):
        try:
            out[name] = fn(model, x, args.ber, args.trials, seed=1)
        except Exception as exc:   # a peer that breaks is reported, not hidden
            out[name] = {"error": f"{exc.__class__.__name__}: {exc}"[:300]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
