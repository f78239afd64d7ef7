"""Syndrome classes of a code, for functional coverage and the triple-error trade-off.

Single errors hit the n columns of H; double errors the classes h_i ^ h_j (several pairs
share one syndrome); a triple error either matches a column (the decoder "corrects" one
bit: a miscorrection unless the three flips and the correction all land in check bits)
or, under the strict rule, matches none and is flagged.
"""

from __future__ import annotations

import itertools

import numpy as np

from accelsim.ecc import STATUS_CLEAN, STATUS_CORRECTED, STATUS_DETECTED, Code
from accelsim.ecc.codec import check_rule


def double_classes(code: Code) -> set[int]:
    """Every syndrome a double error can give."""
    cols = [int(c) for c in code.columns]
    return {a ^ b for a, b in itertools.combinations(cols, 2)}


def triple_outcomes(code: Code, rule: str) -> dict:
    """Exact shares over all C(n, 3) triple errors: flagged (status 2), miscorrected
    (status 1, decoded data wrong) and harmless (status 1, data right: every flip and the
    correction in check bits)."""
    check_rule(rule)
    cols = np.asarray(code.columns, dtype=np.int64)
    triples = np.array(list(itertools.combinations(range(code.n), 3)), dtype=np.int64)
    syndrome = cols[triples[:, 0]] ^ cols[triples[:, 1]] ^ cols[triples[:, 2]]
    status = code.status_table(rule)[syndrome]
    pos = code._engine.pos_table[syndrome].astype(np.int64)       # the bit flipped, or -1
    data_flips = (triples < code.k).sum(axis=1)
    # the correction undoes one data error if it lands on one of them, adds one otherwise
    hits = (triples == pos[:, None]).any(axis=1)
    wrong = data_flips - (hits & (pos < code.k)) + (~hits & (pos >= 0) & (pos < code.k)) > 0
    total = len(triples)
    return {"triples": total,
            "flagged": float(np.mean(status == STATUS_DETECTED)),
            "miscorrected": float(np.mean((status == STATUS_CORRECTED) & wrong)),
            "harmless": float(np.mean((status == STATUS_CORRECTED) & ~wrong)),
            "undetected": float(np.mean(status == STATUS_CLEAN))}
