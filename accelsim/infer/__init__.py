"""Integer-exact inference from (decoded) memory words, and its fake-quant PyTorch reference.
Attributes load on first use (accelsim.lazy): the CLI answers --help without numpy."""

from accelsim.lazy import lazy_exports

__all__ = ["IntegerNetwork", "decode_weights"]
__getattr__ = lazy_exports(__name__, {name: "accelsim.infer.integer" for name in __all__})
