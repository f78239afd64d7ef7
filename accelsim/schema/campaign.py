"""The campaign specification (``accelsim campaign SPEC``) and the run config
(``accelsim run CONFIG``), which shares the sweep fields."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.ecc.names import LAYOUT_NAMES
from accelsim.schema.ber_curve import BerCurveFile
from accelsim.schema.base import ConfigModel, Label, Name, Probability, Seed, is_factory_ref
from accelsim.schema.data_source import DATA_EXAMPLES, DataSource, SourceText

SchemeName = Literal[LAYOUT_NAMES]         # exact names: no case folding
PathText = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")]
Voltage = Annotated[float, Field(gt=0, le=100)]
FaultModel = Literal["persistent", "transient", "stuck", "measured"]
# one campaign may plan at most this many trials (checked before anything is planned)
MAX_TRIALS = 1_000_000
SweepCount = Annotated[int, Field(ge=1, le=MAX_TRIALS)]


def _models_mapping(value):
    """``models: [a, b]`` is short for ``models: {a: {}, b: {}}``; the legacy entry
    ``{scheme: stem, ...}`` is short for ``{checkpoints: {scheme: stem, ...}}``."""
    if isinstance(value, list) and all(isinstance(m, str) for m in value):
        return {m: None for m in value}
    if isinstance(value, dict):
        layouts = set(LAYOUT_NAMES)
        return {m: ({"checkpoints": e} if isinstance(e, dict) and e and set(e) <= layouts else e)
                for m, e in value.items()}
    return value


def _factory_ref(value: str) -> str:
    if not is_factory_ref(value) or "\x00" in value:
        raise PydanticCustomError("factory", "expected path/to/file.py:factory (got {v})", {"v": repr(value)[:80]})
    return value


FactoryRef = Annotated[str, Field(max_length=4096), AfterValidator(_factory_ref)]


class ModelEntry(ConfigModel):
    """Which weights serve each scheme of one model (docs/campaigns.md, Model entries)."""

    factory: FactoryRef | None = Field(None, description="your network: path/to/file.py:function (no arguments)")
    checkpoint: PathText | None = Field(None, description="one checkpoint for every scheme (a stem with a model "
                                                          "card, or with factory a .safetensors state dict)")
    checkpoints: dict[SchemeName, PathText] | None = Field(None, description="scheme -> checkpoint")
    images: dict[SchemeName, PathText] | None = Field(None, description="scheme -> memory image directory")
    seed: Seed | None = Field(None, description="no checkpoint: the zoo model (or factory) initialised under this "
                                                "seed, for timing, energy and the sdc metric")
    project: bool = Field(False, description="clamp weights into an in-place layout's throttled slots at export")

    @model_validator(mode="after")
    def _one_source(self):
        if self.checkpoint is not None and self.checkpoints is not None:
            raise PydanticCustomError("model_entry", "give checkpoint or checkpoints, not both")
        if self.images is not None and (self.factory or self.checkpoint or self.checkpoints):
            raise PydanticCustomError("model_entry", "images stand alone (no factory or checkpoints beside them)")
        if self.seed is not None and (self.images or self.checkpoint or self.checkpoints):
            raise PydanticCustomError("model_entry", "seed stands for seeded weights: no checkpoint(s) or images "
                                                     "beside it")
        if self.factory is not None and self.checkpoint is None and self.checkpoints is None and self.seed is None:
            raise PydanticCustomError("model_entry", "factory needs checkpoint: or checkpoints: (state dicts), or "
                                                     "seed: (seeded weights)")
        return self


def map_floor_refusal(v_low: float, lowest: float, name: str = "v_low",
                      lowest_is: str = "the sweep's lowest voltage") -> str | None:
    """The one rule for a chip map's floor (accelsim.faults.ChipFaultMap, ``v_low``): a map
    drawn down to ``v_low`` (volts) holds the cells failing at or above it, so a floor above
    the lowest voltage it is read at would miss every cell failing in between. Returns the
    refusal, or None."""
    if v_low <= lowest + 1e-12:
        return None
    return f"{name}{' =' if name == 'v_low' else ''} {v_low:g} V is above {lowest_is} {lowest:.6g} V"


def trial_count(selections: list[int], schemes: int, points: int, chips: int, repeats: int,
                chip_models: int = 1) -> int:
    """The one count of a sweep's trials: for each model its layer selections (1 for
    ``layers: all``), times schemes x points (voltages or BERs) x chips x repeats x the
    chip models swept."""
    return sum(selections) * schemes * points * chips * repeats * chip_models


def too_many_trials(n: int) -> str | None:
    """The refusal of a sweep of ``n`` trials (None: within MAX_TRIALS)."""
    return None if n <= MAX_TRIALS else f"{n:,} trials planned, more than the limit of {MAX_TRIALS:,}"


class SequentialYield(ConfigModel):
    """Sequential yield decisions (opt-in): chips are drawn in rounds of ``step`` per point,
    and a point stops drawing once the 95 % Wilson interval of its yield (share of chips
    within ``tolerance``) lies entirely above or below ``target``; the others go on up to
    ``chips``. Decisions are taken only between rounds, on every chip of the round, so they
    do not depend on the number of workers or on the order trials finish."""

    target: Annotated[float, Field(gt=0, lt=1)] = Field(0.95, description="yield target, in (0, 1)")
    tolerance: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.01, description="accuracy loss (metric sdc: top-1 SDC rate) a passing chip may have, in [0, 1)")
    step: Annotated[int, Field(ge=1, le=100_000)] = Field(10, description="chips added per round")


class ChipModelFields(ConfigModel):
    """A chip model of your own (docs/faults.md, Structured chips)."""

    name: Name = Field(description="its name in trial keys and the report")
    vmin_shift_sd: Annotated[float, Field(ge=0, lt=1)] = Field(0.0, description="sd of the per-chip Vmin shift, "
                                                                                 "V of the BER curve")
    cluster_shape: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        None, description="gamma shape k of the per-array rate multiplier (mean 1); none: no clustering")
    array_bits: Annotated[int, Field(ge=1, le=2**40)] = Field(16384, description="cells per array")
    direction: Union[Literal["both", "1to0", "0to1"], Probability] = Field(
        "both", description="both | 1to0 | 0to1 | share of cells failing 1->0 (the rest 0->1)")


ChipModelRef = Union[Literal["iid", "clustered"], ChipModelFields]


class _Sweep(ConfigModel):
    name: Name = Field("campaign", description="campaign name (stored with every trial)")
    seed: Seed = Field(0, description="root seed, 0 .. 2^63-1; every trial's seed derives from it")
    models: Annotated[dict[Label, ModelEntry | None], Field(min_length=1, max_length=1000)] = Field(
        description="zoo model names (a list), or model -> entry: factory + checkpoint(s), checkpoints "
                    "(stems with model cards) or images, per scheme; or seed: N (a zoo name, or with factory) "
                    "for seeded weights without a checkpoint")
    schemes: Annotated[list[SchemeName], Field(min_length=1, max_length=100)] = Field(
        description="weight layouts (ECC schemes), exact names")
    voltages: Annotated[list[Voltage], Field(min_length=1, max_length=100_000)] | None = Field(
        None, description="weight-SRAM supply voltages, V (inside the BER curve's domain)")
    chips: SweepCount = Field(1, description="simulated chips (persistent fault maps) per point")
    repeats: SweepCount = Field(1, description="repeats per chip")
    fault_model: FaultModel = "persistent"
    engine: Literal["fast", "cycle"] = Field("fast", description="fast (numpy) or cycle (SimPy accelerator)")
    policy: Literal["pass", "zero", "reread"] = Field(
        "pass", description="uncorrectable words: pass raw, zero, or reread (engine cycle); default: the "
                            "accelerator config's ecc.policy, else pass")
    samples: Annotated[int, Field(ge=1, le=10**7)] = Field(450, description="test samples per trial")
    models_dir: PathText = Field("models", description="where <model>-<variant> checkpoints are found "
                                                       "(default: the bundled models/, from any folder)")
    data: Union[SourceText, DataSource, None] = Field(None, description="evaluation data: digits (default), "
                                                    "fashion-mnist (Debian's dataset-fashion-mnist), mnist:DIR, cifar10:DIR, imagefolder:DIR, "
                                                    "npz:FILE, "
                                                    "synthetic:NxCxHxW, or {source, resize, crop, mean, std}",
                                                    examples=DATA_EXAMPLES)
    metric: Literal["accuracy", "sdc"] | None = Field(
        None, description="headline criterion: accuracy, or sdc (top-1 SDC rate within the tolerance); "
                          "default: accuracy with labelled data, sdc without")
    accelerator: PathText | None = Field(None, description="accelerator config YAML")
    energy_table: PathText | None = Field(None, description="energy table YAML")
    ber_curve: Union[PathText, BerCurveFile, None] = Field(None, description="BER curve YAML path or mapping")
    sequential: SequentialYield | None = Field(
        None, description="opt-in sequential yield decisions {target, tolerance, step}: a point stops drawing "
                          "chips once its yield's Wilson interval is above or below the target (default: "
                          "every point gets all chips)")
    chip_model: Union[ChipModelRef, Annotated[list[ChipModelRef], Field(min_length=1, max_length=16)]] = Field(
        "iid", description="chip model(s) swept like schemes: iid (independent cells), clustered (Vmin shift, "
                           "per-array clustering, 1->0 only; fitted to Salami et al.), or {name, vmin_shift_sd, "
                           "cluster_shape, array_bits, direction}; docs/faults.md")

    _models = field_validator("models", mode="before")(_models_mapping)

    def planned_trials(self, layers_per_model: int = 1) -> int:
        """Trials before any is planned (``layers: each`` counts ``layers_per_model``; a
        run config has no ``bers`` or ``layers``: voltages, all layers at once)."""
        layers = getattr(self, "layers", "all")
        sel = len(layers) if isinstance(layers, list) else (layers_per_model if layers == "each" else 1)
        points = len(self.voltages or getattr(self, "bers", None) or ())
        chip_models = len(self.chip_model) if isinstance(getattr(self, "chip_model", None), list) else 1
        return trial_count([sel] * len(self.models), len(self.schemes), points, self.chips, self.repeats, chip_models)

    @model_validator(mode="after")
    def _trial_limit(self):
        refusal = too_many_trials(self.planned_trials())
        if refusal:
            raise PydanticCustomError("sweep", refusal)
        return self

    @field_validator("ber_curve", mode="before")
    @classmethod
    def _curve_kind(cls, v):
        if v is not None and not isinstance(v, (str, dict)):
            raise PydanticCustomError("curve_type", "must be a path or a mapping (got {v})", {"v": repr(v)[:60]})
        return v


class CampaignSpec(_Sweep):
    """models x schemes x voltages (or BERs) x chips x repeats x layer selections."""

    bers: Annotated[list[Annotated[float, Field(gt=0, le=0.5)]], Field(min_length=1, max_length=100_000)] | None = \
        Field(None, description="bit error rates in (0, 0.5] instead of voltages")
    layers: Union[Literal["all", "each"], Annotated[list[Name], Field(min_length=1, max_length=10_000)]] = Field(
        "all", description="'all', 'each' (one selection per layer) or a list of layer names (or conv, linear)")
    p_stuck1: Probability = Field(0.5, description="stuck-at model: probability a faulty cell reads 1")
    v_low: Voltage | None = Field(None, description="pinned floor of every chip's map, V (<= lowest voltage)")
    fault_map: PathText | None = Field(None, description="measured map CSV (fault_model: measured)")

    @model_validator(mode="after")
    def _rules(self):
        if (self.voltages is None) == (self.bers is None):
            raise PydanticCustomError("sweep", "give exactly one of voltages or bers")
        if self.fault_map is not None and self.fault_model != "measured":
            raise PydanticCustomError("sweep", "fault_map needs fault_model: measured")
        if self.fault_model == "measured" and self.fault_map is None:
            raise PydanticCustomError("sweep", "fault_model measured needs fault_map: a CSV (word,bit[,vmin][,type])")
        if self.fault_model == "measured" and (self.chips != 1 or self.repeats != 1):
            raise PydanticCustomError("sweep", "fault_model measured is one measured chip: chips and repeats must be 1")
        # values that would be silently ignored or replaced (issue 15)
        for model, entry in self.models.items():
            named = list((entry.checkpoints or {}) | (entry.images or {})) if entry is not None else []
            stray = [k for k in named if k not in self.schemes]
            if stray:   # a misspelt scheme would run the default checkpoint instead
                raise PydanticCustomError("sweep", "models.{m} names scheme(s) {s} that are not in schemes ({all})",
                                          {"m": model, "s": ", ".join(stray), "all": ", ".join(self.schemes)})
        for key in ("accelerator", "energy_table"):
            if getattr(self, key) is not None and self.engine != "cycle":   # the fast engine simulates no hardware
                raise PydanticCustomError("sweep", "{k} is used only with engine: cycle (engine is {e})",
                                          {"k": key, "e": self.engine})
        if self.policy == "reread" and self.engine != "cycle":
            raise PydanticCustomError("sweep", "policy reread needs engine: cycle (the fast engine reads each word once)")
        # fields of one fault model only: with another they would change the trial keys and nothing else
        if "p_stuck1" in self.model_fields_set and self.fault_model != "stuck":
            raise PydanticCustomError("sweep", "p_stuck1 applies to fault_model: stuck only (fault_model is {f})",
                                      {"f": self.fault_model})
        if self.sequential is not None and self.layers != "all":
            raise PydanticCustomError("sweep", "sequential yield decisions need layers: all (the yield is a "
                                      "whole-image figure)")
        if self.v_low is not None and self.fault_model not in ("persistent", "stuck"):
            raise PydanticCustomError("sweep", "v_low (the floor of sampled chip maps) applies to fault_model: "
                                      "persistent or stuck only (fault_model is {f})", {"f": self.fault_model})
        refusal = (None if self.v_low is None or self.voltages is None
                   else map_floor_refusal(self.v_low, min(self.voltages)))
        if refusal:   # a BER sweep's lowest voltage needs the curve: campaign.spec checks it
            raise PydanticCustomError("sweep", refusal)
        return self


class Sensitivity(ConfigModel):
    """The run's per-layer study: faults in one layer at a time, on the run's chips."""

    scheme: SchemeName = Field(description="the layout whose layers are faulted one at a time")
    voltages: Annotated[list[Voltage], Field(min_length=1, max_length=1000)] | None = Field(
        None, description="voltages of the study, V (default: the run's)")


class RunConfig(_Sweep):
    """The main job: a voltage sweep, then the report and the headline."""

    name: Name = "run"
    output: PathText = Field("runs/out", description="directory: campaign store, image cache and report/")
    voltages: Annotated[list[Voltage], Field(min_length=1, max_length=100_000)] = Field(
        description="weight-SRAM supply voltages, V")
    tolerance: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.01, description="accuracy loss (metric sdc: top-1 SDC rate) allowed for the headline, in [0, 1)")
    yield_target: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.95, alias="yield", description="share of chips within the tolerance for the headline, in (0, 1)")
    sensitivity: Sensitivity | None = Field(None, description="optional per-layer study (scheme, voltages)")
    workers: Annotated[int, Field(ge=1, le=1024)] = Field(1, description="local worker processes")

    def campaign_fields(self) -> dict:
        """The fields a campaign spec shares with this run, as the user gave them."""
        keep = set(_Sweep.model_fields) & self.model_fields_set
        return {k: getattr(self, k) for k in keep}
