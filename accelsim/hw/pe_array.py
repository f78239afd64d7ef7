"""The R x C systolic PE array: analytical cycle counts per GEMM and its SimPy process.

A layer is a GEMM of M output pixels x K reduction x N output channels (convolutions are
lowered by im2col). A grouped convolution with g groups is g independent GEMMs of
M x K_g x N_g (K_g = C_in/g * kh * kw, N_g = N/g), run one after another as SCALE-Sim runs
a depthwise layer (one GEMM per channel). Per group, for each dataflow (the operand that
stays in the PEs, what maps to rows / columns, and T, the operand streamed in time;
derived in docs/hardware.md from SCALE-Sim's compute model, Samajdar et al., ISPASS 2020):

weight stationary (ws): K_g on rows, N_g on columns, T = M. Per fold: load the weights
    (R cycles), stream M input vectors through the skewed array (M + R + C - 2):
    2R + C + M - 2. Weights are read once per layer.
output stationary (os): M on rows, N_g on columns, T = K_g. Per fold: K_g operands with
    skew, K_g + R + C - 2 (SCALE-Sim: the drain of the R x C outputs overlaps the next
    fold); with ``os_drain='serial'`` the outputs leave through the columns before the
    next fold starts, + R. Weights are re-read for every row fold, ceil(M/R) times.
input stationary (is): K_g on rows, M on columns, T = N_g. Per fold: load the inputs
    (R), stream N_g weight vectors (N_g + R + C - 2): 2R + C + N_g - 2. Weights are
    re-read for every column fold, ceil(M/C) times.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from math import ceil

DATAFLOWS = ("ws", "os", "is")
OS_DRAINS = ("overlapped", "serial")


@dataclass(frozen=True)
class FoldPlan:
    dataflow: str
    folds: int             # all groups together
    row_folds: int         # per group
    col_folds: int         # per group
    cycles_per_fold: int
    weight_passes: int     # times the layer's weights are streamed from SRAM
    groups: int = 1
    rows: int = 0          # the array
    cols: int = 0

    @property
    def compute_cycles(self) -> int:
        return self.folds * self.cycles_per_fold


def plan(m: int, k: int, n: int, rows: int, cols: int, dataflow: str, *, groups: int = 1,
         os_drain: str = "overlapped", accumulator_depth: int | None = None) -> FoldPlan:
    """Fold count and cycles per fold of an M x K x N GEMM on an R x C array.

    k is the reduction of one group (K_g) and n all output channels (N = g * N_g), as in
    the manifest's ``gemm`` of a grouped convolution. ``accumulator_depth`` (ws): partial
    sums per column the accumulators hold; M is processed in chunks of that many rows, each
    chunk loading the fold's weights again (TPU-style tiling): per fold
    chunks x (2R + C - 2) + M cycles and ``chunks`` weight passes."""
    if n % groups:
        raise ValueError(f"{n} output channels do not split into {groups} groups")
    ng = n // groups
    if dataflow == "ws":
        fr, fc = ceil(k / rows), ceil(ng / cols)
        chunks = ceil(m / accumulator_depth) if accumulator_depth else 1
        per_fold, passes = chunks * (2 * rows + cols - 2) + m, chunks
    elif dataflow == "os":
        fr, fc = ceil(m / rows), ceil(ng / cols)
        per_fold, passes = k + rows + cols - 2 + (rows if os_drain == "serial" else 0), fr
    elif dataflow == "is":
        fr, fc = ceil(k / rows), ceil(m / cols)
        per_fold, passes = 2 * rows + cols + ng - 2, fc
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}")
    return FoldPlan(dataflow, groups * fr * fc, fr, fc, per_fold, passes, groups, rows, cols)


def fold_efficiency(m: int, k: int, n: int, p: FoldPlan) -> tuple[float, float]:
    """SCALE-Sim's mapping efficiency (PEs holding an operand) and compute utilization
    (MACs per PE-cycle of a fold), each averaged over the folds. The used rows summed over
    the row folds are the mapped dimension itself, so the average is a product."""
    ng = n // p.groups
    on_rows, on_cols, t = {"ws": (k, ng, m), "os": (m, ng, k), "is": (k, m, ng)}[p.dataflow]
    mapping = on_rows * on_cols / (p.row_folds * p.col_folds * p.rows * p.cols)
    return mapping, mapping * t / p.cycles_per_fold


def scalesim_total_cycles(p: FoldPlan) -> int:
    """SCALE-Sim's 'Total Cycles' of the layer without memory stalls: it reports the
    0-based cycle index of the last output write, one less than the cycle count."""
    return p.compute_cycles - 1


def buffer_accesses(m: int, k: int, n: int, p: FoldPlan) -> dict[str, int]:
    """Input-buffer reads (8-bit activations) and output-buffer writes/reads (32-bit
    partial sums) of one layer (k: reduction per group, n: all output channels).

    ws: every input element is read once per column fold; each row fold writes its partial
    sums and every row fold after the first reads the previous ones back to add to them.
    os: the M x K inputs are read once per column fold; each output is written once.
    is: every input element is loaded once; partial sums as in ws (one set per row fold)."""
    inputs = m * k * p.groups   # the im2col operand of all groups
    if p.dataflow == "os":
        return {"input_reads": inputs * p.col_folds, "output_writes": m * n, "output_reads": 0}
    reads = inputs * (p.col_folds if p.dataflow == "ws" else 1)
    return {"input_reads": reads, "output_writes": m * n * p.row_folds, "output_reads": m * n * (p.row_folds - 1)}


def psum_depth(cfg) -> int | None:
    """Partial sums per PE column the array can keep while it folds over the reduction (ws):
    the accumulators' depth, or with ``psum_tiling`` what the output buffer holds per column
    (its capacity / (4 bytes x columns)): the controller processes M in chunks of that many
    rows, so partial sums never leave the chip (TPU-style tiling; each chunk re-reads the
    fold's weights). None otherwise (SCALE-Sim's order: all of M per fold)."""
    if cfg.dataflow != "ws":
        return None
    if cfg.accumulator_depth:
        return cfg.accumulator_depth
    if getattr(cfg, "psum_tiling", False):
        return max(1, int(cfg.output_kib * 1024) // (4 * cfg.cols))
    return None


def activation_storage(layer, p: FoldPlan, counts, cfg, act_bits: int = 8) -> dict[str, int]:
    """Where a layer's activations and partial sums live, given the buffers' capacities:
    returns the accumulator accesses, the output-buffer writes and their width, and the
    bytes that spill to DRAM (docs/energy.md, Activation storage).

    - partial sums: with accumulators (``cfg.accumulator_depth``, ws/is) every partial-sum
      write and read-back of ``counts`` goes to them and the output buffer receives each
      final 8-bit output once; without, they round-trip through the output buffer -- in
      M-chunks that fit it with ``psum_tiling`` (:func:`psum_depth`), else the part of the
      M x N 32-bit partial sums beyond its capacity goes to DRAM and back on every row fold
      after the first (written each fold, read back each later fold);
    - outputs: the M x N 8-bit outputs beyond the output buffer's capacity are written to DRAM;
    - inputs: the part of the input feature map (C x H x W at ``act_bits``) beyond the input
      buffer's capacity is read from DRAM on every pass over it (ws/os: once per column fold)."""
    m, _, n = layer.gemm
    out = {"accumulator_writes": 0, "accumulator_reads": 0, "output_bits": 32, "spill_bytes": 0}
    out_cap, in_cap = int(cfg.output_kib * 1024), int(cfg.input_kib * 1024)
    if p.dataflow == "os":
        out["output_bits"] = 8   # outputs leave the PEs once, requantized
    elif cfg.accumulator_depth:
        out.update(accumulator_writes=counts.output_writes, accumulator_reads=counts.output_reads,
                   output_writes=m * n, output_reads=0, output_bits=8)
    elif psum_depth(cfg) is None:
        psum_excess = max(m * n * 4 - out_cap, 0)
        out["spill_bytes"] += psum_excess * (2 * p.row_folds - 1) if p.row_folds > 1 else 0
    out["spill_bytes"] += max(m * n - out_cap, 0)
    h, w = getattr(layer, "input_hw", None) or (1, 1)
    in_bytes = ceil(int(layer.in_channels) * h * w * act_bits / 8)
    passes = p.col_folds if p.dataflow in ("ws", "os") else 1
    out["spill_bytes"] += max(in_bytes - in_cap, 0) * passes
    return out


@dataclass
class PeCounters:
    compute_cycles: int = 0
    pe_wait_cycles: int = 0
    events: int = 0


class Arrivals:
    """Decoded words of one layer reaching the PE array: ascending arrival cycles and the
    cumulative word count at each. The weight stream appends a whole tile's bursts when
    the tile is loaded (all in the future) and then notifies waiting folds."""

    def __init__(self, env):
        self.env = env
        self.times: list[int] = []
        self.cum: list[int] = []
        self._more = env.event()

    def add(self, at: int, n: int) -> None:
        self.times.append(at)
        self.cum.append((self.cum[-1] if self.cum else 0) + n)

    def notify(self) -> None:
        if self._more.callbacks:   # someone waits for words not yet scheduled
            self._more.succeed()
            self._more = self.env.event()

    def arrived(self, now: int) -> int:
        """Words arrived by cycle ``now``."""
        i = bisect_right(self.times, now)
        return self.cum[i - 1] if i else 0

    def time_of(self, words: int) -> int | None:
        """The cycle the ``words``-th word arrives; None if its burst is not scheduled yet."""
        i = bisect_left(self.cum, words)
        return self.times[i] if i < len(self.cum) else None

    def more(self):
        return self._more


def pe_process(env, plan_: FoldPlan, arrivals: Arrivals, words_per_pass: int, counters: PeCounters, on_run=None):
    """Run the folds of one layer. Weights flow in fold order: fold i may start once
    ceil((i+1) W / F) of the layer's W streamed words have left the ECC stage; waiting for
    them is counted. The folds whose words have all arrived run as one timeout, which
    gives the same times as one event per fold (a fold only ever waits for words, and
    words already there stay there). ``on_run(first_fold, n_folds, start_cycle)`` is told
    of every run of folds (the trace's per-fold events)."""
    total = words_per_pass * plan_.weight_passes
    folds, per_fold = plan_.folds, plan_.cycles_per_fold
    done = 0
    while done < folds:
        runnable = folds if total == 0 else min(folds, arrivals.arrived(env.now) * folds // total)
        if runnable <= done:   # the next fold's words are not all here: wait for them
            t0 = env.now
            need = ceil((done + 1) * total / folds)
            at = arrivals.time_of(need)
            while at is None:
                yield arrivals.more()
                at = arrivals.time_of(need)
            yield env.timeout(at - env.now)
            counters.pe_wait_cycles += env.now - t0
            runnable = min(folds, arrivals.arrived(env.now) * folds // total)
        batch = runnable - done
        if on_run is not None:
            on_run(done, batch, env.now)
        yield env.timeout(batch * per_fold)
        counters.compute_cycles += batch * per_fold
        counters.events += 1
        done = runnable
