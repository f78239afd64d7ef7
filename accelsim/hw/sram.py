"""Weight SRAM in its own voltage domain: banks, ports, read latency, bank conflicts, and
the bit errors of its cells at the domain's supply voltage.

The SRAM holds the image's stored (encoded) words. A read returns them as the faulty
array delivers them at ``vdd``:

- persistent faults (a chip's :class:`accelsim.faults.ChipFaultMap`): the cells faulty at
  ``vdd`` are selected once; each burst applies the map's cells that fall in its address
  range with ``ChipFaultMap.apply`` — the fast path's function — so every read (first
  pass, later weight passes, re-reads) returns the same faulty word;
- transient faults (``ber``): the first read of the image is the fast path's draw,
  ``faults.inject(words, ber, seed=seed)`` over the whole image (one sparse draw, sliced
  per burst); every later read of a word (another weight pass, a re-read) is a fresh draw
  seeded by (seed, burst, attempt);
- a given "read image" (the campaigns compute the faulty words once for both engines):
  first reads return it; re-reads return it again, or draw afresh when ``transient_ber``
  is set.

Faults are addressed by image word, as in the fast path: for an image that fits in the
SRAM this is the physical address; a larger image is modelled as if each tile kept its
own cells (docs/hardware.md).
"""

from __future__ import annotations

from math import ceil

import numpy as np

from accelsim.faults import ChipFaultMap, inject
from accelsim.seeds import derive


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


class WeightSram:
    """The stored words of an image and the faults that reads see at ``vdd``.

    stored: (N, lanes) uint64 encoded words; width: bits per word (the layout's).
    Exactly one of ``fault_map`` (persistent), ``ber`` (transient) or ``read_image`` may
    be given; none means a fault-free SRAM.
    """

    def __init__(self, stored: np.ndarray, width: int, *, vdd: float | None = None,
                 fault_map: ChipFaultMap | None = None, ber: float | None = None,
                 read_image: np.ndarray | None = None, transient_ber: float | None = None, seed: int = 0):
        self.stored, self.width, self.vdd, self.seed = stored, int(width), vdd, seed
        self.transient_ber = ber if ber is not None else transient_ber
        self._first = read_image
        self._map = None
        if fault_map is not None:
            idx = fault_map.faulty(vdd)   # the cells of the domain's voltage, once
            self._map = ChipFaultMap(fault_map.n_words, fault_map.width, fault_map.cell[idx],
                                     fault_map.threshold[idx], fault_map.kind[idx])
        elif ber is not None:
            self._first = inject(stored, ber, seed=seed, width=self.width)
        self.faulty_bits_read = 0   # bits that differed from the stored word, over all reads

    @property
    def deterministic(self) -> bool:
        """Every read of a word returns the same bits (persistent faults, a fixed read
        image, or none): a later pass may reuse what the first read decoded to."""
        return self.transient_ber is None

    def read(self, start: int, n: int, *, first: bool, burst_id: int) -> np.ndarray:
        """Words start..start+n as read now; ``first``: the first read of these words."""
        if self._map is not None:
            out = self._apply_map(start, n)
        elif self._first is not None and (first or self.transient_ber is None):
            out = self._first[start:start + n]
        elif self.transient_ber is not None:
            out = inject(self.stored[start:start + n], self.transient_ber, width=self.width,
                         seed=derive(self.seed, "pass", burst_id))
        else:
            out = self.stored[start:start + n]
        self._count(out, self.stored[start:start + n])
        return out

    def reread(self, addresses: np.ndarray, *, burst_id: int, attempt: int) -> np.ndarray:
        """A second (third, ...) read of scattered words: a persistent fault reads back the
        same way, a transient one is drawn again."""
        if self.transient_ber is not None:
            out = inject(self.stored[addresses], self.transient_ber, width=self.width,
                         seed=derive(self.seed, "reread", burst_id, attempt))
        elif self._map is not None:
            out = np.concatenate([self._apply_map(int(a), 1) for a in addresses]) if addresses.size else \
                self.stored[:0]
        elif self._first is not None:
            out = self._first[addresses]
        else:
            out = self.stored[addresses]
        self._count(out, self.stored[addresses])
        return out

    def _apply_map(self, start: int, n: int) -> np.ndarray:
        m = self._map
        lo, hi = np.searchsorted(m.cell, [start * self.width, (start + n) * self.width])
        burst_map = ChipFaultMap(m.n_words, m.width, m.cell[lo:hi], m.threshold[lo:hi], m.kind[lo:hi])
        return burst_map.apply(self.stored[start:start + n], self.vdd, word_offset=start)

    def _count(self, got: np.ndarray, truth: np.ndarray) -> None:
        if got is not truth:
            self.faulty_bits_read += int(np.bitwise_count(got ^ truth).sum())
