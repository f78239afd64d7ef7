"""Campaign specifications: models x schemes x voltages (or BERs) x chips x repeats x
layer selection, read from YAML and validated before anything runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


from accelsim.ecc import get_layout, list_layouts
from accelsim.errors import UserError
from accelsim.fileio import read_yaml
from accelsim.fileio import sha256_file
from accelsim.faults import BerCurve, ChipFaultMap, curve_from_dict, curve_params, load_curve

from accelsim.campaign.sources import SCHEME_VARIANT, ModelSource, check_sources, parse_models  # noqa: F401
from accelsim.nn.data import DataSpec, evaluation_set, fingerprint, parse_data

FAULT_MODELS = ("persistent", "transient", "stuck", "measured")
ENGINES = ("fast", "cycle")
POLICIES = ("pass", "zero")
KNOWN = {"name", "seed", "models", "schemes", "voltages", "bers", "fault_model", "chips", "repeats",
         "layers", "samples", "engine", "policy", "ber_curve", "models_dir", "p_stuck1", "accelerator",
         "energy_table", "v_low", "fault_map", "data", "metric"}
METRICS = ("accuracy", "sdc")


@dataclass
class Spec:
    name: str
    seed: int
    checkpoints: dict[tuple[str, str], ModelSource]   # (model, scheme) -> its weights
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
    data: DataSpec = field(default_factory=DataSpec)
    data_sha256: str | None = None       # of the evaluated subset (None for the default digits)
    metric: str = "accuracy"             # what the headline's tolerance applies to

    def v_low(self) -> float:
        """The voltage every chip's map is drawn down to (nested): the spec's ``v_low`` if
        given, else the lowest voltage of the sweep."""
        if self.map_floor is not None:
            return self.map_floor
        if self.voltages:
            return min(self.voltages)
        return float(min(self.curve.vdd_for_ber(b) for b in self.bers))

    def trials(self, layer_names: dict[str, list[str]] | None = None) -> list[dict]:
        """Every trial's parameters (JSON-able); layer_names: model -> its weight layers
        (needed when layers == 'each')."""
        out = []
        points = ([("vdd", v) for v in self.voltages] if self.voltages else [("ber", b) for b in self.bers])
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
                                    "checkpoint": self.checkpoints[(model, scheme)].key,
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
                                if not self.data.is_default:   # digits trials keep their keys
                                    out[-1].update(data=self.data.to_dict(), data_sha256=self.data_sha256)
        return out


def trial_key(params: dict) -> str:
    """SHA-256 of the full parameter set (the trial's identity and seed source)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _number_list(d: dict, key: str, lo: float, hi: float, what: str) -> list[float]:
    values = d[key]
    if not isinstance(values, list) or not values:
        raise UserError(f"campaign spec: {key} must be a non-empty list")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserError(f"campaign spec: {key} entry {v!r} is not a number")
        if not lo <= float(v) <= hi:
            raise UserError(f"campaign spec: {key} entry {v} is outside {what}")
        out.append(float(v))
    return out


def parse_spec(d, base_dir: Path = Path(".")) -> Spec:
    if not isinstance(d, dict):
        raise UserError("campaign spec: expected a YAML mapping")
    unknown = set(d) - KNOWN
    if unknown:
        raise UserError(f"campaign spec: unknown field(s) {', '.join(sorted(unknown))}")
    curve_src = d.get("ber_curve")
    if isinstance(curve_src, dict):
        curve = curve_from_dict(curve_src, "campaign spec ber_curve")
    else:
        curve = load_curve(base_dir / curve_src if curve_src else None)
    curve_dict = curve_params(curve)
    schemes = d.get("schemes")
    if not isinstance(schemes, list) or not schemes:
        raise UserError(f"campaign spec: schemes must be a non-empty list of layouts ({', '.join(list_layouts())})")
    for s in schemes:
        get_layout(s)
    if ("voltages" in d) == ("bers" in d):
        raise UserError("campaign spec: give exactly one of voltages or bers")
    voltages = bers = None
    if "voltages" in d:
        voltages = _number_list(d, "voltages", curve.v_min, curve.v_max,
                                f"the BER curve's domain [{curve.v_min}, {curve.v_max}] V")
    else:
        bers = _number_list(d, "bers", 0.0, 0.5, "(0, 0.5]")
        if any(b <= 0 for b in bers):
            raise UserError("campaign spec: bers must be > 0")
        if d.get("fault_model", "persistent") != "transient":
            _check_bers_on_curve(bers, curve)
    from accelsim.nn.modelref import bundled_models_dir
    models_dir = base_dir / str(d["models_dir"]) if "models_dir" in d else bundled_models_dir()
    models, sources = parse_models(d.get("models"), list(schemes), base_dir, models_dir)
    def count(key, default, lo=1):
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise UserError(f"campaign spec: {key} = {v!r} must be an integer >= {lo}")
        return v
    fault_model = d.get("fault_model", "persistent")
    if fault_model not in FAULT_MODELS:
        raise UserError(f"campaign spec: fault_model {fault_model!r} is not one of {', '.join(FAULT_MODELS)}")
    engine = d.get("engine", "fast")
    if engine not in ENGINES:
        raise UserError(f"campaign spec: engine {engine!r} is not one of {', '.join(ENGINES)}")
    policy = d.get("policy", "pass")
    if policy not in POLICIES:
        raise UserError(f"campaign spec: policy {policy!r} is not one of {', '.join(POLICIES)}")
    layers = d.get("layers", "all")
    if not (layers in ("all", "each") or (isinstance(layers, list) and layers and all(isinstance(x, str) for x in layers))):
        raise UserError("campaign spec: layers must be 'all', 'each' or a list of layer names (or conv, linear)")
    p1 = d.get("p_stuck1", 0.5)
    if isinstance(p1, bool) or not isinstance(p1, (int, float)) or not 0 <= p1 <= 1:
        raise UserError(f"campaign spec: p_stuck1 = {p1!r} must be a number in [0, 1]")
    p1 = float(p1)
    map_floor = None
    if "v_low" in d:
        map_floor = _number_list({"v_low": [d["v_low"]]}, "v_low", curve.v_min, curve.v_max,
                                 f"the BER curve's domain [{curve.v_min}, {curve.v_max}] V")[0]
        lowest = min(voltages) if voltages else min(float(curve.vdd_for_ber(b)) for b in bers)
        if map_floor > lowest + 1e-12:
            raise UserError(f"campaign spec: v_low = {map_floor} V is above the sweep's lowest voltage {lowest:.6g} V")
    fault_map = fault_map_sha = None
    if fault_model == "measured":
        fault_map, fault_map_sha = _check_fault_map(d, base_dir, schemes)
    elif "fault_map" in d:
        raise UserError("campaign spec: fault_map needs fault_model: measured")
    accelerator = d.get("accelerator")
    if accelerator is not None:
        accelerator = str(base_dir / accelerator)
        if not Path(accelerator).exists():
            raise UserError(f"campaign spec: accelerator config {accelerator!r} does not exist")
    energy_table = d.get("energy_table")
    if energy_table is not None:
        from accelsim.energy import load_table
        energy_table = str(base_dir / energy_table)
        load_table(energy_table)
    samples = count("samples", 450)
    data_spec = parse_data(d.get("data"), base_dir, "campaign spec: data")
    data = evaluation_set(data_spec, samples)
    metric = d.get("metric", "accuracy" if data.labelled else "sdc")
    if metric not in METRICS:
        raise UserError(f"campaign spec: metric {metric!r} is not one of {', '.join(METRICS)}")
    if metric == "accuracy" and not data.labelled:
        raise UserError(f"campaign spec: metric accuracy needs labels, and data {data_spec.text} has none; use metric: sdc")
    sources = check_sources(sources, data)
    spec = Spec(name=str(d.get("name", "campaign")), seed=count("seed", 0, 0), checkpoints=sources,
                models=models, schemes=list(schemes), voltages=voltages, bers=bers,
                fault_model=fault_model, chips=count("chips", 1), repeats=count("repeats", 1),
                layers=layers, samples=samples, engine=engine, policy=policy,
                curve=curve, curve_dict=curve_dict, p_stuck1=p1, accelerator=accelerator,
                energy_table=energy_table, map_floor=map_floor, fault_map=fault_map,
                fault_map_sha256=fault_map_sha, data=data_spec,
                data_sha256=None if data_spec.is_default else fingerprint(data), metric=metric)
    if fault_model == "measured" and (spec.chips != 1 or spec.repeats != 1):
        raise UserError("campaign spec: fault_model measured is one measured chip: chips and repeats must be 1")
    return spec


def _check_bers_on_curve(bers: list[float], curve: BerCurve) -> None:
    """Persistent faults need a voltage: each BER must be reached inside the curve's domain."""
    lo, hi = curve.ber(curve.v_max), curve.ber(curve.v_min)
    for b in bers:
        if not lo * (1 - 1e-9) <= b <= hi * (1 + 1e-9):
            raise UserError(f"campaign spec: bers entry {b} is outside the BER curve's range [{lo:.3g}, {hi:.3g}] "
                            f"(vdd {curve.v_max}..{curve.v_min} V); persistent faults need a voltage on the curve")


def _check_fault_map(d: dict, base_dir: Path, schemes: list[str]) -> tuple[str, str]:
    """The measured map's path and sha256 (part of the trial key), after checking that
    it parses and fits the words of every scheme."""
    if "fault_map" not in d:
        raise UserError("campaign spec: fault_model measured needs fault_map: a CSV (word,bit[,vmin][,type])")
    path = base_dir / str(d["fault_map"])
    for scheme in schemes:
        ChipFaultMap.from_csv(path, width=get_layout(scheme).word_bits)
    return str(path), sha256_file(path)


def load_spec(path: str | Path) -> Spec:
    """A campaign spec file; its relative paths resolve against the file's folder."""
    return parse_spec(read_yaml(path, "campaign spec"), Path(path).resolve().parent)
