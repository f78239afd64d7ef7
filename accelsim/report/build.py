"""Build a report directory from campaign rows: report.html (self-contained), summary.md,
results.csv, results.json and the PNG plots. Written into a temporary directory and
renamed into place, so an existing report is replaced only by a complete one."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path


from accelsim import __version__
from accelsim.campaign import analyses
from accelsim.campaign.store import Store
from accelsim.errors import UserError
from accelsim.fileio import atomic_directory
from accelsim.report import plots

CSV_SKIP = ("per_layer", "params")


def headline(rows, tolerance: float = 0.01, metric: str = "accuracy") -> list[dict]:
    """Per model and scheme: the lowest voltage within ``tolerance`` of the fault-free
    accuracy (``metric="sdc"``: whose top-1 SDC rate stays within ``tolerance``), and the
    energy per inference saved there against the highest (nominal) voltage of the sweep."""
    energy = analyses.group_mean([r for r in rows if r["layers"] == "all"], ("model", "scheme", "vdd"), "energy_pj")
    out = []
    for h in analyses.lowest_safe_voltage(rows, tolerance, metric):
        vdds = sorted({r["vdd"] for r in rows if (r["model"], r["scheme"]) == (h["model"], h["scheme"])})
        v_nom = vdds[-1] if vdds else None
        e_nom = energy.get((h["model"], h["scheme"], v_nom), (None,))[0]
        e_min = energy.get((h["model"], h["scheme"], h["vmin_safe"]), (None,))[0]
        saved = (1 - e_min / e_nom) if (e_nom and e_min is not None) else None
        out.append({**h, "v_nominal": v_nom, "energy_nominal_pj": e_nom, "energy_vmin_pj": e_min,
                    "energy_saved": saved})
    return out


def _fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    return str(v)


def _pct(v):
    return "—" if v is None else f"{v * 100:.2f} %"


def _headline_rows(head):
    return [[h["model"], h["scheme"], _pct(h["baseline"]), _fmt(h["vmin_safe"], 2) + " V",
             _pct(h["accuracy_at_vmin"]), _pct(h.get("sdc_at_vmin")),
             # the reference is the sweep's highest voltage, which need not be the nominal one
             "—" if h["energy_nominal_pj"] is None else f"{h['energy_nominal_pj'] / 1e3:.1f} nJ at {h['v_nominal']:.2f} V",
             "—" if h["energy_vmin_pj"] is None else f"{h['energy_vmin_pj'] / 1e3:.1f} nJ",
             "—" if h["energy_saved"] is None else f"{h['energy_saved'] * 100:.1f} %"] for h in head]


HEADLINE_COLS = ["model", "scheme", "fault-free accuracy", "lowest safe V", "accuracy there",
                 "top-1 SDC there", "energy at highest swept V", "energy at lowest safe V", "energy saved"]


def _md_table(cols, rows) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _html_table(cols, rows) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:right;white-space:nowrap}th{background:#f3f3f3;white-space:normal}td:first-child,td:nth-child(2){text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#666;font-size:.85em}.note{color:#555;font-size:.9em}
.headline{background:#f7fbf7;border:1px solid #cfe6cf;padding:.5em 1em;border-radius:6px}"""


def safe_criterion(tolerance: float, metric: str) -> str:
    """The headline's criterion in words."""
    if metric == "sdc":
        return (f"top-1 SDC rate (share of inputs whose top-1 class differs from the fault-free network's) "
                f"stays within {tolerance * 100:g} %")
    return f"accuracy stays within {tolerance * 100:g} % of the fault-free model"


def build_report(rows: list[dict], out_dir: str | Path, *, tolerance: float = 0.01, force: bool = False,
                 meta: dict | None = None, metric: str | None = None) -> Path:
    """Write the report for ``rows`` into ``out_dir``; returns the path of report.html.
    ``metric`` (accuracy | sdc) picks the headline's criterion (default: the campaign's,
    else accuracy when the trials have labels, else sdc)."""
    if not rows:
        raise UserError("the campaign store holds no finished trials to report")
    metric = metric or (meta or {}).get("metric") or default_metric(rows)
    models = sorted({r["model"] for r in rows})
    head = headline(rows, tolerance, metric)
    sdc = analyses.sdc_per_point(rows)
    labelled = any(r.get("accuracy") is not None for r in rows)
    if metric == "accuracy" and not labelled:
        raise UserError("the trials' inputs have no labels, so no accuracy: use metric sdc")
    if metric not in ("accuracy", "sdc"):
        raise UserError(f"metric {metric!r} is not one of accuracy, sdc")
    drop = analyses.accuracy_drop(rows)
    resid = analyses.residual_fraction(rows)
    zad = analyses.berzad(rows)
    with atomic_directory(out_dir, force=force) as tmp:
        figs = []
        if labelled:
            figs.append((plots.accuracy_vs_voltage(rows, models, tmp / "accuracy_vs_voltage.png"),
                         "Accuracy against weight-SRAM voltage per scheme (band: spread over chips)"))
        if sdc:
            figs.append((plots.sdc_vs_voltage(rows, models, tmp / "sdc_vs_voltage.png"),
                         "SDC rate against weight-SRAM voltage: inputs whose top-1 class differs from the "
                         "fault-free network's (solid, band: spread over chips) or whose fault-free class left "
                         "the top 5 (dotted)"))
        if any(r.get("energy_pj") is not None for r in rows):
            figs.append((plots.energy_vs_voltage(rows, models, tmp / "energy_vs_voltage.png"),
                         "Energy per inference against weight-SRAM voltage"))
            if labelled:
                figs.append((plots.pareto(rows, models, tmp / "accuracy_energy_pareto.png"),
                             "Accuracy against energy per inference, every scheme and voltage; Pareto front"))
        figs.append((plots.residual_vs_ber(resid, tmp / "residual_vs_ber.png"),
                     "Faulty weight bits left after correction against BER (points: measured; lines: closed form)"))
        heat_scheme = next((s for s in ("inplace-4b-64", "inplace-8b-64", "ecc-8b-72")
                            if any(r["scheme"] == s for r in rows)), rows[0]["scheme"])
        figs.append((plots.layer_heatmap(rows, models[0], heat_scheme, tmp / "layer_sensitivity.png"),
                     f"Per-layer residual faulty bits per word, {models[0]} / {heat_scheme}"))
        flat = [{k: v for k, v in r.items() if k not in CSV_SKIP} for r in rows]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(flat[0]))
        w.writeheader()
        w.writerows(flat)
        (tmp / "results.csv").write_text(buf.getvalue())
        (tmp / "results.json").write_text(json.dumps(
            {"accelsim_version": __version__, "meta": meta or {}, "tolerance": tolerance, "metric": metric,
             "headline": head, "sdc": sdc,
             "berzad": zad, "accuracy_drop": drop, "residual_fraction": resid, "trials": rows},
            indent=1, default=float))
        zad_rows = [[z["model"], z["scheme"], z["layers"], _fmt(z["berzad"]), z["repeats"]] for z in zad]
        drop_rows = [[d["model"], d["scheme"], _fmt(d["vdd"], 2), _fmt(d["ber"]), f"{d['accuracy'] * 100:.2f}",
                      f"{d['accuracy_std'] * 100:.2f}", f"{d['drop'] * 100:+.2f}", d["trials"]]
                     for d in drop if d["layers"] == "all"]
        sdc_rows = [[d["model"], d["scheme"], _fmt(d["vdd"], 2), _fmt(d["ber"]), f"{d['sdc_top1'] * 100:.2f}",
                     f"{d['sdc_top1_std'] * 100:.2f}", "—" if d["sdc_top5"] is None else f"{d['sdc_top5'] * 100:.2f}",
                     d["trials"]]
                    for d in sdc if d["layers"] == "all"]
        sdc_cols = ["model", "scheme", "V", "BER", "top-1 SDC %", "std %", "top-5 SDC %", "trials"]
        res_rows = [[t["scheme"], _fmt(t["ber"]), _fmt(t["measured"]), _fmt(t["closed_form"]), t["trials"]] for t in resid]
        # the campaigns whose rows are reported (a store may hold several), not only the last spec's name
        names = sorted({str(r["campaign"]) for r in rows if r.get("campaign")}) or [str((meta or {}).get("name", "campaign"))]
        title = f"accelsim report — {html.escape(', '.join(names))}"
        md = [f"# {title}\n", f"Lowest weight-SRAM voltage whose {safe_criterion(tolerance, metric)}, "
              "and the energy per inference saved there against the highest voltage of the sweep:\n",
              _md_table(HEADLINE_COLS, _headline_rows(head)),
              "\n## SDC rate per voltage\n", _md_table(sdc_cols, sdc_rows),
              "\n## BERZAD (highest BER with zero accuracy loss)\n", _md_table(["model", "scheme", "layers", "BERZAD", "trials"], zad_rows),
              "\n## Residual faulty weight bits after correction\n",
              _md_table(["scheme", "BER", "measured", "closed form", "trials"], res_rows),
              "\n## Accuracy per voltage\n",
              _md_table(["model", "scheme", "V", "BER", "accuracy %", "std %", "drop %", "trials"], drop_rows)]
        (tmp / "summary.md").write_text("".join(md))
        body = [f"<h1>{title}</h1>",
                f'<div class="headline"><p><b>How low can the weight SRAM go?</b> Lowest voltage whose '
                f"{safe_criterion(tolerance, metric)}, and the energy per inference saved there "
                "against the highest voltage of the sweep.</p>" + _html_table(HEADLINE_COLS, _headline_rows(head)) + "</div>",
                "<h2>Plots</h2>"] + [_img(p, alt) for p, alt in figs] + [
                "<h2>BERZAD</h2><p class='note'>Highest BER at which the mean accuracy over chips and repeats shows "
                "no loss, with every lower BER clean too.</p>",
                _html_table(["model", "scheme", "layers", "BERZAD", "trials"], zad_rows),
                "<h2>Residual faulty weight bits after correction</h2>",
                _html_table(["scheme", "BER", "measured", "closed form", "trials"], res_rows),
                "<h2>SDC rate per voltage</h2><p class='note'>Silent data corruption: the share of inputs whose "
                "top-1 class differs from the fault-free network's (top-5: whose fault-free class left the faulty "
                "top 5).</p>",
                _html_table(sdc_cols, sdc_rows),
                "<h2>Accuracy per voltage</h2>",
                _html_table(["model", "scheme", "V", "BER", "accuracy %", "std %", "drop %", "trials"], drop_rows),
                f"<p class='note'>{len(rows)} trials; accelsim {__version__}. Files: summary.md, results.csv, "
                "results.json and the PNG plots beside this page.</p>"]
        (tmp / "report.html").write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>")
    return Path(out_dir) / "report.html"


def default_metric(rows) -> str:
    """accuracy when the trials have labels, else sdc."""
    return "accuracy" if any(r.get("accuracy") is not None for r in rows) else "sdc"


# what, besides the sweep point, chip and repeat, changes what a row measures
VARIANT_FIELDS = ("export_sha256", "samples", "fault_model", "engine", "policy", "data")


def _variant(r: dict, f: str):
    """A row's value of a VARIANT_FIELDS entry; ``data`` (the evaluated data set) lives in
    the params JSON (digits trials have none)."""
    if f != "data":
        return r.get(f)
    params = r.get("params")
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except json.JSONDecodeError:
            return None
    data = (params or {}).get("data") if isinstance(params, dict) else None
    return data.get("source") if isinstance(data, dict) else None


def label_models(rows: list[dict]) -> list[dict]:
    """Rows of one (model, scheme) that differ in what they measure (another image, i.e.
    other checkpoint bytes, export_sha256; another sample count, fault model, engine or
    policy) are different series: label each by what differs, ``model@<8 hex digits>``
    and/or ``model[samples=200]``, instead of averaging them together."""
    seen: dict[tuple, dict[str, set]] = {}
    for r in rows:
        fields = seen.setdefault((r["model"], r["scheme"]), {f: set() for f in VARIANT_FIELDS})
        for f in VARIANT_FIELDS:
            fields[f].add(_variant(r, f))
    out = []
    for r in rows:
        varying = [f for f, values in seen[(r["model"], r["scheme"])].items() if len(values) > 1]
        if varying:
            label = r["model"]
            if "export_sha256" in varying:
                label += f"@{(r.get('export_sha256') or 'unknown')[:8]}"
            rest = [f"{f}={_variant(r, f)}" for f in varying if f != "export_sha256"]
            r = dict(r, model=label + (f"[{','.join(rest)}]" if rest else ""))
        out.append(r)
    return out


def report_from_store(store_path, out_dir, *, tolerance: float = 0.01, force: bool = False,
                      metric: str | None = None) -> Path:
    store = Store(store_path, create=False, readonly=True)
    try:
        rows, meta = label_models(store.rows()), store.meta()
    finally:
        store.close()
    return build_report(rows, out_dir, tolerance=tolerance, force=force, meta=meta.get("spec"), metric=metric)
