"""Bit error rate of the weight SRAM as a function of its supply voltage.

The default model is log-linear below the safe voltage: log10 BER(V) falls linearly
with V, ``mv_per_decade`` millivolts per decade, through the reference point
(``v_ref``, ``ber_ref``). The defaults (``configs/ber_curve.yaml``) and their sources are
in docs/faults.md. A user curve is a YAML mapping with either these parameters, a
``table`` of (vdd, ber) points interpolated linearly in log10 BER, or measured ``points``
to which the log-linear model is fitted (:func:`fit_log_linear`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import BerCurveFile, validate

DEFAULT_CURVE_FILE = Path(__file__).resolve().parents[1] / "configs" / "ber_curve.yaml"


@dataclass(frozen=True)
class BerCurve:
    """BER(V); ``v_min``..``v_max`` is the domain where it is defined (volts)."""

    v_ref: float = 0.50
    ber_ref: float = 1e-2
    mv_per_decade: float = 30.0
    v_min: float = 0.45
    v_max: float = 0.90
    table: tuple[tuple[float, float], ...] = ()
    source: str = ""

    def _check(self, vdd) -> np.ndarray:
        v = np.asarray(vdd, dtype=np.float64)
        if np.any(~np.isfinite(v)) or np.any(v < self.v_min - 1e-12) or np.any(v > self.v_max + 1e-12):
            bad = v[(v < self.v_min - 1e-12) | (v > self.v_max + 1e-12) | ~np.isfinite(v)].ravel()[0]
            raise UserError(f"vdd = {bad} V is outside the BER curve's domain [{self.v_min}, {self.v_max}] V")
        return v

    def ber(self, vdd):
        """BER at vdd (volts); scalar in, scalar out."""
        v = self._check(vdd)
        if self.table:
            tv, tb = np.array(self.table).T
            out = 10 ** np.interp(v, tv, np.log10(tb))
        else:
            out = self.ber_ref * 10 ** ((self.v_ref - v) * 1000.0 / self.mv_per_decade)
        out = np.minimum(out, 0.5)
        return float(out) if np.ndim(out) == 0 else out

    def vdd_for_ber(self, ber):
        """The voltage at which BER(V) = ber (inverse of :meth:`ber`)."""
        b = np.asarray(ber, dtype=np.float64)
        if np.any(b <= 0) or np.any(b > 0.5):
            raise UserError(f"ber = {ber} must be in (0, 0.5] to map to a voltage")
        if self.table:
            tv, tb = np.array(self.table).T
            order = np.argsort(tb)
            v = np.interp(np.log10(b), np.log10(tb)[order], tv[order])
        else:
            v = self.v_ref - np.log10(b / self.ber_ref) * self.mv_per_decade / 1000.0
        return float(v) if np.ndim(v) == 0 else v

    def sample_thresholds(self, u: np.ndarray, v_low: float) -> np.ndarray:
        """Failure thresholds of cells known to fail at v_low: V_th = BER^-1(u * BER(v_low)),
        u uniform in (0, 1], so that P(V_th > V | fails at v_low) = BER(V) / BER(v_low)."""
        return self.vdd_for_ber(np.clip(u, 1e-300, 1.0) * self.ber(v_low))


@dataclass(frozen=True)
class CurveFit:
    """A least-squares fit of log10 BER = a + b * V to measured points."""

    v_ref: float          # volts; the fit is reported through (v_ref, ber_ref)
    ber_ref: float
    mv_per_decade: float  # mV of supply per decade of BER (= -1000 / b)
    rms_decades: float    # RMS residual of the fit, in decades of BER
    n_points: int


def fit_log_linear(points, v_ref: float | None = None) -> CurveFit:
    """Fit log10 BER linearly in V to ``points`` = [(vdd volts, ber), ...] (>= 2 distinct
    voltages, 0 < ber <= 0.5); the line is reported through ``v_ref`` (default: the lowest
    voltage of the points). A fit whose BER rises with voltage is refused."""
    try:
        pts = np.array([(float(v), float(b)) for v, b in points], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError("BER curve points must be a list of [vdd, ber] pairs") from None
    if len(pts) < 2 or len(np.unique(pts[:, 0])) < 2:
        raise UserError("BER curve points: need at least 2 points at different voltages")
    if np.any(~np.isfinite(pts)) or np.any(pts[:, 1] <= 0) or np.any(pts[:, 1] > 0.5):
        raise UserError("BER curve points: every ber must be in (0, 0.5]")
    v, y = pts[:, 0], np.log10(pts[:, 1])
    slope, intercept = np.polyfit(v, y, 1)
    if slope >= 0:
        raise UserError("BER curve points: the fitted BER does not fall as the voltage rises")
    v_ref = float(v.min()) if v_ref is None else float(v_ref)
    rms = float(np.sqrt(np.mean((intercept + slope * v - y) ** 2)))
    return CurveFit(v_ref=v_ref, ber_ref=float(10 ** (intercept + slope * v_ref)),
                    mv_per_decade=float(-1000.0 / slope), rms_decades=rms, n_points=len(pts))


def load_curve(path: str | Path | None = None) -> BerCurve:
    """The default curve, or a user's YAML (parameters, a table, or points to fit)."""
    path = Path(path) if path else DEFAULT_CURVE_FILE
    return curve_from_dict(read_yaml(path, "BER curve file", mapping=False), f"BER curve file {path}")


def curve_from_dict(d, where: str = "BER curve") -> BerCurve:
    """The curve of a parsed YAML mapping (or an already validated
    :class:`accelsim.schema.BerCurveFile`)."""
    if not isinstance(d, BerCurveFile):
        if not isinstance(d, dict):
            raise UserError(f"{where}: expected a mapping")
        d = validate(BerCurveFile, d, where)
    return curve_from_model(d, where)


def curve_from_model(f: BerCurveFile, where: str = "BER curve") -> BerCurve:
    kw = {}
    if f.points is not None:
        try:
            fit = fit_log_linear(f.points)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        volts = [v for v, _ in f.points]
        kw.update(v_ref=fit.v_ref, ber_ref=fit.ber_ref, mv_per_decade=fit.mv_per_decade,
                  v_min=float(min(volts)), v_max=float(max(volts)))
    for key in ("v_ref", "ber_ref", "mv_per_decade", "v_min", "v_max"):
        if getattr(f, key) is not None:
            kw[key] = float(getattr(f, key))
    if f.points is not None and f.v_ref is not None:
        kw["ber_ref"] = fit.ber_ref * 10 ** ((fit.v_ref - kw["v_ref"]) * 1000.0 / fit.mv_per_decade)
    if f.table is not None:
        table = tuple(sorted((float(v), float(b)) for v, b in f.table))
        if any(b2 > b1 for (_, b1), (_, b2) in zip(table, table[1:])):
            raise UserError(f"{where}: table: BER must not increase with voltage")
        if len({v for v, _ in table}) != len(table):
            raise UserError(f"{where}: table: a voltage appears twice")
        kw["table"] = table
        kw.setdefault("v_min", table[0][0])
        kw.setdefault("v_max", table[-1][0])
    curve = BerCurve(**kw, source=f.source)
    if not 0 < curve.ber_ref <= 0.5 or not np.isfinite(curve.ber_ref) or curve.v_min >= curve.v_max:
        raise UserError(f"{where}: need 0 < ber_ref <= 0.5 and v_min < v_max "
                        f"(got ber_ref {curve.ber_ref:g}, v_min {curve.v_min}, v_max {curve.v_max})")
    if curve.table and (curve.v_min < curve.table[0][0] or curve.v_max > curve.table[-1][0]):
        # outside its points the table would hold its end value flat: a BER it never measured
        raise UserError(f"{where}: v_min..v_max [{curve.v_min}, {curve.v_max}] V reaches beyond the table's "
                        f"voltages [{curve.table[0][0]}, {curve.table[-1][0]}] V")
    return curve


def curve_params(curve: BerCurve) -> dict:
    """The canonical, JSON-able parameters of a curve (what campaigns store and hash)."""
    out = {k: getattr(curve, k) for k in ("v_ref", "ber_ref", "mv_per_decade", "v_min", "v_max")}
    if curve.table:
        out["table"] = [list(p) for p in curve.table]
    return out
