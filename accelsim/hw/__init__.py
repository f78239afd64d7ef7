"""Cycle-level SimPy model of the accelerator: DRAM, weight SRAM (own voltage domain),
ECC decoder stage, systolic PE array, controller."""

from accelsim.lazy import lazy_exports

__all__ = ["AcceleratorConfig", "LayerStats", "SimResult", "load_config", "parse_config", "plan", "simulate"]
# SimPy loads on first use (accelsim.lazy): the CLI answers --help without it
__getattr__ = lazy_exports(__name__, {
    "LayerStats": "accelsim.hw.accelerator", "SimResult": "accelsim.hw.accelerator", "simulate": "accelsim.hw.accelerator",
    "AcceleratorConfig": "accelsim.hw.config", "load_config": "accelsim.hw.config", "parse_config": "accelsim.hw.config",
    "plan": "accelsim.hw.pe_array"})
