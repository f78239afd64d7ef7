"""The accelerator, wired in one place: DRAM -> weight SRAM -> ECC stage -> PE array.

``simulate`` streams every word of a memory image through the SimPy model (events per
burst and per fold, never per MAC) and returns per-layer cycles, utilization, action
counts for the energy model, and the words that left the ECC stage, which are the
fast numpy path's decoded words bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import simpy

from accelsim.errors import UserError
from accelsim.hw.config import AcceleratorConfig, load_config
from accelsim.hw.controller import tile_schedule
from accelsim.hw.dram import dram_process
from accelsim.hw.ecc_stage import EccStage
from accelsim.hw.pe_array import buffer_accesses, pe_process, plan
from accelsim.hw.sram import burst_read_cycles
from accelsim.hw.trace import Trace
from accelsim.image import MemoryImage


@dataclass
class LayerStats:
    name: str
    kind: str
    gemm: tuple
    macs: int = 0
    folds: int = 0
    compute_cycles: int = 0
    analytical_cycles: int = 0
    cycles: int = 0
    stall_cycles: int = 0
    pe_wait_cycles: int = 0
    utilization: float = 0.0
    sram_read_words: int = 0
    sram_conflict_cycles: int = 0
    dram_bytes: int = 0
    ecc_decodes: int = 0
    corrected: int = 0
    detected: int = 0
    miscorrected: int = 0
    rereads: int = 0
    reread_stall_cycles: int = 0
    input_reads: int = 0
    output_writes: int = 0


@dataclass
class SimResult:
    layers: list[LayerStats]
    total_cycles: int
    decoded_words: np.ndarray   # (N, lanes) words after the ECC stage (first pass)
    status: np.ndarray          # (N,) uint8
    config: AcceleratorConfig
    wall_seconds: float
    events: int
    vdd: float | None = None
    energy_pj: float | None = None
    energy: dict = field(default_factory=dict)

    def actions(self) -> dict:
        """Totals of the counted actions, for the energy model."""
        keys = ("macs", "sram_read_words", "dram_bytes", "ecc_decodes", "input_reads", "output_writes", "rereads")
        out = {k: int(sum(getattr(s, k) for s in self.layers)) for k in keys}
        out["cycles"] = int(self.total_cycles)
        return out

    def to_dict(self) -> dict:
        return {"total_cycles": int(self.total_cycles), "wall_seconds": self.wall_seconds, "events": self.events,
                "vdd": self.vdd, "energy_pj": self.energy_pj, "energy": self.energy,
                "config": asdict(self.config), "actions": self.actions(),
                "layers": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items()}
                           for s in self.layers]}


class _Counter:
    def __init__(self):
        self.compute_cycles = 0
        self.pe_wait_cycles = 0


def simulate(image: MemoryImage, config: AcceleratorConfig | None = None, *, read_words: np.ndarray | None = None,
             transient_ber: float | None = None, seed: int = 0, vdd: float | None = None,
             trace_path=None) -> SimResult:
    """Run the cycle-level model.

    read_words: the image's words as the (faulty) SRAM delivers them (default: the clean
    words); transient_ber: set when those faults are transient (re-reads draw anew).
    """
    t_wall = time.perf_counter()
    cfg = (config or load_config()).for_layout(image.layout.word_bits)
    layout = image.layout
    truth = image.words
    read = truth if read_words is None else read_words
    if read.shape != truth.shape:
        raise UserError(f"read words have shape {read.shape}, the image {truth.shape}")
    _check_buffers(cfg)
    env = simpy.Environment()
    trace = Trace(trace_path is not None, cfg.clock_mhz)
    plans = [plan(*layer.gemm, cfg.rows, cfg.cols, cfg.dataflow) for layer in image.layers]
    stats = [LayerStats(layer.name, layer.kind, tuple(layer.gemm), macs=layer.macs, folds=p.folds,
                        analytical_cycles=p.compute_cycles) for layer, p in zip(image.layers, plans)]
    for s, layer, p in zip(stats, image.layers, plans):
        s.input_reads, s.output_writes = buffer_accesses(*layer.gemm, p)
    tiles = tile_schedule(image.layers, [p.weight_passes for p in plans], cfg.sram_words)
    sram_free = simpy.Container(env, capacity=cfg.sram_words, init=cfg.sram_words)
    tile_loaded = {t.key: env.event() for t in tiles}
    to_ecc = simpy.Store(env, capacity=2)                     # SRAM -> ECC burst queue
    ready = [simpy.Container(env, init=0) for _ in image.layers]   # decoded words per layer
    ecc = EccStage(layout, cfg, transient_ber=transient_ber, truth=truth, seed=seed)
    out_words = truth.copy()
    status = np.zeros(len(truth), dtype=np.uint8)
    seen = np.zeros(len(truth), dtype=bool)
    events = [0]

    def sram_reader():
        burst_id = 0
        for tile in tiles:
            yield tile_loaded[tile.key]
            t0 = env.now
            yield env.timeout(cfg.read_latency)   # pipeline fill of the read path
            for _ in range(tile.reads):
                for s in range(tile.start, tile.start + tile.n_words, cfg.burst_words):
                    n = min(cfg.burst_words, tile.start + tile.n_words - s)
                    addr = np.arange(s, s + n) % cfg.sram_words
                    cyc, conflict = burst_read_cycles(addr, cfg)
                    yield env.timeout(cyc)
                    st = stats[tile.layer]
                    st.sram_read_words += n
                    st.sram_conflict_cycles += conflict
                    yield to_ecc.put((tile.layer, s, n, burst_id))
                    burst_id += 1
                    events[0] += 1
            trace.add("SRAM", f"{tile.layer_name} tile {tile.index}", t0, env.now)
            yield sram_free.put(tile.n_words)
        yield to_ecc.put(None)

    def deliver(layer: int, n: int):
        yield env.timeout(cfg.ecc_latency)
        yield ready[layer].put(n)

    def ecc_stage():
        while True:
            item = yield to_ecc.get()
            if item is None:
                return
            li, s, n, burst_id = item
            t0 = env.now
            words, st_, rereads, stall = ecc.decode_burst(read[s:s + n], s, burst_id)
            yield env.timeout(ecc.cycles(n) + stall)
            ls = stats[li]
            ls.ecc_decodes += n + rereads
            ls.rereads += rereads
            ls.reread_stall_cycles += stall
            first = ~seen[s:s + n]
            if first.any():   # functional result: the first pass over each word
                out_words[s:s + n][first] = words[first]
                status[s:s + n][first] = st_[first]
                seen[s:s + n] |= first
            env.process(deliver(li, n))
            if trace.enabled and stall:
                trace.add("ECC", f"{ls.name} re-read", t0, env.now)

    def pe():
        for li, (layer, p) in enumerate(zip(image.layers, plans)):
            t0 = env.now
            counter = _Counter()
            yield env.process(pe_process(env, p, ready[li], layer.n_words, counter))
            s = stats[li]
            s.compute_cycles = counter.compute_cycles
            s.pe_wait_cycles = counter.pe_wait_cycles
            s.cycles = env.now - t0
            s.stall_cycles = s.cycles - s.compute_cycles
            s.utilization = s.macs / max(s.compute_cycles * cfg.rows * cfg.cols, 1)
            trace.add("PE", layer.name, t0, env.now)
            events[0] += p.folds

    env.process(dram_process(env, tiles, cfg, sram_free, tile_loaded, stats, trace))
    env.process(sram_reader())
    env.process(ecc_stage())
    done = env.process(pe())
    env.run(until=done)
    _count_against_truth(image, out_words, status, stats)
    result = SimResult(stats, int(env.now), out_words, status, cfg, time.perf_counter() - t_wall, events[0], vdd=vdd)
    if trace_path is not None:
        trace.write(trace_path)
    return result


def _check_buffers(cfg: AcceleratorConfig) -> None:
    """The smallest tile the array works on must fit: one 8-bit input per PE row and one
    32-bit partial sum per PE column (ws; the transpose for os)."""
    need_in, need_out = (cfg.rows, 4 * cfg.cols) if cfg.dataflow == "ws" else (cfg.cols, 4 * cfg.rows)
    if cfg.input_kib * 1024 < need_in:
        raise UserError(f"accelerator config: buffers.input_kib = {cfg.input_kib} cannot hold one input vector "
                        f"of {need_in} bytes for a {cfg.rows}x{cfg.cols} array")
    if cfg.output_kib * 1024 < need_out:
        raise UserError(f"accelerator config: buffers.output_kib = {cfg.output_kib} cannot hold one row of "
                        f"partial sums ({need_out} bytes) for a {cfg.rows}x{cfg.cols} array")


def _count_against_truth(image: MemoryImage, out_words, status, stats) -> None:
    """Corrected / detected / miscorrected words per layer, compared with the stored truth."""
    from accelsim.campaign.trial import data_mask
    mask = data_mask(image.layout)
    wrong = np.bitwise_count((out_words ^ image.words) & mask).sum(axis=1) > 0
    for layer, s in zip(image.layers, stats):
        sl = slice(layer.word_offset, layer.word_offset + layer.n_words)
        st, wr = status[sl], wrong[sl]
        s.corrected = int(np.count_nonzero((st == 1) & ~wr))
        s.detected = int(np.count_nonzero(st == 2))
        s.miscorrected = int(np.count_nonzero((st == 1) & wr))
