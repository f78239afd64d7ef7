"""Issue 15: inputs that used to give a plausible but wrong result with no error. Each test
fails on the code before the fix: a bad value is refused naming where it is, and a printed
figure is the one applied."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from accelsim.cli import main
from accelsim.errors import UserError
from accelsim.faults import ChipFaultMap, load_curve
from accelsim.hw import simulate
from accelsim.image import load_image
from accelsim.image.commands import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def lenet8(tmp_path_factory):
    return export_checkpoint(str(MODELS / "lenet5-int8"), "none-8b", tmp_path_factory.mktemp("ns") / "n8")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- simulate: the map floor and the printed BER -------------------------------------------

def test_simulate_refuses_a_map_floor_above_the_supply(lenet8, capsys):
    code, out, err = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", "--v-low", "0.8"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--v-low 0.8 V is above the supply 0.5 V" in err
    with pytest.raises(UserError, match=r"v_low = 0.8 V is above vdd = 0.5 V"):
        simulate(lenet8, vdd=0.5, chip=0, v_low=0.8)
    with pytest.raises(UserError, match="v_low .* needs a persistent or stuck chip"):
        simulate(lenet8, vdd=0.5, ber=1e-3, v_low=0.45)   # used to be dropped silently


def test_simulate_prints_the_ber_it_applies(lenet8, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out, _ = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", "--v-low", "0.48",
                            "-o", out_json], capsys)
    assert code == 0
    curve = load_curve()
    n_words = lenet8.words.shape[0]
    fmap = ChipFaultMap.sample(curve, n_words=n_words, width=64, chip=0, seed=0, v_low=0.48)
    faulty = int(np.count_nonzero(fmap.threshold > 0.5))
    printed = re.search(r"BER (\S+): ([\d,]+) faulty cells = (\S+) of the bits", " ".join(out.split()))
    assert float(printed.group(1)) == pytest.approx(curve.ber(0.5), rel=5e-3)
    assert int(printed.group(2).replace(",", "")) == faulty > 1000
    assert float(printed.group(3)) == pytest.approx(faulty / (n_words * 64), rel=5e-3)
    d = json.loads(out_json.read_text())
    # every faulty cell is read at least once: the applied faults are the printed ones
    assert d["faults"]["faulty_cells"] == faulty and d["faults"]["faulty_bits_read"] >= faulty
    assert d["ber"] == pytest.approx(curve.ber(0.5))


@pytest.mark.parametrize("extra,match", [
    (["--ber", "1e-3", "--chip", "2"], "--chip describe a sampled chip and are not used with --ber"),
    (["--ber", "1e-3", "--fault-model", "stuck"], "--fault-model describe a sampled chip"),
    (["--ber", "1e-3", "--fault-map", "m.csv"], "two fault sources"),
    (["--fault-map", "m.csv", "--v-low", "0.45"], "--v-low describe a sampled chip and are not used with --fault-map"),
    (["--ber", "1e-3", "--curve", "c.yaml"], "--curve is not used with --ber"),
])
def test_simulate_refuses_options_it_would_ignore(lenet8, capsys, extra, match):
    code, out, err = run_cli(["simulate", "--image", lenet8.path, "--vdd", "0.5", *extra], capsys)
    assert code == 2 and out == "" and re.search(match, err) and err.count("\n") == 1
