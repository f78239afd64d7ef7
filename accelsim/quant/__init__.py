"""Quantization: fixed-point math (pure functions), QAT/WOT/clipping/RandBET training
helpers and pruning."""

from accelsim.quant.fixed import (QuantSpec, dequantize, layout_bounds, project_to_layout, qmax,
                                  quantize_asymmetric, quantize_symmetric, symmetric_scale)

__all__ = ["QuantSpec", "dequantize", "layout_bounds", "project_to_layout", "qmax",
           "quantize_asymmetric", "quantize_symmetric", "symmetric_scale"]
