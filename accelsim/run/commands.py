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
    p.add_argument("--wide", action="store_true",
                   help="print the headline as the report's one wide table (default: two tables that fit 80 columns)")
    p.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", help="what `make demo` runs: the default job into runs/demo, replacing the last one")
    d.add_argument("--quick", action="store_true")
    d.add_argument("--fresh", action="store_true", help="start from an empty store instead of resuming")
    d.set_defaults(func=cmd_demo)


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
    if any(h.get("extrapolated") for h in head):
        from accelsim.report.build import EXTRAPOLATED_NOTE
        console.print(EXTRAPOLATED_NOTE, highlight=False)
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
