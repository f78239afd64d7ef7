"""The benchmarks' one timer (a helper module, not a benchmark: the Makefile skips ``_*.py``).

Functions are timed in turns, round after round, and each keeps its best round, so a
loaded machine slows every side of a comparison alike and a stray pause is dropped.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence


def best_times(fns: Sequence[Callable[[], object]], repeat: int, *, clock: Callable[[], float] = time.perf_counter,
               warm: bool = True) -> list[float]:
    """Best seconds of each of ``fns`` over ``repeat`` rounds, timed in turns. ``warm``: run
    each once first, untimed (compilation, caches). ``clock``: ``time.perf_counter`` (wall
    seconds) or ``time.process_time`` (CPU seconds of this process)."""
    if warm:
        for fn in fns:
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = clock()
            fn()
            best[i] = min(best[i], clock() - t)
    return best


def best_time(fn: Callable[[], object], repeat: int, **kw) -> float:
    """Best seconds of ``fn`` over ``repeat`` runs (see :func:`best_times`)."""
    return best_times([fn], repeat, **kw)[0]
