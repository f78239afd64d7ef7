"""The reference for the cycle model: a small per-burst SimPy model of the accelerator.

It is written from the hardware description of docs/hardware.md, not from the per-tile
recurrence in ``accelsim/hw/accelerator.py``, and shares none of its timing code (the
tile schedule, the fold plan, the bank-conflict count and the ECC policy are restated
here). One SimPy process per block, one event per burst between blocks:

- DRAM: loads the weight tiles in order into the weight SRAM, each once half the SRAM is
  free (double buffering), in ``latency + ceil(bytes / bytes_per_cycle)`` cycles.
- weight SRAM: per tile, the read pipeline fills once (``read_latency``); then burst
  after burst: each bank serves its words of the burst, ``ports`` per cycle, in parallel
  with the others (one process per bank per burst), and the burst goes into the queue to
  the decoder, a ``simpy.Store`` of two bursts: the SRAM waits while it is full. The
  tile's space is handed back once its last burst has entered the queue.
- ECC stage: takes one burst at a time; ``ceil(words / lanes)`` cycles, plus, per re-read
  round of its uncorrectable words (policy ``reread``), ``read_latency + ceil(bad /
  lanes)``; the decoded words reach the PE array ``latency`` cycles later (a pipeline: the
  next burst is taken meanwhile). A layout without a code has no decoder (a wire).
- PE array: layer after layer; fold i of F starts once ceil((i + 1) W / F) of the layer's
  W streamed words (its words x weight passes) have reached it, and takes the dataflow's
  cycles per fold.

Functional results use the same fault source (``WeightSram``) and codec
(``layout.unpack_detail``) as the model under test: what is compared is the timing and
the counts. Every pass reads and decodes every burst again (no reuse of decoded bursts).
"""

from __future__ import annotations

from collections import Counter
from math import ceil

import numpy as np
import simpy

DETECTED = 2


def fold_plan(m: int, k: int, n: int, groups: int, cfg) -> tuple[int, int, int]:
    """(folds, cycles per fold, weight passes) of an M x K_g x N GEMM of ``groups`` groups
    (docs/hardware.md's table)."""
    r, c, ng = cfg.rows, cfg.cols, n // groups
    if cfg.dataflow == "ws":
        return groups * ceil(k / r) * ceil(ng / c), 2 * r + c + m - 2, 1
    if cfg.dataflow == "os":
        drain = r if cfg.os_drain == "serial" else 0
        return groups * ceil(m / r) * ceil(ng / c), k + r + c - 2 + drain, ceil(m / r)
    return groups * ceil(k / r) * ceil(m / c), 2 * r + c + ng - 2, ceil(m / c)


def tiles_of(image, passes: list[int], sram_words: int) -> list[tuple[int, int, int, int]]:
    """(layer, first word, words, first pass) of every read of a tile, in order: a layer that
    fits in half the SRAM is loaded once and read once per pass; a larger one is loaded
    again, chunk by chunk, for every pass. Returns (layer, start, n, pass, reads)."""
    half = sram_words // 2
    out = []
    for li, layer in enumerate(image.layers):
        start, end = layer.word_offset, layer.word_offset + layer.n_words
        if layer.n_words <= half:
            out.append((li, start, layer.n_words, 0, passes[li]))
            continue
        for p in range(passes[li]):
            for s in range(start, end, half):
                out.append((li, s, min(half, end - s), p, 1))
    return out


class Reference:
    """One run of the reference model; ``run()`` returns its per-layer counts."""

    def __init__(self, image, cfg, sram):
        self.image, self.cfg, self.sram = image, cfg, sram
        self.layout = image.layout
        self.has_code = self.layout.code is not None
        self.env = simpy.Environment()
        self.plans = [fold_plan(*layer.gemm, int(getattr(layer, "groups", 1) or 1), cfg) for layer in image.layers]
        self.tiles = tiles_of(image, [p[2] for p in self.plans], cfg.banks * cfg.words_per_bank)
        self.loaded = [self.env.event() for _ in self.tiles]
        self.space = simpy.Container(self.env, capacity=cfg.banks * cfg.words_per_bank,
                                     init=cfg.banks * cfg.words_per_bank)
        self.queue = simpy.Store(self.env, capacity=2)
        self.arrived = [0] * len(image.layers)
        self.wake = [self.env.event() for _ in image.layers]
        keys = ("cycles", "compute_cycles", "stall_cycles", "pe_wait_cycles", "start_cycle", "end_cycle",
                "sram_read_words", "sram_read_bits", "sram_conflict_cycles", "dram_bytes", "ecc_decodes",
                "rereads", "reread_stall_cycles", "detected", "folds", "weight_passes")
        self.stats = [dict.fromkeys(keys, 0) | {"sram_start": -1, "sram_end": -1, "dram_start": -1,
                                                 "dram_end": -1} for _ in image.layers]
        self.out_words = image.words.copy()
        self.status = np.zeros(image.words.shape[0], dtype=np.uint8)

    def run(self) -> dict:
        env = self.env
        env.process(self.dram())
        env.process(self.sram_reader())
        env.process(self.decoder())
        env.run(until=env.process(self.pe_array()))
        return {"total_cycles": int(env.now), "layers": self.stats, "words": self.out_words, "status": self.status}

    # -- DRAM ---------------------------------------------------------------------------
    def dram(self):
        env, cfg = self.env, self.cfg
        for i, (li, _, n, _, _) in enumerate(self.tiles):
            yield self.space.get(n)
            start = env.now
            n_bytes = ceil(n * self.layout.word_bits / 8)
            yield env.timeout(cfg.dram_latency + ceil(n_bytes / cfg.dram_bytes_per_cycle))
            s = self.stats[li]
            s["dram_bytes"] += n_bytes
            s["dram_start"] = start if s["dram_start"] < 0 else s["dram_start"]
            s["dram_end"] = env.now
            self.loaded[i].succeed()

    # -- weight SRAM ----------------------------------------------------------------------
    def bank(self, words: int):
        yield self.env.timeout(ceil(words / self.cfg.ports))

    def read_burst(self, start: int, n: int):
        """The banks serve the burst's words in parallel; returns the conflict cycles."""
        cfg = self.cfg
        addresses = [a % (cfg.banks * cfg.words_per_bank) for a in range(start, start + n)]
        per_bank = Counter(a % cfg.banks if cfg.interleave else (a // cfg.words_per_bank) % cfg.banks
                           for a in addresses)
        t0 = self.env.now
        yield simpy.AllOf(self.env, [self.env.process(self.bank(w)) for w in per_bank.values()])
        return (self.env.now - t0) - ceil(n / (cfg.banks * cfg.ports))

    def sram_reader(self):
        env, cfg = self.env, self.cfg
        burst_id = 0
        for i, (li, start, n_words, first_pass, reads) in enumerate(self.tiles):
            yield self.loaded[i]
            yield env.timeout(cfg.read_latency)
            s = self.stats[li]
            for r in range(reads):
                for b in range(start, start + n_words, cfg.burst_words):
                    n = min(cfg.burst_words, start + n_words - b)
                    if s["sram_start"] < 0:
                        s["sram_start"] = env.now
                    conflicts = yield env.process(self.read_burst(b, n))
                    s["sram_end"] = env.now
                    s["sram_conflict_cycles"] += conflicts
                    s["sram_read_words"] += n
                    s["sram_read_bits"] += n * self.layout.word_bits
                    first = first_pass + r == 0
                    words = self.sram.read(b, n, first=first, burst_id=burst_id)
                    yield self.queue.put((li, b, n, first, burst_id, words))
                    burst_id += 1
            yield self.space.put(n_words)

    # -- ECC stage ------------------------------------------------------------------------
    def decoder(self):
        env, cfg = self.env, self.cfg
        lanes = cfg.ecc_lanes
        while True:
            li, start, n, first, burst_id, words = yield self.queue.get()
            s = self.stats[li]
            busy = ceil(n / lanes) if self.has_code else 0
            out, status = self.decode(words, s, start, burst_id)
            if self.has_code and cfg.policy == "reread":
                bad = np.flatnonzero(status == DETECTED)
                for attempt in range(cfg.max_retries):
                    if bad.size == 0:
                        break
                    busy += cfg.read_latency + ceil(bad.size / lanes)
                    s["rereads"] += bad.size
                    s["reread_stall_cycles"] += cfg.read_latency + ceil(bad.size / lanes)
                    s["sram_read_words"] += bad.size
                    s["sram_read_bits"] += bad.size * self.layout.word_bits
                    again, st2 = self.decode(self.sram.reread(start + bad, burst_id=burst_id, attempt=attempt),
                                             s, None, burst_id)
                    fixed = st2 != DETECTED
                    out[bad[fixed]], status[bad[fixed]] = again[fixed], st2[fixed]
                    bad = bad[~fixed]
            if self.has_code and cfg.policy == "zero":
                out[status == DETECTED] = 0
            if first:
                self.out_words[start:start + n], self.status[start:start + n] = out, status
                s["detected"] += int(np.count_nonzero(status == DETECTED))
            yield env.timeout(busy)
            env.process(self.deliver(li, n, self.cfg.ecc_latency if self.has_code else 0))

    def decode(self, words, s, start, burst_id):
        _, dec = self.layout.unpack_detail(words, rule=self.cfg.ecc_rule)
        if not self.has_code:
            return words.copy(), np.zeros(len(words), dtype=np.uint8)
        s["ecc_decodes"] += len(words)
        return dec.data.copy(), dec.status.copy()

    def deliver(self, li: int, n: int, latency: int):
        yield self.env.timeout(latency)
        self.arrived[li] += n
        wake, self.wake[li] = self.wake[li], self.env.event()
        wake.succeed()

    # -- PE array ---------------------------------------------------------------------------
    def pe_array(self):
        env = self.env
        for li, layer in enumerate(self.image.layers):
            folds, per_fold, passes = self.plans[li]
            streamed = layer.n_words * passes
            s = self.stats[li]
            s["folds"], s["weight_passes"] = folds, passes
            t0 = env.now
            for i in range(folds):
                need = ceil((i + 1) * streamed / folds)
                waited = env.now
                while self.arrived[li] < need:
                    yield self.wake[li]
                s["pe_wait_cycles"] += env.now - waited
                yield env.timeout(per_fold)
                s["compute_cycles"] += per_fold
            s["start_cycle"], s["end_cycle"] = t0, env.now
            s["cycles"] = env.now - t0
            s["stall_cycles"] = s["cycles"] - s["compute_cycles"]
