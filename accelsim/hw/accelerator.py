"""The accelerator, wired in one place: DRAM -> weight SRAM -> ECC stage -> PE array.

``simulate`` streams every word of a memory image through the SimPy model (events per
tile and per run of folds; each burst's read and decode times from the read path's
recurrence; never per MAC) and returns per-layer cycles,
utilization, the action counts of the energy model, and the words and weights that left
the ECC stage — bit for bit those of the fast numpy path (faults -> layout.unpack).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import simpy

from accelsim.errors import UserError
from accelsim.hw.config import AcceleratorConfig, load_config, parse_config
from accelsim.hw.controller import tile_schedule
from accelsim.hw.dram import dram_process
from accelsim.hw.ecc_stage import EccStage
from accelsim.hw.pe_array import (Arrivals, PeCounters, activation_storage, buffer_accesses, pe_process, plan,
                                   psum_depth)
from accelsim.hw.sram import WeightSram, burst_read_cycles
from accelsim.hw.trace import Trace
from accelsim.image import MemoryImage
from accelsim.image.memory_image import input_bits

FAULT_MODELS = ("transient", "persistent", "stuck")


@dataclass
class LayerStats:
    name: str
    kind: str
    gemm: tuple
    weight_bits: int = 8
    activation_bits: int = 8  # width of the layer's input activations (4 after 4-bit QAT)
    macs: int = 0
    folds: int = 0
    weight_passes: int = 1
    compute_cycles: int = 0
    analytical_cycles: int = 0
    cycles: int = 0
    stall_cycles: int = 0
    pe_wait_cycles: int = 0
    utilization: float = 0.0
    sram_read_words: int = 0
    sram_read_bits: int = 0
    sram_conflict_cycles: int = 0
    dram_bytes: int = 0
    ecc_decodes: int = 0
    corrected: int = 0
    detected: int = 0
    miscorrected: int = 0
    undetected: int = 0
    rereads: int = 0
    reread_stall_cycles: int = 0
    input_reads: int = 0
    output_writes: int = 0   # partial sums (32-bit) written to the output buffer, or outputs with accumulators
    output_reads: int = 0    # partial sums read back from the output buffer
    output_bits: int = 32    # width of an output-buffer write (8: final outputs from the accumulators)
    accumulator_writes: int = 0   # partial sums (32-bit) written to / read from the accumulators
    accumulator_reads: int = 0
    spill_bytes: int = 0     # activation and partial-sum traffic to DRAM: what the buffers cannot hold
    start_cycle: int = 0     # the PE array starts the layer (after the previous layer)
    end_cycle: int = 0
    sram_start: int = -1     # first and last weight-SRAM read of the layer
    sram_end: int = -1
    dram_start: int = -1     # first and last DRAM transfer of its weights
    dram_end: int = -1


ACTION_KEYS = ("macs", "sram_read_words", "sram_read_bits", "dram_bytes", "ecc_decodes", "input_reads",
               "output_writes", "output_reads", "accumulator_writes", "accumulator_reads", "spill_bytes", "rereads")


@dataclass
class SimResult:
    layers: list[LayerStats]
    total_cycles: int
    decoded_words: np.ndarray   # (N, lanes) words that left the ECC stage (first pass of each word)
    status: np.ndarray          # (N,) uint8 status they left with
    config: AcceleratorConfig
    wall_seconds: float
    events: int
    vdd: float | None = None
    weights: dict = field(default_factory=dict)   # {layer: int8 weights shaped like the layer}
    faults: dict = field(default_factory=dict)    # the fault source: model, ber, chip, faulty bits read
    energy_pj: float | None = None
    energy: dict = field(default_factory=dict)

    def actions(self) -> dict:
        """Totals of the counted actions, for the energy model; ``mac_ops`` by operand width
        ("<weight bits>x<activation bits>", e.g. "4x8"); ``cycles`` for leakage."""
        out = {k: int(sum(getattr(s, k) for s in self.layers)) for k in ACTION_KEYS}
        mac_ops: dict[str, int] = {}
        for s in self.layers:
            key = f"{s.weight_bits}x{s.activation_bits}"
            mac_ops[key] = mac_ops.get(key, 0) + int(s.macs)
        out["mac_ops"] = mac_ops
        out["cycles"] = int(self.total_cycles)
        return out

    def to_dict(self) -> dict:
        return {"total_cycles": int(self.total_cycles), "wall_seconds": self.wall_seconds, "events": self.events,
                "vdd": self.vdd, "faults": self.faults, "energy_pj": self.energy_pj, "energy": self.energy,
                "config": self.config.flat(), "actions": self.actions(),
                "layers": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items()}
                           for s in self.layers]}


def simulate(image: MemoryImage, config: AcceleratorConfig | dict | str | Path | None = None, *,
             vdd: float | None = None, chip: int | None = None, seed: int = 0, fault_model: str | None = None,
             ber: float | None = None, curve=None, v_low: float | None = None, fault_map=None,
             read_words: np.ndarray | None = None, transient_ber: float | None = None,
             trace=None, trace_path=None, trace_folds: bool = False, chip_model=None) -> SimResult:
    """Run the cycle-level model of one inference's weight stream.

    vdd: the weight SRAM's supply (volts; default the config's nominal). Faults, at most
    one source:
      chip (+ fault_model 'persistent' | 'stuck', curve, v_low, chip_model): the chip's persistent
        map, ``ChipFaultMap.sample(curve, chip=chip, seed=seed, v_low=v_low or vdd, model=chip_model)``
        (the curve mapped to this SRAM's vdd_nominal; chip_model: a name or ChipModel, default iid);
      fault_map: a given ChipFaultMap (e.g. measured, from CSV);
      ber (fault_model 'transient'): per-read transient flips; without ber, BER(vdd);
      read_words: the image's words as the SRAM first delivers them (the campaigns' path),
        with transient_ber set when re-reads should draw afresh.
    trace (or trace_path): write a Chrome trace-event timeline there; trace_folds: one event
      per fold of the PE array (else one per run of folds).
    """
    t_wall = time.perf_counter()
    cfg = _as_config(config).for_layout(image.layout.word_bits, n_words=int(image.words.shape[0]))
    if cfg.resident and image.words.shape[0] > cfg.sram_words:
        raise UserError(f"accelerator config: weight_sram.resident but the SRAM holds {cfg.sram_words} words and the "
                        f"image has {image.words.shape[0]}: give words: fit, or a bigger SRAM, or resident: false")
    vdd = cfg.vdd_nominal if vdd is None else float(vdd)
    if not vdd > 0:
        raise UserError(f"vdd = {vdd} V must be a positive voltage")
    sram, faults = _weight_sram(image, vdd=vdd, chip=chip, seed=seed, fault_model=fault_model, ber=ber,
                                curve=curve, v_low=v_low, fault_map=fault_map, read_words=read_words,
                                transient_ber=transient_ber, cfg=cfg, chip_model=chip_model)
    trace_to = trace if trace is not None else trace_path
    run = _Run(image, cfg, sram, Trace(trace_to is not None, cfg.clock_mhz, folds=trace_folds))
    run.run()
    faults["faulty_bits_read"] = sram.faulty_bits_read
    result = SimResult(run.stats, int(run.env.now), run.out_words, run.status, cfg, time.perf_counter() - t_wall,
                       run.events, vdd=vdd, weights=run.weights(), faults=faults)
    if trace_to is not None:
        run.trace.write(trace_to)
    return result


@dataclass(frozen=True)
class _SeenBurst:
    """What a later pass needs of a burst already read and decoded once."""
    faulty_bits: int                 # bits the read delivered wrong
    status_counts: np.ndarray | None  # (corrected, detected) words, for the trace


def layer_groups(layer) -> int:
    """Groups of a conv layer (1 for a layer of a manifest without the field)."""
    return int(getattr(layer, "groups", 1) or 1)


class _Run:
    """One simulation: the SimPy environment, the blocks and their processes."""

    def __init__(self, image: MemoryImage, cfg: AcceleratorConfig, sram: WeightSram, trace: Trace):
        self.image, self.cfg, self.sram, self.trace = image, cfg, sram, trace
        self.env = simpy.Environment()
        layout = image.layout
        self.plans = [plan(*layer.gemm, cfg.rows, cfg.cols, cfg.dataflow, groups=layer_groups(layer),
                           os_drain=cfg.os_drain, accumulator_depth=psum_depth(cfg)) for layer in image.layers]
        self.stats = []
        for layer, p in zip(image.layers, self.plans):
            s = LayerStats(layer.name, layer.kind, tuple(layer.gemm), weight_bits=layout.weight_bits,
                           activation_bits=input_bits(image, layer), macs=layer.macs, folds=p.folds, weight_passes=p.weight_passes,
                           analytical_cycles=p.compute_cycles)
            for k, v in buffer_accesses(*layer.gemm, p).items():
                setattr(s, k, v)
            for k, v in activation_storage(layer, p, s, cfg, input_bits(image, layer)).items():
                setattr(s, k, v)
            self.stats.append(s)
        # resident weights: each layer is one tile, in the SRAM before the inference starts
        sram_words = 2 * max(int(image.words.shape[0]), 1) if cfg.resident else cfg.sram_words
        self.tiles = tile_schedule(image.layers, [p.weight_passes for p in self.plans], sram_words)
        self.ecc = EccStage(layout, cfg, sram)
        n = image.words.shape[0]
        self.out_words = image.words.copy()
        self.status = np.zeros(n, dtype=np.uint8)
        self.q = np.zeros(n * layout.weights_per_word, dtype=np.int8)
        self.events = 0
        env = self.env
        self.sram_free = simpy.Container(env, capacity=cfg.sram_words, init=cfg.sram_words)
        self.tile_loaded = {t.key: env.event() for t in self.tiles}
        self.arrivals = [Arrivals(env) for _ in image.layers]   # decoded words reaching the PE array
        self.read_timing: dict[tuple[int, int], tuple[int, int]] = {}
        self.burst_cache: dict[tuple[int, int], _SeenBurst] = {}
        self.reuse = sram.deterministic
        # the decoder: when it finishes its current burst, and when it took the last two
        # bursts (the SRAM -> ECC queue holds two: the SRAM stalls while it is full)
        self.ecc_free = 0
        self.ecc_taken = deque([-1, -1], maxlen=2)

    def run(self) -> None:
        env = self.env
        if self.cfg.resident:   # loaded once before the inference: no DRAM transfer in it
            for ev in self.tile_loaded.values():
                ev.succeed()
        else:
            env.process(dram_process(env, self.tiles, self.cfg, self.sram_free, self.tile_loaded, self.stats,
                                     self.trace))
        env.process(self.weight_stream())
        env.run(until=env.process(self.pe_array()))

    def weight_stream(self):
        """The SRAM reader and the ECC stage, one tile at a time.

        Once a tile is in the SRAM, nothing outside the read path decides its timing: the
        reader reads burst j in r_j cycles (bank conflicts) and puts it into the two-deep
        queue to the decoder, waiting while the queue is full (until the decoder took
        burst j - 2); the decoder takes burst j when it has finished burst j - 1 and decodes
        it in d_j cycles (lanes, re-read stalls); its words reach the PE array ``latency``
        cycles later. The tile's bursts are therefore computed by that recurrence when the
        tile is loaded — the same times as a process per block exchanging one event per
        burst — and the process only advances SimPy time to the tile's last read, when
        the tile's SRAM space is handed back to the DRAM."""
        cfg, env, ecc, trace = self.cfg, self.env, self.ecc, self.trace
        burst_id = 0
        for tile in self.tiles:
            yield self.tile_loaded[tile.key]
            t0 = env.now
            t = env.now + cfg.read_latency   # the read path's pipeline fill, once per tile
            s = self.stats[tile.layer]
            arrivals = self.arrivals[tile.layer]
            for r in range(tile.reads):
                first = tile.pass_index + r == 0
                for start in range(tile.start, tile.start + tile.n_words, cfg.burst_words):
                    n = min(cfg.burst_words, tile.start + tile.n_words - start)
                    key = (start, n)
                    timing = self.read_timing.get(key)
                    if timing is None:   # the same addresses always meet the same banks
                        timing = self.read_timing[key] = burst_read_cycles(
                            np.arange(start, start + n) % cfg.sram_words, cfg)
                    if s.sram_start < 0:
                        s.sram_start = t
                    read_at, t = t, t + timing[0]
                    s.sram_end = t
                    s.sram_read_words += n
                    s.sram_read_bits += n * cfg.word_bits
                    s.sram_conflict_cycles += timing[1]
                    if trace.enabled:
                        trace.sram_burst(read_at, t, n * cfg.word_bits)
                    t = max(t, self.ecc_taken[0])          # the queue holds the two bursts before
                    taken = max(t, self.ecc_free)          # the decoder is free
                    stall, status_counts = self._decode(tile, s, start, n, first, burst_id)
                    self.ecc_free = done = taken + ecc.cycles(n) + stall
                    self.ecc_taken.append(taken)
                    arrivals.add(done + ecc.latency, n)
                    if trace.enabled:
                        trace.burst(tile.layer_name, burst_id, taken, done, n, status_counts, reread=stall > 0)
                    burst_id += 1
                    self.events += 1
            for a in self.arrivals:
                a.notify()
            yield env.timeout(t - env.now)   # the tile's last burst has left the SRAM
            trace.add("SRAM", f"{tile.layer_name} tile {tile.index}", t0, env.now)
            trace.sram_idle(env.now)
            if not cfg.resident:
                yield self.sram_free.put(tile.n_words)

    def _decode(self, tile, s: LayerStats, start: int, n: int, first: bool, burst_id: int):
        """Read (or reuse) and decode one burst; its counts. Returns (re-read stall cycles,
        (corrected, detected) words for the trace or None)."""
        ecc, sram = self.ecc, self.sram
        key = (start, n)
        seen = None if first else self.burst_cache.get(key)
        if seen is not None:   # the same stored words read the same way: the decoded burst is reused
            sram.faulty_bits_read += seen.faulty_bits
            if ecc.present:
                s.ecc_decodes += n
            return 0, seen.status_counts
        before = sram.faulty_bits_read
        words = sram.read(start, n, first=first, burst_id=burst_id)
        bits = sram.faulty_bits_read - before
        res = ecc.decode_burst(words, start, burst_id)
        if ecc.present:
            s.ecc_decodes += n + res.rereads
        s.rereads += res.rereads
        s.reread_stall_cycles += res.stall
        s.sram_read_words += res.rereads
        s.sram_read_bits += res.rereads * self.cfg.word_bits
        status_counts = np.bincount(res.status, minlength=3)[1:3] if self.trace.enabled else None
        if first:   # the functional result: each word's first pass
            sl = slice(start, start + n)
            self.out_words[sl], self.status[sl] = res.words, res.status
            wpw = self.image.layout.weights_per_word
            self.q[start * wpw:(start + n) * wpw] = res.q
            for k, v in ecc.classify(res.words, self.image.words[sl], res.status).items():
                setattr(s, k, getattr(s, k) + v)
            # a burst that needed no re-read reads and decodes the same way on every later
            # pass when faults are persistent (transient ones are drawn afresh per read)
            if self.reuse and res.rereads == 0 and self.plans[tile.layer].weight_passes > 1:
                self.burst_cache[key] = _SeenBurst(bits, status_counts)
        return res.stall, status_counts

    def pe_array(self):
        env, cfg = self.env, self.cfg
        for li, (layer, p) in enumerate(zip(self.image.layers, self.plans)):
            t0 = env.now
            counters = PeCounters()
            on_run = None
            if self.trace.enabled:
                util = layer.macs / max(p.compute_cycles * cfg.rows * cfg.cols, 1)
                on_run = (lambda first, n, at, name=layer.name, per=p.cycles_per_fold, u=util:
                          self.trace.fold_run(name, first, n, at, per, u))
            yield env.process(pe_process(env, p, self.arrivals[li], layer.n_words, counters, on_run))
            s = self.stats[li]
            s.compute_cycles, s.pe_wait_cycles = counters.compute_cycles, counters.pe_wait_cycles
            s.cycles = env.now - t0
            s.start_cycle, s.end_cycle = t0, env.now
            s.stall_cycles = s.cycles - s.compute_cycles
            s.utilization = s.macs / max(s.compute_cycles * cfg.rows * cfg.cols, 1)
            self.trace.add("PE", layer.name, t0, env.now)
            self.events += counters.events

    def weights(self) -> dict[str, np.ndarray]:
        wpw = self.image.layout.weights_per_word
        return {layer.name: self.q[layer.word_offset * wpw:layer.word_offset * wpw + layer.n_weights]
                .reshape(layer.weight_shape) for layer in self.image.layers}


def _as_config(config) -> AcceleratorConfig:
    if config is None:
        return load_config()
    if isinstance(config, AcceleratorConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    return load_config(config)


def _weight_sram(image: MemoryImage, *, vdd, chip, seed, fault_model, ber, curve, v_low, fault_map, read_words,
                 transient_ber, cfg: AcceleratorConfig, chip_model=None) -> tuple[WeightSram, dict]:
    """The weight SRAM with its fault source, and a description of that source."""
    from accelsim.faults import ChipFaultMap, check_ber, load_curve, map_to_nominal

    if chip_model is not None and (fault_map is not None or chip is None):
        raise UserError("chip_model shapes a sampled chip: it needs chip (and no fault map)")

    def sram_curve():   # the curve in this SRAM's volts (a curve of another nominal maps explicitly)
        return map_to_nominal(curve or load_curve(), cfg.vdd_nominal, cfg.ber_mapping, "accelerator config")

    width = image.layout.word_bits
    if fault_model is not None and fault_model not in FAULT_MODELS:
        raise UserError(f"fault_model {fault_model!r} is not one of {', '.join(FAULT_MODELS)}")
    if read_words is not None:
        if any(v is not None for v in (chip, fault_model, ber, fault_map)):
            raise UserError("read_words cannot be combined with chip, fault_model, ber or fault_map")
        read_words = np.asarray(read_words)
        if read_words.shape != image.words.shape:
            raise UserError(f"read words have shape {read_words.shape}, the image {image.words.shape}")
        return (WeightSram(image.words, width, vdd=vdd, read_image=read_words, transient_ber=transient_ber,
                           seed=seed), {"model": "read_words", "transient_ber": transient_ber})
    if fault_model is None:
        fault_model = "transient" if ber is not None else (
            "persistent" if chip is not None or fault_map is not None else None)
    if v_low is not None and (fault_model in (None, "transient") or fault_map is not None):
        raise UserError("v_low (the floor of a chip's sampled map) needs a persistent or stuck chip")
    if fault_model is None:
        return WeightSram(image.words, width, vdd=vdd), {"model": None}
    if fault_model == "transient":
        if chip is not None or fault_map is not None:
            raise UserError("transient faults take ber (or BER(vdd)), not a chip or a fault map")
        ber = check_ber(ber) if ber is not None else sram_curve().ber(vdd)
        return (WeightSram(image.words, width, vdd=vdd, ber=ber, seed=seed),
                {"model": "transient", "ber": float(ber), "seed": seed})
    if ber is not None:
        raise UserError(f"ber = {ber} is a transient fault rate; a {fault_model} chip takes its BER from the curve")
    if fault_map is None:
        if chip is None:
            raise UserError(f"fault_model {fault_model!r} needs a chip (or a fault map)")
        if v_low is not None and v_low > vdd:
            # the map holds only cells failing at v_low and above; read at a lower vdd it
            # would miss every cell failing between vdd and v_low (a BER it does not apply)
            raise UserError(f"v_low = {v_low} V is above vdd = {vdd} V: a chip's map is drawn down to v_low, "
                            "which must be at or below the supply")
        curve = sram_curve()
        fault_map = ChipFaultMap.sample(curve, n_words=image.words.shape[0], width=width, chip=int(chip), seed=seed,
                                        v_low=vdd if v_low is None else v_low,
                                        mode="stuck" if fault_model == "stuck" else "flip",
                                        model=None if chip_model is None else _chip_model(chip_model))
        ber_at = float(curve.ber(vdd))
    else:
        if curve is not None:
            raise UserError("a given fault map sets every cell's threshold itself: it takes no curve")
        if (fault_map.n_words, fault_map.width) != (image.words.shape[0], width):
            raise UserError(f"fault map covers {fault_map.n_words} x {fault_map.width} bits, the image "
                            f"{image.words.shape[0]} x {width}")
        ber_at = None
    return (WeightSram(image.words, width, vdd=vdd, fault_map=fault_map, seed=seed),
            {"model": fault_model, "chip": chip, "seed": seed, "ber": ber_at,
             "faulty_cells": int(np.count_nonzero(fault_map.threshold > vdd)),
             # stuck-at cells err only where the stored bit differs: the bits actually wrong
             "wrong_bits": int(np.bitwise_count(fault_map.apply(image.words, vdd) ^ image.words).sum()),
             "bits": int(image.words.shape[0]) * width})


def _chip_model(value):
    from accelsim.faults.chip_model import chip_model
    return chip_model(value)
