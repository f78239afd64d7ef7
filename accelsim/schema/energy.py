"""The per-action energy table (``energy_table:``); sources of the defaults: docs/energy.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, NonNegFloat, PositiveFloat

WeightBits = Annotated[int, Field(ge=1, le=8)]


class EnergyActions(ConfigModel):
    """Energy of each action at the nominal voltage, picojoules."""

    sram_read_pj_per_bit: NonNegFloat = Field(description="weight SRAM read, pJ per bit")
    sram_leakage_pj_per_kib_cycle: NonNegFloat = Field(description="weight SRAM leakage, pJ per KiB per cycle")
    mac_pj: Annotated[dict[WeightBits, NonNegFloat], Field(min_length=1)] = Field(
        description="pJ per MAC by weight bits (keys 1..8)")
    ecc_gate_pj: NonNegFloat = Field(description="one 2-input gate evaluation in the decoder, pJ")
    input_buffer_read_pj_per_byte: NonNegFloat
    output_buffer_write_pj: NonNegFloat = Field(description="one 32-bit partial sum write, pJ")
    dram_pj_per_byte: NonNegFloat


class LeakageModel(ConfigModel):
    dibl_per_volt: NonNegFloat = Field(2.6, description="P_leak ~ V * exp(k (V - Vnom)), k per volt")


class EnergyTableFile(ConfigModel):
    """Per-action energy at ``vdd_nominal``; dynamic energy scales as (V/Vnom)^2."""

    technology: str = Field("", description="where the numbers come from (free text)")
    vdd_nominal: PositiveFloat = Field(description="volts")
    actions: EnergyActions
    leakage_model: LeakageModel = LeakageModel()
    count_dram: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: DRAM traffic counts only if the weights do not stay resident")
