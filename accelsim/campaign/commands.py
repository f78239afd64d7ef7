"""``accelsim campaign``."""

from __future__ import annotations

from accelsim import cliargs


def register(sub) -> None:
    p = sub.add_parser("campaign", help="run a fault-injection campaign into an SQLite store (resumable)")
    p.add_argument("spec", help="campaign spec YAML (docs/campaigns.md)")
    p.add_argument("--store", required=True, help="SQLite store; finished trials are skipped on re-run")
    p.add_argument("--workers", type=cliargs.workers, default=1, help="local worker processes")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_campaign)


def cmd_campaign(args) -> int:
    from pathlib import Path

    from accelsim.fileio import read_yaml
    from accelsim.schema import CampaignSpec, validate

    # the spec's fields are checked before torch is imported: a typo answers at once
    where = f"campaign spec {args.spec}"
    fields = validate(CampaignSpec, read_yaml(args.spec, "campaign spec"), where)
    from accelsim.schema.data_source import parse_data

    parse_data(fields.data, Path(args.spec).resolve().parent, f"{where}: data")   # its path too, before torch
    from accelsim.campaign.runner import run_campaign
    from accelsim.campaign.spec import parse_spec

    spec = parse_spec(fields, Path(args.spec).resolve().parent, where)
    info = run_campaign(spec, args.store, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress, base_dir=Path(args.spec).resolve().parent)
    print(f"{args.store}: {info['ran']} trials run, {info['skipped']} already done, "
          f"{info['total']} in the sweep ({info['seconds']:.1f} s)")
    return 0
