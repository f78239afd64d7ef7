"""Bit-error models for the weight SRAM."""

from accelsim.faults.transient import check_ber, flip_bits, flip_positions, inject

__all__ = ["check_ber", "flip_bits", "flip_positions", "inject"]
