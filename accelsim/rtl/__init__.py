"""Verilog SEC-DED encoders/decoders generated from the codec's own H matrices,
their cocotb co-verification glue and Yosys gate statistics."""

from accelsim.rtl.generate import generate_all, module_name, render_decoder, render_encoder, render_pipe, rtl_codes

__all__ = ["generate_all", "module_name", "render_decoder", "render_encoder", "render_pipe", "rtl_codes"]
