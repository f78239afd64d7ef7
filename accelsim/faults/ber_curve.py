"""Bit error rate of the weight SRAM as a function of its supply voltage.

Three laws (docs/faults.md gives the packaged curves and their sources):

- ``probit``: BER(V) = Phi((mu - V) / sigma), the share of cells whose failure voltage,
  Gaussian with mean ``mu`` and spread ``sigma`` (volts), lies above V. The default
  curve is this law fitted (:func:`fit_probit`) to the fault counts Salami et al.
  measured on a 28 nm VC707 board (``configs/ber-salami-vc707.yaml``).
- ``log-linear``: log10 BER falls linearly with V, ``mv_per_decade`` millivolts per
  decade, through (``v_ref``, ``ber_ref``); the earlier default trend, kept as the
  ``synthetic`` curve (``configs/ber-synthetic.yaml``).
- ``table``: (vdd, ber) points interpolated linearly in log10 BER.

A curve states the nominal voltage of the memory it was measured on
(``vdd_nominal``); :func:`map_to_nominal` maps it onto an accelerator's weight SRAM
with another nominal voltage, explicitly (``scale`` or ``shift``), and refuses otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field
from scipy.special import ndtr, ndtri

from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.schema import BerCurveFile, validate

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_CURVE_FILE = CONFIGS / "ber-salami-vc707.yaml"
SYNTHETIC_CURVE_FILE = CONFIGS / "ber-synthetic.yaml"
MAPPINGS = ("scale", "shift")


class BerCurve(BerCurveFile):
    """BER(V) as the fault models receive it: the validated :class:`accelsim.schema.BerCurveFile`
    (its fields and their defaults are stated there only) with its law resolved by
    :func:`curve_from_model`: ``kind`` set, the law's parameters given or fitted (the
    fitted ``points``/``measured`` are folded into them and cleared), the domain
    ``v_min``..``v_max`` (volts) set. The fields below are what resolving adds."""

    measured_lo: float | None = Field(None, description="lowest voltage of the points the law was fitted to, V "
                                                        "(None: no measurement); outside the span it is extrapolated")
    measured_hi: float | None = Field(None, description="highest voltage of those points, V")
    mapping: str = Field("", description="how it was mapped onto the accelerator (e.g. 'scale 1.0 -> 0.9 V')")
    curve_volts_per_volt: float = Field(1.0, description="d V_curve / d V of that mapping (a chip's Vmin shift "
                                                         "converts by it)")

    def _check(self, vdd) -> np.ndarray:
        v = np.asarray(vdd, dtype=np.float64)
        if np.any(~np.isfinite(v)) or np.any(v < self.v_min - 1e-12) or np.any(v > self.v_max + 1e-12):
            bad = v[(v < self.v_min - 1e-12) | (v > self.v_max + 1e-12) | ~np.isfinite(v)].ravel()[0]
            raise UserError(f"vdd = {bad} V is outside the BER curve's domain [{self.v_min}, {self.v_max}] V")
        return v

    def law(self, v: np.ndarray) -> np.ndarray:
        """The law at v (volts), unchecked and uncapped: also beyond the domain (a chip's
        Vmin shift reads the curve a few mV outside it)."""
        v = np.asarray(v, dtype=np.float64)
        if self.kind == "table":
            tv, tb = np.array(self.table).T
            return 10 ** np.interp(v, tv, np.log10(tb))
        if self.kind == "probit":
            return ndtr((self.mu - v) / self.sigma)
        return self.ber_ref * 10 ** ((self.v_ref - v) * 1000.0 / self.mv_per_decade)

    def ber(self, vdd):
        """BER at vdd (volts), capped at 0.5; scalar in, scalar out."""
        out = np.minimum(self.law(self._check(vdd)), 0.5)
        return float(out) if np.ndim(out) == 0 else out

    def inverse(self, ber):
        """The voltage where the law equals ``ber`` (unchecked; inverse of :meth:`law`)."""
        b = np.asarray(ber, dtype=np.float64)
        if self.kind == "table":
            tv, tb = np.array(self.table).T
            order = np.argsort(tb)
            v = np.interp(np.log10(b), np.log10(tb)[order], tv[order])
        elif self.kind == "probit":
            v = self.mu - self.sigma * ndtri(b)
        else:
            v = self.v_ref - np.log10(b / self.ber_ref) * self.mv_per_decade / 1000.0
        return float(v) if np.ndim(v) == 0 else v

    def vdd_for_ber(self, ber):
        """The voltage at which BER(V) = ber (inverse of :meth:`ber`)."""
        b = np.asarray(ber, dtype=np.float64)
        if np.any(b <= 0) or np.any(b > 0.5):
            raise UserError(f"ber = {ber} must be in (0, 0.5] to map to a voltage")
        return self.inverse(b)

    def sample_thresholds(self, u: np.ndarray, v_low: float) -> np.ndarray:
        """Failure thresholds of cells known to fail at v_low: V_th = BER^-1(u * BER(v_low)),
        u uniform in (0, 1], so that P(V_th > V | fails at v_low) = BER(V) / BER(v_low)."""
        return self.vdd_for_ber(np.clip(u, 1e-300, 1.0) * self.ber(v_low))

    def extrapolated(self, vdd) -> bool:
        """True where vdd lies outside the measured points' span (the law's own guess)."""
        if self.measured_lo is None:
            return False
        return not self.measured_lo - 1e-9 <= float(vdd) <= self.measured_hi + 1e-9

    def describe(self) -> str:
        """One line naming the curve, its law and its mapping (printed in headlines)."""
        law = (f"probit mu {self.mu:.4g} V, sigma {self.sigma * 1000:.3g} mV" if self.kind == "probit" else
               f"log-linear {self.mv_per_decade:.3g} mV/decade through {self.ber_ref:.3g} at {self.v_ref:.4g} V"
               if self.kind == "log-linear" else f"table of {len(self.table)} points")
        bits = [self.name or "unnamed", self.label, self.node, law]
        if self.measured_lo is not None:
            bits.append(f"measured {self.measured_lo:.4g}-{self.measured_hi:.4g} V, extrapolated beyond")
        if self.mapping:
            bits.append(f"mapped {self.mapping}")
        return ", ".join(b for b in bits if b)

    def info(self) -> dict:
        """JSON-able description (report provenance): name, label, law, span, mapping."""
        return {"name": self.name, "label": self.label, "node": self.node, "kind": self.kind,
                "vdd_nominal": self.vdd_nominal, "measured_lo": self.measured_lo, "measured_hi": self.measured_hi,
                "mapping": self.mapping, "source": self.source, "describe": self.describe()}


@dataclass(frozen=True)
class CurveFit:
    """A least-squares fit of log10 BER = a + b * V to measured points."""

    v_ref: float          # volts; the fit is reported through (v_ref, ber_ref)
    ber_ref: float
    mv_per_decade: float  # mV of supply per decade of BER (= -1000 / b)
    rms_decades: float    # RMS residual of the fit, in decades of BER
    n_points: int


@dataclass(frozen=True)
class ProbitFit:
    """BER = Phi((mu - V) / sigma) fitted to measured points by least squares in log10 BER."""

    mu: float             # volts: where BER would reach 0.5
    sigma: float          # volts: spread of the cells' failure voltage
    rms_decades: float    # RMS residual in decades of BER over the fitted points
    n_points: int
    v_lo: float           # span of the points fitted (volts)
    v_hi: float


def _points(points, where: str = "BER curve points") -> np.ndarray:
    try:
        pts = np.array([(float(v), float(b)) for v, b in points], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{where} must be a list of [vdd, ber] pairs") from None
    if len(pts) < 2 or len(np.unique(pts[:, 0])) < 2:
        raise UserError(f"{where}: need at least 2 points at different voltages")
    if np.any(~np.isfinite(pts)) or np.any(pts[:, 1] <= 0) or np.any(pts[:, 1] > 0.5):
        raise UserError(f"{where}: every ber must be in (0, 0.5]")
    return pts


def fit_log_linear(points, v_ref: float | None = None) -> CurveFit:
    """Fit log10 BER linearly in V to ``points`` = [(vdd volts, ber), ...] (>= 2 distinct
    voltages, 0 < ber <= 0.5); the line is reported through ``v_ref`` (default: the lowest
    voltage of the points). A fit whose BER rises with voltage is refused."""
    pts = _points(points)
    v, y = pts[:, 0], np.log10(pts[:, 1])
    slope, intercept = np.polyfit(v, y, 1)
    if slope >= 0:
        raise UserError("BER curve points: the fitted BER does not fall as the voltage rises")
    v_ref = float(v.min()) if v_ref is None else float(v_ref)
    rms = float(np.sqrt(np.mean((intercept + slope * v - y) ** 2)))
    return CurveFit(v_ref=v_ref, ber_ref=float(10 ** (intercept + slope * v_ref)),
                    mv_per_decade=float(-1000.0 / slope), rms_decades=rms, n_points=len(pts))


def fit_probit(points) -> ProbitFit:
    """Fit BER = Phi((mu - V) / sigma) to ``points`` = [(vdd volts, ber), ...] (>= 2 distinct
    voltages, 0 < ber <= 0.5), minimising the squared error in log10 BER (each decade
    weighs the same, as a plot on a log axis reads). Start: the straight line of
    Phi^-1(BER) against V; then Gauss-Newton steps (deterministic, no random start)."""
    pts = _points(points)
    v, y = pts[:, 0], np.log10(pts[:, 1])
    slope, intercept = np.polyfit(v, ndtri(pts[:, 1]), 1)
    if slope >= 0:
        raise UserError("BER curve points: the fitted BER does not fall as the voltage rises")
    sigma, mu = -1.0 / slope, -intercept / slope

    def residual(m, s):
        return np.log10(np.maximum(ndtr((m - v) / s), 1e-300)) - y

    r = residual(mu, sigma)
    for _ in range(200):
        eps_m, eps_s = 1e-7, 1e-7 * sigma
        jac = np.stack([(residual(mu + eps_m, sigma) - r) / eps_m,
                        (residual(mu, sigma + eps_s) - r) / eps_s], axis=1)
        step, *_ = np.linalg.lstsq(jac, -r, rcond=None)
        lam = 1.0
        while lam > 1e-6:   # halve the step until the error falls (and sigma stays > 0)
            m2, s2 = mu + lam * step[0], sigma + lam * step[1]
            if s2 > 0 and np.sum(residual(m2, s2) ** 2) < np.sum(r ** 2):
                break
            lam /= 2
        else:
            break
        mu, sigma = m2, s2
        r = residual(mu, sigma)
        if abs(step[0]) * lam < 1e-12 and abs(step[1]) * lam < 1e-12:
            break
    return ProbitFit(mu=float(mu), sigma=float(sigma), rms_decades=float(np.sqrt(np.mean(r ** 2))),
                     n_points=len(pts), v_lo=float(v.min()), v_hi=float(v.max()))


def measured_points(f: BerCurveFile) -> list[tuple[float, float]]:
    """(vdd, BER = faults / bits) of the measured points with at least one fault."""
    return [(p.vdd, p.faults / p.bits) for p in f.measured or () if p.faults > 0]


def load_curve(path: str | Path | None = None) -> BerCurve:
    """The default (measured) curve, or a user's YAML (parameters, a table, or points to fit)."""
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


def _kind(f: BerCurveFile) -> str:
    if f.kind:
        return f.kind
    if f.table is not None:
        return "table"
    if f.measured is not None or f.mu is not None:
        return "probit"
    return "log-linear"


def curve_from_model(f: BerCurveFile, where: str = "BER curve") -> BerCurve:
    kind = _kind(f)
    kw: dict = {"kind": kind, "points": None, "measured": None}   # fitted into the law below
    pts = measured_points(f) if f.measured is not None else f.points
    # the measured span: every measured voltage (0-fault bounds too), or the points fitted
    volts = [p.vdd for p in f.measured] if f.measured is not None else [v for v, _ in pts] if pts is not None else None
    if volts is not None:
        kw.update(measured_lo=float(min(volts)), measured_hi=float(max(volts)))
    try:
        if pts is not None and kind == "probit":
            pf = fit_probit(pts)
            kw.update(mu=pf.mu, sigma=pf.sigma, v_min=float(min(volts)), v_max=float(max(volts)))
        elif pts is not None:
            fit = fit_log_linear(pts)
            kw.update(v_ref=fit.v_ref, ber_ref=fit.ber_ref, mv_per_decade=fit.mv_per_decade,
                      v_min=float(min(volts)), v_max=float(max(volts)))
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    for key in ("v_ref", "ber_ref", "mv_per_decade", "mu", "sigma", "v_min", "v_max"):
        if getattr(f, key) is not None:   # given beside a fit: the given value holds
            kw[key] = float(getattr(f, key))
    if pts is not None and kind == "log-linear" and f.v_ref is not None:
        kw["ber_ref"] = fit.ber_ref * 10 ** ((fit.v_ref - kw["v_ref"]) * 1000.0 / fit.mv_per_decade)
    if f.table is not None:
        table = tuple(sorted((float(v), float(b)) for v, b in f.table))
        if any(b2 > b1 for (_, b1), (_, b2) in zip(table, table[1:])):
            raise UserError(f"{where}: table: BER must not increase with voltage")
        if len({v for v, _ in table}) != len(table):
            raise UserError(f"{where}: table: a voltage appears twice")
        kw["table"] = [list(p) for p in table]
        kw.setdefault("v_min", table[0][0])
        kw.setdefault("v_max", table[-1][0])
    # the file's values as validated, the law's resolved on top (no second validation:
    # a fit's parameters are checked by _check_curve, with its own messages)
    curve = BerCurve.model_construct(**{**dict(f), **kw})
    _check_curve(curve, where)
    return curve


def _check_curve(curve: BerCurve, where: str) -> None:
    if curve.v_min >= curve.v_max:
        raise UserError(f"{where}: need v_min < v_max (got v_min {curve.v_min}, v_max {curve.v_max})")
    if curve.kind == "log-linear" and not (0 < curve.ber_ref <= 0.5 and np.isfinite(curve.ber_ref)):
        raise UserError(f"{where}: need 0 < ber_ref <= 0.5 (got ber_ref {curve.ber_ref:g})")
    if curve.kind == "probit" and curve.v_min <= curve.mu:
        # at V <= mu half the cells or more fail: no longer a bit error rate a code can meet
        raise UserError(f"{where}: v_min = {curve.v_min} V must lie above mu = {curve.mu:.4g} V "
                        "(BER reaches 0.5 there)")
    if curve.table and (curve.v_min < curve.table[0][0] or curve.v_max > curve.table[-1][0]):
        # outside its points the table would hold its end value flat: a BER it never measured
        raise UserError(f"{where}: v_min..v_max [{curve.v_min}, {curve.v_max}] V reaches beyond the table's "
                        f"voltages [{curve.table[0][0]}, {curve.table[-1][0]}] V")


def map_to_nominal(curve: BerCurve, vdd_nominal: float, mapping: str | None,
                   where: str = "BER curve") -> BerCurve:
    """The curve in the volts of a weight SRAM whose nominal supply is ``vdd_nominal``.

    A curve measured at another nominal voltage needs an explicit ``mapping``: ``scale``
    (V_curve = V * curve_nominal / vdd_nominal: the same fraction of nominal fails the
    same) or ``shift`` (V_curve = V + curve_nominal - vdd_nominal: the same guardband
    below nominal). Without one it is refused; a curve without ``vdd_nominal`` is taken
    as given in the accelerator's volts. Both maps are affine, so each law keeps its form."""
    if mapping not in (None, "none", *MAPPINGS):
        raise UserError(f"{where}: mapping {mapping!r}: expected scale, shift or none")
    if curve.vdd_nominal is None or abs(curve.vdd_nominal - vdd_nominal) < 1e-12:
        return curve
    if mapping in (None, "none"):
        raise UserError(f"{where}: the curve {curve.name or ''} was measured at nominal {curve.vdd_nominal} V but the "
                        f"weight SRAM's vdd_nominal is {vdd_nominal} V; set weight_sram.ber_mapping: scale or shift "
                        "in the accelerator config (docs/faults.md)")
    a, b = ((curve.vdd_nominal / vdd_nominal, 0.0) if mapping == "scale"
            else (1.0, curve.vdd_nominal - vdd_nominal))

    def back(v):   # accelerator volts of the curve's volts v: V = (v - b) / a (rounded off float dust)
        if v is None:
            return None
        return round(v * vdd_nominal / curve.vdd_nominal if mapping == "scale" else v - b, 12)

    def per(x):
        return None if x is None else x / a

    return curve.model_copy(update=dict(
        v_ref=back(curve.v_ref), mv_per_decade=per(curve.mv_per_decade), mu=back(curve.mu), sigma=per(curve.sigma),
        v_min=back(curve.v_min), v_max=back(curve.v_max),
        table=None if curve.table is None else [[back(v), ber] for v, ber in curve.table],
        vdd_nominal=float(vdd_nominal), measured_lo=back(curve.measured_lo), measured_hi=back(curve.measured_hi),
        mapping=f"{mapping} {curve.vdd_nominal:g} V -> {vdd_nominal:g} V",
        curve_volts_per_volt=curve.curve_volts_per_volt * a))


def curve_params(curve: BerCurve) -> dict:
    """The canonical, JSON-able parameters of a curve's law (what campaigns store and hash)."""
    if curve.kind == "probit":
        return {"kind": "probit", "mu": curve.mu, "sigma": curve.sigma, "v_min": curve.v_min, "v_max": curve.v_max}
    if curve.kind == "table":
        return {"table": [list(p) for p in curve.table], "v_min": curve.v_min, "v_max": curve.v_max}
    return {k: getattr(curve, k) for k in ("v_ref", "ber_ref", "mv_per_decade", "v_min", "v_max")}


def fit_report(path: str | Path, law: str = "probit") -> dict:
    """Fit ``law`` (probit | log-linear) to the measured counts or points of a curve file:
    the fitted parameters, the RMS residual in decades, and per point the measured and the
    fitted BER (points with 0 faults: the fit's expected count there)."""
    f = validate(BerCurveFile, read_yaml(path, "BER curve file", mapping=False), f"BER curve file {path}")
    if f.measured is None and f.points is None:
        raise UserError(f"BER curve file {path}: nothing to fit (give measured: or points:)")
    pts = measured_points(f) if f.measured is not None else [tuple(p) for p in f.points]
    try:
        fit = fit_probit(pts) if law == "probit" else fit_log_linear(pts)
    except UserError as exc:
        raise UserError(f"BER curve file {path}: {exc}") from None
    curve = (BerCurve.model_construct(kind="probit", mu=fit.mu, sigma=fit.sigma) if law == "probit" else
             BerCurve.model_construct(kind="log-linear", v_ref=fit.v_ref, ber_ref=fit.ber_ref,
                                      mv_per_decade=fit.mv_per_decade))   # its law only, read unchecked
    # the schema allows one of measured and points
    rows = ([{"vdd": p.vdd, "faults": p.faults, "bits": p.bits, "ber": p.faults / p.bits} for p in f.measured]
            if f.measured is not None else [{"vdd": v, "faults": None, "bits": None, "ber": b} for v, b in f.points])
    for r in rows:
        r["fitted"] = float(min(curve.law(r["vdd"]), 0.5))
        if r["faults"] is not None:
            r["expected_faults"] = r["fitted"] * r["bits"]
    params = ({"mu": fit.mu, "sigma": fit.sigma} if law == "probit" else
              {"v_ref": fit.v_ref, "ber_ref": fit.ber_ref, "mv_per_decade": fit.mv_per_decade})
    return {"file": str(path), "name": f.name, "law": law, "params": params, "rms_decades": fit.rms_decades,
            "fitted_points": fit.n_points, "points": rows, "vdd_nominal": f.vdd_nominal, "node": f.node,
            "source": f.source}
