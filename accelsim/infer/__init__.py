"""Integer-exact inference from (decoded) memory words, and its fake-quant PyTorch reference."""

from accelsim.infer.integer import IntegerNetwork, decode_weights

__all__ = ["IntegerNetwork", "decode_weights"]
