"""Verilog SEC-DED encoders/decoders generated from the codec's own H matrices,
their cocotb co-verification glue and Yosys gate statistics.
Attributes load on first use (accelsim.lazy): the CLI answers --help without numpy."""

from pathlib import Path

from accelsim.lazy import lazy_exports

# the repository's hdl/: the generated Verilog committed with the default err_o rule
HDL_DIR = Path(__file__).resolve().parents[2] / "hdl"

__all__ = ["HDL_DIR", "generate_all", "module_name", "render_decoder", "render_encoder", "render_pipe", "rtl_codes"]
__getattr__ = lazy_exports(__name__, {name: "accelsim.rtl.generate" for name in __all__ if name != "HDL_DIR"})
