"""Codec throughput on one core: prints one JSON line.

For each code: encode and decode codewords/s at BER 0 and 1e-3, and the time of each
relative to one ``numpy.copy`` of the same codeword array (the floor for any pass over
the data); copy and decode are timed alternately (best of 7), so a loaded machine slows
both alike. ``decode_over_copy`` gives the (72,64) and (64,57) targets (<= 10) of the
compiled decoder (accelsim.ecc.kernels) beside the numpy reference decoder it replaced. Then inject + decode + unpack of 730,000 ``inplace-4b-64`` words (a
ResNet-18-size 4-bit image), and the 3-bit-error miscorrection rate of each code.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from accelsim.ecc import get_code, get_layout, list_codes  # noqa: E402
from accelsim.faults import inject  # noqa: E402
from _timing import best_time, best_times  # noqa: E402  (benchmarks/_timing.py)


def alternately(fns, repeat=7):
    """Best time of each function, timed in turns (each run once first: compilation)."""
    return best_times(fns, repeat)


def best_of(fn, repeat=5):
    return best_time(fn, repeat)


def random_data(code, n, rng):
    data = rng.integers(0, 2**64, size=(n, code.lanes_in), dtype=np.uint64)
    if code.k % 64:
        data[:, -1] &= np.uint64((1 << (code.k % 64)) - 1)
    return data


def miscorrection_rate(code, n, rng):
    """Share of random 3-bit errors that the decoder 'corrects' into a wrong codeword."""
    cw = code.encode(random_data(code, n, rng))
    pos = np.argsort(rng.random((n, code.n)), axis=1)[:, :3]
    bad = cw.copy()
    for col in range(3):
        p = pos[:, col]
        bad[np.arange(n), p // 64] ^= np.uint64(1) << (p % 64).astype(np.uint64)
    _, status = code.decode(bad)
    return float(np.mean(status == 1)), float(np.mean(status == 2))


def main():
    rng = np.random.default_rng(0)
    n = 2_000_000
    codes = {}
    for name in list_codes():
        code = get_code(name)
        data = random_data(code, n, rng)
        cw = code.encode(data)
        faulty = inject(cw, 1e-3, seed=1, width=code.n)
        t_copy = best_of(lambda: cw.copy())
        t_enc = best_of(lambda: code.encode(data))
        t_dec0 = best_of(lambda: code.decode(cw))
        t_dec3 = best_of(lambda: code.decode(faulty))
        mis, det = miscorrection_rate(code, 200_000, rng)
        codes[name] = {
            "encode_Mcw_s": round(n / t_enc / 1e6, 1),
            "decode_ber0_Mcw_s": round(n / t_dec0 / 1e6, 1),
            "decode_ber1e-3_Mcw_s": round(n / t_dec3 / 1e6, 1),
            "encode_x_copy": round(t_enc / t_copy, 1),
            "decode_ber0_x_copy": round(t_dec0 / t_copy, 1),
            "decode_ber1e-3_x_copy": round(t_dec3 / t_copy, 1),
            "triple_error_miscorrected": round(mis, 4),
            "triple_error_detected": round(det, 4),
        }
    targets = {}
    for name in ("hsiao-72-64", "hsiao-64-57"):
        code = get_code(name)
        cw = inject(code.encode(random_data(code, n, rng)), 1e-3, seed=3, width=code.n)
        engine = code._engine
        t_copy, t_dec, t_engine, t_ref = alternately([lambda: cw.copy(), lambda: code.decode(cw),
                                                      lambda: engine.decode(cw),
                                                      lambda: engine.decode_reference(cw)])
        targets[name] = {"copy_ms": round(t_copy * 1e3, 2), "decode_ms": round(t_dec * 1e3, 2),
                         "decode_over_copy": round(t_dec / t_copy, 1),
                         "engine_decode_over_copy": round(t_engine / t_copy, 1),
                         "numpy_reference_over_copy": round(t_ref / t_copy, 1),
                         "speedup_over_reference": round(t_ref / t_engine, 1)}
    layout = get_layout("inplace-4b-64")
    n_words = 730_000
    q = rng.integers(-4, 4, n_words * 16).astype(np.int8)
    words = layout.pack(q)
    t_copy = best_of(lambda: words.copy())
    t_trial = best_of(lambda: layout.unpack(inject(words, 1e-3, seed=2, width=64)))
    print(json.dumps({
        "benchmark": "ecc_throughput",
        "cores": 1,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "words": n,
        "decode_over_copy": targets,
        "target_decode_over_copy": 10,
        "codes": codes,
        "resnet18_4b_inplace_4b_64": {
            "words": n_words,
            "inject_decode_unpack_ms": round(t_trial * 1e3, 1),
            "x_copy": round(t_trial / t_copy, 1),
        },
        "target_decode_64bit_Mcw_s": 30,
    }))


if __name__ == "__main__":
    main()
