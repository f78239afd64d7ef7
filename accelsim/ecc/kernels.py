"""Compiled SEC-DED decoder: one pass over the words (numba).

The syndrome of a word is the XOR of the H columns of its set bits. Per byte of the word
a 256-entry table holds the XOR of the columns of that byte's set bits, so a syndrome is
8 lookups per 64-bit lane into tables that stay in L1 cache (4 KiB per lane). The loops
over a lane's 8 bytes have a fixed trip count so the compiler unrolls them (a loop over a
list of used bytes measured 10x slower). Inversion is linear: the syndrome of
``word ^ invert`` is ``syndrome(word) ^ syndrome(invert)``, one constant. Status and error
position come from the engine's 2**r-entry tables, as in
:meth:`accelsim.ecc.codec.SecDedEngine.decode_reference`, which the property tests compare
against bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def byte_tables(columns: np.ndarray, lanes: int) -> np.ndarray:
    """(lanes * 8, 256) uint16: entry [b, v] is the XOR of the columns of the set bits of
    value v in byte b of a word (bits 8b..8b+7, lane b // 8)."""
    padded = np.zeros(lanes * 64, dtype=np.uint16)
    padded[:len(columns)] = np.asarray(columns, dtype=np.uint16)
    idx = np.arange(256, dtype=np.uint16)
    tables = np.zeros((lanes * 8, 256), dtype=np.uint16)
    for b in range(lanes * 8):
        for j in np.flatnonzero(padded[8 * b:8 * b + 8]):
            tables[b] ^= (((idx >> j) & 1) * padded[8 * b + j]).astype(np.uint16)
    return tables


@njit(cache=True, nogil=True, boundscheck=False)
def decode(flat, lanes, tables, syndrome_offset, status_table, pos_table,
           out, status, syndrome, error_pos, keep):  # pragma: no cover - compiled
    """Decode N = len(status) words given as their lanes' int64 views ``flat`` (N * lanes):
    fill out (the corrected words, same view), status (N,) uint8, syndrome (N,) uint16 and
    error_pos (N,) int16; a single error at position p flips bit p. ``keep`` (int64 per
    lane) masks the corrected words at the end (all ones: the whole word; a code's data
    bits: the data alone, saving the caller a pass).

    The first pass is branch-free (syndrome 0 looks up status 0 and position -1), the
    second flips the rare corrected bits; lanes are int64 because a signed shift and a byte
    mask read the same bytes and uint64 shifts compiled 2x slower; helper calls per word
    were not inlined and cost 10x."""
    n = status.shape[0]
    if lanes == 1:     # 64-bit and narrower words: the byte loop alone, unrolled
        for i in range(n):
            x = flat[i]
            s = syndrome_offset
            for t in range(8):
                s ^= tables[t, (x >> (8 * t)) & 0xFF]
            out[i] = x
            syndrome[i] = s
            status[i] = status_table[s]
            error_pos[i] = pos_table[s]
    elif lanes == 2:   # 65..128-bit words ((72,64)): both lanes unrolled
        for i in range(n):
            x = flat[2 * i]
            y = flat[2 * i + 1]
            s = syndrome_offset
            for t in range(8):
                s ^= tables[t, (x >> (8 * t)) & 0xFF] ^ tables[8 + t, (y >> (8 * t)) & 0xFF]
            out[2 * i] = x
            out[2 * i + 1] = y
            syndrome[i] = s
            status[i] = status_table[s]
            error_pos[i] = pos_table[s]
    else:
        for i in range(n):
            s = syndrome_offset
            for lane in range(lanes):
                x = flat[i * lanes + lane]
                for t in range(8):
                    s ^= tables[8 * lane + t, (x >> (8 * t)) & 0xFF]
                out[i * lanes + lane] = x
            syndrome[i] = s
            status[i] = status_table[s]
            error_pos[i] = pos_table[s]
    for i in range(n):
        p = error_pos[i]
        if p >= 0:
            out[i * lanes + (p >> 6)] ^= np.int64(1) << (p & 63)
    masked = False
    for lane in range(lanes):
        if keep[lane] != -1:
            masked = True
    if masked:
        for i in range(n):
            for lane in range(lanes):
                out[i * lanes + lane] &= keep[lane]


@njit(inline="always", boundscheck=False)
def _lane_syndrome(tables, base, x):  # pragma: no cover - compiled
    """XOR of the flattened byte tables' entries for the 8 bytes of lane ``x`` (entries
    from ``base``: 2048 per lane), one expression the compiler schedules together."""
    return (tables[base + (x & 0xFF)] ^ tables[base + 256 + ((x >> 8) & 0xFF)]
            ^ tables[base + 512 + ((x >> 16) & 0xFF)] ^ tables[base + 768 + ((x >> 24) & 0xFF)]
            ^ tables[base + 1024 + ((x >> 32) & 0xFF)] ^ tables[base + 1280 + ((x >> 40) & 0xFF)]
            ^ tables[base + 1536 + ((x >> 48) & 0xFF)] ^ tables[base + 1792 + ((x >> 56) & 0xFF)])


@njit(cache=True, nogil=True, boundscheck=False)
def decode_lean(flat, lanes, tables, syndrome_offset, status_table, pos_table,
                out, out_lanes, keep, status):  # pragma: no cover - compiled
    """:func:`decode` without the syndromes and error positions, in one pass: what the
    campaigns, the cycle model and :meth:`Code.decode` need (corrected data and status).

    ``tables`` is the (lanes * 8, 256) byte table flattened (entry 256 * b + v), so a
    syndrome is one expression of 8 (or 16) loads the compiler schedules together (the
    2-D loop above measured 1.6x slower); a single error is fixed in a register before
    the one store, and only the first ``out_lanes`` lanes of the corrected word, ANDed
    with ``keep``, are written to ``out`` (N * out_lanes): a (72,64) code's data lane
    alone, so the caller makes no second pass to slice and mask."""
    n = status.shape[0]
    if lanes == 1:
        k0 = keep[0]
        for i in range(n):
            x = flat[i]
            s = syndrome_offset ^ _lane_syndrome(tables, 0, x)
            status[i] = status_table[s]
            p = pos_table[s]
            if p >= 0:
                x ^= np.int64(1) << (p & 63)
            out[i] = x & k0
    elif lanes == 2:
        k0 = keep[0]
        k1 = keep[1] if out_lanes == 2 else np.int64(0)
        for i in range(n):
            x = flat[2 * i]
            y = flat[2 * i + 1]
            s = syndrome_offset ^ _lane_syndrome(tables, 0, x) ^ _lane_syndrome(tables, 2048, y)
            status[i] = status_table[s]
            p = pos_table[s]
            if p >= 64:
                y ^= np.int64(1) << (p & 63)
            elif p >= 0:
                x ^= np.int64(1) << p
            if out_lanes == 2:
                out[2 * i] = x & k0
                out[2 * i + 1] = y & k1
            else:
                out[i] = x & k0
    else:
        for i in range(n):
            s = syndrome_offset
            for lane in range(lanes):
                s ^= _lane_syndrome(tables, 2048 * lane, flat[i * lanes + lane])
            status[i] = status_table[s]
            p = pos_table[s]
            for lane in range(out_lanes):
                x = flat[i * lanes + lane]
                if p >= 0 and (p >> 6) == lane:
                    x ^= np.int64(1) << (p & 63)
                out[i * out_lanes + lane] = x & keep[lane]
