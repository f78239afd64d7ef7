"""Weight SRAM in its own voltage domain: banks, ports, read latency, bank conflicts.

Reads return the stored words as the faulty array delivers them at the current voltage:
the "read image" (the chip's persistent faults at vdd, or the transient draws) is
computed once, vectorized, by the same functions as the fast path, and sliced per burst,
so both paths see the same bits.
"""

from __future__ import annotations

from math import ceil

import numpy as np


def bank_of(addresses: np.ndarray, cfg) -> np.ndarray:
    if cfg.interleave:
        return addresses % cfg.banks
    return (addresses // cfg.words_per_bank) % cfg.banks


def burst_read_cycles(addresses: np.ndarray, cfg) -> tuple[int, int]:
    """(cycles to read the burst, conflict cycles): the busiest bank serves its words
    ``ports`` per cycle; with perfect spreading the burst takes ceil(B / (banks*ports))."""
    counts = np.bincount(bank_of(addresses, cfg), minlength=cfg.banks)
    cycles = int(ceil(counts.max() / cfg.ports))
    ideal = int(ceil(len(addresses) / (cfg.banks * cfg.ports)))
    return cycles, cycles - ideal
