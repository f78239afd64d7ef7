"""The ECC decoder pipeline stage: ``lanes`` words per cycle, ``latency`` cycles deep,
decoding each burst with the same vectorized codec as the fast path
(``layout.unpack_detail``), its status under the ``err_o`` rule ``ecc.rule`` (strict or
parity, docs/rtl.md).

Uncorrectable words (status 2) follow the policy: ``pass`` the raw word on, ``zero`` it,
or ``reread`` it from the SRAM (a stall of read latency + decode per retry, up to
``max_retries``; a re-read of a persistent fault returns the same word, of a transient
fault a fresh draw). A word still uncorrectable after the last retry is passed raw.

Against the stored truth the stage counts, per word on its first pass and by the status
it leaves with: corrected (status 1, data right), detected (status 2: still uncorrectable
after any re-reads), miscorrected (status 1, data wrong) and undetected (status 0, data
wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np

from accelsim.ecc import STATUS_DETECTED, data_mask, word_outcomes


@dataclass
class BurstResult:
    words: np.ndarray     # (n, lanes) words leaving the stage
    q: np.ndarray         # (n * weights_per_word,) int8 weights of those words
    status: np.ndarray    # (n,) uint8 status of each word as it leaves (after re-reads)
    rereads: int          # words read again from the SRAM
    stall: int            # cycles the stage stalled for re-reads


class EccStage:
    def __init__(self, layout, cfg, sram):
        self.layout, self.cfg, self.sram = layout, cfg, sram
        self.mask = data_mask(layout)
        self.present = layout.code is not None   # a layout without a code has no decoder: a wire
        self.latency = cfg.ecc_latency if self.present else 0

    def decode_burst(self, words: np.ndarray, start: int, burst_id: int) -> BurstResult:
        """Decode one burst of words read from SRAM addresses start..start+n."""
        layout, cfg = self.layout, self.cfg
        q, dec = layout.unpack_detail(words, rule=cfg.ecc_rule)
        if layout.code is None:
            return BurstResult(words, q, dec.status, 0, 0)
        out, status = dec.data, dec.status
        rereads = stall = 0
        bad = np.flatnonzero(status == STATUS_DETECTED)
        if cfg.policy == "reread" and bad.size:
            out, q, status = out.copy(), q.reshape(len(out), -1).copy(), status.copy()
            for attempt in range(cfg.max_retries):
                if bad.size == 0:
                    break
                rereads += bad.size
                stall += cfg.read_latency + self.cycles(bad.size)
                again = self.sram.reread(start + bad, burst_id=burst_id, attempt=attempt)
                q2, d2 = layout.unpack_detail(again, rule=cfg.ecc_rule)
                ok = d2.status != STATUS_DETECTED
                out[bad[ok]] = d2.data[ok]
                status[bad[ok]] = d2.status[ok]
                q[bad[ok]] = q2.reshape(len(again), -1)[ok]
                bad = bad[~ok]
            q = q.reshape(-1)
        elif cfg.policy == "zero" and bad.size:
            out, q = out.copy(), q.reshape(len(out), -1).copy()
            out[bad] = 0
            q[bad] = 0
            q = q.reshape(-1)
        return BurstResult(out, q, status, rereads, stall)

    def cycles(self, n_words: int) -> int:
        """Cycles to push n words through the pipeline's lanes (excluding its latency)."""
        return ceil(n_words / self.cfg.ecc_lanes) if self.present else 0

    def classify(self, out: np.ndarray, truth: np.ndarray, status: np.ndarray) -> dict:
        """Counts of the burst's outcomes against the stored truth (data bits only)."""
        return word_outcomes(status, np.bitwise_count((out ^ truth) & self.mask).sum(axis=1) > 0)
