"""``accelsim run [CONFIG]`` and ``accelsim demo``: parse the arguments, run the job
(accelsim.run.run_job) and print its headline."""

from __future__ import annotations

import shutil
from pathlib import Path

from accelsim import cliargs
from accelsim.errors import UserError
from accelsim.run import DEFAULT_RUN, DIGITS_RUN, QUICK_RUN, default_run, load_run_config, run_job


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
    p.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", help="what `make demo` runs: the default job into runs/demo, replacing the last one")
    d.add_argument("--quick", action="store_true")
    d.add_argument("--fresh", action="store_true", help="start from an empty store instead of resuming")
    d.set_defaults(func=cmd_demo)


def print_headline(result: dict) -> None:
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.report.build import _headline_rows, headline_cols, headline_title

    head = result["headline"]
    first = head[0] if head else {}
    metric = result.get("metric", "accuracy")
    t = Table(title=headline_title(result["tolerance"], result["yield"], first.get("chips"), first.get("inputs"),
                                   metric, result.get("data")))
    for c in headline_cols(metric):
        t.add_column(c, justify="left" if c in ("model", "scheme") else "right")
    for row in _headline_rows(head):
        t.add_row(*row)
    console = get_console()
    console.print(t)
    if result.get("curve"):   # every voltage above rests on this curve: name it with the figures
        models = result.get("chip_models") or ["iid"]
        console.print(f"BER curve: {result['curve']}; chip model{'s' if len(models) > 1 else ''}: "
                      f"{', '.join(models)}", highlight=False)
    console.print(f"safe V (yield): lowest voltage (and every higher one) where >= {result['yield']:.0%} of chips are "
                  "within the tolerance; safe V (lower bound): where the yield's 95 % Wilson lower bound is; "
                  f"{'top-1 SDC' if metric == 'sdc' else 'accuracy'}: mean over chips and inputs, 95 % bootstrap "
                  "interval", highlight=False)
    print_savings(result.get("savings") or [], result.get("storage"))
    for w in result.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    c = result["campaign"]
    console.print(f"{c['total']} trials ({c['ran']} run now, {c['skipped']} resumed) in {result['seconds']:.1f} s")
    console.print(f"report: {result['report']}")


def print_savings(savings: list[dict], storage: str | None = None) -> None:
    """The energy answers under the headline: scaled domain, whole inference, below the
    first-error voltage, and the design comparison (docs/energy.md, Savings)."""
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.report.build import SAVINGS_NOTE, _savings_rows, savings_cols

    if not any(s["total_nominal_pj"] is not None for s in savings):
        return
    t = Table(title="Energy saved at the safe voltage")
    for c in savings_cols(savings):
        t.add_column(c, justify="left" if c in ("model", "scheme") else "right")
    for row in _savings_rows(savings):
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
                           base_dir=path.parent))
    return 0


def cmd_demo(args) -> int:
    path = _packaged(args.quick)
    cfg = load_run_config(path)
    out = Path(cfg.output)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    print_headline(run_job(cfg, out, force=True, base_dir=path.parent))
    return 0
