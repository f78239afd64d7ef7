"""Data loaders on real-format files written here, the zoo, training and checkpoints."""

import gzip
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from accelsim.errors import UserError
from accelsim.nn import build_model, list_models, load_checkpoint, load_digits_split, save_checkpoint
from accelsim.nn.data import load_mnist, read_idx
from accelsim.nn.train import TrainConfig, train


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_digits_split_is_fixed():
    d = load_digits_split()
    assert d.x_train.shape == (1347, 1, 8, 8) and d.x_test.shape == (450, 1, 8, 8)
    assert float(d.x_train.max()) == 1.0 and float(d.x_train.min()) == 0.0
    assert np.bincount(d.y_test.numpy()).tolist() == [45, 46, 44, 46, 45, 46, 45, 45, 43, 45]
    assert d.y_test[:8].tolist() == load_digits_split().y_test[:8].tolist()


def test_mnist_idx_loader(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (5, 1, 28, 28) and y.tolist() == [3, 1, 4, 1, 5]
    assert float(x[2, 0, 3, 4]) == pytest.approx(imgs[2, 3, 4] / 255)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(UserError, match="magic"):
        read_idx(tmp_path / "bad")
    with pytest.raises(UserError, match="train-images"):
        load_mnist(tmp_path, "train")


def test_zoo_full_size_parameter_counts():
    counts = {n: sum(p.numel() for p in build_model(n).parameters())
              for n in ("resnet18", "squeezenet1_0", "squeezenet1_1")}
    assert counts == {"resnet18": 11_689_512, "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496}
    assert "vgg16-bn" in list_models()
    with pytest.raises(UserError, match="known models: lenet5"):
        build_model("alexnet")


def test_training_is_deterministic_and_checkpoint_round_trips(tmp_path):
    cfg = TrainConfig(model="lenet5", bits=4, layout="inplace-4b-64", epochs=1, qat_epochs=1, seed=5)
    m1, card1 = train(cfg, show_progress=False)
    m2, _ = train(cfg, show_progress=False)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    card1["command"] = "test"
    save_checkpoint(m1, tmp_path / "m", card1)
    m3, card3 = load_checkpoint(tmp_path / "m.safetensors")
    assert card3.layout == "inplace-4b-64" and card3.bits == 4
    x = load_digits_split().x_test[:20]
    assert torch.equal(m1(x), m3(x))


def test_train_cli_and_bad_model(tmp_path):
    out = tmp_path / "lenet"
    ok = subprocess.run([sys.executable, "-m", "accelsim", "train", "--model", "lenet5", "--epochs", "1",
                         "--qat-epochs", "1", "--bits", "8", "-o", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    card = yaml.safe_load((tmp_path / "lenet.yaml").read_text())
    assert card["bits"] == 8 and card["command"].startswith("accelsim train --model lenet5")
    assert 0.3 < card["accuracy"] <= 1.0
    bad = subprocess.run([sys.executable, "-m", "accelsim", "train", "--model", "alexnet", "-o", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown model 'alexnet'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.safetensors").exists()
    again = subprocess.run([sys.executable, "-m", "accelsim", "train", "-o", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr
