"""Bit-error models for the weight SRAM: transient flips, BER(V) curves, persistent
per-chip maps (nested in voltage), stuck-at and asymmetric faults, measured maps, and
bit errors in float weights."""

from accelsim.faults.ber_curve import BerCurve, curve_from_dict, load_curve
from accelsim.faults.chip_map import ChipFaultMap, inject_asymmetric, inject_float
from accelsim.faults.transient import check_ber, flip_bits, flip_positions, inject

__all__ = ["BerCurve", "ChipFaultMap", "check_ber", "curve_from_dict", "flip_bits", "flip_positions",
           "inject", "inject_asymmetric", "inject_float", "load_curve"]
from accelsim.faults.ber_curve import (CurveFit, ProbitFit, curve_params, fit_log_linear, fit_probit,  # noqa: E402
                                       map_to_nominal)

__all__ += ["CurveFit", "ProbitFit", "curve_params", "fit_log_linear", "fit_probit", "map_to_nominal"]
