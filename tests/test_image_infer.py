"""Memory-image export/load and integer-exact inference on the shipped checkpoints."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from accelsim.errors import UserError
from accelsim.image import export_image, load_image
from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import build_model, load_checkpoint, load_digits_split

DATA = load_digits_split()
X = DATA.x_test.numpy()
Y = DATA.y_test.numpy()


@pytest.fixture(scope="module")
def lenet_image(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("img") / "lenet")


def test_files_and_manifest(lenet_image):
    img = lenet_image
    assert img.words.shape == (1227, 1) and [l.name for l in img.layers][0] == "features.0"
    raw = np.fromfile(img.path / "image.bin", dtype="<u8")
    assert np.array_equal(raw, img.words[:, 0])
    hex_words = [int(line, 16) for line in (img.path / "image.hex").read_text().split()]
    assert hex_words == img.words[:, 0].tolist()
    assert img.layers[0].gemm == (64, 25, 6) and img.layers[-1].gemm == (1, 84, 10)
    # the packed words hold exactly the trained integers
    model, _ = load_checkpoint("models/lenet5-int4-wot-inplace-4b-64")
    w = model.features[0].weight / model.features[0].weight_scale.reshape(-1, 1, 1, 1)
    q, _ = decode_weights(img)
    assert np.array_equal(q["features.0"], torch.round(w).detach().numpy().astype(np.int8))


def test_ecc_8b_72_image_has_two_lanes_and_hex_of_18_digits(tmp_path):
    img = export_checkpoint("models/lenet5-int8", "ecc-8b-72", tmp_path / "e")
    assert img.words.shape[1] == 2
    first = (img.path / "image.hex").read_text().split()[0]
    assert len(first) == 18 and int(first, 16) == int(img.words[0, 0]) | int(img.words[0, 1]) << 64


@pytest.mark.parametrize("ckpt,layout", [("lenet5-int4-wot-inplace-4b-64", "inplace-4b-64"),
                                         ("resnet-small-int8-wot-inplace-8b-64", "inplace-8b-64"),
                                         ("squeezenet-small-int4-wot-inplace-4b-32", "inplace-4b-32"),
                                         ("vgg-small-int8", "ecc-8b-72")])
def test_integer_inference_exact_and_agrees_with_fake_quant(ckpt, layout, tmp_path):
    img = export_checkpoint(f"models/{ckpt}", layout, tmp_path / "i")
    net = IntegerNetwork.from_image(img)
    a, b = net.forward(X), net.forward(X)
    assert np.array_equal(a, b) and a.dtype == np.int64
    pred = net.predict(X)
    ref = fake_quant_forward(img, X).argmax(1).numpy()
    agreement = float(np.mean(pred == ref))
    assert agreement >= 0.995, agreement
    card = yaml.safe_load(open(f"models/{ckpt}.yaml"))
    assert abs(float(np.mean(pred == Y)) - card["accuracy"]) <= 0.01


def test_bn_folding_and_residual_add_are_exact_for_a_seeded_model(tmp_path):
    model = build_model("resnet-small", seed=4)
    img = export_image(model, tmp_path / "r", layout="none-8b", input_shape=(1, 8, 8),
                       calibration=DATA.x_train[:200])
    ops = [n["op"] for n in img.graph]
    assert "add" in ops and "batchnorm" not in ops
    pred = IntegerNetwork(img).predict(X)
    with torch.no_grad():
        float_pred = model(DATA.x_test).argmax(1).numpy()
    assert np.mean(pred == float_pred) > 0.9   # 8-bit integer net tracks the float net


def test_unsupported_layer_is_named(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(72, 10))
    with pytest.raises(UserError, match=r"layer '1' of type Sigmoid is not supported"):
        export_image(model, tmp_path / "s", layout="none-8b", input_shape=(1, 8, 8))
    with pytest.raises(UserError, match="GroupNorm"):
        export_image(build_model("vgg-small-gn"), tmp_path / "g", layout="none-8b", input_shape=(1, 8, 8))
    assert not any(tmp_path.iterdir())   # nothing written


def test_nan_and_out_of_range_weights(tmp_path):
    model = build_model("lenet5")
    with torch.no_grad():
        model.classifier[0].weight[3, 5] = float("nan")
    with pytest.raises(UserError, match="'classifier.0' has NaN or Inf"):
        export_image(model, tmp_path / "n", layout="none-8b", input_shape=(1, 8, 8))
    with pytest.raises(UserError, match=r"layer 'features.0': weight \d+ = .* throttled slot .*--project"):
        export_checkpoint("models/lenet5-int4", "inplace-4b-64", tmp_path / "o")
    img = export_checkpoint("models/lenet5-int4", "inplace-4b-64", tmp_path / "p", project=True)
    assert img.manifest["projected_weights"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_tampered_truncated_and_incomplete_images(lenet_image, tmp_path):
    import shutil
    for case in ("tamper", "truncate", "field", "type"):
        d = tmp_path / case
        shutil.copytree(lenet_image.path, d)
        if case == "tamper":
            raw = bytearray((d / "image.bin").read_bytes())
            raw[100] ^= 1
            (d / "image.bin").write_bytes(bytes(raw))
            match = "sha256 does not match"
        elif case == "truncate":
            (d / "image.hex").write_text((d / "image.hex").read_text()[:-17])
            match = "image.hex: sha256"
        else:
            m = yaml.safe_load((d / "manifest.yaml").read_text())
            if case == "field":
                del m["layers"][2]["n_words"]
                match = "layer 'classifier.0': missing field 'n_words'"
            else:
                m["layers"][0]["bias"] = "oops"
                match = "field 'bias' has the wrong type"
            (d / "manifest.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
        with pytest.raises(UserError, match=match):
            load_image(d)


def test_cli_errors_exit_2_without_traceback(lenet_image, tmp_path):
    r = subprocess.run([sys.executable, "-m", "accelsim", "export", "models/lenet5-int4", "--layout",
                        "inplace-4b-64", "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--project" in r.stderr
    assert not (tmp_path / "x").exists()
    r = subprocess.run([sys.executable, "-m", "accelsim", "export", "models/lenet5-int4-wot-inplace-4b-64",
                        "--layout", "inplace-4b-64", "-o", str(lenet_image.path)], capture_output=True, text=True)
    assert r.returncode == 2 and "exists; pass --force" in r.stderr
    load_image(lenet_image.path)   # untouched
    r = subprocess.run([sys.executable, "-m", "accelsim", "inspect", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "no manifest.yaml" in r.stderr
