"""The accelerator configuration file (``--config``, a campaign's ``accelerator:``).

A user file overrides the packaged ``configs/accelerator.yaml`` section by section; the
merged document is validated here. Sources of the default numbers: docs/hardware.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.ecc.names import DEFAULT_RULE   # not codec: the schema loads without numpy
from accelsim.schema.base import ConfigModel, PositiveFloat

Cycles = Annotated[int, Field(ge=0, le=10**9)]


class PeArray(ConfigModel):
    rows: Annotated[int, Field(ge=1, le=4096)] = Field(description="PE rows R")
    cols: Annotated[int, Field(ge=1, le=4096)] = Field(description="PE columns C")
    dataflow: Literal["ws", "os", "is"] = Field(
        description="ws (weight stationary) | os (output stationary) | is (input stationary)")
    os_drain: Literal["overlapped", "serial"] = Field(
        "overlapped", description="os only: outputs drain while the next fold fills (SCALE-Sim, K+R+C-2 cycles "
                                  "per fold) | serial (+R cycles per fold); docs/hardware.md")
    accumulator_depth: Annotated[int, Field(ge=1, le=2**24)] | None = Field(
        None, description="ws/is: 32-bit partial sums per PE column held in accumulators next to the array "
                          "(one SRAM bank per column, TPU-style); null: partial sums round-trip through the "
                          "output buffer. ws processes M in chunks of this depth (weights re-read per chunk)")
    psum_tiling: bool = Field(False, description="ws without accumulators: process M in chunks whose partial sums "
                                                 "fit the output buffer (weights re-read per chunk); false: "
                                                 "SCALE-Sim's order, partial sums beyond the buffer spill to DRAM")


class WeightSram(ConfigModel):
    banks: Annotated[int, Field(ge=1, le=4096)]
    words_per_bank: Annotated[int, Field(ge=1, le=2**32)] | None = Field(
        None, description="words per bank (or give words)")
    words: Literal["fit"] | Annotated[int, Field(ge=1, le=2**40)] | None = Field(
        None, description="total words, split evenly over the banks; fit: sized to the memory image (its check "
                          "bits included) when it is simulated")
    resident: bool = Field(False, description="the weights are loaded once and stay in the SRAM: no DRAM traffic "
                                              "per inference (needs an SRAM that holds the image)")
    cell: str = Field("itrs-lstp", description="bit-cell / periphery type whose leakage the energy table prices "
                                               "(sram_leakage_uw_per_kib key)")
    read_latency: Cycles = Field(description="cycles from address to data")
    ports: Annotated[int, Field(ge=1, le=64)] = Field(description="reads per bank per cycle")
    interleave: bool = Field(description="word i in bank i % banks (false: bank i // words_per_bank)")
    burst_words: Annotated[int, Field(ge=1, le=2**32)] = Field(description="words per read burst")
    vdd_nominal: PositiveFloat = Field(description="volts")
    ber_mapping: Literal["scale", "shift", "none"] = Field(
        "none", description="how a BER curve measured at another nominal voltage maps onto this SRAM: scale "
                            "(V * curve_nominal / vdd_nominal) | shift (V + curve_nominal - vdd_nominal) | none "
                            "(refused when the nominals differ); docs/faults.md")
    word_bits: Annotated[int, Field(ge=1, le=128)] | None = Field(
        None, description="fixed by the image's layout; if given it must match")


class EccStage(ConfigModel):
    latency: Cycles = Field(description="decoder pipeline stages (cycles)")
    lanes: Annotated[int, Field(ge=1, le=4096)] = Field(description="words decoded per cycle")
    policy: Literal["pass", "zero", "reread"] = Field(description="uncorrectable words: pass (raw) | zero | reread")
    max_retries: Annotated[int, Field(ge=0, le=1000)] = Field(description="re-reads before passing a word on")
    rule: Literal["strict", "parity"] = Field(
        DEFAULT_RULE, description="err_o rule of the decoder: strict (a syndrome matching no column of H is "
                              "uncorrectable) | parity (odd syndrome = corrected, OpenTitan's); docs/rtl.md")


class Dram(ConfigModel):
    bytes_per_cycle: Annotated[float, Field(ge=1e-6)] = Field(description="weight bandwidth, bytes per cycle")
    latency: Cycles = Field(description="cycles per transfer")


class Buffers(ConfigModel):
    input_kib: Annotated[float, Field(ge=1e-6)] = Field(description="input activation buffer; a layer input "
                                                                    "that does not fit is re-read from DRAM")
    output_kib: Annotated[float, Field(ge=1e-6)] = Field(description="output buffer; outputs (and partial sums "
                                                                     "without accumulators) that do not fit "
                                                                     "spill to DRAM")


class ActivationBuffers(ConfigModel):
    scaled: bool = Field(False, description="the input/output buffers share the weight SRAM's supply: activations "
                                            "read from them get BER(V) bit errors, their energy scales by (V/Vnom)^2")


class AcceleratorFile(ConfigModel):
    """The accelerator: PE array, weight SRAM, ECC stage, DRAM and buffers."""

    preset: str | None = Field(None, description="named preset this file overrides (accelsim/configs/accelerators/"
                                                 "NAME.yaml); absent: the packaged accelerator.yaml")
    description: str = Field("", description="what the configuration models and the sources of its numbers")
    clock_mhz: Annotated[float, Field(ge=1e-3)] = Field(description="reporting only: cycles -> seconds")
    pe_array: PeArray
    weight_sram: WeightSram
    ecc: EccStage
    dram: Dram
    buffers: Buffers
    activation_buffers: ActivationBuffers = ActivationBuffers()

    @model_validator(mode="after")
    def _fits(self):
        pe, sram, buf = self.pe_array, self.weight_sram, self.buffers
        if (sram.words is None) == (sram.words_per_bank is None):
            raise PydanticCustomError("fit", "weight_sram: give words_per_bank or words (a count, or fit), not "
                                      "{n}", {"n": "both" if sram.words is not None else "neither"})
        if sram.words == "fit":
            return self   # the SRAM is sized when the image is known (accelsim.hw.config.AcceleratorConfig.for_layout)
        words = sram.banks * sram.words_per_bank if sram.words is None else sram.words
        if sram.burst_words * 2 > words:
            raise PydanticCustomError("fit", "weight_sram.burst_words = {b} cannot be double-buffered in an SRAM "
                                      "of {w} words", {"b": sram.burst_words, "w": words})
        # one 8-bit input per PE row and one 32-bit partial sum per PE column (ws, is; transposed for os)
        need_in, need_out = (pe.rows, 4 * pe.cols) if pe.dataflow != "os" else (pe.cols, 4 * pe.rows)
        if buf.input_kib * 1024 < need_in:
            raise PydanticCustomError("fit", "buffers.input_kib = {v} cannot hold one input vector of {n} bytes "
                                      "for a {r}x{c} array", {"v": buf.input_kib, "n": need_in, "r": pe.rows,
                                                              "c": pe.cols})
        if buf.output_kib * 1024 < need_out:
            raise PydanticCustomError("fit", "buffers.output_kib = {v} cannot hold one row of partial sums "
                                      "({n} bytes) for a {r}x{c} array", {"v": buf.output_kib, "n": need_out,
                                                                          "r": pe.rows, "c": pe.cols})
        return self
