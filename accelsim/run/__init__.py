"""The main job behind ``accelsim run [CONFIG]`` and ``accelsim demo`` (accelsim.run.commands).

For the configured models and schemes (the packaged job: the Fashion-MNIST models; the
bundled digits where Fashion-MNIST is not installed) it sweeps the weight-SRAM voltage from
nominal down to where accuracy collapses, on several simulated chips, through the
cycle-level accelerator, then builds the report and prints the headline: for each
scheme, the lowest voltage whose accuracy stays within the tolerance of the fault-free
model and the energy per inference saved there against nominal.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from accelsim.errors import UserError
from accelsim.fileio import check_output_dir, read_yaml

if TYPE_CHECKING:
    from accelsim.schema import RunConfig

PACKAGE = Path(__file__).resolve().parents[1]
DEFAULT_RUN = PACKAGE / "configs" / "run.yaml"          # Fashion-MNIST
DIGITS_RUN = PACKAGE / "configs" / "run-digits.yaml"    # the same job on the bundled digits
QUICK_RUN = PACKAGE / "configs" / "run-quick.yaml"


def default_run() -> tuple[Path, str | None]:
    """(the packaged run config, a note or None): run.yaml on Fashion-MNIST where the data
    set is installed, else run-digits.yaml and a note saying why and how to install it."""
    from accelsim.schema.data_source import NAMED, named_available

    if named_available("fashion-mnist"):
        return DEFAULT_RUN, None
    return DIGITS_RUN, ("Fashion-MNIST is not installed: running the job on the bundled 8x8 digits "
                        f"(sudo apt-get install {NAMED['fashion-mnist'][1]} for the real-data demo)")


def load_run_config(path: str | Path | None) -> RunConfig:
    """The run config of ``path`` (default: the packaged run.yaml), validated by
    :class:`accelsim.schema.RunConfig`."""
    from accelsim.schema import RunConfig, validate   # pydantic: not needed for --help

    path = Path(path) if path else DEFAULT_RUN
    return validate(RunConfig, read_yaml(path, "run config"), f"run config {path}")


def _sensitivity_spec(cfg: RunConfig, main: dict, base_dir: Path = Path("."), where: str = "run config"):
    """The per-layer study of ``sensitivity: {scheme, voltages}``: the same models, chips
    (maps drawn down to the main sweep's lowest voltage, so they are the same chips),
    samples and seed, faults in one layer at a time (fast engine, no energy); None when absent."""
    from accelsim.campaign import parse_spec

    if cfg.sensitivity is None:
        return None
    return parse_spec({**{k: v for k, v in main.items() if k not in ("engine", "schemes", "voltages", "name")},
                       "name": f"{cfg.name}-layers", "schemes": [cfg.sensitivity.scheme],
                       "voltages": list(cfg.sensitivity.voltages or cfg.voltages), "layers": "each",
                       "engine": "fast", "v_low": min([*cfg.voltages, *(cfg.sensitivity.voltages or [])])},
                      base_dir, where=f"{where}: sensitivity")


def run_job(cfg: RunConfig | dict, out: Path, *, workers: int | None = None, scheduler=None, force: bool = False,
            progress: bool = True, base_dir: str | Path = ".", config_text: str | None = None,
            where: str = "run config") -> dict:
    """Run the job described by ``cfg`` into ``out``; returns the headline rows and paths.
    Input paths of ``cfg`` (models, data, accelerator, ...) resolve against ``base_dir``
    (the config file's folder); the bundled models are found from any working directory.
    Everything (config, models, data, energy table, accelerator) is checked before ``out``
    is created, and a run that fails before its first trial leaves no ``out`` behind.
    ``config_text`` (the config file as given) is kept in the store with the resolved
    config for the report's provenance; ``where`` names the config in error messages."""
    from accelsim.schema import RunConfig, validate

    if not isinstance(cfg, RunConfig):
        cfg = validate(RunConfig, cfg, "run config")
    if out.exists() and not force:   # refused before the models are loaded (torch takes seconds to import)
        raise UserError(f"output directory {str(out)!r} exists; pass --force to reuse it and replace its report")
    from accelsim.schema.data_source import parse_data

    parse_data(cfg.data, Path(base_dir), f"{where}: data")   # a missing data path: refused before torch loads
    from accelsim.campaign import parse_spec, run_campaign
    from accelsim.campaign.store import Store
    from accelsim.report import report_from_store

    spec_dict = cfg.model_dump(include=cfg.campaign_fields().keys(), exclude_none=True)
    spec = parse_spec(spec_dict, Path(base_dir), where=where)
    layer_spec = _sensitivity_spec(cfg, spec_dict, Path(base_dir), where)
    tolerance, target = cfg.tolerance, cfg.yield_target
    made = not out.exists()
    check_output_dir(out, "output directory", force=True)   # created by the campaign once all input is checked
    store_path = out / "campaign.sqlite"
    t0 = time.perf_counter()
    n_workers = workers or cfg.workers
    try:
        parts = []
        if layer_spec is not None:   # first, so that the store's provenance is the main sweep's
            parts.append(run_campaign(layer_spec, store_path, workers=n_workers, scheduler=scheduler,
                                      progress=progress, label="per-layer study trials", base_dir=base_dir))
        parts.append(run_campaign(spec, store_path, workers=n_workers, scheduler=scheduler, progress=progress,
                                  label="main sweep trials", base_dir=base_dir))
    except BaseException:
        if made and not store_path.exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    info = {k: sum(p[k] for p in parts) for k in ("total", "skipped", "ran", "seconds")}
    store = Store(store_path, create=False)
    try:
        if layer_spec is not None:
            store.set_meta("sensitivity", {**cfg.sensitivity.model_dump(), "layers": "each", "engine": "fast"})
        store.set_meta("run_config", {"text": config_text, "resolved": resolved_config(cfg)})
    finally:
        store.close()
    from accelsim.progress import step

    with step("writing the report (statistics, bootstrap intervals, plots, HTML)", enabled=progress):
        report = report_from_store(store_path, out / "report", tolerance=tolerance, force=True,
                                   yield_target=target, metric=spec.metric)
    # the headline and warnings as the report computed them (the bootstrap is not run twice)
    figures = json.loads((report.parent / "results.json").read_text())
    return {"headline": figures["headline"], "savings": figures.get("savings", []), "storage": figures.get("storage"),
            "warnings": figures["warnings"], "report": report, "store": store_path,
            "seconds": time.perf_counter() - t0, "campaign": info, "tolerance": tolerance, "yield": target,
            "metric": spec.metric, "data": spec.data.text, "curve": spec.curve.describe(),
            "chip_models": [m.name for m in spec.chip_models]}


def resolved_config(cfg: RunConfig) -> str:
    """The run config with every default filled in, as YAML (the provenance's 'as resolved')."""
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True), sort_keys=False, default_flow_style=None,
                          width=100)
