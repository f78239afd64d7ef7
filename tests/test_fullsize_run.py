"""The packaged full-size run (accelsim/configs/run-resnet18-sdc.yaml): ResNet-18 @224 with
seeded weights on synthetic inputs, scored by the SDC rate. Here a slice of it (two
schemes, three voltages, one chip) runs end to end through `accelsim run`; the whole
sweep's wall time is measured in docs/campaigns.md."""

import json
from pathlib import Path

import pytest
import yaml

from accelsim.cli import main
from accelsim.schema import RunConfig, validate

CONFIG = Path(__file__).resolve().parents[1] / "accelsim" / "configs" / "run-resnet18-sdc.yaml"
RESNET18_WEIGHTS = 11_678_912    # torchvision's resnet18: conv and fc weights (biases aside)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_packaged_config_is_the_documented_sweep():
    cfg = validate(RunConfig, yaml.safe_load(CONFIG.read_text()), str(CONFIG))
    assert cfg.metric == "sdc" and cfg.data == "synthetic:64x3x224x224" and cfg.engine == "cycle"
    assert cfg.models["resnet18"].seed == 0 and cfg.models["resnet18"].project
    n = len(cfg.models) * len(cfg.schemes) * len(cfg.voltages) * cfg.chips * cfg.repeats
    assert n == 240


@pytest.mark.slow   # full size (ResNet-18 / MobileNetV2): `-m "not slow"` skips it while developing
def test_resnet18_sdc_slice_through_accelsim_run(tmp_path, capsys):
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg.update(schemes=["none-8b", "ecc-8b-72"], voltages=[0.9, 0.5, 0.46], chips=1, workers=1)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", str(tmp_path / "run.yaml"), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "How low can the weight SRAM go?" in out
    # the measured default curve, named in the headline with its mapping onto the 0.9 V SRAM
    flat = " ".join(out.split())
    assert "BER curve: salami-vc707, measured" in flat and "mapped scale 1 V -> 0.9 V" in flat
    summary = (tmp_path / "out" / "report" / "summary.md").read_text()
    assert "| top-1 SDC [95 % CI] |" in summary and " mJ at 0.90 V |" in summary
    data = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    assert data["metric"] == "sdc"
    # no accelerator named: the resident preset, whose weight SRAM holds the whole image; the
    # headline gives the three savings and the design comparison
    assert data["storage"].startswith("Accelerator resident: the weight SRAM is resident")
    assert "energy saved at the safe voltage" in flat
    savings = {s["scheme"]: s for s in data["savings"]}
    assert set(savings) == {"none-8b", "ecc-8b-72"} and savings["ecc-8b-72"]["design_reference"] == "none-8b"
    for s in savings.values():
        assert all(-1 < s[k] < 1 for k in ("domain_saved", "whole_saved", "design_saved"))
    rows = {(t["scheme"], t["vdd"]): t for t in data["trials"]}
    assert len(rows) == 6
    for (scheme, vdd), t in rows.items():
        assert t["accuracy"] is None and t["samples"] == 64 and t["checkpoint"] == "resnet18#seed=0+project"
        assert t["words"] == RESNET18_WEIGHTS // 8 and t["data_bits"] == 8 * RESNET18_WEIGHTS
        assert t["energy_pj"] > 1e9 and t["cycles"] > 0        # the cycle model ran: mJ per inference
    assert all(rows[(s, 0.9)]["injected_bits"] == 0 and rows[(s, 0.9)]["sdc_top1"] == 0 for s in ("none-8b", "ecc-8b-72"))
    # BER 1.3e-4 at 0.50 V (measured VC707 curve, scaled to 0.9 V nominal): ~12,000 flips over
    # 93 M stored data bits, all left by none-8b; SEC-DED corrects all but the few words with two
    none, ecc = rows[("none-8b", 0.5)], rows[("ecc-8b-72", 0.5)]
    assert 7_000 < none["injected_bits"] == none["residual_bits"] < 18_000
    assert ecc["injected_bits"] > 5_000 and ecc["residual_bits"] < ecc["injected_bits"] / 50
    # BER 1.5e-2 at 0.46 V: ~1.4 M flips leave no network intact
    assert rows[("none-8b", 0.46)]["sdc_top1"] > 0.5
