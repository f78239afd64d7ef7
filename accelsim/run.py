"""The main job: ``accelsim run [CONFIG]`` and ``accelsim demo``.

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

from accelsim import cliargs
from accelsim.errors import UserError
from accelsim.fileio import check_output_dir, read_yaml
from accelsim.schema import RunConfig, validate

PACKAGE = Path(__file__).resolve().parent
DEFAULT_RUN = PACKAGE / "configs" / "run.yaml"          # Fashion-MNIST
DIGITS_RUN = PACKAGE / "configs" / "run-digits.yaml"    # the same job on the bundled digits
QUICK_RUN = PACKAGE / "configs" / "run-quick.yaml"


def default_run() -> tuple[Path, str | None]:
    """(the packaged run config, a note or None): run.yaml on Fashion-MNIST where the data
    set is installed, else run-digits.yaml and a note saying why and how to install it."""
    from accelsim.nn.data import NAMED, named_available

    if named_available("fashion-mnist"):
        return DEFAULT_RUN, None
    return DIGITS_RUN, ("Fashion-MNIST is not installed: running the job on the bundled 8x8 digits "
                        f"(sudo apt-get install {NAMED['fashion-mnist'][1]} for the real-data demo)")


def register(sub) -> None:
    p = sub.add_parser("run", help="the main job: voltage sweep x schemes x chips through the accelerator, then the report")
    p.add_argument("config", nargs="?", default=None,
                   help=f"run config YAML (default: {DEFAULT_RUN.name} in the package, on Fashion-MNIST; "
                        f"{DIGITS_RUN.name} where that is not installed)")
    p.add_argument("--quick", action="store_true", help="the small packaged config (run-quick.yaml)")
    p.add_argument("-o", "--out", default=None, help="output directory (default: the config's 'output')")
    p.add_argument("--workers", type=cliargs.workers, default=None, help="local worker processes (default: the config's)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address")
    p.add_argument("--force", action="store_true", help="reuse an existing output directory and replace its report")
    p.add_argument("--wide", action="store_true",
                   help="print the headline as the report's one wide table (default: two tables that fit 80 columns)")
    p.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", help="what `make demo` runs: the default job into runs/demo, replacing the last one")
    d.add_argument("--quick", action="store_true")
    d.add_argument("--fresh", action="store_true", help="start from an empty store instead of resuming")
    d.set_defaults(func=cmd_demo)


def load_run_config(path: str | Path | None) -> RunConfig:
    """The run config of ``path`` (default: the packaged run.yaml), validated by
    :class:`accelsim.schema.RunConfig`."""
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
    if not isinstance(cfg, RunConfig):
        cfg = validate(RunConfig, cfg, "run config")
    if out.exists() and not force:   # refused before the models are loaded (torch takes seconds to import)
        raise UserError(f"output directory {str(out)!r} exists; pass --force to reuse it and replace its report")
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
    report = report_from_store(store_path, out / "report", tolerance=tolerance, force=True, yield_target=target,
                               metric=spec.metric)
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


def print_headline(result: dict, wide: bool = False) -> None:
    """The headline on the console: two narrow tables that fit 80 columns (where it is
    safe; the energy there), or with ``wide`` the report's one wide table."""
    from rich import box
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.report.build import (METRIC_LABEL, _headline_rows, headline_cols, headline_terminal, headline_title,
                                       percent)

    head = result["headline"]
    first = head[0] if head else {}
    metric = result.get("metric", "accuracy")
    console = get_console()
    console.print(headline_title(result["tolerance"], result["yield"], first.get("chips"), first.get("inputs"),
                                 metric, result.get("data")), highlight=False)
    models = {h["model"] for h in head}
    tables = ([(None, headline_cols(metric), _headline_rows(head, metric))] if wide else
              [(f"{title}{'' if len(models) != 1 else ' — ' + next(iter(models))}", cols, rows)
               for title, cols, rows in headline_terminal(head, metric)])
    for title, cols, rows in tables:
        t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        for c in cols:
            t.add_column(c, justify="left" if c in ("model", "scheme") else "right")
        for row in rows:
            t.add_row(*row)
        console.print(t)
    if result.get("curve"):   # every voltage above rests on this curve: name it with the figures
        chip_models = result.get("chip_models") or ["iid"]
        console.print(f"BER curve: {result['curve']}; chip model{'s' if len(chip_models) > 1 else ''}: "
                      f"{', '.join(chip_models)}", highlight=False)
    console.print(f"safe V: lowest voltage (and every higher one) where >= {percent(result['yield'])} of chips are "
                  "within the tolerance; 95 % bound: where the yield's 95 % Wilson lower bound is; "
                  f"{METRIC_LABEL[metric]}: mean over chips and inputs, 95 % bootstrap interval", highlight=False)
    print_savings(result.get("savings") or [], result.get("storage"), wide=wide)
    for w in result.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    c = result["campaign"]
    console.print(f"{c['total']} trials ({c['ran']} run now, {c['skipped']} resumed) in {result['seconds']:.1f} s")
    console.print(f"report: {result['report']}")


def print_savings(savings: list[dict], storage: str | None = None, wide: bool = False) -> None:
    """The energy answers under the headline: scaled domain, whole inference, below the
    first-error voltage, and the design comparison (docs/energy.md, Savings). Narrow (the
    four savings, 80 columns; the energies are in the report) unless ``wide``."""
    from rich import box
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.report.build import SAVINGS_NOTE, _pct, _savings_rows, savings_cols

    if not any(s["total_nominal_pj"] is not None for s in savings):
        return
    many = len({s["model"] for s in savings}) > 1
    if wide:
        cols, rows = savings_cols(savings), _savings_rows(savings)
    else:
        cols = (["model"] if many else []) + ["scheme", "scaled\ndomain", "whole\ninference", "below first\nerror V",
                                              "vs unprotected\nat nominal"]
        rows = [([s["model"]] if many else []) + [s["scheme"], _pct(s["domain_saved"]), _pct(s["whole_saved"]),
                                                  _pct(s["below_first_error_saved"]), _pct(s["design_saved"])]
                for s in savings]
    title = "energy saved at the safe voltage" + ("" if many or wide else f" — {savings[0]['model']}")
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "scheme") else "right")
    for row in rows:
        t.add_row(*row)
    console = get_console()
    console.print(t)
    console.print(SAVINGS_NOTE, highlight=False)
    if storage:
        console.print(storage, highlight=False)


def _packaged(quick: bool) -> Path:
    """The packaged config of ``accelsim demo`` / ``accelsim run`` without a config."""
    if quick:
        return QUICK_RUN
    path, note = default_run()
    if note:
        from accelsim.console import get_console
        get_console().print(f"[yellow]note:[/yellow] {note}", highlight=False)
    return path


def cmd_run(args) -> int:
    if args.quick and args.config:   # --quick used to be dropped silently when a config was given
        raise UserError("give a run config or --quick (the packaged small config), not both")
    path = Path(args.config) if args.config else _packaged(args.quick)
    cfg = load_run_config(path)
    out = Path(args.out or cfg.output)   # the output: relative to the working directory
    print_headline(run_job(cfg, out, workers=args.workers, scheduler=args.scheduler, force=args.force,
                           base_dir=path.parent, config_text=path.read_text(), where=f"run config {path}"),
                   wide=args.wide)
    return 0


def cmd_demo(args) -> int:
    path = _packaged(args.quick)
    cfg = load_run_config(path)
    out = Path(cfg.output)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    print_headline(run_job(cfg, out, force=True, base_dir=path.parent, config_text=path.read_text(),
                           where=f"run config {path}"))
    return 0
