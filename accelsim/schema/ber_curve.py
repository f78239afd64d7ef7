"""The BER(V) curve file (``--curve``, ``ber_curve:``); sources of the default: docs/faults.md."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, FiniteFloat, PositiveFloat

Ber = Annotated[float, Field(gt=0, le=0.5)]
Volts = Annotated[float, Field(gt=0, le=100)]
Point = Annotated[list[FiniteFloat], Field(min_length=2, max_length=2)]


class BerCurveFile(ConfigModel):
    """log10 BER linear in V through (v_ref, ber_ref), or a ``table`` interpolated in log10
    BER, or measured ``points`` the log-linear model is fitted to."""

    v_ref: Volts | None = Field(None, description="reference voltage, V (default 0.50)")
    ber_ref: Ber | None = Field(None, description="BER at v_ref (default 1e-2)")
    mv_per_decade: PositiveFloat | None = Field(None, description="mV of supply per decade of BER (default 30)")
    v_min: Volts | None = Field(None, description="lowest voltage of the domain, V")
    v_max: Volts | None = Field(None, description="highest voltage of the domain, V")
    table: Annotated[list[Point], Field(min_length=2, max_length=100_000)] | None = Field(
        None, description="[[vdd, ber], ...], interpolated linearly in log10 BER")
    points: Annotated[list[Point], Field(min_length=2, max_length=100_000)] | None = Field(
        None, description="measured [[vdd, ber], ...] to fit log10 BER = a + b V to")
    source: str = Field("", description="where the curve comes from (free text)")

    @model_validator(mode="after")
    def _consistent(self):
        if self.points is not None and (self.table is not None or self.ber_ref is not None
                                        or self.mv_per_decade is not None):
            raise PydanticCustomError("curve", "points (fitted) exclude table, ber_ref and mv_per_decade")
        for key in ("table", "points"):
            for i, (v, b) in enumerate(getattr(self, key) or []):
                if not 0 < v <= 100:
                    raise PydanticCustomError("curve", "{k}[{i}]: vdd {v} must be in (0, 100] V",
                                              {"k": key, "i": i, "v": v})
                if not 0 < b <= 0.5:
                    raise PydanticCustomError("curve", "{k}[{i}]: ber {b} must be in (0, 0.5]",
                                              {"k": key, "i": i, "b": b})
        if self.v_min is not None and self.v_max is not None and self.v_min >= self.v_max:
            raise PydanticCustomError("curve", "v_min = {a} must be below v_max = {b}",
                                      {"a": self.v_min, "b": self.v_max})
        return self
