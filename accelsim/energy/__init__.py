"""Energy: the per-action table, weight-SRAM voltage scaling, energy per inference."""

from accelsim.energy.model import (COMPONENTS, EnergyReport, UnitEnergies, decoder_area_um2, decoder_cells, energy_of,
                                   scale_energy, unit_energies, voltage_factors)
from accelsim.energy.table import EnergyTable, load_table, table_from_dict

__all__ = ["COMPONENTS", "EnergyReport", "EnergyTable", "UnitEnergies", "decoder_area_um2", "decoder_cells",
           "energy_of", "load_table", "scale_energy", "table_from_dict", "unit_energies", "voltage_factors"]
