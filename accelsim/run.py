"""The main job: ``accelsim run [CONFIG]`` and ``accelsim demo``.

For the configured models (zoo, the user's own ``file.py:factory`` or memory images), data
and schemes it sweeps the weight-SRAM voltage from nominal down to where accuracy
collapses, on several simulated chips, through the cycle-level accelerator, then builds
the report and prints the headline: for each scheme, the lowest voltage whose accuracy
stays within the tolerance of the fault-free model (``metric: sdc``: whose top-1 SDC rate
stays within it) and the energy per inference saved there against nominal.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from accelsim import cliargs
from accelsim.errors import UserError
from accelsim.fileio import check_output_dir, read_yaml
from accelsim.schema import RunConfig, validate

PACKAGE = Path(__file__).resolve().parent
DEFAULT_RUN = PACKAGE / "configs" / "run.yaml"
QUICK_RUN = PACKAGE / "configs" / "run-quick.yaml"


def register(sub) -> None:
    p = sub.add_parser("run", help="the main job: voltage sweep x schemes x chips through the accelerator, then the report")
    p.add_argument("config", nargs="?", default=None, help=f"run config YAML (default: {DEFAULT_RUN.name} in the package)")
    p.add_argument("--quick", action="store_true", help="the small packaged config (run-quick.yaml)")
    p.add_argument("-o", "--out", default=None, help="output directory (default: the config's 'output')")
    p.add_argument("--workers", type=cliargs.workers, default=None, help="local worker processes (default: the config's)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address")
    p.add_argument("--force", action="store_true", help="reuse an existing output directory and replace its report")
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


def run_job(cfg: RunConfig | dict, out: Path, *, workers: int | None = None, scheduler=None, force: bool = False,
            progress: bool = True, base_dir: str | Path = ".") -> dict:
    """Run the job described by ``cfg`` into ``out``; returns the headline rows and paths.
    Input paths of ``cfg`` (models, data, accelerator, ...) resolve against ``base_dir``
    (the config file's folder); the bundled models are found from any working directory.
    Everything (config, models, data, energy table, accelerator) is checked before ``out``
    is created, and a run that fails before its first trial leaves no ``out`` behind."""
    from accelsim.campaign import parse_spec, run_campaign
    from accelsim.report import report_from_store
    from accelsim.report.build import headline, label_models
    from accelsim.campaign.store import Store

    if not isinstance(cfg, RunConfig):
        cfg = validate(RunConfig, cfg, "run config")
    spec_dict = cfg.model_dump(include=cfg.campaign_fields().keys(), exclude_none=True)
    spec = parse_spec(spec_dict, Path(base_dir), where="run config")
    if out.exists() and not force:
        raise UserError(f"output directory {str(out)!r} exists; pass --force to reuse it and replace its report")
    made = not out.exists()
    check_output_dir(out, "output directory", force=True)   # created by the campaign once all input is checked
    store_path = out / "campaign.sqlite"
    t0 = time.perf_counter()
    try:
        info = run_campaign(spec, store_path, workers=workers or cfg.workers, scheduler=scheduler, progress=progress)
    except BaseException:
        if made and not store_path.exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    report = report_from_store(store_path, out / "report", tolerance=cfg.tolerance, force=True, metric=spec.metric)
    store = Store(store_path, create=False, readonly=True)
    rows = label_models(store.rows())
    store.close()
    return {"headline": headline(rows, cfg.tolerance, spec.metric), "report": report, "store": store_path,
            "seconds": time.perf_counter() - t0, "campaign": info, "tolerance": cfg.tolerance, "metric": spec.metric}


def print_headline(result: dict) -> None:
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.report.build import HEADLINE_COLS, _headline_rows, safe_criterion

    t = Table(title=f"How low can the weight SRAM go? (lowest V whose "
                    f"{safe_criterion(result['tolerance'], result.get('metric', 'accuracy'))})")
    for c in HEADLINE_COLS:
        t.add_column(c, justify="left" if c in ("model", "scheme") else "right")
    for row in _headline_rows(result["headline"]):
        t.add_row(*row)
    console = get_console()
    console.print(t)
    c = result["campaign"]
    console.print(f"{c['total']} trials ({c['ran']} run now, {c['skipped']} resumed) in {result['seconds']:.1f} s")
    console.print(f"report: {result['report']}")


def cmd_run(args) -> int:
    if args.quick and args.config:   # --quick used to be dropped silently when a config was given
        raise UserError("give a run config or --quick (the packaged small config), not both")
    path = Path(QUICK_RUN if args.quick else args.config or DEFAULT_RUN)
    cfg = load_run_config(path)
    out = Path(args.out or cfg.output)   # the output: relative to the working directory
    print_headline(run_job(cfg, out, workers=args.workers, scheduler=args.scheduler, force=args.force,
                           base_dir=path.parent))
    return 0


def cmd_demo(args) -> int:
    path = QUICK_RUN if args.quick else DEFAULT_RUN
    cfg = load_run_config(path)
    out = Path(cfg.output)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    print_headline(run_job(cfg, out, force=True, base_dir=path.parent))
    return 0
