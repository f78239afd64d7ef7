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
