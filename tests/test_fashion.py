"""Fashion-MNIST: the 28x28 zoo trained by retrain_zoo (on a small Fashion-MNIST-shaped set
written here in the Debian package's layout), the shipped checkpoints against their cards,
and the demo's choice of data set."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import yaml

from accelsim.cli import main
from tests.conftest import needs_fashion

ROOT = Path(__file__).resolve().parents[1]
FASHION_MODELS = ROOT / "models" / "fashion-mnist"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def small_fashion(tmp_path, monkeypatch):
    """$ACCELSIM_DATA/fashion-mnist with 640 training and 160 test images, 28x28: each class
    a bright square at its own place on noise, so that a network learns it in one epoch."""
    rng = np.random.default_rng(5)

    def images(n):
        y = np.arange(n) % 10
        x = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(y):
            r, col = divmod(int(c), 5)
            x[i, 4 + 12 * r:12 + 12 * r, 1 + 5 * col:6 + 5 * col] = 250
        return x, y

    root = tmp_path / "data" / "fashion-mnist"
    root.mkdir(parents=True)
    for prefix, n in (("train", 640), ("t10k", 160)):
        x, y = images(n)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", y)
    monkeypatch.setenv("ACCELSIM_DATA", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.slow
def test_retrain_zoo_fashion_trains_fp32_then_qat_variants_reproducibly(small_fashion, capsys):
    """retrain_zoo --fashion: the fp32 model, then int8 and int8 WOT fine-tuned from it; the
    cards record data, epochs, seed, input shape and the integer-exact accuracy that
    `accelsim infer CHECKPOINT` prints; a second run gives the same bytes."""
    from accelsim.nn.retrain_zoo import fashion

    outs = [small_fashion / "a", small_fashion / "b"]
    for out in outs:
        fashion(str(out), archs=("lenet5",), variants=("fp32", "int8", "int8-wot-inplace-8b-64"),
                epochs={"lenet5": 3}, qat_epochs=1)
    for name in ("lenet5-fp32", "lenet5-int8", "lenet5-int8-wot-inplace-8b-64"):
        assert (outs[0] / f"{name}.safetensors").read_bytes() == (outs[1] / f"{name}.safetensors").read_bytes()
    fp32 = yaml.safe_load((outs[0] / "lenet5-fp32.yaml").read_text())
    int8 = yaml.safe_load((outs[0] / "lenet5-int8.yaml").read_text())
    wot = yaml.safe_load((outs[0] / "lenet5-int8-wot-inplace-8b-64.yaml").read_text())
    assert fp32["dataset"] == "fashion-mnist" and fp32["input_shape"] == [1, 28, 28] and fp32["seed"] == 0
    assert fp32["config"]["epochs"] == 3 and fp32["config"]["qat_epochs"] == 0 and fp32["bits"] == 32
    assert int8["config"]["epochs"] == 0 and int8["config"]["qat_epochs"] == 1
    assert int8["from"] == str(outs[0] / "lenet5-fp32") and "--from" in int8["command"]
    assert fp32["accuracy"] >= 0.9     # the squares are learnt: a real training, not a stub
    assert int8["integer_layout"] == "none-8b" and wot["integer_layout"] == "inplace-8b-64"
    assert abs(int8["integer_accuracy"] - int8["accuracy"]) <= 0.05
    capsys.readouterr()
    assert main(["infer", str(outs[0] / "lenet5-int8"), "--data", "fashion-mnist"]) == 0
    line = capsys.readouterr().out
    assert f"integer-exact accuracy {int8['integer_accuracy']:.4f} on 160 inputs of fashion-mnist" in line


@needs_fashion
@pytest.mark.parametrize("stem", ["lenet5-int8", "lenet5-int8-wot-inplace-8b-64", "mobilenet-v2-small-int8"])
def test_shipped_fashion_checkpoint_infers_the_accuracy_its_card_records(stem, capsys):
    """`accelsim infer models/fashion-mnist/lenet5-int8 --data fashion-mnist`: the integer-
    exact accuracy on all 10,000 test images is the one recorded in the card (the MobileNet:
    depthwise convolutions, ReLU6 and residual adds through the integer path)."""
    from accelsim.nn.checkpoint import load_card

    card = load_card(FASHION_MODELS / stem)
    assert card.dataset == "fashion-mnist" and card.input_shape == [1, 28, 28]
    assert main(["infer", str(FASHION_MODELS / stem), "--data", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert f"integer-exact accuracy {card.integer_accuracy:.4f} on 10000 inputs of fashion-mnist" in out
    assert card.integer_accuracy > 0.85


def test_fashion_zoo_ships_every_architecture_and_variant_with_its_training_recorded():
    """models/fashion-mnist holds each of retrain_zoo's FASHION_ARCHS x FASHION_VARIANTS with a
    card that names the data set, seed, epochs and the command that retrains it; each
    quantized variant was fine-tuned from its architecture's fp32 checkpoint."""
    from accelsim.nn.checkpoint import load_card
    from accelsim.nn.retrain_zoo import (FASHION_ARCHS, FASHION_EPOCHS, FASHION_QAT_EPOCHS, FASHION_VARIANTS,
                                         FASHION_WOT_QAT_EPOCHS)

    assert "mobilenet-v2-small" in FASHION_ARCHS
    for arch in FASHION_ARCHS:
        for variant in FASHION_VARIANTS:
            card = load_card(FASHION_MODELS / f"{arch}-{variant}")
            assert (card.model, card.dataset, card.seed) == (arch, "fashion-mnist", 0)
            assert (FASHION_MODELS / f"{arch}-{variant}.safetensors").stat().st_size < 2_000_000
            if variant == "fp32":
                assert card.config["epochs"] == FASHION_EPOCHS[arch] and card.config["qat_epochs"] == 0
            else:
                qat = FASHION_WOT_QAT_EPOCHS.get(arch, FASHION_QAT_EPOCHS) if "wot" in variant else FASHION_QAT_EPOCHS
                assert card.config["epochs"] == 0 and card.config["qat_epochs"] == qat
                assert f"--qat-epochs {qat} " in card.command
                assert card.from_ == f"models/fashion-mnist/{arch}-fp32"
                assert 0.8 < card.integer_accuracy and abs(card.integer_accuracy - card.accuracy) < 0.005
            assert card.command.endswith(f"-o models/fashion-mnist/{arch}-{variant}")


def test_demo_runs_fashion_mnist_where_installed_else_digits_and_says_so(monkeypatch):
    """The packaged job: run.yaml on Fashion-MNIST with enough chips that a yield of 73/73
    has a 95 % Wilson lower bound >= 95 % (72/72 would not), its sequential decisions on the
    headline's tolerance and target; run-digits.yaml, with a note
    naming the install command, where the data set is absent."""
    import accelsim.schema.data_source as data
    from accelsim.campaign.analyses import wilson_interval
    from accelsim.run import DEFAULT_RUN, DIGITS_RUN, default_run, load_run_config

    monkeypatch.setattr(data, "named_available", lambda kind: True)
    assert default_run() == (DEFAULT_RUN, None)
    monkeypatch.setattr(data, "named_available", lambda kind: False)
    path, note = default_run()
    assert path == DIGITS_RUN and "apt-get install dataset-fashion-mnist" in note
    cfg = load_run_config(DEFAULT_RUN)
    assert cfg.data == "fashion-mnist" and cfg.chips == 73
    # the chips a point stops drawing are decided by the headline's own criterion
    assert (cfg.sequential.target, cfg.sequential.tolerance) == (cfg.yield_target, cfg.tolerance)
    assert wilson_interval(73, 73)[0] >= 0.95 > wilson_interval(72, 72)[0]
    assert load_run_config(DIGITS_RUN).data is None and load_run_config(DIGITS_RUN).output != cfg.output


def test_headline_names_the_data_set():
    from accelsim.report.build import headline_title, rows_data

    assert rows_data([{"params": '{"data": {"source": "fashion-mnist"}}'}]) == "fashion-mnist"
    assert rows_data([{"params": "{}"}]) == "digits"
    assert rows_data([{"params": "{}"}, {"params": '{"data": {"source": "fashion-mnist"}}'}]) is None
    assert headline_title(0.01, 0.95, 73, 2000, data="fashion-mnist").endswith(
        "73 chips x 2000 inputs per point of the Fashion-MNIST test set")


def test_train_cli_on_the_named_data_set_writes_a_card_naming_it(small_fashion, capsys):
    """`accelsim train --data fashion-mnist` (the issue's own command, through the CLI): the
    checkpoint is written and its card names the data set by name (it crashed after the
    training on a named data set, which has no path to make relative)."""
    out = small_fashion / "ck" / "lenet5-fashion"
    assert main(["train", "--model", "lenet5", "--data", "fashion-mnist", "--epochs", "1", "--qat-epochs", "0",
                 "--bits", "8", "--quiet", "-o", str(out)]) == 0
    card = yaml.safe_load(out.with_suffix(".yaml").read_text())
    assert card["dataset"] == "fashion-mnist" and card["config"]["data"]["source"] == "fashion-mnist"
    assert card["input_shape"] == [1, 28, 28] and card["accuracy"] >= 0.5   # the squares: learnt in one epoch
    assert "test accuracy" in capsys.readouterr().out
