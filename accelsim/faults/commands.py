"""``accelsim fit CURVE``: fit a BER(V) law to a curve file's measured points."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("fit", help="fit the probit (or log-linear) BER(V) law to a curve file's measured points")
    p.add_argument("curve", help="BER curve YAML with measured: counts or points: (e.g. accelsim/configs/"
                                 "ber-salami-vc707.yaml)")
    p.add_argument("--law", choices=("probit", "log-linear"), default="probit", help="the law fitted (default probit)")
    p.add_argument("--json", action="store_true", help="print the fit as one JSON line")
    p.set_defaults(func=cmd_fit)


def cmd_fit(args) -> int:
    import json

    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.faults.ber_curve import fit_report

    rep = fit_report(args.curve, args.law)
    if args.json:
        print(json.dumps(rep))
        return 0
    params = ", ".join(f"{k} = {v:.6g}" for k, v in rep["params"].items())
    t = Table(title=f"{rep['name'] or args.curve}: {args.law} fit, {params}; RMS {rep['rms_decades']:.3f} decades "
                    f"over {rep['fitted_points']} points")
    for c in ("vdd (V)", "faults", "bits", "measured BER", "fitted BER"):
        t.add_column(c, justify="right")
    for r in rep["points"]:
        t.add_row(f"{r['vdd']:.4g}", "" if r["faults"] is None else f"{r['faults']:,}",
                  "" if r["bits"] is None else f"{r['bits']:,}", f"{r['ber']:.3g}", f"{r['fitted']:.3g}")
    get_console().print(t)
    return 0
