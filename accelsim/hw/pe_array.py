"""The R x C systolic PE array: analytical cycle counts per GEMM and its SimPy process.

A layer is a GEMM of M output pixels x K reduction x N output channels (convolutions are
lowered by im2col). Formulas (derived in docs/hardware.md; the fill/stream/drain
accounting of SCALE-Sim, Samajdar et al., ISPASS 2020):

weight stationary (ws): K on rows, N on columns. Folds F = ceil(K/R) * ceil(N/C); each fold
    loads its weights (R cycles, one row per cycle), then streams M input vectors through
    the skewed array: M + R + C - 2 cycles until the last partial sum leaves. Per fold:
    2R + C + M - 2. Weights are read once per layer.
output stationary (os): M on rows, N on columns. Folds F = ceil(M/R) * ceil(N/C); each fold
    streams K operands with skew (K + R + C - 2) and drains its R x C outputs (R cycles).
    Per fold: K + 2R + C - 2. Weights are re-read from SRAM for every row fold ceil(M/R).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True)
class FoldPlan:
    dataflow: str
    folds: int
    row_folds: int
    col_folds: int
    cycles_per_fold: int
    weight_passes: int     # times the layer's weights are streamed from SRAM

    @property
    def compute_cycles(self) -> int:
        return self.folds * self.cycles_per_fold


def plan(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> FoldPlan:
    """Fold count and cycles per fold of an M x K x N GEMM on an R x C array."""
    if dataflow == "ws":
        fr, fc = ceil(k / rows), ceil(n / cols)
        return FoldPlan("ws", fr * fc, fr, fc, 2 * rows + cols + m - 2, 1)
    fr, fc = ceil(m / rows), ceil(n / cols)
    return FoldPlan("os", fr * fc, fr, fc, k + 2 * rows + cols - 2, fr)


def buffer_accesses(m: int, k: int, n: int, p: FoldPlan) -> dict[str, int]:
    """Input-buffer reads (8-bit activations) and output-buffer writes/reads (32-bit
    partial sums) of one layer.

    ws: every input element is read once per column fold; each row fold writes its partial
    sums and every row fold after the first reads the previous ones back to add to them.
    os: the M x K inputs are read once per column fold; each output is written once."""
    if p.dataflow == "ws":
        return {"input_reads": m * k * p.col_folds, "output_writes": m * n * p.row_folds,
                "output_reads": m * n * (p.row_folds - 1)}
    return {"input_reads": m * k * p.col_folds, "output_writes": m * n, "output_reads": 0}


@dataclass
class PeCounters:
    compute_cycles: int = 0
    pe_wait_cycles: int = 0
    events: int = 0


def pe_process(env, plan_: FoldPlan, weights_ready, words_per_pass: int, counters: PeCounters):
    """Run the folds of one layer. Weights flow in fold order: fold i may start once
    ceil((i+1) W / F) of the layer's W streamed words have left the ECC stage; waiting for
    them is counted. Consecutive folds whose words have all arrived run as one timeout,
    which gives the same times as one event per fold (a fold only ever waits for words,
    and words already there stay there)."""
    total = words_per_pass * plan_.weight_passes
    folds, per_fold = plan_.folds, plan_.cycles_per_fold
    taken = done = 0
    while done < folds:
        runnable = folds if total == 0 else min(folds, (taken + weights_ready.level) * folds // total)
        if runnable <= done:   # the next fold's words are not all here: wait for them
            t0 = env.now
            need = ceil((done + 1) * total / folds) - taken
            yield weights_ready.get(need)
            counters.pe_wait_cycles += env.now - t0
            taken += need
            runnable = done + 1
        else:
            need = (ceil(runnable * total / folds) if total else 0) - taken
            if need > 0:
                yield weights_ready.get(need)   # already there: no time passes
                taken += need
        batch = runnable - done
        yield env.timeout(batch * per_fold)
        counters.compute_cycles += batch * per_fold
        counters.events += 1
        done = runnable
