"""Energy: the per-action table, weight-SRAM voltage scaling, energy per inference."""

from accelsim.energy.model import COMPONENTS, EnergyReport, energy_of, voltage_factors
from accelsim.energy.table import EnergyTable, load_table, table_from_dict

__all__ = ["COMPONENTS", "EnergyReport", "EnergyTable", "energy_of", "load_table", "table_from_dict",
           "voltage_factors"]
