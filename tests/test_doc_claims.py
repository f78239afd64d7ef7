"""Numbers and defaults the docs state, compared with the code that has them (as
tests/test_schema.py does for the generated docs/config-reference.md): a doc that goes stale
fails here instead of misleading a reader."""

import re
import typing
from pathlib import Path

import yaml

from accelsim.campaign.store import SCHEMA_VERSION
from accelsim.hw import load_config
from accelsim.schema import CampaignSpec, Manifest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _yaml_block(text: str, first_key: str) -> tuple[str, dict]:
    block = next(b for b in text.split("```yaml")[1:] if b.lstrip().startswith(first_key)).split("```")[0]
    return block, yaml.safe_load(block)


def _choices(annotation) -> list[str]:
    args = typing.get_args(annotation)
    while args and not isinstance(args[0], str):   # Optional[Literal[...]] / Annotated
        args = typing.get_args(args[0])
    return list(args)


def test_campaign_page_example_and_its_options():
    text = (DOCS / "campaigns.md").read_text()
    block, example = _yaml_block(text, "name:")
    fields = CampaignSpec.model_fields
    assert set(example) <= set(fields)
    for key in ("fault_model", "engine", "policy", "metric"):   # the comment lists every choice
        line = next(li for li in block.splitlines() if li.startswith(f"{key}:"))
        comment = line.split("#", 1)[1]
        choices = _choices(fields[key].annotation)
        assert set(choices) <= set(re.findall(r"[a-z]+", comment)) and comment.count("|") == len(choices) - 1, key
    assert example["samples"] == fields["samples"].default
    assert f"schema version {SCHEMA_VERSION})" in text and f"`schema_version = {SCHEMA_VERSION}`" in text
    row = next(li for li in text.splitlines() if li.startswith("| fault_model, point |"))
    assert " / ".join(_choices(fields["fault_model"].annotation)) in row


def test_manifest_limits_in_formats_page():
    text = " ".join((DOCS / "formats.md").read_text().split())
    bits = Manifest.model_fields["activation_bits"].metadata
    lo = next(m.ge for m in bits if hasattr(m, "ge"))
    hi = next(m.le for m in bits if hasattr(m, "le"))
    assert f"`activation_bits` {lo} to {hi}" in text
    assert _choices(Manifest.model_fields["accumulator_bits"].annotation) == [32] or \
        typing.get_args(Manifest.model_fields["accumulator_bits"].annotation) == (32,)
    assert "`accumulator_bits` 32" in text and "`byte_order` must be `little`" in text


def test_hardware_defaults_table_is_the_packaged_config():
    text = (DOCS / "hardware.md").read_text().split("## Defaults (`accelsim/configs/accelerator.yaml`)", 1)[1]
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and line.startswith("|") and not set(cells[0]) <= {"-"}:
            table[cells[0]] = cells[1]
    c = load_config()
    assert table["PE array"] == f"{c.rows} x {c.cols}, {c.dataflow}"
    assert table["clock"] == f"{c.clock_mhz:g} MHz"
    kib_words = c.words_per_bank // 1024
    mib = c.banks * c.words_per_bank * 64 // 8 // 2**20
    assert table["weight SRAM"] == f"{c.banks} banks x {kib_words} Ki words ({mib} MiB at 64 bit)"
    assert table["SRAM read latency"] == f"{c.read_latency} cycles"
    assert table["burst"] == f"{c.burst_words} words"
    assert table["ECC stage"] == f"{c.ecc_latency} cycle, {c.ecc_lanes} words/cycle, rule {c.ecc_rule}"
    assert table["DRAM"] == f"{c.dram_bytes_per_cycle:g} B/cycle, {c.dram_latency} cycles"
    assert table["buffers"] == f"{c.input_kib:g} KiB input, {c.output_kib:g} KiB output"
    assert table["os drain"] == c.os_drain
    assert table["activation buffers"] == ("scaled" if c.activations_scaled else "not scaled")


def _committed(name: str) -> dict:
    import json
    return json.loads((DOCS.parent / "benchmarks" / name).read_text())


def test_stutz_energy_table_is_the_committed_benchmark():
    """docs/campaigns.md's like-with-like energy rows are benchmarks/fault_studies.json's
    `fashion-energy` figures (written by the benchmark, not typed), and each verdict follows
    from the recorded saving, claim and tolerance."""
    text = (DOCS / "campaigns.md").read_text()
    study = _committed("fault_studies.json")["fashion-energy"]
    assert study["curve"].startswith("salami-vc707, measured")
    for c in study["claims"]:
        saved = c["domain_saved_vs_first_error"]
        assert c["agrees_vs_first_error"] == (abs(saved - c["saving"]) <= c["tolerance"])
        assert c["mean_accuracy_drop_points"] <= 100 * c["max_drop"] < c["first_drop_beyond"]["mean_drop_points"]
        bits = "8 bit" if c["scheme"] == "none-8b" else "4 bit"
        row = next(li for li in text.splitlines() if li.startswith(f"| {bits}, <= "))
        cells = [x.strip() for x in row.strip("|").split("|")]
        assert cells[1] == f"{c['v_safe']:g} V" + (" *" if c["extrapolated"] else "")
        assert cells[4].startswith(f"**{100 * saved:.1f} %** (V_fe {c['v_first_error']:.3f} V)")
        assert cells[6] == ("yes" if c["agrees_vs_first_error"] else f"no ({100 * (saved - c['saving']):+.1f})")
        assert cells[7] == f"{100 * c['domain_saved_vs_nominal']:.1f} %"


def test_faults_page_resnet18_table_is_the_committed_benchmark():
    """docs/faults.md's ResNet-18 int8 table (safe voltage and SEC-DED gain under the synthetic,
    measured-iid and measured-clustered models) is benchmarks/ber_models_resnet18.json."""
    text = (DOCS / "faults.md").read_text()
    models = _committed("ber_models_resnet18.json")["models"]
    labels = {"synthetic": "| synthetic", "measured-iid": "| measured VC707, iid", "measured-clustered":
              "| measured VC707, clustered"}
    for label, entry in models.items():
        row = next(li for li in text.splitlines() if li.startswith(labels[label]))
        cells = [x.strip() for x in row.strip("|").split("|")]
        safe = entry["safe_v"]
        assert cells[1] == f"{safe['none-8b']:.3f}" and cells[2] == f"{safe['ecc-8b-72']:.3f}"
        assert cells[3].startswith(f"{entry['gain_mv_ecc-8b-72']:.0f} mV")
        assert cells[4] == f"{safe['inplace-8b-64']:.3f} (gain {entry['gain_mv_inplace-8b-64']:.0f} mV)"


def test_ecc_gain_table_and_demo_lenet5_rows_are_the_committed_benchmark():
    """docs/campaigns.md's ECC voltage gain on LeNet-5 (Fashion-MNIST next to the digits) is
    benchmarks/ecc_gain_lenet5.json, and the demo headline's LeNet-5 rows (the same trials)
    give the same safe voltages and yields."""
    text = (DOCS / "campaigns.md").read_text()
    study = _committed("ecc_gain_lenet5.json")
    for data, label in (("digits", "| digits ("), ("fashion-mnist", "| Fashion-MNIST (")):
        entry = study[data]
        assert entry["curve"].startswith("salami-vc707, measured") and entry["data"] == data
        cells = [x.strip() for x in next(li for li in text.splitlines() if li.startswith(label)).strip("|").split("|")]
        schemes = entry["schemes"]
        assert cells[0] == f"{label[2:]}{100 * schemes['none-8b']['fault_free']:.1f} % fault-free)"
        for cell, scheme in zip(cells[1:4], ("none-8b", "inplace-8b-64", "ecc-8b-72")):
            s = schemes[scheme]
            assert cell == f"{s['safe_v']:.2f} V ({100 * s['yield_there']:.0f} %) / {s['safe_v_lower_bound']:.2f} V"
        for cell, code in zip(cells[4:6], ("ecc-8b-72", "inplace-8b-64")):
            g = entry["gain_over_none_8b"][code]
            assert cell == f"{g['safe_v_mv']:.0f} mV / {g['lower_bound_mv']:.0f} mV"
            assert g["safe_v_mv"] == round(1000 * (schemes["none-8b"]["safe_v"] - schemes[code]["safe_v"]), 1)
    demo = text.split("## The demo on Fashion-MNIST", 1)[1]
    from accelsim.campaign import parse_spec
    curve = parse_spec({"name": "d", "models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9],
                        "models_dir": str(DOCS.parent / "models")}).curve   # the default, as the demo maps it

    def v(x):   # a safe voltage as the headline prints it: * where the curve extrapolates
        return f"{x:.2f} V" + (" *" if curve.extrapolated(x) else "")
    for scheme, s in study["fashion-mnist"]["schemes"].items():
        cells = [x.strip() for x in next(li for li in demo.splitlines()
                                         if li.startswith(f"| lenet5 | {scheme} |")).strip("|").split("|")]
        assert cells[2] == f"{100 * s['fault_free']:.2f} %" and cells[3] == v(s["safe_v"])
        assert cells[4].startswith(f"{100 * s['yield_there']:.0f} % [") and cells[5] == v(s["safe_v_lower_bound"])


def test_fashion_clip_and_berzad_tables_are_the_committed_benchmark():
    """docs/campaigns.md's Fashion-MNIST `clip` and `berzad` tables are benchmarks/
    fault_studies.json's `fashion-clip` and `fashion-berzad` figures."""
    text = (DOCS / "campaigns.md").read_text().split("## Fashion-MNIST against the seeds", 1)[1]
    rows = {li.split("|")[1].strip(): [c.strip() for c in li.strip().strip("|").split("|")[1:]]
            for li in text.splitlines() if li.startswith("| ")}
    names = {"plain": "plain, 8 bit", "clip_0.25": "clipping w_max = 0.25, 8 bit",
             "randbet_1%": "RandBET p = 1 %, 8 bit", "clip_0.25+randbet_1%": "clipping + RandBET, 8 bit",
             "int4 plain": "plain, 4 bit", "int4 clip_0.25": "clipping w_max = 0.25, 4 bit"}
    clip = _committed("fault_studies.json")["fashion-clip"]["test_error_percent_clipping_randbet"]
    assert set(clip) == set(names)
    for key, label in names.items():
        assert rows[label] == [f"{clip[key][p]:.2f}" for p in ("p=0", "p=0.001", "p=0.01")], key
    berzad = {(z["scheme"], z["layers"]): z["berzad"] for z in _committed("fault_studies.json")["fashion-berzad"]["berzad"]}
    cells = [f"{berzad[s, layers]:.0e}".replace("e-0", "e-") for s in ("none-8b", "none-4b")
             for layers in ("all", "conv", "linear")]
    assert rows["lenet5 (Fashion-MNIST)"] == cells


def test_models_page_accuracy_tables_are_the_shipped_cards():
    """docs/models.md's digits and Fashion-MNIST accuracy tables are what `retrain_zoo --table`
    and `--fashion-table` print from the model cards in models/ (the MobileNet's row too)."""
    from accelsim.nn.retrain_zoo import FASHION_DIR, fashion_table, tables

    text = (DOCS / "models.md").read_text()
    root = DOCS.parent
    digits = tables(str(root / "models")).split("\n\n")[0].splitlines()
    fashion = fashion_table(str(root / FASHION_DIR)).splitlines()
    assert any(li.startswith("| mobilenet-v2-small | 6 | ") for li in fashion)
    for line in digits + fashion:
        assert line in text.splitlines(), line
