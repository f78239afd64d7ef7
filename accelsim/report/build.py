"""Build a report directory from campaign rows: report.html (self-contained), summary.md,
results.csv, results.json and the plots (PNG, and SVG beside each). Written into a temporary directory and
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


def _voltage_model(meta: dict):
    """What moving an energy along the voltage axis needs: the table's nominal voltage and
    leakage fit (from the campaign's provenance; the packaged table without it)."""
    from types import SimpleNamespace

    from accelsim.energy import load_table
    values = (meta or {}).get("energy_values") or {}
    if "vdd_nominal" in values and "dibl_per_volt" in values:
        return SimpleNamespace(vdd_nominal=float(values["vdd_nominal"]), dibl_per_volt=float(values["dibl_per_volt"]))
    return load_table()


def first_error_voltage(curve_dict: dict | None, stored_bits: int) -> float | None:
    """V_fe: the highest voltage where BER(V) x stored bits reaches 1 (the first expected
    faulty bit of the image), within the curve's domain; None without a curve."""
    if not curve_dict or not stored_bits:
        return None
    from accelsim.faults import curve_from_dict
    curve = curve_from_dict(dict(curve_dict))
    target = 1.0 / stored_bits
    if curve.ber(curve.v_max) >= target:
        return float(curve.v_max)
    if curve.ber(curve.v_min) < target:
        return float(curve.v_min)
    return float(curve.vdd_for_ber(target))


def energy_savings(rows, head: list[dict], meta: dict | None = None) -> list[dict]:
    """The energy answers of each headline row (docs/energy.md, Savings), each against a named
    reference voltage: ``domain`` = 1 - E_domain(V_safe) / E_domain(V_nom) over the scaled domain
    (weight SRAM, and the activation buffers when they are scaled); ``whole`` = the same over the
    whole inference; ``below_first_error`` = 1 - E_total(V_safe) / E_total(V_fe), V_fe the highest
    voltage where BER x stored bits reaches 1 (the guardband excluded; E(V_fe) from the nominal
    run's components moved along the voltage axis); ``design`` = 1 - E_total(scheme, V_safe) /
    E_total(unprotected scheme of the same weight width, V_nom)."""
    from accelsim.campaign.store import ENERGY_COLUMNS
    from accelsim.energy.model import domain_components, scale_energy

    meta = meta or {}
    scaled = bool((meta.get("accelerator_config") or {}).get("activations_scaled"))
    domain = domain_components(scaled)
    whole = [r for r in rows if r["layers"] == "all" and r.get("energy_pj") is not None]
    comp = {c: analyses.group_mean(whole, ("model", "scheme", "vdd"), c) for c in ENERGY_COLUMNS + ("energy_pj",)}
    bits = {}
    for r in whole:
        from accelsim.ecc import get_layout
        try:
            bits[(r["model"], r["scheme"])] = int(r["words"]) * get_layout(r["scheme"]).word_bits
        except (KeyError, TypeError, ValueError):
            pass
    table = _voltage_model(meta)
    schemes = {r["scheme"] for r in whole}

    def parts(key):
        if key not in comp["energy_pj"]:
            return None
        return {c[len("energy_"):-len("_pj")]: (comp[c].get(key, (None,))[0] or 0.0) for c in ENERGY_COLUMNS}

    out = []
    for h in head:
        m, sch, v_nom, v_safe = h["model"], h["scheme"], h["v_nominal"], h["vmin_safe"]
        nom = parts((m, sch, v_nom))
        safe = parts((m, sch, v_safe)) if v_safe is not None else None
        row = {"model": m, "scheme": sch, "v_nominal": v_nom, "v_safe": v_safe, "scaled_domain": list(domain),
               "domain_nominal_pj": None, "domain_safe_pj": None, "domain_saved": None,
               "total_nominal_pj": None, "total_safe_pj": None, "whole_saved": None,
               "v_first_error": None, "total_first_error_pj": None, "below_first_error_saved": None,
               "design_reference": None, "design_reference_pj": None, "design_saved": None,
               "weight_sram_share": None}
        if nom is not None:
            row["domain_nominal_pj"] = sum(nom[c] for c in domain)
            row["total_nominal_pj"] = sum(nom.values())
            row["weight_sram_share"] = (nom["sram_dynamic"] + nom["sram_leakage"]) / row["total_nominal_pj"]
            v_fe = first_error_voltage(meta.get("curve"), bits.get((m, sch), 0))
            if v_fe is not None:
                v_fe = min(v_fe, v_nom)
                row["v_first_error"] = v_fe
                row["total_first_error_pj"] = sum(scale_energy(nom, table, v_nom, v_fe, scaled).values())
        if safe is not None and nom is not None:
            row["domain_safe_pj"] = sum(safe[c] for c in domain)
            row["total_safe_pj"] = sum(safe.values())
            if row["domain_nominal_pj"]:
                row["domain_saved"] = 1 - row["domain_safe_pj"] / row["domain_nominal_pj"]
            row["whole_saved"] = 1 - row["total_safe_pj"] / row["total_nominal_pj"]
            if row["total_first_error_pj"] and row["v_first_error"] is not None and v_safe <= row["v_first_error"]:
                row["below_first_error_saved"] = 1 - row["total_safe_pj"] / row["total_first_error_pj"]
            base = unprotected_baseline(sch, schemes)
            ref = parts((m, base, v_nom)) if base else None
            if ref is not None:
                row["design_reference"] = base
                row["design_reference_pj"] = sum(ref.values())
                row["design_saved"] = 1 - row["total_safe_pj"] / row["design_reference_pj"]
        out.append(row)
    return out


def _pct(v) -> str:
    return "—" if v is None else f"{v * 100:.2f} %"


def energy_digits(pj_values) -> tuple[str, float]:
    """The unit (pJ .. J) of the largest value: headline energies are printed with six
    significant digits so that every saving shown can be recomputed from them."""
    return plots.energy_unit(list(pj_values))


def _savings_rows(savings: list[dict]) -> list[list[str]]:
    unit, scale = energy_digits(x for s in savings for x in (s["total_nominal_pj"] or 0, s["domain_nominal_pj"] or 0))

    def e(pj):
        return "—" if pj is None else f"{pj / scale:.6g}"

    out = []
    for s in savings:
        fe = "—" if s["v_first_error"] is None else volts(s["v_first_error"])
        ref = "—" if s["design_reference"] is None else f"{s['design_reference']} at {volts(s['v_nominal'])}"
        out.append([s["model"], s["scheme"], "none" if s["v_safe"] is None else volts(s["v_safe"]),
                    f"{e(s['domain_nominal_pj'])} -> {e(s['domain_safe_pj'])}", _pct(s["domain_saved"]),
                    f"{e(s['total_nominal_pj'])} -> {e(s['total_safe_pj'])}", _pct(s["whole_saved"]),
                    f"{e(s['total_first_error_pj'])} at {fe}", _pct(s["below_first_error_saved"]),
                    f"{e(s['design_reference_pj'])} ({ref})", _pct(s["design_saved"]),
                    _pct(s["weight_sram_share"])])
    return out


def savings_cols(savings: list[dict]) -> list[str]:
    unit, _ = energy_digits(x for s in savings for x in (s["total_nominal_pj"] or 0, s["domain_nominal_pj"] or 0))
    return ["model", "scheme", "safe V", f"scaled domain, nominal -> safe ({unit})", "domain saved",
            f"whole inference, nominal -> safe ({unit})", "whole saved", f"at first-error V ({unit})",
            "saved below first error", f"unprotected reference ({unit})", "design saving",
            "weight SRAM share at nominal"]


SAVINGS_NOTE = ("Savings at each scheme's safe voltage (yield point estimate). Scaled domain: the weight SRAM "
                "(dynamic and leakage; plus the activation buffers when they are scaled), against the same "
                "scheme at the highest swept voltage; whole inference: every component, same reference; below "
                "first error: whole inference against the first-error voltage V_fe (BER x stored bits = 1), "
                "the guardband excluded; design saving: against the unprotected scheme of the same weight width "
                "at the highest swept voltage.")


def headline(rows, tolerance: float = 0.01, yield_target: float = 0.95, *, seed: int = 0,
             stats: list[dict] | None = None, metric: str = "accuracy") -> list[dict]:
    """Per model and scheme: the lowest voltage whose chip yield (share of chips within
    ``tolerance`` of the fault-free accuracy) reaches ``yield_target`` — point estimate
    (``vmin_safe``) and where the yield's 95 % Wilson lower bound reaches it
    (``vmin_lower``) — with the accuracy's 95 % bootstrap interval and the yield interval
    there, and the energy per inference saved there against the highest (nominal) voltage.
    ``metric="sdc"``: a chip is within the tolerance when its top-1 SDC rate is; the
    ``accuracy_*`` fields then hold the SDC rate."""
    stats = stats if stats is not None else analyses.point_statistics(rows, tolerance=tolerance, seed=seed,
                                                                      metric=metric)
    energy = analyses.group_mean([r for r in rows if r["layers"] == "all"], ("model", "scheme", "vdd"), "energy_pj")
    out = []
    for h in analyses.yield_headline(stats, yield_target):
        key = (h["model"], h["scheme"])
        v_nom, at = h["v_nominal"], h["at_point"]
        e_nom = energy.get((*key, v_nom), (None,))[0]
        e_min = energy.get((*key, h["vmin_yield"]), (None,))[0] if at else None
        saved = (1 - e_min / e_nom) if (e_nom and e_min is not None) else None
        out.append({"model": h["model"], "scheme": h["scheme"], "baseline": h["baseline"], "target": yield_target,
                    "tolerance": tolerance, "chips": h["chips"], "inputs": h["inputs"],
                    "vmin_safe": h["vmin_yield"], "vmin_lower": h["vmin_yield_lower"],
                    "accuracy_at_vmin": at["mean"] if at else None,
                    "accuracy_ci": (at["ci_lo"], at["ci_hi"]) if at else None,
                    "yield_at_vmin": at["yield"] if at else None,
                    "yield_ci": (at["yield_lo"], at["yield_hi"]) if at else None,
                    "v_nominal": v_nom, "energy_nominal_pj": e_nom, "energy_vmin_pj": e_min, "energy_saved": saved})
    return out


def _fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    return str(v)


def _pct_ci(mean, ci):
    return "—" if mean is None else f"{mean * 100:.1f} % [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"


def volts(v: float) -> str:
    """A voltage with two decimals, or three where the sweep steps by 5 mV (0.515 V)."""
    text = f"{v:.3f}"
    return f"{text[:-1] if text.endswith('0') else text} V"


def energy_text(pj: float) -> str:
    """An energy in the unit that keeps 1 to 3 digits before the point (pJ .. J)."""
    unit, scale = plots.energy_unit([pj])
    return f"{pj / scale:.1f} {unit}"


def energy_pair(reference_pj: float, low_pj: float, saved: float) -> tuple[str, str]:
    """Two energies in one unit, with the fewest decimals (at least one) at which the
    printed numbers reproduce the printed saving: 5.4 uJ -> 5.3 uJ cannot read as 0.5 %
    saved, 5.36 uJ -> 5.33 uJ can."""
    unit, scale = plots.energy_unit([reference_pj])
    a, b = reference_pj / scale, low_pj / scale
    shown = f"{saved * 100:.1f}"
    for decimals in range(1, 7):
        ra, rb = round(a, decimals), round(b, decimals)
        if ra and f"{(1 - rb / ra) * 100:.1f}" == shown:
            break
    return f"{a:.{decimals}f} {unit}", f"{b:.{decimals}f} {unit}"


METRIC_LABEL = {"accuracy": "accuracy", "sdc": "top-1 SDC"}
DEGRADATION_LABEL = {"accuracy": "accuracy drop (points)", "sdc": "SDC rise (points)"}


def degradation(stat: dict) -> float:
    """How much worse than fault-free a point is, in shares: positive is worse for every
    metric (accuracy: fault-free - mean; SDC: mean - fault-free)."""
    d = stat["baseline"] - stat["mean"]
    return (d if stat.get("metric", "accuracy") == "accuracy" else -d) + 0.0   # + 0.0: no "-0.00"


def _energy_cells(h) -> tuple[str, str, str]:
    if h["energy_nominal_pj"] is None:
        return "—", "—", "—"
    if h["energy_vmin_pj"] is None or h["energy_saved"] is None:
        return f"{energy_text(h['energy_nominal_pj'])} at {volts(h['v_nominal'])}", "—", "—"
    ref, low = energy_pair(h["energy_nominal_pj"], h["energy_vmin_pj"], h["energy_saved"])
    return f"{ref} at {volts(h['v_nominal'])}", low, f"{h['energy_saved'] * 100:.1f} %"


def _yield_text(h, sep=" ") -> str:
    return ("—" if h["yield_at_vmin"] is None else
            f"{h['yield_at_vmin'] * 100:.0f} %{sep}[{h['yield_ci'][0] * 100:.0f}, {h['yield_ci'][1] * 100:.0f}]")


EXTRAPOLATED_NOTE = ("* outside the BER curve's measured points: the law's extrapolation (above them, a BER too "
                     "small to have been counted; below them, beyond every measurement).")


def _safe_volts(h, key: str) -> str:
    """A headline voltage (``vmin_safe`` or ``vmin_lower``), marked * when the report found it
    outside the BER curve's measured points (``h["extrapolated"]``)."""
    if h[key] is None:
        return "none"
    return volts(h[key]) + (" *" if key in (h.get("extrapolated") or ()) else "")


def _headline_rows(head, metric: str = "accuracy"):
    """Rows of the full headline table, cells in the order of :func:`headline_cols`."""
    out = []
    for h in head:
        row = [h["model"], h["scheme"]]
        if metric == "accuracy":   # an SDC run's fault-free SDC is 0 by definition: no column
            row.append("—" if h["baseline"] is None else f"{h['baseline'] * 100:.2f} %")
        row += [_safe_volts(h, "vmin_safe"), _pct_ci(h["accuracy_at_vmin"], h["accuracy_ci"]), _yield_text(h),
                _safe_volts(h, "vmin_lower"), *_energy_cells(h)]
        out.append(row)
    return out


HEADLINE_COLS = ["model", "scheme", "fault-free", "safe V (yield)", "accuracy [95 % CI]", "yield [95 % CI]",
                 "safe V (lower bound)", "energy at highest swept V", "energy at safe V", "energy saved"]


def headline_cols(metric: str = "accuracy") -> list[str]:
    """HEADLINE_COLS, naming the SDC rate where ``metric`` is sdc (whose fault-free value is
    0 by definition and has no column)."""
    if metric != "sdc":
        return list(HEADLINE_COLS)
    return [{"accuracy [95 % CI]": "top-1 SDC [95 % CI]"}.get(c, c) for c in HEADLINE_COLS if c != "fault-free"]


def headline_terminal(head, metric: str = "accuracy") -> list[tuple[str, list[str], list[list[str]]]]:
    """The headline as two narrow tables (title, columns, rows) that fit an 80-column
    terminal: where it is safe, then the energy there. Intervals sit on a second line of
    their cell; the model column is left out when there is one model."""
    many = len({h["model"] for h in head}) > 1
    lead = ["model", "scheme"] if many else ["scheme"]
    safe_cols = lead + (["fault-free"] if metric == "accuracy" else []) + [
        "safe V", "95 %\nbound", METRIC_LABEL[metric] + "\n[95 % CI]", "yield\n[95 % CI]"]
    energy_cols = lead + ["energy at\nhighest V", "at safe V", "saved"]
    safe_rows, energy_rows = [], []
    for h in head:
        key = [h["model"], h["scheme"]] if many else [h["scheme"]]
        mean, ci = h["accuracy_at_vmin"], h["accuracy_ci"]
        safe_rows.append(key + ([("—" if h["baseline"] is None else f"{h['baseline'] * 100:.2f} %")]
                                if metric == "accuracy" else []) + [
            _safe_volts(h, "vmin_safe"), _safe_volts(h, "vmin_lower"),
            "—" if mean is None else f"{mean * 100:.1f} %\n[{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]",
            _yield_text(h, "\n")])
        ref, low, saved = _energy_cells(h)
        energy_rows.append(key + [ref.replace(" at ", "\nat "), low, saved])
    return [("where it is safe", safe_cols, safe_rows), ("energy per inference there", energy_cols, energy_rows)]


def plural(n: int, noun: str) -> str:
    """``1 chip``, ``2 chips``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def percent(share: float) -> str:
    """A share as the report prints percentages: ``95 %`` (a space before the sign)."""
    return f"{share * 100:g} %"


def headline_title(tolerance: float, target: float, chips: int | None = None, inputs: int | None = None,
                   metric: str = "accuracy", data: str | None = None) -> str:
    """The headline's question; ``data`` names the evaluated data set (digits, fashion-mnist, ...)."""
    sample = f"; {plural(chips, 'chip')} x {plural(inputs, 'input')} per point" if chips else ""
    if data:
        sample += f" of {DATA_NAMES.get(data, data)}"
    within = (f"at a top-1 SDC rate (inputs whose top-1 class differs from the fault-free network's) of at most "
              f"{percent(tolerance)}" if metric == "sdc" else f"within {percent(tolerance)} of the fault-free accuracy")
    return (f"How low can the weight SRAM go? Lowest voltage where at least {percent(target)} of chips stay "
            f"{within}{sample}")


# how the headline names a data source (others: their spec text)
DATA_NAMES = {"digits": "the 8x8 digits' test split", "fashion-mnist": "the Fashion-MNIST test set"}


def rows_data(rows) -> str | None:
    """The data source the rows evaluated (``digits`` for rows without one), or None when
    the rows evaluated several."""
    names = {_variant(r, "data") or "digits" for r in rows}
    return names.pop() if len(names) == 1 else None


def default_metric(rows) -> str:
    """accuracy when the trials have labels, else sdc."""
    return "accuracy" if any(r.get("accuracy") is not None for r in rows) else "sdc"


def storage_note(acc: dict) -> str:
    """One sentence: which accelerator preset ran and whether its weight SRAM is resident
    (holds the image, loaded once) or a staging buffer refilled from DRAM every inference."""
    if not acc:
        return ""
    name = acc.get("preset") or "custom"
    if acc.get("resident"):
        return (f"Accelerator {name}: the weight SRAM is resident -- sized to hold the whole image with its check "
                "bits and loaded once; no weight DRAM traffic per inference.")
    return (f"Accelerator {name}: the weight SRAM ({acc.get('banks', 0) * acc.get('words_per_bank', 0):,} words) is a "
            "staging buffer: an image larger than it streams from DRAM in tiles every inference, and the "
            "scaled-voltage SRAM sees each tile's words only while they pass through.")


def unprotected_baseline(scheme: str, schemes) -> str | None:
    """The scheme's unprotected counterpart (none-<bits>b, same weight width), if swept."""
    from accelsim.ecc import get_layout
    try:
        base = f"none-{get_layout(scheme).weight_bits}b"
    except (KeyError, ValueError, UserError):
        return None
    return base if base in schemes else None


def energy_tables(rows, head) -> tuple[list[dict], dict, list[dict]]:
    """(stacked-bar rows: components at nominal and at each scheme's safe voltage; energy
    relative to the unprotected baseline per voltage; cycles and latency per scheme)."""
    from accelsim.campaign.store import ENERGY_COLUMNS

    whole = [r for r in rows if r["layers"] == "all" and r.get("energy_pj") is not None]
    comp = {c: analyses.group_mean(whole, ("model", "scheme", "vdd"), c) for c in ENERGY_COLUMNS + ("energy_pj", "cycles")}
    bars = []
    for h in head:
        for label, v in (("nominal", h["v_nominal"]), ("safe", h["vmin_safe"])):
            key = (h["model"], h["scheme"], v)
            if v is None or key not in comp["energy_pj"]:
                continue
            bars.append({"model": h["model"], "scheme": h["scheme"], "vdd": v, "label": f"{label} {volts(v)}",
                         "total": comp["energy_pj"][key][0],
                         **{c[len("energy_"):-len("_pj")]: comp[c].get(key, (0.0,))[0] for c in ENERGY_COLUMNS}})
    schemes = {r["scheme"] for r in whole}
    rel = {}
    for (model, scheme, vdd), (e, _, _) in sorted(comp["energy_pj"].items()):
        base = unprotected_baseline(scheme, schemes)
        ref = comp["energy_pj"].get((model, base, vdd)) if base else None
        if ref and ref[0]:
            rel.setdefault((model, scheme), []).append((vdd, e / ref[0]))
    cycles = []
    for h in head:
        nom = comp["cycles"].get((h["model"], h["scheme"], h["v_nominal"]))
        low = comp["cycles"].get((h["model"], h["scheme"], h["vmin_safe"])) if h["vmin_safe"] is not None else None
        if nom:
            cycles.append({"model": h["model"], "scheme": h["scheme"], "cycles_nominal": nom[0],
                           "cycles_safe": low[0] if low else None})
    return bars, rel, cycles


def _md_table(cols, rows) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _html_table(cols, rows) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    """A figure with its PNG embedded: two side by side, a wide one (taller than wide by
    less than half) across the page."""
    data = base64.b64encode(path.read_bytes()).decode()
    svg = path.with_suffix(".svg").name
    raw = path.read_bytes()
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")   # the PNG IHDR
    wide = " class='wide'" if width > 1.8 * height else ""
    return (f'<figure{wide}><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>'
            f'{html.escape(alt)} <a href="{html.escape(svg)}">SVG</a></figcaption></figure>')


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:right;white-space:nowrap}th{background:#f3f3f3;white-space:normal}td:first-child,td:nth-child(2){text-align:left}
figure{display:inline-block;vertical-align:top;width:48%;margin:.6em 1%}figure.wide{width:98%}
img{max-width:100%}figcaption{color:#666;font-size:.85em}.note{color:#555;font-size:.9em}
.headline{background:#f7fbf7;border:1px solid #cfe6cf;padding:.5em 1em;border-radius:6px;overflow-x:auto}
.warn{background:#fff8e6;border:1px solid #f0d48a;padding:.4em 1em;border-radius:6px}
.prov td{white-space:normal;text-align:left;vertical-align:top}.prov pre{margin:0;font-size:.85em;white-space:pre-wrap}"""


def _provenance_rows(meta: dict, tolerance: float, target: float, rows) -> list[tuple[str, object]]:
    """(field, value) pairs of the provenance section, in reading order."""
    seeds = sorted({r.get("seed") for r in rows if r.get("seed") is not None})
    data = meta.get("data_source")
    data_text = (f"{data.get('source')} ({data.get('inputs')} inputs evaluated; content sha256 {data.get('sha256')})"
                 if isinstance(data, dict) else meta.get("data"))
    host = meta.get("host")
    fields = [("campaign", meta.get("name")), ("run date (UTC)", meta.get("run_date")),
              ("host / CPU", f"{host.get('name')} / {host.get('cpu')} ({plural(host.get('cores', 0), 'core')})"
               if isinstance(host, dict) else None),
              ("accelsim version", meta.get("accelsim_version", __version__)),
              ("git commit", meta.get("git_commit") or "not a git checkout"),
              ("library versions", meta.get("versions")),
              ("evaluation data", data_text),
              ("models / schemes", f"{', '.join(meta.get('models', []))} / {', '.join(meta.get('schemes', []))}"),
              ("sweep", meta.get("voltages") or meta.get("bers")), ("fault model", meta.get("fault_model")),
              ("engine / ECC policy", f"{meta.get('engine')} / {meta.get('policy')}"),
              ("chips x repeats, inputs per trial", f"{meta.get('chips')} x {meta.get('repeats')}, {meta.get('samples')}"),
              ("root seed(s)", ", ".join(map(str, seeds))), ("map floor v_low (V)", meta.get("v_low")),
              ("tolerance, yield target", f"{percent(tolerance)}, {percent(target)}"),
              ("trials", len(rows)), ("BER curve", meta.get("curve")),
              ("accelerator", meta.get("accelerator") or "packaged default (accelsim/configs/accelerator.yaml)"),
              ("accelerator, resolved", meta.get("accelerator_config")), ("energy table", meta.get("energy_table")),
              ("energy table, values (pJ)", meta.get("energy_values")),
              ("models (files and sha256)", meta.get("checkpoints")),
              ("per-layer study (faults in one layer at a time)", meta.get("sensitivity")),
              ("run config, as given", meta.get("run_config_text")),
              ("run config, resolved (defaults filled in)", meta.get("run_config_resolved")),
              ("runs into this store", None if (meta.get("runs") or 1) <= 1 else
               f"{meta['runs']}: the values above are the latest run's; each row names its own run's "
               "(store table provenance, column provenance_sha256)")]
    return [(k, v) for k, v in fields if v is not None]


def _prov_text(v) -> str:
    """A provenance value on few lines: a list on one line, a mapping as YAML."""
    import yaml

    if isinstance(v, list):
        return ", ".join(map(str, v))
    if isinstance(v, dict):
        plain = json.loads(json.dumps(v, default=str))   # tuples and paths as YAML can read them back
        return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False, width=100).rstrip()
    return str(v)


def _prov_html(pairs) -> str:
    cells = []
    for k, v in pairs:
        multi = isinstance(v, dict) or (isinstance(v, str) and "\n" in v)
        val = f"<pre>{html.escape(_prov_text(v))}</pre>" if multi else html.escape(_prov_text(v))
        cells.append(f"<tr><th>{html.escape(k)}</th><td>{val}</td></tr>")
    return f"<table class='prov'><tbody>{''.join(cells)}</tbody></table>"


STATISTICS_FIELDS = ("model", "scheme", "vdd", "ber", "metric", "mean", "ci_lo", "ci_hi", "baseline", "degradation",
                     "chips", "inputs", "passing", "yield", "yield_lo", "yield_hi", "var_between", "var_input",
                     "sdc_top1", "sdc_top5", "energy_pj")


def statistics_table(stats: list[dict], rows) -> list[dict]:
    """One row per model x scheme x voltage (whole-image faults) with the statistics of
    results.json: the metric's mean and 95 % bootstrap interval, its degradation from
    fault-free (positive = worse), the yield and its Wilson interval, the variance parts,
    and the mean top-1 / top-5 SDC rate and energy per inference there."""
    whole = [r for r in rows if r["layers"] == "all"]
    extra = {c: analyses.group_mean(whole, ("model", "scheme", "vdd"), c) for c in ("sdc_top1", "sdc_top5", "energy_pj")}
    out = []
    for st in stats:
        key = (st["model"], st["scheme"], st["vdd"])
        row = {f: st.get(f) for f in STATISTICS_FIELDS}
        row["degradation"] = degradation(st)
        for c, means in extra.items():
            row[c] = means[key][0] if key in means else None
        out.append(row)
    return out


def _csv_text(rows: list[dict], fields=None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields or rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _drop_zero_columns(cols: list[str], rows: list[list], first: int) -> tuple[list[str], list[list]]:
    """Leave out the columns from ``first`` on whose every cell reads as zero or nothing
    (an always-zero column, e.g. DRAM energy of a resident image, says nothing)."""
    def empty(cell) -> bool:
        try:
            return float(str(cell).replace(",", "")) == 0
        except ValueError:
            return str(cell) in ("—", "")
    keep = [i for i in range(len(cols)) if i < first or not all(empty(r[i]) for r in rows)]
    return [cols[i] for i in keep], [[r[i] for i in keep] for r in rows]


def _figures(tmp: Path, rows, models, stats, head, metric, labelled, sdc, bars, rel, yield_target, resid,
             note: str = "", storage: str | None = None):
    """[(png path, caption)] of every plot, in reading order."""
    m_label = METRIC_LABEL[metric]
    figs = [(plots.yield_vs_voltage(stats, models, tmp / "yield_vs_voltage.png", yield_target),
             f"Chip yield against weight-SRAM voltage: the share of chips whose {m_label} stays within the tolerance "
             f"(band: 95 % Wilson interval; dashed: the {percent(yield_target)} target)")]
    if labelled:
        figs.append((plots.accuracy_vs_voltage(rows, models, tmp / "accuracy_vs_voltage.png",
                                               stats if metric == "accuracy" else None),
                     "Accuracy against weight-SRAM voltage per scheme (band: " +
                     ("95 % bootstrap interval over chips and inputs)" if metric == "accuracy" else
                      "spread over chips)")))
    if sdc:
        figs.append((plots.sdc_vs_voltage(rows, models, tmp / "sdc_vs_voltage.png",
                                          stats if metric == "sdc" else None),
                     "SDC rate against weight-SRAM voltage: inputs whose top-1 class differs from the fault-free "
                     "network's (solid; band: " + ("95 % bootstrap interval" if metric == "sdc" else
                                                   "spread over chips") +
                     ") or whose fault-free class left the top 5 (dotted)"))
    if bars:
        figs.append((plots.energy_breakdown(bars, models, tmp / "energy_breakdown.png", note),
                     "Energy per inference by component, per scheme at nominal voltage and at its safe voltage"
                     + (f"; {storage}" if storage else "")))
        if rel:
            figs.append((plots.energy_relative(rel, rows, models, tmp / "energy_relative.png"),
                         "Extra energy per inference over the unprotected layout of the same weight width at the "
                         "same voltage"))
        figs.append((plots.energy_vs_voltage(rows, models, tmp / "energy_vs_voltage.png"),
                     "Energy per inference against weight-SRAM voltage (axis from zero)"))
        figs.append((plots.pareto(rows, models, tmp / f"{metric}_energy_pareto.png", metric),
                     f"{m_label[0].upper() + m_label[1:]} against energy per inference, every scheme and voltage; "
                     "Pareto front labelled with its voltages"))
    figs.append((plots.residual_vs_ber(resid, tmp / "residual_vs_ber.png"),
                 "Faulty weight bits left after correction against BER (points: measured, bars: 95 %; "
                 "open triangles: none seen, 95 % upper bound; lines: closed form)"))
    single = {r["scheme"] for r in rows if r["layers"] != "all"}
    for scheme in sorted({r["scheme"] for r in rows}, key=plots.scheme_order):
        path, what = plots.layer_sensitivity(rows, models, scheme, tmp / f"layer_sensitivity_{scheme}.png",
                                             metric=metric)
        figs.append((path, f"Per-layer sensitivity, {scheme}: {' '.join(what.split())}; layers in network order"
                     + (" (the run's per-layer study)" if scheme in single else "")))
    return figs


def build_report(rows: list[dict], out_dir: str | Path, *, tolerance: float = 0.01, force: bool = False,
                 meta: dict | None = None, yield_target: float = 0.95, metric: str | None = None) -> Path:
    """Write the report for ``rows`` into ``out_dir``; returns the path of report.html.
    ``metric`` (accuracy | sdc) picks the headline's criterion (default: the campaign's,
    else accuracy when the trials have labels, else sdc); every table and plot names the
    metric it shows."""
    if not rows:
        raise UserError("the campaign store holds no finished trials to report")
    meta = meta or {}
    metric = metric or meta.get("metric") or default_metric(rows)
    labelled = any(r.get("accuracy") is not None for r in rows)
    if metric not in ("accuracy", "sdc"):
        raise UserError(f"metric {metric!r} is not one of accuracy, sdc")
    if metric == "accuracy" and not labelled:
        raise UserError("the trials' inputs have no labels, so no accuracy: use metric sdc")
    seed = int(meta.get("seed", 0) or 0)
    models = sorted({r["model"] for r in rows})
    stats = analyses.point_statistics(rows, tolerance=tolerance, seed=seed, metric=metric)
    head = headline(rows, tolerance, yield_target, seed=seed, stats=stats, metric=metric)
    for h in head:   # which headline voltages rest on the curve's extrapolation (marked *)
        h["extrapolated"] = [k for k in ("vmin_safe", "vmin_lower") if h[k] is not None and _extrapolated_mark(meta, h[k])]
    marked = any(h["extrapolated"] for h in head)
    sdc = analyses.sdc_per_point(rows)
    warnings = analyses.sample_warnings(stats, analyses.yield_headline(stats, yield_target), yield_target, tolerance)
    drop = analyses.accuracy_drop(rows)
    resid = analyses.residual_fraction(rows)
    zad = analyses.berzad(rows, metric=metric, tolerance=tolerance)
    bars, rel, cycles = energy_tables(rows, head)
    savings = energy_savings(rows, head, meta)
    acc_cfg = meta.get("accelerator_config") or {}
    storage = storage_note(acc_cfg)
    clock = acc_cfg.get("clock_mhz")
    table = statistics_table(stats, rows)
    m_label = METRIC_LABEL[metric]
    with atomic_directory(out_dir, force=force) as tmp:
        note = (f" ({acc_cfg.get('preset') or 'custom'} accelerator, "
                f"{'resident' if acc_cfg.get('resident') else 'staging'} weight SRAM)") if acc_cfg else ""
        figs = _figures(tmp, rows, models, stats, head, metric, labelled, sdc, bars, rel, yield_target, resid,
                        note, storage)
        flat = [{k: v for k, v in r.items() if k not in CSV_SKIP} for r in rows]
        (tmp / "results.csv").write_text(_csv_text(flat))
        (tmp / "statistics.csv").write_text(_csv_text(table, STATISTICS_FIELDS))
        (tmp / "results.json").write_text(json.dumps(
            {"accelsim_version": __version__, "meta": meta, "tolerance": tolerance, "yield_target": yield_target,
             "metric": metric, "headline": head, "savings": savings, "storage": storage, "sdc": sdc, "warnings": warnings, "statistics": stats, "energy_breakdown": bars,
             "energy_relative": {f"{m}/{s}": pts for (m, s), pts in rel.items()}, "cycles": cycles,
             "berzad": zad, "accuracy_drop": drop, "residual_fraction": resid, "trials": rows},
            indent=1, default=float))
        zad_rows = [[z["model"], z["scheme"], z["layers"], _fmt(z["berzad"]), z["repeats"]] for z in zad]
        if metric == "accuracy":
            zad_title, zad_note = ("BERZAD (highest BER with zero accuracy loss)",
                                   "Highest BER at which the mean accuracy over chips and repeats shows no loss, "
                                   "with every lower BER clean too.")
        else:
            zad_title, zad_note = (f"Highest BER with a top-1 SDC rate of at most {percent(tolerance)} "
                                   "(the SDC analogue of BERZAD)",
                                   f"Highest BER at which the mean top-1 SDC rate over chips and repeats is at most "
                                   f"the tolerance ({percent(tolerance)}), with every lower BER too.")
        zad_cols = ["model", "scheme", "layers", "BER" if metric == "sdc" else "BERZAD", "trials"]
        stat_rows = [[s_["model"], s_["scheme"],
                      (volts(s_["vdd"]) + _extrapolated_mark(meta, s_["vdd"])) if s_["vdd"] is not None else "—",
                      _fmt(s_["ber"]), _pct_ci(s_["mean"], (s_["ci_lo"], s_["ci_hi"])),
                      f"{s_['median_chip'] * 100:.2f} / {s_['worst_chip'] * 100:.2f}",
                      f"{degradation(s_) * 100:+.2f}",
                      f"{s_['passing']}/{s_['chips']}",
                      f"{s_['yield'] * 100:.0f} % [{s_['yield_lo'] * 100:.0f}, {s_['yield_hi'] * 100:.0f}]",
                      s_["inputs"]] for s_ in stats]
        curve_info = (meta or {}).get("curve_info") or {}
        curve_note = (f"BER curve: {curve_info.get('describe')}. Median / worst chip: the per-chip {m_label} (a "
                      "mean over chips hides a few broken chips)."
                      + (" V marked * lies outside the measured points: the law's extrapolation."
                         if curve_info.get("measured_lo") is not None else "")) if curve_info else ""
        stat_cols = ["model", "scheme", "V", "BER", f"{m_label} [95 % CI]", f"median / worst chip ({m_label}, %)",
                     DEGRADATION_LABEL[metric], "chips within tolerance", "yield [95 % CI]", "inputs"]
        has_top5 = any(d["sdc_top5"] is not None for d in sdc)
        sdc_rows = [[d["model"], d["scheme"], volts(d["vdd"]) if d["vdd"] is not None else "—", _fmt(d["ber"]),
                     f"{d['sdc_top1'] * 100:.2f}", f"{d['sdc_top1_std'] * 100:.2f}",
                     *(["—" if d["sdc_top5"] is None else f"{d['sdc_top5'] * 100:.2f}"] if has_top5 else []),
                     d["trials"]] for d in sdc if d["layers"] == "all"]
        sdc_cols = ["model", "scheme", "V", "BER", "top-1 SDC (%)", "std over chips (points)",
                    *(["top-5 SDC (%)"] if has_top5 else []), "trials"]
        res_rows = [[t["scheme"], _fmt(t["ber"]), _fmt(t["measured"]), _fmt(1.96 * t["stderr"]),
                     _fmt(t["closed_form"]), t["trials"]] for t in resid]
        res_cols = ["scheme", "BER", "measured", "+- 95 %", "closed form", "trials"]
        e_unit, e_scale = plots.energy_unit(b["total"] for b in bars)
        bar_rows = [[b["model"], b["scheme"], b["label"], *(f"{b[c] / e_scale:.4g}" for c in plots.COMPONENT_LABELS),
                     f"{b['total'] / e_scale:.4g}"] for b in bars]
        bar_cols = ["model", "scheme", "voltage", *(f"{v} ({e_unit})" for v in plots.COMPONENT_LABELS.values()),
                    f"total ({e_unit})"]
        if bar_rows:
            bar_cols, bar_rows = _drop_zero_columns(bar_cols, bar_rows, 3)
        cyc_rows = [[c["model"], c["scheme"], f"{c['cycles_nominal']:,.0f}",
                     "—" if not clock else f"{c['cycles_nominal'] / clock:,.1f}",
                     "—" if c["cycles_safe"] is None else f"{c['cycles_safe']:,.0f}"] for c in cycles]
        cyc_cols = ["model", "scheme", "cycles per inference, nominal", f"latency (µs at {clock:g} MHz)" if clock else
                    "latency (µs)", "cycles at the safe voltage"]
        prov = _provenance_rows(meta, tolerance, yield_target, rows)
        n0 = head[0] if head else {}
        # the main sweep's name (a run's per-layer study is stored as NAME-layers: not a second title)
        names = [str(meta["name"])] if meta.get("name") else (
            sorted({str(r["campaign"]) for r in rows if r.get("campaign")}) or ["campaign"])
        title = f"accelsim report — {html.escape(', '.join(names))}"
        htitle = headline_title(tolerance, yield_target, n0.get("chips"), n0.get("inputs"), metric, rows_data(rows))
        h_cols, h_rows = headline_cols(metric), _headline_rows(head, metric)
        has_savings = any(x["total_nominal_pj"] is not None for x in savings)
        sections = [("Energy by component (per inference)", None, bar_cols, bar_rows, "none (engine: fast)"),
                    ("Cycles and latency per inference", None, cyc_cols, cyc_rows, "none (engine: fast)"),
                    (f"Statistics per voltage: {m_label}", _stat_note(metric) + (" " + curve_note if curve_note else ""),
                     stat_cols, stat_rows, None),
                    ("SDC rate per voltage", "Silent data corruption: the share of inputs whose top-1 class differs "
                     "from the fault-free network's" + (" (top-5: whose fault-free class left the faulty top 5)"
                                                        if has_top5 else "") + ".", sdc_cols, sdc_rows, None),
                    (zad_title, zad_note, zad_cols, zad_rows, None),
                    ("Residual faulty weight bits after correction", None, res_cols, res_rows, None)]
        md = [f"# {title}\n", f"{htitle}; the energy per inference saved there against the highest voltage of the sweep. "
              "The lower-bound column is the voltage a 95 % confidence claim supports.\n\n", _md_table(h_cols, h_rows)]
        if marked:
            md += [f"\n{EXTRAPOLATED_NOTE}\n"]
        if has_savings:
            md += ["\n## Energy saved\n\n", SAVINGS_NOTE + "\n\n", _md_table(savings_cols(savings), _savings_rows(savings))]
        if storage:
            md += [f"\n{storage}\n"]
        if warnings:
            md += ["\n**Sample-size warnings**\n\n"] + [f"- {w_}\n" for w_ in warnings]
        for name, note, cols, trs, empty in sections:
            if trs or empty:
                md += [f"\n## {name}\n", (f"{note}\n\n" if note else ""), _md_table(cols, trs) if trs else f"{empty}\n"]
        md += ["\n## Provenance\n", _md_table(["field", "value"], [[k, _md_cell(v)] for k, v in prov])]
        (tmp / "summary.md").write_text("".join(md))
        warn_html = ("<div class='warn'><b>Too few samples to trust every difference:</b><ul>"
                     + "".join(f"<li>{html.escape(w_)}</li>" for w_ in warnings) + "</ul></div>") if warnings else ""
        body = [f"<h1>{title}</h1>",
                f'<div class="headline"><p><b>{html.escape(htitle)}.</b> Point estimate of the yield, the voltage '
                "whose 95 % Wilson lower bound reaches the target, and the energy per inference saved against "
                "the highest voltage of the sweep.</p>" + _html_table(h_cols, h_rows)
                + (f"<p class='note'>{html.escape(EXTRAPOLATED_NOTE)}</p>" if marked else "")
                + ((f"<p><b>Energy saved.</b> {html.escape(SAVINGS_NOTE)}</p>"
                    + _html_table(savings_cols(savings), _savings_rows(savings))) if has_savings else "")
                + (f"<p class='note'>{html.escape(storage)}</p>" if storage else "") + "</div>", warn_html,
                "<h2>Plots</h2>"] + [_img(p, alt) for p, alt in figs]
        for name, note, cols, trs, _ in sections:
            if trs:
                body += [f"<h2>{html.escape(name)}</h2>", f"<p class='note'>{html.escape(note)}</p>" if note else "",
                         _html_table(cols, trs)]
        body += ["<h2>Provenance</h2>", _prov_html(prov),
                 f"<p class='note'>{len(rows)} trials; accelsim {__version__}. Files: summary.md, results.csv (one "
                 "row per trial), statistics.csv (one row per model, scheme and voltage), results.json and every "
                 "plot as PNG and SVG beside this page.</p>"]
        (tmp / "report.html").write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>")
    return Path(out_dir) / "report.html"


def _stat_note(metric: str) -> str:
    what = ("Accuracy: mean over chips and inputs" if metric == "accuracy" else
            "Top-1 SDC rate (inputs whose top-1 class differs from the fault-free network's): mean over chips and "
            "inputs")
    rise = ("accuracy drop: fault-free minus faulty" if metric == "accuracy" else
            "SDC rise: faulty minus fault-free (0 %)")
    return (f"{what} with a 95 % bootstrap interval (chips and inputs resampled, seeded); {rise}, in points, "
            "positive = worse; yield: share of chips within the tolerance, Wilson 95 % interval.")


def _md_cell(v) -> str:
    text = _prov_text(v)
    return html.escape(text).replace("\n", "<br>").replace("|", "\\|")




def _extrapolated_mark(meta: dict, vdd) -> str:
    """' *' when vdd lies outside the span of the measured points the BER curve was fitted
    to (the law's extrapolation; the report's note says so)."""
    info = (meta or {}).get("curve_info") or {}
    lo, hi = info.get("measured_lo"), info.get("measured_hi")
    if vdd is None or lo is None or hi is None:
        return ""
    return "" if lo - 1e-9 <= float(vdd) <= hi + 1e-9 else " *"


# what, besides the sweep point, chip and repeat, changes what a row measures
VARIANT_FIELDS = ("export_sha256", "samples", "fault_model", "engine", "policy", "data", "accelerator_sha256",
                  "energy_table_sha256", "chip_model")
# these live in the params JSON only (digits trials have no data; a fast trial no energy table;
# an iid trial no chip_model)
_PARAMS_ONLY = ("data", "accelerator_sha256", "energy_table_sha256", "chip_model")


def _variant(r: dict, f: str):
    """A row's value of a VARIANT_FIELDS entry (``data``: its source text; ``chip_model``:
    its name, iid when absent; a digest: its first 8 hex digits)."""
    if f not in _PARAMS_ONLY:
        return r.get(f)
    params = r.get("params")
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except json.JSONDecodeError:
            return None
    value = (params or {}).get(f) if isinstance(params, dict) else None
    if f == "chip_model":
        return value.get("name") if isinstance(value, dict) else "iid"
    if f == "data":
        return value.get("source") if isinstance(value, dict) else None
    return value[:8] if isinstance(value, str) else None


def label_models(rows: list[dict]) -> list[dict]:
    """Rows of one (model, scheme) that differ in what they measure (another image, i.e.
    other checkpoint bytes, export_sha256; another sample count, fault model, engine or
    policy) are different series: label each by what differs, ``model@<8 hex digits>``
    and/or ``model[samples=200]``, instead of averaging them together. Whole-image rows and
    single-layer rows (a per-layer study, e.g. the run's ``sensitivity:`` on the fast
    engine) are different experiments, never averaged together: each kind is compared
    only with its own kind."""
    def series(r):
        return r["model"], r["scheme"], r.get("layers", "all") == "all"

    seen: dict[tuple, dict[str, set]] = {}
    for r in rows:
        fields = seen.setdefault(series(r), {f: set() for f in VARIANT_FIELDS})
        for f in VARIANT_FIELDS:
            fields[f].add(_variant(r, f))
    out = []
    for r in rows:
        varying = [f for f, values in seen[series(r)].items() if len(values) > 1]
        if varying:
            label = r["model"]
            if "export_sha256" in varying:
                label += f"@{(r.get('export_sha256') or 'unknown')[:8]}"
            rest = [f"{f}={_variant(r, f)}" for f in varying if f != "export_sha256"]
            r = dict(r, model=label + (f"[{','.join(rest)}]" if rest else ""))
        out.append(r)
    return out


# meta.spec fields the report reads, and the JSON type each must have (campaign/runner.provenance)
_SPEC_TYPES = {"name": str, "models": list, "schemes": list, "seed": int, "metric": str,
               "accelerator_config": dict, "samples": int, "chips": int, "repeats": int}


def checked_spec(spec, store_path) -> dict:
    """A store's ``meta.spec`` as the report reads it: a JSON mapping (an old store may have
    none) whose fields have their types; anything else is one UserError."""
    if spec is None:
        return {}
    where = f"campaign store {store_path}: meta.spec"
    if not isinstance(spec, dict):
        raise UserError(f"{where} is {type(spec).__name__}, not a JSON mapping")
    for name, kind in _SPEC_TYPES.items():
        value = spec.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise UserError(f"{where}: {name} = {value!r} is not a {kind.__name__}"[:300])
    for name in ("models", "schemes"):
        if not all(isinstance(v, str) for v in spec.get(name) or []):
            raise UserError(f"{where}: {name} holds something other than names")
    if spec.get("metric") not in (None, "accuracy", "sdc"):
        raise UserError(f"{where}: metric {spec['metric']!r} is not accuracy or sdc"[:300])
    return dict(spec)


def report_from_store(store_path, out_dir, *, tolerance: float = 0.01, force: bool = False,
                      yield_target: float = 0.95, metric: str | None = None) -> Path:
    store = Store(store_path, create=False, readonly=True)
    try:
        rows, meta = label_models(store.rows()), store.meta()
        runs = len({r["provenance_sha256"] for r in rows if r.get("provenance_sha256")})
    finally:
        store.close()
    spec = dict(checked_spec(meta.get("spec"), store_path), runs=runs)
    for r in rows:   # every plot and table is drawn over the supply voltage
        if r.get("vdd") is None:
            raise UserError(f"campaign store {store_path}: trial {r.get('key')!r}: vdd = None is empty "
                            "(every trial has a supply voltage)"[:300])
    if meta.get("sensitivity"):
        spec["sensitivity"] = meta["sensitivity"]
    run = meta.get("run_config") or {}   # accelsim run: the config file as given and as resolved
    spec.update({f"run_config_{k}": v for k, v in run.items() if k in ("text", "resolved")})
    return build_report(rows, out_dir, tolerance=tolerance, force=force, meta=spec, yield_target=yield_target,
                        metric=metric)
