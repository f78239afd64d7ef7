"""``accelsim report``."""

from __future__ import annotations

from accelsim import cliargs


def register(sub) -> None:
    p = sub.add_parser("report", help="rebuild the HTML/Markdown/CSV/JSON report from a campaign store")
    p.add_argument("store", help="campaign SQLite store")
    p.add_argument("-o", "--out", required=True, help="report directory")
    p.add_argument("--force", action="store_true", help="replace an existing report directory")
    p.add_argument("--tolerance", type=cliargs.number(0, 1, hi_open=True), default=0.01, help="accuracy loss (or, with --metric sdc, top-1 SDC rate) allowed for the headline (0.01 = 1 %%)")
    p.add_argument("--yield", dest="yield_target", type=cliargs.number(0, 1, lo_open=True, hi_open=True), default=0.95,
                   help="share of chips that must stay within the tolerance for the headline (default 0.95)")
    p.add_argument("--metric", choices=("accuracy", "sdc"), default=None,
                   help="headline criterion (default: the campaign's)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from accelsim.campaign.store import Store
    from accelsim.errors import UserError

    if not 0 <= args.tolerance < 1:
        raise UserError(f"tolerance = {args.tolerance} must be in [0, 1)")
    if not 0 < args.yield_target < 1:
        raise UserError(f"--yield = {args.yield_target} must be in (0, 1)")
    Store(args.store, create=False, readonly=True).close()   # a missing or foreign store: refused before matplotlib
    from accelsim.report import report_from_store

    path = report_from_store(args.store, args.out, tolerance=args.tolerance, force=args.force,
                             yield_target=args.yield_target, metric=args.metric)
    print(f"report: {path}")
    return 0
