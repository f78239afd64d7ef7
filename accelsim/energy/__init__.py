"""Energy: the per-action table, weight-SRAM voltage scaling, energy per inference."""

from accelsim.energy.model import (COMPONENTS, EnergyReport, decoder_area_um2, decoder_cells, energy_of,
                                   voltage_factors)
from accelsim.energy.table import EnergyTable, load_table, table_from_dict

__all__ = ["COMPONENTS", "EnergyReport", "decoder_area_um2", "decoder_cells", "EnergyTable", "energy_of", "load_table", "table_from_dict",
           "voltage_factors"]
