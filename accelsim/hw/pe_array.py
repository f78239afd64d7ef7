"""The R x C systolic PE array: analytical cycle counts per GEMM and its SimPy process.

A layer is a GEMM of M output pixels x K reduction x N output channels (convolutions are
lowered by im2col). Formulas (docs/hardware.md; the fill/stream/drain accounting of
SCALE-Sim, Samajdar et al., ISPASS 2020):

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


def buffer_accesses(m: int, k: int, n: int, p: FoldPlan) -> tuple[int, int]:
    """(input-buffer reads, output-buffer writes) in 8-bit activations / 32-bit partial sums.

    ws: every input element is read once per column fold; partial sums are written once per
    row fold. os: inputs are read once per column fold; each output is written once."""
    if p.dataflow == "ws":
        return m * k * p.col_folds, m * n * p.row_folds
    return m * k * p.col_folds, m * n


def pe_process(env, plan_: FoldPlan, weights_ready, words_per_pass: int, stats):
    """Run the folds; fold i starts when its share of the streamed weight words has left
    the ECC stage (weights flow in fold order). Counts compute and stall cycles."""
    total_words = words_per_pass * plan_.weight_passes
    taken = 0
    for i in range(plan_.folds):
        need = ceil((i + 1) * total_words / plan_.folds) - taken
        if need > 0:
            t0 = env.now
            yield weights_ready.get(need)
            stats.pe_wait_cycles += env.now - t0
            taken += need
        yield env.timeout(plan_.cycles_per_fold)
        stats.compute_cycles += plan_.cycles_per_fold
