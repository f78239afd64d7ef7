"""cocotb benches for the generated SEC-DED RTL, checked against the Python codec.

The expected outputs come from ``accelsim.ecc`` (the reference model, imported, never
re-implemented here). The code under test is named by the ACCELSIM_CODE environment
variable; vectors/s are appended to ACCELSIM_STATS (JSON lines) when set.
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

from accelsim.ecc import get_code
from accelsim.faults import inject

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


async def check_decoder(dut, codewords: np.ndarray, name: str) -> None:
    """Drive every codeword and compare data_o, syndrome_o and err_o with Python."""
    ref = CODE.decode_detail(codewords)
    inputs = to_ints(codewords)
    data = to_ints(ref.data)
    syndrome = [int(s) for s in ref.syndrome]
    err = [int(s) for s in ref.status]  # status 1 -> err_o 2'b01, status 2 -> 2'b10 (same integers)
    mismatches = []
    t0 = time.perf_counter()
    for i, word in enumerate(inputs):
        dut.data_i.value = word
        await Timer(1, "ns")
        got = (dut.data_o.value.to_unsigned(), dut.syndrome_o.value.to_unsigned(),
               dut.err_o.value.to_unsigned())
        if got != (data[i], syndrome[i], err[i]) and len(mismatches) < 5:
            mismatches.append((i, hex(word), got, (data[i], syndrome[i], err[i])))
    record(name, len(inputs), time.perf_counter() - t0)
    assert not mismatches, f"{CODE.name} {name}: RTL != Python for {mismatches}"


@cocotb.test()
async def clean_and_single_errors(dut):
    """Every single-bit error at every position on 256 random data words (+ the clean words)."""
    rng = np.random.default_rng(SEED)
    cw = CODE.encode(random_data(256, rng))
    pos = np.repeat(np.arange(CODE.n), len(cw))[:, None]
    singles = flip_positions(np.tile(cw, (CODE.n, 1)), pos)
    await check_decoder(dut, np.concatenate([cw, singles]), "single")
    assert np.all(CODE.decode(singles)[1] == 1)


@cocotb.test()
async def double_errors(dut):
    """Every double error for codes <= 39 bits (on 2 words each), else 20,000 sampled."""
    rng = np.random.default_rng(SEED + 1)
    if CODE.n <= 39:
        pairs = np.array(list(itertools.combinations(range(CODE.n), 2)))
        pairs = np.tile(pairs, (2, 1))
    else:
        pairs = np.sort(np.argsort(rng.random((20_000, CODE.n)), axis=1)[:, :2], axis=1)
    cw = CODE.encode(random_data(len(pairs), rng))
    await check_decoder(dut, flip_positions(cw, pairs), "double")


@cocotb.test()
async def multi_errors(dut):
    """10,000 random words with 3 to 6 bit errors (miscorrections must match too)."""
    rng = np.random.default_rng(SEED + 2)
    n = 10_000
    cw = CODE.encode(random_data(n, rng))
    m = rng.integers(3, 7, n)
    order = np.argsort(rng.random((n, CODE.n)), axis=1)[:, :6]  # 6 distinct positions a row
    bad = cw.copy()  # word i gets its first m[i] positions flipped
    for col in range(6):
        sel = m > col
        p = order[sel, col]
        rows = np.flatnonzero(sel)
        bad[rows, p // 64] ^= np.uint64(1) << (p % 64).astype(np.uint64)
    await check_decoder(dut, bad, "multi")


@cocotb.test()
async def encoder_matches(dut):
    """Encoder toplevel: data_o equals the Python encoder on 20,000 random words."""
    rng = np.random.default_rng(SEED + 3)
    data = random_data(20_000, rng)
    expected = to_ints(CODE.encode(data))
    inputs = to_ints(data)
    bad = []
    t0 = time.perf_counter()
    for d, e in zip(inputs, expected):
        dut.data_i.value = d
        await Timer(1, "ns")
        got = dut.data_o.value.to_unsigned()
        if got != e and len(bad) < 5:
            bad.append((hex(d), hex(got), hex(e)))
    record("encode", len(inputs), time.perf_counter() - t0)
    assert not bad, f"{CODE.name} encoder: RTL != Python for {bad}"


@cocotb.test()
async def pipelined_stream(dut):
    """Stream faulty codewords through the dec_pipe wrapper, one per cycle with random
    bubbles, and compare every output cycle by cycle with the Python decoder delayed by
    the register latency (REG_OUT)."""
    latency = int(os.environ.get("ACCELSIM_REG_OUT", "1"))
    rng = np.random.default_rng(SEED + 4)
    n = 4000
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
