"""What became of each word after decoding, against the stored truth: the one place that
says which bits count (data bits, not check bits) and how a word's status and its data
combine into corrected / detected / miscorrected / undetected (docs/campaigns.md, the
store's columns; the cycle model's ECC stage counts the same way)."""

from __future__ import annotations

import numpy as np

from accelsim.ecc.codec import STATUS_CLEAN, STATUS_CORRECTED, STATUS_DETECTED


def data_mask(layout) -> np.ndarray:
    """Per uint64 lane, the physical bits of a ``layout``'s word that carry weight data
    (not check bits, not unused bits)."""
    mask = np.zeros(layout.lanes, dtype=np.uint64)
    checks = set(layout.check_positions)
    for p in range(layout.weights_per_word * layout.weight_bits):
        if p not in checks:
            mask[p // 64] |= np.uint64(1) << np.uint64(p % 64)
    return mask


def word_outcomes(status: np.ndarray, wrong: np.ndarray) -> dict[str, int]:
    """Counts of words by outcome: ``status`` per word (STATUS_*), ``wrong`` per word
    (whether its data bits differ from the stored ones). Corrected: status corrected and
    the data right; detected: flagged uncorrectable; miscorrected: status corrected but the
    data wrong; undetected: status clean but the data wrong."""
    wrong = np.asarray(wrong, dtype=bool)
    return {"corrected": int(np.count_nonzero((status == STATUS_CORRECTED) & ~wrong)),
            "detected": int(np.count_nonzero(status == STATUS_DETECTED)),
            "miscorrected": int(np.count_nonzero((status == STATUS_CORRECTED) & wrong)),
            "undetected": int(np.count_nonzero((status == STATUS_CLEAN) & wrong))}
