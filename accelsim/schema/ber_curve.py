"""The BER(V) curve file (``--curve``, ``ber_curve:``); the packaged curves and their
sources: docs/faults.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, FiniteFloat, PositiveFloat

Ber = Annotated[float, Field(gt=0, le=0.5)]
Volts = Annotated[float, Field(gt=0, le=100)]
Point = Annotated[list[FiniteFloat], Field(min_length=2, max_length=2)]
Law = Literal["log-linear", "probit", "table"]


class MeasuredPoint(ConfigModel):
    """One measured voltage: ``faults`` failing cells among ``bits`` tested (BER = faults / bits)."""

    vdd: Volts = Field(description="supply voltage of the measured array, V")
    faults: Annotated[int, Field(ge=0)] = Field(description="faulty bits counted at vdd")
    bits: Annotated[int, Field(ge=1)] = Field(description="bits tested at vdd")
    note: str = Field("", description="how the value was read (sheet, bit image, figure)")


class BerCurveFile(ConfigModel):
    """A BER(V) law: ``log-linear`` (log10 BER linear in V through (v_ref, ber_ref)),
    ``probit`` (BER = Phi((mu - V) / sigma), a Gaussian spread of cell failure voltages),
    or a ``table`` interpolated in log10 BER; a law's parameters are given, or fitted to
    ``measured`` counts or ``points``."""

    name: str = Field("", description="short name printed with results (e.g. salami-vc707)")
    label: Literal["measured", "published", "synthetic"] | None = Field(
        None, description="what the curve rests on: measured counts, published values, or a synthetic trend")
    kind: Law | None = Field(None, description="the law: log-linear | probit | table (default: from the fields "
                                               "given; measured counts are fitted by probit, points by log-linear)")
    v_ref: Volts | None = Field(None, description="log-linear: reference voltage, V")
    ber_ref: Ber | None = Field(None, description="log-linear: BER at v_ref")
    mv_per_decade: PositiveFloat | None = Field(None, description="log-linear: mV of supply per decade of BER")
    mu: Volts | None = Field(None, description="probit: the voltage where BER = 0.5, V (the cells' mean Vmin)")
    sigma: PositiveFloat | None = Field(None, description="probit: spread of the cells' failure voltage, V")
    v_min: Volts | None = Field(None, description="lowest voltage of the domain, V")
    v_max: Volts | None = Field(None, description="highest voltage of the domain, V")
    table: Annotated[list[Point], Field(min_length=2, max_length=100_000)] | None = Field(
        None, description="[[vdd, ber], ...], interpolated linearly in log10 BER")
    points: Annotated[list[Point], Field(min_length=2, max_length=100_000)] | None = Field(
        None, description="[[vdd, ber], ...] the law (kind) is fitted to (default log-linear)")
    measured: Annotated[list[MeasuredPoint], Field(min_length=2, max_length=100_000)] | None = Field(
        None, description="measured counts [{vdd, faults, bits, note}], fitted by the law (default probit); "
                          "points with 0 faults are bounds, kept out of the fit")
    vdd_nominal: Volts | None = Field(None, description="nominal supply of the measured memory, V; an accelerator "
                                                        "with another weight-SRAM vdd_nominal maps it explicitly")
    node: str = Field("", description="technology node of the measured memory (e.g. 28 nm)")
    source: str = Field("", description="where the curve comes from (citation)")

    @model_validator(mode="after")
    def _consistent(self):
        fitted = [k for k in ("points", "measured", "table") if getattr(self, k) is not None]
        if len(fitted) > 1:
            raise PydanticCustomError("curve", "give one of points, measured and table (got {k})",
                                      {"k": ", ".join(fitted)})
        loglin = [k for k in ("v_ref", "ber_ref", "mv_per_decade") if getattr(self, k) is not None]
        probit = [k for k in ("mu", "sigma") if getattr(self, k) is not None]
        if loglin and probit:
            raise PydanticCustomError("curve", "log-linear ({a}) and probit ({b}) parameters exclude each other",
                                      {"a": ", ".join(loglin), "b": ", ".join(probit)})
        if (self.points is not None or self.measured is not None) and (
                self.ber_ref is not None or self.mv_per_decade is not None or probit):
            raise PydanticCustomError("curve", "points/measured (fitted) exclude ber_ref, mv_per_decade, mu and sigma")
        if self.table is not None and (loglin or probit or self.kind not in (None, "table")):
            raise PydanticCustomError("curve", "a table is its own law: no kind or law parameters beside it")
        if self.kind == "table" and self.table is None:
            raise PydanticCustomError("curve", "kind table needs table: [[vdd, ber], ...]")
        if self.kind == "probit" and loglin:
            raise PydanticCustomError("curve", "kind probit takes mu and sigma, not {a}", {"a": ", ".join(loglin)})
        if self.kind == "log-linear" and probit:
            raise PydanticCustomError("curve", "kind log-linear takes v_ref, ber_ref, mv_per_decade, not mu/sigma")
        if (self.kind == "probit" or probit) and self.points is None and self.measured is None and len(probit) < 2:
            raise PydanticCustomError("curve", "a probit curve needs mu and sigma (or measured points to fit)")
        for key in ("table", "points"):
            for i, (v, b) in enumerate(getattr(self, key) or []):
                if not 0 < v <= 100:
                    raise PydanticCustomError("curve", "{k}[{i}]: vdd {v} must be in (0, 100] V",
                                              {"k": key, "i": i, "v": v})
                if not 0 < b <= 0.5:
                    raise PydanticCustomError("curve", "{k}[{i}]: ber {b} must be in (0, 0.5]",
                                              {"k": key, "i": i, "b": b})
        for i, p in enumerate(self.measured or []):
            if p.faults > p.bits:
                raise PydanticCustomError("curve", "measured[{i}]: {f} faults among {b} bits",
                                          {"i": i, "f": p.faults, "b": p.bits})
        if self.v_min is not None and self.v_max is not None and self.v_min >= self.v_max:
            raise PydanticCustomError("curve", "v_min = {a} must be below v_max = {b}",
                                      {"a": self.v_min, "b": self.v_max})
        if not fitted:   # a law given by its parameters: all of them and its domain (no default law)
            need = ("v_ref", "ber_ref", "mv_per_decade") if (self.kind or "log-linear") == "log-linear" and not probit \
                else ()
            missing = [k for k in need if getattr(self, k) is None]
            if missing:
                raise PydanticCustomError("curve", "a log-linear curve needs v_ref, ber_ref and mv_per_decade "
                                          "(or points to fit); missing {m}", {"m": ", ".join(missing)})
            if self.v_min is None or self.v_max is None:
                raise PydanticCustomError("curve", "a curve given by its law's parameters needs its domain: "
                                          "v_min and v_max, V")
        return self
