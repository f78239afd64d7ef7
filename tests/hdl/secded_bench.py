"""cocotb benches for the generated SEC-DED RTL, checked against the Python codec.

The expected outputs come from ``accelsim.ecc`` (the reference model, imported, never
re-implemented here). The code under test is named by the ACCELSIM_CODE environment
variable. Toplevels (accelsim.rtl.cosim): the codec harness (encoder + the decoder under
each err_o rule) and the secded_dec_pipe wrapper. Vectors/s and functional coverage of the
syndrome classes are appended to ACCELSIM_STATS (JSON lines) when set.
"""

from __future__ import annotations

import itertools
import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from accelsim.ecc import RULES, get_code
from accelsim.faults import inject
from accelsim.rtl.coverage import double_classes

CODE = get_code(os.environ.get("ACCELSIM_CODE", "hsiao-13-8"))
SEED = int(os.environ.get("ACCELSIM_SEED", "2024"))


def to_ints(words: np.ndarray) -> list[int]:
    """(N, lanes) uint64 -> Python ints (lane j holds bits 64j..64j+63)."""
    out = [int(w) for w in words[:, 0]]
    for lane in range(1, words.shape[1]):
        out = [v | (int(w) << (64 * lane)) for v, w in zip(out, words[:, lane])]
    return out


def random_data(n: int, rng) -> np.ndarray:
    data = rng.integers(0, 2**64, size=(n, CODE.lanes_in), dtype=np.uint64)
    if CODE.k % 64:
        data[:, -1] &= np.uint64((1 << (CODE.k % 64)) - 1)
    return data


def flip_positions(codewords: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Flip, in row i, every bit listed in positions[i] (an (N, m) array)."""
    out = codewords.copy()
    rows = np.arange(len(out))
    for col in range(positions.shape[1]):
        p = positions[:, col]
        np.bitwise_xor.at(out, (rows, p // 64), np.uint64(1) << (p % 64).astype(np.uint64))
    return out


def record(name: str, n: int, seconds: float) -> None:
    stats = os.environ.get("ACCELSIM_STATS")
    if stats:
        with open(stats, "a") as f:
            f.write(json.dumps({"code": CODE.name, "bench": name, "vectors": n,
                                "seconds": seconds}) + "\n")


def multi_flips(cw: np.ndarray, counts: np.ndarray, rng) -> np.ndarray:
    """Flip counts[i] distinct random bits of word i."""
    order = np.argsort(rng.random((len(cw), CODE.n)), axis=1)[:, :int(counts.max())]
    bad = cw.copy()
    for col in range(order.shape[1]):
        sel = counts > col
        p = order[sel, col]
        bad[np.flatnonzero(sel), p // 64] ^= np.uint64(1) << (p % 64).astype(np.uint64)
    return bad


async def drive_decoders(dut, words: np.ndarray) -> dict:
    """Drive every word into both decoders; return what each rule's decoder put out."""
    k, r = CODE.k, CODE.r
    got = {rule: ([], [], []) for rule in RULES}
    for word in to_ints(words):
        dut.dec_i.value = word
        await Timer(1, "ns")
        bus = dut.dec_o.value.to_unsigned()
        for i, rule in enumerate(RULES):   # layout: accelsim.rtl.cosim.render_harness
            v = bus >> (i * (k + r + 2))
            d, s, e = got[rule]
            d.append(v & ((1 << k) - 1))
            s.append((v >> k) & ((1 << r) - 1))
            e.append((v >> (k + r)) & 3)
    return got


def compare(name: str, words: np.ndarray, got: dict) -> None:
    """Every output of both decoders equals the Python codec under that rule."""
    for rule in RULES:
        ref = CODE.decode_detail(words, rule)
        want = (to_ints(ref.data), [int(v) for v in ref.syndrome], [int(v) for v in ref.status])
        bad = [(i, hex(int(words[i, 0])), tuple(g[i] for g in got[rule]), tuple(w[i] for w in want))
               for i in range(len(words)) if any(g[i] != w[i] for g, w in zip(got[rule], want))]
        assert not bad, f"{CODE.name} {name} ({rule}): RTL != Python for {bad[:5]}"


@cocotb.test()
async def encoder_matches(dut):
    """The encoder equals the Python encoder on 500 random words (+ all-zero, all-one)."""
    rng = np.random.default_rng(SEED + 3)
    data = np.concatenate([random_data(500, rng), np.zeros((1, CODE.lanes_in), np.uint64),
                           CODE._data_mask[None, :]])
    expected = to_ints(CODE.encode(data))
    bad = []
    t0 = time.perf_counter()
    for d, e in zip(to_ints(data), expected):
        dut.enc_i.value = d
        await Timer(1, "ns")
        got = dut.enc_o.value.to_unsigned()
        if got != e and len(bad) < 5:
            bad.append((hex(d), hex(got), hex(e)))
    record("encode", len(data), time.perf_counter() - t0)
    assert not bad, f"{CODE.name} encoder: RTL != Python for {bad}"


@cocotb.test()
async def decoders_match_with_coverage(dut):
    """Both decoders (strict, parity) against the Python codec: clean words, every single
    error on 16 words, every double error, 1,000 triple and 300 4-6-bit errors, and the
    all-zero / all-one words. Functional coverage of the syndrome classes the RTL put out is
    written to ACCELSIM_STATS."""
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    cw = CODE.encode(random_data(16, rng))
    pos = np.repeat(np.arange(CODE.n), len(cw))[:, None]
    singles = flip_positions(np.tile(cw, (CODE.n, 1)), pos)
    pairs = np.array(list(itertools.combinations(range(CODE.n), 2)))
    doubles = flip_positions(CODE.encode(random_data(len(pairs), rng)), pairs)
    triple_data = random_data(1000, rng)
    triples = multi_flips(CODE.encode(triple_data), np.full(1000, 3), rng)
    many = multi_flips(CODE.encode(random_data(300, rng)), rng.integers(4, 7, 300), rng)
    ones = np.zeros((1, CODE.lanes_out), np.uint64)
    for p in range(CODE.n):
        ones[0, p // 64] |= np.uint64(1) << np.uint64(p % 64)
    edge = np.concatenate([np.zeros_like(ones), ones])
    groups = {"clean": cw, "single": singles, "double": doubles, "triple": triples, "multi": many, "edge": edge}
    outputs = {}
    for name, words in groups.items():
        outputs[name] = await drive_decoders(dut, words)
        compare(name, words, outputs[name])
    n_vectors = sum(len(w) for w in groups.values())
    record("decode", n_vectors, time.perf_counter() - t0)
    # functional coverage, from what the RTL put out
    cover = {"code": CODE.name, "bench": "coverage",
             "columns": CODE.n, "columns_hit": len(set(outputs["single"]["strict"][1])),
             "double_classes": len(double_classes(CODE)),
             "double_classes_hit": len(set(outputs["double"]["strict"][1]) & double_classes(CODE)),
             "triples": {}}
    truth = to_ints(triple_data)
    for rule in RULES:
        data, _, err = outputs["triple"][rule]
        wrong = np.array([d != t for d, t in zip(data, truth)])
        err = np.array(err)
        cover["triples"][rule] = {"vectors": len(err), "flagged": int(np.sum(err == 2)),
                                  "miscorrected": int(np.sum((err == 1) & wrong)),
                                  "undetected": int(np.sum((err == 0) & wrong))}
    stats = os.environ.get("ACCELSIM_STATS")
    if stats:
        with open(stats, "a") as f:
            f.write(json.dumps(cover) + "\n")
    assert cover["columns_hit"] == CODE.n


@cocotb.test()
async def pipelined_stream(dut):
    """Stream faulty codewords through the dec_pipe wrapper, one per cycle with random
    bubbles, and compare every output cycle by cycle with the Python decoder delayed by
    the register latency (REG_OUT)."""
    latency = int(os.environ.get("ACCELSIM_REG_OUT", "1"))
    rng = np.random.default_rng(SEED + 4)
    n = 2000
    cw = CODE.encode(random_data(n, rng))
    faulty = inject(cw, 0.02, seed=SEED + 5, width=CODE.n)
    ref = CODE.decode_detail(faulty)
    assert np.any(ref.status == 1) and np.any(ref.status == 2)
    inputs, data = to_ints(faulty), to_ints(ref.data)
    valid = rng.random(n) < 0.9
    cocotb.start_soon(Clock(dut.clk_i, 10, "ns").start())
    dut.rst_ni.value = 0
    dut.valid_i.value = 0
    dut.data_i.value = 0
    await RisingEdge(dut.clk_i)
    await RisingEdge(dut.clk_i)
    dut.rst_ni.value = 1
    expected: list = [None] * latency  # what leaves the pipe `latency` cycles later
    mismatches = []
    t0 = time.perf_counter()
    for i in range(n + latency):
        await FallingEdge(dut.clk_i)
        if i < n:
            dut.valid_i.value = int(valid[i])
            dut.data_i.value = inputs[i]
            expected.append((int(valid[i]), data[i], int(ref.syndrome[i]), int(ref.status[i])))
        else:
            dut.valid_i.value = 0
            expected.append(None)
        if latency == 0:
            await Timer(1, "ns")
        want = expected[i]
        if want is None:
            continue
        got_valid = int(dut.valid_o.value)
        got = (got_valid, dut.data_o.value.to_unsigned(), dut.syndrome_o.value.to_unsigned(),
               dut.err_o.value.to_unsigned())
        if got_valid != want[0] or (want[0] and got != want):
            if len(mismatches) < 5:
                mismatches.append((i, got, want))
    record(f"pipe_reg{latency}", n, time.perf_counter() - t0)
    assert not mismatches, f"{CODE.name} pipe: cycle-by-cycle mismatch {mismatches}"
