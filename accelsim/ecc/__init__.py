"""SEC-DED codes, the vectorized codec and the weight layouts in SRAM words."""

from accelsim.ecc.codec import (DEFAULT_RULE, RULES, STATUS_CLEAN, STATUS_CORRECTED, STATUS_DETECTED, Decoded,
                                SecDedEngine)
from accelsim.ecc.codes import Code, get_code, list_codes, make_hamming, make_hsiao
from accelsim.ecc.layouts import Layout, get_layout, list_layouts
from accelsim.ecc.outcome import data_mask, word_outcomes

__all__ = [
    "DEFAULT_RULE", "RULES", "STATUS_CLEAN", "STATUS_CORRECTED", "STATUS_DETECTED", "Decoded", "SecDedEngine",
    "Code", "get_code", "list_codes", "make_hamming", "make_hsiao",
    "Layout", "get_layout", "list_layouts", "data_mask", "word_outcomes",
]
