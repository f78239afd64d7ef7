"""The model card (``NAME.yaml`` next to ``NAME.safetensors``), written by ``accelsim train``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, Count, Name, NonNegFloat, Probability, Seed
from accelsim.schema.campaign import SchemeName


class ModelCard(ConfigModel):
    """What a checkpoint is: architecture, weight bits, layout it was trained for, accuracy."""

    model: Name = Field(description="architecture: a zoo name, or path/to/file.py:factory relative to the card's folder")
    dataset: str | None = Field(None, description="data source spec it was trained on")
    num_classes: Count | None = None
    input_shape: Annotated[list[Count], Field(min_length=1, max_length=4)] | None = Field(
        None, description="(C, H, W) of one sample")
    bits: int = Field(description="weight bits: 1..8 (quantized) or 32 (float)")
    scheme: str | None = Field(None, description="quantization scheme (free text)")
    layout: SchemeName | None = Field(None, description="layout it was trained for (WOT), or null")
    accuracy: Probability = Field(description="test accuracy in [0, 1]")
    fp32_accuracy: Probability | None = None
    sparsity: Probability | None = None
    seed: Seed = 0
    train_seconds: NonNegFloat | None = None
    config: dict[str, Any] | None = Field(None, description="the training configuration")
    weights: Annotated[int, Field(ge=0)] | None = None
    wot_moved_at_projection: Annotated[int, Field(ge=0)] | None = None
    wot_out_of_range_before: Annotated[int, Field(ge=0)] | None = None
    wot_fraction_out_of_range_before: Probability | None = None
    activation_bits: Annotated[int, Field(ge=2, le=8)] | None = Field(
        None, description="QAT width of unsigned activations; export uses it (absent: 8)")
    accuracy_quantized_activations: Probability | None = Field(
        None, description="test accuracy with activations still fake-quantized (as integer inference)")
    from_: str | None = Field(None, alias="from", description="checkpoint it was fine-tuned from (--from)")
    integer_accuracy: Probability | None = Field(
        None, description="integer-exact accuracy of its memory image (integer_layout, default calibration) on "
                          "the whole test set: what `accelsim infer CHECKPOINT` prints")
    integer_layout: SchemeName | None = Field(None, description="the layout integer_accuracy was measured in")
    command: str = Field(description="the command that made it")

    @field_validator("bits")
    @classmethod
    def _bits(cls, v: int) -> int:
        if not (1 <= v <= 8 or v == 32):
            raise PydanticCustomError("bits", "must be 1..8 (quantized) or 32 (float), got {v}", {"v": v})
        return v

    # read access by key for code that still treats a card as a mapping
    def __getitem__(self, key: str):
        return getattr(self, key)

    def get(self, key: str, default=None):
        value = getattr(self, key, None)
        return default if value is None else value
