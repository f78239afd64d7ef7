"""The unit an energy is printed in, one rule for the report, its plots and the CLI
(no matplotlib here: ``accelsim simulate`` prints with it)."""

from __future__ import annotations


def energy_unit(pj_values) -> tuple[str, float]:
    """(unit, pJ per unit) that keeps the largest of ``pj_values`` at 1 to 999 units."""
    peak = max((abs(float(v)) for v in pj_values), default=0.0)
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if peak >= scale:
            return unit, scale
    return "pJ", 1.0
