"""SEC-DED codes, the vectorized codec and the weight layouts in SRAM words.
Attributes load on first use (accelsim.lazy): the CLI's --help and argument errors answer
without numpy (their names and rules come from accelsim.ecc.names)."""

from accelsim.lazy import lazy_exports

__all__ = [
    "DEFAULT_RULE", "RULES", "STATUS_CLEAN", "STATUS_CORRECTED", "STATUS_DETECTED", "Decoded", "SecDedEngine",
    "Code", "get_code", "list_codes", "make_hamming", "make_hsiao",
    "Layout", "get_layout", "list_layouts", "data_mask", "word_outcomes",
]
__getattr__ = lazy_exports(__name__, {
    **{name: "accelsim.ecc.codec" for name in ("DEFAULT_RULE", "RULES", "STATUS_CLEAN", "STATUS_CORRECTED",
                                              "STATUS_DETECTED", "Decoded", "SecDedEngine")},
    **{name: "accelsim.ecc.codes" for name in ("Code", "get_code", "list_codes", "make_hamming", "make_hsiao")},
    **{name: "accelsim.ecc.layouts" for name in ("Layout", "get_layout", "list_layouts")},
    **{name: "accelsim.ecc.outcome" for name in ("data_mask", "word_outcomes")},
})
