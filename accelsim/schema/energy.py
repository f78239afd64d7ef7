"""The per-action energy table (``energy_table:``); sources of the defaults: docs/energy.md."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import Field
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, NonNegFloat, PositiveFloat, Probability

WeightBits = Annotated[int, Field(ge=1, le=8)]
# "<weight bits>x<activation bits>", e.g. "4x8"
OperandBits = Annotated[str, Field(pattern=r"^\s*[1-8]\s*x\s*[1-8]\s*$")]
Capacity = Annotated[float, Field(gt=0, le=1e9)]


class EnergyActions(ConfigModel):
    """Energy of each action at the nominal voltage, picojoules."""

    sram_read_pj_per_64b: Annotated[dict[Capacity, PositiveFloat], Field(min_length=1)] = Field(
        description="pJ per 64-bit read by SRAM array capacity in KiB (log-log interpolated; weight SRAM "
                    "per bank, input and output buffers)")
    sram_write_pj_per_64b: Annotated[dict[Capacity, PositiveFloat], Field(min_length=1)] = Field(
        description="pJ per 64-bit write by SRAM array capacity in KiB (output buffer, accumulators)")
    sram_leakage_uw_per_kib: Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)], NonNegFloat],
                                       Field(min_length=1)] = Field(
        description="weight SRAM leakage power, uW per KiB stored, by cell type (the accelerator's "
                    "weight_sram.cell)")
    mac_pj: Annotated[dict[Union[WeightBits, OperandBits], NonNegFloat], Field(min_length=1)] = Field(
        description="pJ per MAC by operand bits ('4x8': 4-bit weights x 8-bit activations; a bare 1..8 is "
                    "the weight width with 8-bit activations)")
    register_pj_per_bit: NonNegFloat = Field(description="PE pipeline flip-flops, pJ per bit written")
    ecc_gate_switch_pj: NonNegFloat = Field(description="switching energy of one decoder gate, pJ")
    ecc_activity: Probability = Field(description="share of decoder gates that switch per decoded word")
    dram_pj_per_byte: NonNegFloat


class LeakageModel(ConfigModel):
    dibl_per_volt: NonNegFloat = Field(4.27, description="P_leak ~ V * exp(k (V - Vnom)), k per volt")


class EnergyTableFile(ConfigModel):
    """Per-action energy at ``vdd_nominal``; dynamic energy scales as (V/Vnom)^2."""

    technology: str = Field("", description="where the numbers come from (free text)")
    vdd_nominal: PositiveFloat = Field(description="volts")
    logic_vdd: PositiveFloat | None = Field(None, description="volts of the logic (MACs, registers, buffers, "
                                                              "decoder); null: vdd_nominal")
    actions: EnergyActions
    leakage_model: LeakageModel = LeakageModel()
    count_dram: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: DRAM traffic counts only if the weights do not stay resident")
