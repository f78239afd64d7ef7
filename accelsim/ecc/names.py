"""The names the command line offers before numpy is loaded: the weight layouts and the
decoders' ``err_o`` rules. accelsim.ecc.layouts and accelsim.ecc.codec build their tables
from these (and check at import that they agree), so the names live in one place."""

# err_o rules of the decoder: "strict" flags every syndrome that is not a single-bit
# column as uncorrectable; "parity" decides by the overall parity (docs/ecc.md)
RULES = ("strict", "parity")
DEFAULT_RULE = "strict"

# the layouts of accelsim.ecc.layouts, in the order list_layouts() gives them
LAYOUT_NAMES = ("inplace-8b-64", "inplace-4b-64", "inplace-4b-32", "ecc-8b-72", "none-8b", "none-4b")
