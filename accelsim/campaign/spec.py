"""Campaign specifications: models x schemes x voltages (or BERs) x chips x repeats x
layer selection, read from YAML and validated before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


from accelsim.ecc import get_layout
from accelsim.energy.table import EnergyTable, load_table
from accelsim.hw.config import DEFAULT_PRESET, AcceleratorConfig, is_preset, load_config
from accelsim.errors import UserError
from accelsim.fileio import read_yaml, sha256_file
from accelsim.faults import BerCurve, ChipFaultMap, curve_params, load_curve, map_to_nominal
from accelsim.faults.ber_curve import curve_from_model
from accelsim.faults.chip_model import ChipModel, chip_model
from accelsim.schema import BerCurveFile, CampaignSpec, validate
from accelsim.schema.campaign import map_floor_refusal, too_many_trials, trial_count
from accelsim.campaign.params import TrialParams, trial_key  # noqa: F401
from accelsim.campaign.sources import SCHEME_VARIANT, ModelSource, check_sources, parse_models  # noqa: F401
from accelsim.nn.data import DataSpec, data_size, evaluation_set, fingerprint, parse_data


# the CampaignSpec fields a Spec states resolved against the files (parse_spec); every other
# field of the validated file reads through unchanged (Spec.__getattr__)
RESOLVED = {
    "models": "models: the labels, in order (their weights: checkpoints)",
    "models_dir": "checkpoints: (model, scheme) -> its weights",
    "ber_curve": "curve: the BER curve read, fitted and mapped onto the accelerator's nominal voltage",
    "accelerator": "accelerator: a preset's name, or the file's absolute path; accelerator_config: the machine",
    "energy_table": "energy_table: the file's absolute path (None: packaged); energy: the table",
    "policy": "policy: the accelerator's ecc.policy when one is named",
    "samples": "samples: unset, the default or all of a smaller data set",
    "data": "data: the data source resolved (paths against the spec's folder)",
    "metric": "metric: unset, accuracy with labelled data, sdc without",
    "v_low": "map_floor: the pinned floor, checked against the curve (v_low(): the floor in force)",
    "fault_map": "fault_map: the CSV's absolute path, fault_map_sha256 its content",
    "chip_model": "chip_models: the swept chip models, Vmin shift in the SRAM's volts",
}


@dataclass(frozen=True)
class Spec:
    """A campaign spec resolved against its files by :func:`parse_spec`: the validated
    :class:`accelsim.schema.CampaignSpec` (``file``; its fields and defaults are stated there
    only and read through as attributes: ``spec.seed`` is ``spec.file.seed``) and, for the
    fields named in :data:`RESOLVED`, their resolved value and the objects read once."""

    file: CampaignSpec
    checkpoints: dict[tuple[str, str], ModelSource]   # (model, scheme) -> its weights
    models: list[str]
    policy: str
    samples: int
    metric: str                          # what the headline's tolerance applies to
    curve: BerCurve
    curve_dict: dict                     # curve_params(curve): what trials store and hash
    accelerator: str | None              # a preset's name or an absolute path (None: packaged default)
    accelerator_config: AcceleratorConfig   # read and validated once per campaign: what the trials run with
    energy_table: str | None             # absolute path (None: the packaged table)
    energy: EnergyTable
    map_floor: float | None              # pinned v_low (spec field v_low)
    fault_map: str | None                # measured map CSV (fault_model: measured)
    fault_map_sha256: str | None
    data: DataSpec
    data_sha256: str | None              # of the evaluated subset (None for the default digits)
    chip_models: list[ChipModel]         # swept like schemes

    def __getattr__(self, name: str):
        # only called for names the resolved fields above do not have: the file's own fields
        if name.startswith("__") or name == "file":
            raise AttributeError(name)
        return getattr(self.file, name)

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
        if self.layers == "each":
            selections = [len((layer_names or {}).get(m, [])) for m in self.models]
        else:
            selections = [1 if self.layers == "all" else len(self.layers)] * len(self.models)
        points = len(self.voltages or self.bers or ())
        return trial_count(selections, len(self.schemes), points, self.chips, self.repeats, len(self.chip_models))

    def files(self) -> dict:
        """The trial fields naming the files a trial is made from and their content digests
        (accelsim.campaign.params): the accelerator for every cycle-level trial and for a
        fast one whose activation buffers it scales; the energy table for cycle-level
        trials; the measured fault map; the evaluated data (not for the default digits)."""
        out = {}
        acc = self.accelerator_config
        if self.engine == "cycle" or acc.activations_scaled:
            out.update(accelerator=self.accelerator, accelerator_sha256=acc.digest)
        if self.engine == "cycle":
            out.update(energy_table=self.energy_table, energy_table_sha256=self.energy.digest)
        if self.fault_map:
            out.update(fault_map=self.fault_map, fault_map_sha256=self.fault_map_sha256)
        if not self.data.is_default:
            out.update(data=self.data.to_dict(), data_sha256=self.data_sha256)
        return out

    def trials(self, layer_names: dict[str, list[str]] | None = None,
               export_keys: dict[tuple[str, str], str] | None = None) -> list[TrialParams]:
        """Every trial's parameters; layer_names: model -> its weight layers (needed when
        layers == 'each'); export_keys: (model, scheme) -> the image's content key
        (campaign.runner.image_keys)."""
        out = []
        files = self.files()
        v_low = round(self.v_low(), 6)
        points = ([("vdd", v) for v in self.voltages] if self.voltages else [("ber", b) for b in self.bers])
        n = self.n_trials(layer_names)
        refusal = too_many_trials(n)
        if refusal:
            raise UserError(f"campaign spec {self.name!r}: {refusal}")
        for model in self.models:
            for scheme in self.schemes:
                if self.layers == "all":
                    selections = ["all"]
                elif self.layers == "each":
                    selections = list((layer_names or {}).get(model, []))
                else:
                    selections = list(self.layers)
                for sel in selections:
                    for kind, value, cm in ((k, v, cm) for cm in self.chip_models for k, v in points):
                        vdd = value if kind == "vdd" else float(self.curve.vdd_for_ber(value))
                        ber = float(self.curve.ber(value)) if kind == "vdd" else value
                        for chip in range(self.chips):
                            for rep in range(self.repeats):
                                out.append(TrialParams(
                                    campaign=self.name, model=model, scheme=scheme,
                                    checkpoint=self.checkpoints[(model, scheme)].key,
                                    export_sha256=(export_keys or {}).get((model, scheme)),
                                    fault_model=self.fault_model, point=kind,
                                    vdd=round(float(vdd), 6), ber=float(ber), chip=chip, repeat=rep,
                                    layers=sel, samples=self.samples, engine=self.engine,
                                    policy=self.policy, seed=self.seed, v_low=v_low,
                                    p_stuck1=self.p_stuck1, curve=self.curve_dict,
                                    chip_model=None if cm.is_iid else cm.params(), **files))
        return out


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
    accelerator = None
    accelerator_config = load_config(None)
    if d.accelerator is not None or d.engine == "cycle":
        # a preset by name (resident, streamed, ...), else a file; nothing said: resident
        name = d.accelerator if d.accelerator is not None else DEFAULT_PRESET
        accelerator = name if is_preset(name) else str(base_dir / name)
        accelerator_config = load_config(accelerator)   # a bad accelerator fails here, before any store exists
    # a curve measured at another nominal voltage reads in the SRAM's volts only through the
    # mapping the accelerator config states (refused without one)
    curve = map_to_nominal(curve, accelerator_config.vdd_nominal, accelerator_config.ber_mapping,
                           f"{where}: accelerator {d.accelerator or 'packaged default'}")
    voltages = bers = None
    if d.voltages is not None:
        voltages = _in_domain(d.voltages, "voltages", curve, where)
    else:
        bers = [float(b) for b in d.bers]
        if d.fault_model != "transient":
            _check_bers_on_curve(bers, curve, where)
    from accelsim.nn.modelref import bundled_models_dir
    models_dir = base_dir / d.models_dir if "models_dir" in d.model_fields_set else bundled_models_dir()
    entries = {m: (e.model_dump(exclude_none=True, exclude_defaults=True) if e is not None else None)
               for m, e in d.models.items()}
    models, sources = parse_models(entries, list(d.schemes), base_dir, models_dir, where)
    map_floor = None
    if d.v_low is not None:
        map_floor = _in_domain([d.v_low], "v_low", curve, where)[0]
        lowest = min(voltages) if voltages else min(float(curve.vdd_for_ber(b)) for b in bers)
        refusal = map_floor_refusal(map_floor, lowest)
        if refusal:
            raise UserError(f"{where}: {refusal}")
    fault_map = fault_map_sha = None
    if d.fault_model == "measured":
        fault_map, fault_map_sha = _check_fault_map(d.fault_map, base_dir, d.schemes)
    policy = d.policy
    if accelerator is not None:
        acc_policy = accelerator_config.policy
        if not is_preset(accelerator):   # what trials read: workers may run elsewhere (a preset is a name)
            accelerator = str(Path(accelerator).absolute())
        # the spec's default policy used to replace the accelerator's (e.g. reread) without a word
        if "policy" in d.model_fields_set and d.policy != acc_policy and d.accelerator is not None:
            raise UserError(f"{where}: policy {d.policy} but accelerator config {accelerator} sets "
                            f"ecc.policy {acc_policy}: make them agree (or drop one)")
        policy = acc_policy if d.accelerator is not None else d.policy
    energy_table = None if d.energy_table is None else str(base_dir / d.energy_table)
    energy = load_table(energy_table)
    energy_table = None if energy_table is None else str(Path(energy_table).absolute())   # as above
    data_value = d.data.model_dump(exclude_none=True) if hasattr(d.data, "model_dump") else d.data
    data_spec = parse_data(data_value, base_dir, f"{where}: data")
    available = data_size(data_spec)
    # unset, samples is the default 450 or all of a smaller data set; set, it must fit
    samples = d.samples if "samples" in d.model_fields_set else min(d.samples, available)
    if samples > available:   # the trials would silently score fewer inputs than the row says
        what = "test images" if data_spec.is_default else f"inputs of {data_spec.text}"
        raise UserError(f"{where}: samples = {samples} is more than the {available} {what}")
    data = evaluation_set(data_spec, samples)
    metric = d.metric or ("accuracy" if data.labelled else "sdc")
    if metric == "accuracy" and not data.labelled:
        raise UserError(f"{where}: metric accuracy needs labels, and data {data_spec.text} has none; use metric: sdc")
    sources = check_sources(sources, data)
    chip_models = _chip_models(d, curve, where)
    return Spec(file=d, checkpoints=sources, models=models, policy=policy, samples=samples, metric=metric,
                curve=curve, curve_dict=curve_params(curve), accelerator=accelerator,
                accelerator_config=accelerator_config, energy_table=energy_table, energy=energy,
                map_floor=map_floor, fault_map=fault_map, fault_map_sha256=fault_map_sha, data=data_spec,
                data_sha256=None if data_spec.is_default else fingerprint(data), chip_models=chip_models)


def _chip_models(d: CampaignSpec, curve: BerCurve, where: str) -> list[ChipModel]:
    """The swept chip models, their Vmin shift converted into the SRAM's volts (the
    trial rebuilds the curve already mapped, without the mapping's factor)."""
    refs = d.chip_model if isinstance(d.chip_model, list) else [d.chip_model]
    models = [chip_model(r if isinstance(r, str) else r.model_dump()) for r in refs]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise UserError(f"{where}: chip_model: a name appears twice ({', '.join(names)})")
    if any(not m.is_iid for m in models) and d.fault_model != "persistent":
        raise UserError(f"{where}: chip models other than iid need fault_model: persistent "
                        f"(fault_model is {d.fault_model})")
    return [replace(m, vmin_shift_sd=m.vmin_shift_sd / curve.curve_volts_per_volt) for m in models]


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
    path = (base_dir / fault_map).absolute()   # workers may run in another folder
    for scheme in schemes:
        ChipFaultMap.from_csv(path, width=get_layout(scheme).word_bits)
    return str(path), sha256_file(path)


def load_spec(path: str | Path) -> Spec:
    """A campaign spec file; its relative paths resolve against the file's folder."""
    return parse_spec(read_yaml(path, "campaign spec"), Path(path).resolve().parent, f"campaign spec {path}")
