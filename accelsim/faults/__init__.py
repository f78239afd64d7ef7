"""Bit-error models for the weight SRAM: transient flips, BER(V) curves, persistent
per-chip maps (nested in voltage), stuck-at and asymmetric faults, measured maps, and
bit errors in float weights. Attributes load on first use (accelsim.lazy): the CLI answers
--help without numpy and scipy."""

from accelsim.lazy import lazy_exports

_FROM = {
    "accelsim.faults.ber_curve": ("BerCurve", "curve_from_dict", "load_curve", "CurveFit", "ProbitFit",
                                  "curve_params", "fit_log_linear", "fit_probit", "map_to_nominal"),
    "accelsim.faults.chip_map": ("ChipFaultMap", "inject_asymmetric", "inject_float"),
    "accelsim.faults.transient": ("check_ber", "flip_bits", "flip_positions", "inject"),
}
__all__ = sorted(name for names in _FROM.values() for name in names)
__getattr__ = lazy_exports(__name__, {name: module for module, names in _FROM.items() for name in names})
