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

# which trained checkpoint variant serves each scheme, by the zoo's naming convention
SCHEME_VARIANT = {
    "none-8b": "int8", "ecc-8b-72": "int8", "inplace-8b-64": "int8-wot-inplace-8b-64",
    "none-4b": "int4", "inplace-4b-64": "int4-wot-inplace-4b-64", "inplace-4b-32": "int4-wot-inplace-4b-32",
}
FAULT_MODELS = ("persistent", "transient", "stuck", "measured")
ENGINES = ("fast", "cycle")
POLICIES = ("pass", "zero", "reread")   # reread: engine cycle only
KNOWN = {"name", "seed", "models", "schemes", "voltages", "bers", "fault_model", "chips", "repeats",
         "layers", "samples", "engine", "policy", "ber_curve", "models_dir", "p_stuck1", "accelerator",
         "energy_table", "v_low", "fault_map"}


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
    models_dir = base_dir / str(d.get("models_dir", "models"))
    models_field = d.get("models")
    if isinstance(models_field, list):
        models_field = {m: {} for m in models_field}
    if not isinstance(models_field, dict) or not models_field:
        raise UserError("campaign spec: models must name at least one model")
    checkpoints = {}
    for model, overrides in models_field.items():
        overrides = overrides or {}
        if not isinstance(overrides, dict):
            raise UserError(f"campaign spec: models.{model} must map schemes to checkpoints")
        stray = [k for k in overrides if k not in schemes]
        if stray:   # a misspelt scheme would silently run the default checkpoint instead
            raise UserError(f"campaign spec: models.{model} names scheme(s) {', '.join(map(str, stray))} "
                            f"that are not in schemes ({', '.join(schemes)})")
        for scheme in schemes:
            stem = overrides.get(scheme) or str(models_dir / f"{model}-{SCHEME_VARIANT[scheme]}")
            if not Path(stem).with_suffix(".yaml").exists() or not Path(stem).with_suffix(".safetensors").exists():
                raise UserError(f"campaign spec: no checkpoint {stem}(.yaml/.safetensors) for model {model!r}, scheme {scheme}")
            checkpoints[(model, scheme)] = str(stem)
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
    policy = d.get("policy")
    if policy is not None and policy not in POLICIES:
        raise UserError(f"campaign spec: policy {policy!r} is not one of {', '.join(POLICIES)}")
    layers = d.get("layers", "all")
    if not (layers in ("all", "each") or (isinstance(layers, list) and layers and all(isinstance(x, str) for x in layers))):
        raise UserError("campaign spec: layers must be 'all', 'each' or a list of layer names (or conv, linear)")
    # fields of one fault model only: given with another they would change the trial keys and nothing else
    if "p_stuck1" in d and fault_model != "stuck":
        raise UserError(f"campaign spec: p_stuck1 applies to fault_model: stuck only (fault_model is {fault_model})")
    if "v_low" in d and fault_model not in ("persistent", "stuck"):
        raise UserError(f"campaign spec: v_low (the floor of sampled chip maps) applies to fault_model: persistent "
                        f"or stuck only (fault_model is {fault_model})")
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
    for key in ("accelerator", "energy_table"):
        if d.get(key) is not None and engine != "cycle":   # the fast engine simulates no hardware
            raise UserError(f"campaign spec: {key} is used only with engine: cycle (engine is {engine})")
    accelerator = d.get("accelerator")
    if accelerator is not None:
        from accelsim.hw import load_config
        accelerator = str(base_dir / accelerator)
        if not Path(accelerator).exists():
            raise UserError(f"campaign spec: accelerator config {accelerator!r} does not exist")
        acc_policy = load_config(accelerator).policy   # a bad config fails here, before any trial
        if policy is not None and policy != acc_policy:
            raise UserError(f"campaign spec: policy {policy} but accelerator config {accelerator} sets "
                            f"ecc.policy {acc_policy}: make them agree (or drop one)")
        policy = acc_policy
    policy = policy or "pass"
    if policy == "reread" and engine != "cycle":
        raise UserError("campaign spec: policy reread needs engine: cycle (the fast engine reads each word once)")
    energy_table = d.get("energy_table")
    if energy_table is not None:
        from accelsim.energy import load_table
        energy_table = str(base_dir / energy_table)
        load_table(energy_table)
    samples = count("samples", 450)
    available = _test_images()
    if samples > available:   # the trials would silently score fewer images than the row says
        raise UserError(f"campaign spec: samples = {samples} is more than the {available} test images")
    spec = Spec(name=str(d.get("name", "campaign")), seed=count("seed", 0, 0), checkpoints=checkpoints,
                models=list(models_field), schemes=list(schemes), voltages=voltages, bers=bers,
                fault_model=fault_model, chips=count("chips", 1), repeats=count("repeats", 1),
                layers=layers, samples=samples, engine=engine, policy=policy,
                curve=curve, curve_dict=curve_dict, p_stuck1=p1, accelerator=accelerator,
                energy_table=energy_table, map_floor=map_floor, fault_map=fault_map,
                fault_map_sha256=fault_map_sha)
    if fault_model == "measured" and (spec.chips != 1 or spec.repeats != 1):
        raise UserError("campaign spec: fault_model measured is one measured chip: chips and repeats must be 1")
    return spec


def _test_images() -> int:
    """How many test images a trial can score (the digits test split)."""
    from accelsim.nn import load_digits_split
    return int(len(load_digits_split().y_test))


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
    return parse_spec(read_yaml(path, "campaign spec"), Path("."))
