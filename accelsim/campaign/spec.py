"""Campaign specifications: models x schemes x voltages (or BERs) x chips x repeats x
layer selection, read from YAML and validated before anything runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


from accelsim.ecc import get_layout
from accelsim.errors import UserError
from accelsim.fileio import read_yaml, sha256_file
from accelsim.faults import BerCurve, ChipFaultMap, curve_params, load_curve
from accelsim.faults.ber_curve import curve_from_model
from accelsim.schema import MAX_TRIALS, BerCurveFile, CampaignSpec, validate

# which trained checkpoint variant serves each scheme, by the zoo's naming convention
SCHEME_VARIANT = {
    "none-8b": "int8", "ecc-8b-72": "int8", "inplace-8b-64": "int8-wot-inplace-8b-64",
    "none-4b": "int4", "inplace-4b-64": "int4-wot-inplace-4b-64", "inplace-4b-32": "int4-wot-inplace-4b-32",
}


@dataclass
class Spec:
    name: str
    seed: int
    checkpoints: dict[tuple[str, str], str]   # (model, scheme) -> checkpoint stem
    models: list[str]
    schemes: list[str]
    voltages: list[float] | None
    bers: list[float] | None
    fault_model: str
    chips: int
    repeats: int
    layers: list[str] | str
    samples: int
    engine: str
    policy: str
    curve: BerCurve
    curve_dict: dict = field(default_factory=dict)
    p_stuck1: float = 0.5
    accelerator: str | None = None
    energy_table: str | None = None
    map_floor: float | None = None       # pinned v_low (spec field v_low)
    fault_map: str | None = None         # measured map CSV (fault_model: measured)
    fault_map_sha256: str | None = None

    def v_low(self) -> float:
        """The voltage every chip's map is drawn down to (nested): the spec's ``v_low`` if
        given, else the lowest voltage of the sweep."""
        if self.map_floor is not None:
            return self.map_floor
        if self.voltages:
            return min(self.voltages)
        return float(min(self.curve.vdd_for_ber(b) for b in self.bers))

    def n_trials(self, layer_names: dict[str, list[str]] | None = None) -> int:
        """How many trials :meth:`trials` gives, without building them."""
        per_point = len(self.voltages or self.bers or ()) * self.chips * self.repeats * len(self.schemes)
        if self.layers == "each":
            return sum(len((layer_names or {}).get(m, [])) for m in self.models) * per_point
        return len(self.models) * per_point * (1 if self.layers == "all" else len(self.layers))

    def trials(self, layer_names: dict[str, list[str]] | None = None) -> list[dict]:
        """Every trial's parameters (JSON-able); layer_names: model -> its weight layers
        (needed when layers == 'each')."""
        out = []
        points = ([("vdd", v) for v in self.voltages] if self.voltages else [("ber", b) for b in self.bers])
        n = self.n_trials(layer_names)
        if n > MAX_TRIALS:
            raise UserError(f"campaign spec {self.name!r}: {n:,} trials planned, more than the limit of {MAX_TRIALS:,}")
        for model in self.models:
            for scheme in self.schemes:
                if self.layers == "all":
                    selections = ["all"]
                elif self.layers == "each":
                    selections = list((layer_names or {}).get(model, []))
                else:
                    selections = list(self.layers)
                for sel in selections:
                    for kind, value in points:
                        vdd = value if kind == "vdd" else float(self.curve.vdd_for_ber(value))
                        ber = float(self.curve.ber(value)) if kind == "vdd" else value
                        for chip in range(self.chips):
                            for rep in range(self.repeats):
                                out.append({
                                    "campaign": self.name, "model": model, "scheme": scheme,
                                    "checkpoint": self.checkpoints[(model, scheme)],
                                    "fault_model": self.fault_model, "point": kind,
                                    "vdd": round(float(vdd), 6), "ber": float(ber), "chip": chip, "repeat": rep,
                                    "layers": sel, "samples": self.samples, "engine": self.engine,
                                    "policy": self.policy, "seed": self.seed, "v_low": round(self.v_low(), 6),
                                    "p_stuck1": self.p_stuck1, "curve": self.curve_dict,
                                    "accelerator": self.accelerator, "energy_table": self.energy_table,
                                })
                                if self.fault_map:   # only then: other trials keep their keys
                                    out[-1].update(fault_map=self.fault_map,
                                                   fault_map_sha256=self.fault_map_sha256)
        return out


def trial_key(params: dict) -> str:
    """SHA-256 of the full parameter set (the trial's identity and seed source)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _in_domain(values: list[float], key: str, curve: BerCurve, where: str) -> list[float]:
    for v in values:
        if not curve.v_min - 1e-12 <= v <= curve.v_max + 1e-12:
            raise UserError(f"{where}: {key} entry {v} is outside the BER curve's domain "
                            f"[{curve.v_min}, {curve.v_max}] V")
    return [float(v) for v in values]


def parse_spec(d, base_dir: Path = Path("."), where: str = "campaign spec") -> Spec:
    """A :class:`Spec` from a parsed YAML mapping (validated by
    :class:`accelsim.schema.CampaignSpec`) or an already validated model; then the
    checks that need files: the curve's domain, checkpoints, fault map, configs."""
    if not isinstance(d, CampaignSpec):
        if not isinstance(d, dict):
            raise UserError(f"{where}: expected a YAML mapping")
        d = validate(CampaignSpec, d, where)
    if isinstance(d.ber_curve, BerCurveFile):
        curve = curve_from_model(d.ber_curve, f"{where}: ber_curve")
    else:
        curve = load_curve(base_dir / d.ber_curve if d.ber_curve else None)
    voltages = bers = None
    if d.voltages is not None:
        voltages = _in_domain(d.voltages, "voltages", curve, where)
    else:
        bers = [float(b) for b in d.bers]
        if d.fault_model != "transient":
            _check_bers_on_curve(bers, curve, where)
    models_dir = base_dir / d.models_dir
    checkpoints = {}
    for model, overrides in d.models.items():
        overrides = overrides or {}
        for scheme in d.schemes:
            stem = overrides.get(scheme) or str(models_dir / f"{model}-{SCHEME_VARIANT[scheme]}")
            if not Path(stem).with_suffix(".yaml").is_file() or not Path(stem).with_suffix(".safetensors").is_file():
                raise UserError(f"{where}: no checkpoint {stem}(.yaml/.safetensors) for model {model!r}, scheme {scheme}")
            checkpoints[(model, scheme)] = str(stem)
    map_floor = None
    if d.v_low is not None:
        map_floor = _in_domain([d.v_low], "v_low", curve, where)[0]
        lowest = min(voltages) if voltages else min(float(curve.vdd_for_ber(b)) for b in bers)
        if map_floor > lowest + 1e-12:
            raise UserError(f"{where}: v_low = {map_floor} V is above the sweep's lowest voltage {lowest:.6g} V")
    fault_map = fault_map_sha = None
    if d.fault_model == "measured":
        fault_map, fault_map_sha = _check_fault_map(d.fault_map, base_dir, d.schemes)
    accelerator, policy = None, d.policy
    if d.accelerator is not None:
        from accelsim.hw import load_config
        accelerator = str(base_dir / d.accelerator)
        acc_policy = load_config(accelerator).policy   # a bad accelerator fails here, before any store exists
        # the spec's default policy used to replace the accelerator's (e.g. reread) without a word
        if "policy" in d.model_fields_set and d.policy != acc_policy:
            raise UserError(f"{where}: policy {d.policy} but accelerator config {accelerator} sets "
                            f"ecc.policy {acc_policy}: make them agree (or drop one)")
        policy = acc_policy
    energy_table = None
    if d.energy_table is not None:
        from accelsim.energy import load_table
        energy_table = str(base_dir / d.energy_table)
        load_table(energy_table)
    for key, value in (("accelerator", accelerator), ("energy_table", energy_table)):
        if value is not None and d.engine != "cycle":   # the fast engine simulates no hardware: it was ignored
            raise UserError(f"{where}: {key} is used only with engine: cycle (engine is {d.engine})")
    available = _test_images()
    if d.samples > available:   # the trials would silently score fewer images than the row says
        raise UserError(f"{where}: samples = {d.samples} is more than the {available} test images")
    return Spec(name=d.name, seed=d.seed, checkpoints=checkpoints, models=list(d.models), schemes=list(d.schemes),
                voltages=voltages, bers=bers, fault_model=d.fault_model, chips=d.chips, repeats=d.repeats,
                layers=d.layers if isinstance(d.layers, str) else list(d.layers), samples=d.samples,
                engine=d.engine, policy=policy, curve=curve, curve_dict=curve_params(curve),
                p_stuck1=float(d.p_stuck1), accelerator=accelerator, energy_table=energy_table,
                map_floor=map_floor, fault_map=fault_map, fault_map_sha256=fault_map_sha)


def _test_images() -> int:
    """How many test images a trial can score (the digits test split)."""
    from accelsim.nn import load_digits_split
    return int(len(load_digits_split().y_test))


def _check_bers_on_curve(bers: list[float], curve: BerCurve, where: str = "campaign spec") -> None:
    """Persistent faults need a voltage: each BER must be reached inside the curve's domain."""
    lo, hi = curve.ber(curve.v_max), curve.ber(curve.v_min)
    for b in bers:
        if not lo * (1 - 1e-9) <= b <= hi * (1 + 1e-9):
            raise UserError(f"{where}: bers entry {b} is outside the BER curve's range [{lo:.3g}, {hi:.3g}] "
                            f"(vdd {curve.v_max}..{curve.v_min} V); persistent faults need a voltage on the curve")


def _check_fault_map(fault_map: str, base_dir: Path, schemes: list[str]) -> tuple[str, str]:
    """The measured map's path and sha256 (part of the trial key), after checking that
    it parses and fits the words of every scheme."""
    path = base_dir / fault_map
    for scheme in schemes:
        ChipFaultMap.from_csv(path, width=get_layout(scheme).word_bits)
    return str(path), sha256_file(path)


def load_spec(path: str | Path) -> Spec:
    return parse_spec(read_yaml(path, "campaign spec"), Path("."), f"campaign spec {path}")
