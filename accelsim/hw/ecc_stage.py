"""The ECC decoder pipeline stage: ``lanes`` words per cycle, ``latency`` cycles deep,
decoding each burst with the same vectorized codec as the fast path.

Uncorrectable words (status 2) follow the policy: ``pass`` the raw word on, ``zero`` it,
or ``reread`` it from the SRAM (a stall of read latency + decode per retry, up to
``max_retries``); a re-read of a persistent fault returns the same word, a re-read under
transient faults is a fresh draw.
"""

from __future__ import annotations

from math import ceil

import numpy as np

from accelsim.faults import inject
from accelsim.seeds import derive


class EccStage:
    def __init__(self, layout, cfg, *, transient_ber: float | None, truth: np.ndarray, seed: int):
        self.layout, self.cfg = layout, cfg
        self.transient_ber, self.truth, self.seed = transient_ber, truth, seed

    def decode_burst(self, words: np.ndarray, start: int, burst_id: int):
        """(output words, status, re-read count, stall cycles) for one burst."""
        cfg, layout = self.cfg, self.layout
        if layout.code is None:
            return words, np.zeros(len(words), np.uint8), 0, 0
        _, dec = layout.unpack_detail(words)
        out, status = dec.data, dec.status
        rereads = stall = 0
        if cfg.policy == "reread":
            bad = np.flatnonzero(status == 2)
            for attempt in range(cfg.max_retries):
                if bad.size == 0:
                    break
                rereads += bad.size
                stall += cfg.read_latency + ceil(bad.size / cfg.ecc_lanes)
                if self.transient_ber is None:
                    continue  # a persistent fault reads back the same way: still uncorrectable
                fresh = inject(self.truth[start + bad], self.transient_ber,
                               seed=derive(self.seed, "reread", burst_id, attempt), width=layout.word_bits)
                _, d2 = layout.unpack_detail(fresh)
                out = out.copy()
                status = status.copy()
                out[bad], status[bad] = d2.data, d2.status
                bad = bad[d2.status == 2]
        elif cfg.policy == "zero":
            out = out.copy()
            out[status == 2] = 0
        return out, status, rereads, stall

    def cycles(self, n_words: int) -> int:
        return ceil(n_words / self.cfg.ecc_lanes)
