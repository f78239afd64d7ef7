"""Cycle-level SimPy model of the accelerator: DRAM, weight SRAM (own voltage domain),
ECC decoder stage, systolic PE array, controller."""

from accelsim.hw.accelerator import LayerStats, SimResult, simulate
from accelsim.hw.config import AcceleratorConfig, load_config, parse_config
from accelsim.hw.pe_array import plan


__all__ = ["AcceleratorConfig", "LayerStats", "SimResult", "load_config", "parse_config", "plan", "simulate"]
