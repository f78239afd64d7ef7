"""Integer-exact inference: fixed-point requantization, bit-identical logits, agreement
with the fake-quant PyTorch reference, decoding faulty words, speed."""


import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.cli import main as cli_main
from accelsim.errors import UserError
from accelsim.image import export_image
from accelsim.image.from_checkpoint import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.reference import fake_quant_forward
from accelsim.infer.requant import INT32_MAX, INT32_MIN, fixed_multiplier, requantize, saturate32
from accelsim.nn import load_digits_split

DATA = load_digits_split()
X = DATA.x_test.numpy()
Y = DATA.y_test.numpy()


@pytest.fixture(scope="module")
def lenet_image(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("img") / "lenet")


@given(st.floats(1e-6, 100.0))
def test_fixed_multiplier_is_a_31_bit_mantissa_and_a_shift(m):
    m0, shift = fixed_multiplier(m)
    assert (1 << 30) <= int(m0[0]) < (1 << 31)
    assert abs(int(m0[0]) / 2 ** int(shift[0]) - m) <= m * 2.0 ** -30


@settings(max_examples=300)
@given(st.integers(INT32_MIN, INT32_MAX), st.floats(1e-5, 2.0))
def test_requantize_is_round_half_up_of_the_exact_product(acc, m):
    m0, shift = fixed_multiplier(m)
    y = int(requantize(np.array([acc]), m0, shift, -(1 << 40), 1 << 40)[0])
    # exact rational arithmetic: floor(acc * m0 / 2^shift + 1/2)
    num, den = acc * int(m0[0]), 1 << int(shift[0])
    assert y == (2 * num + den) // (2 * den)
    assert abs(y - acc * m) <= 0.5 + abs(acc) * m * 2.0 ** -30


def test_accumulators_saturate_at_32_bits_and_activations_clamp():
    acc = np.array([INT32_MAX + 5, INT32_MIN - 5, 1000, -1000], dtype=np.int64)
    assert saturate32(acc).tolist() == [INT32_MAX, INT32_MIN, 1000, -1000]
    m0, shift = fixed_multiplier(0.01)
    assert requantize(acc, m0, shift, 0, 255).tolist() == [255, 0, 10, 0]
    assert requantize(acc, m0, shift, -127, 127).tolist() == [127, -127, 10, -10]


def test_single_conv_layer_matches_integer_arithmetic_by_hand(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 4))
    img = export_image(model, tmp_path / "c", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    net = IntegerNetwork(img)
    x = X[:5].astype(np.float64)   # the network quantizes inputs in float64
    logits = net.forward(x)
    # the same computation written out with Python-sized integers and torch's float64 conv
    conv, fc = img.layers
    q = decode_weights(img)[0]
    xq = np.clip(np.round(x / conv.input_scale), 0, 255)
    acc = torch.nn.functional.conv2d(torch.as_tensor(xq, dtype=torch.float64),
                                     torch.as_tensor(q["0"], dtype=torch.float64), stride=2, padding=1).numpy()
    acc = acc.astype(np.int64) + conv.bias.reshape(1, -1, 1, 1)
    m0, shift = fixed_multiplier(conv.weight_scale * conv.input_scale / img.graph[1]["scale"])
    h = np.clip((acc * m0.reshape(1, -1, 1, 1) + (1 << (shift.reshape(1, -1, 1, 1) - 1)))
                >> shift.reshape(1, -1, 1, 1), 0, 255)
    want = h.reshape(5, -1) @ q["3"].astype(np.int64).T + fc.bias
    assert np.array_equal(logits, want) and logits.dtype == np.int64


@pytest.mark.parametrize("ckpt,layout", [("lenet5-int4-wot-inplace-4b-64", "inplace-4b-64"),
                                         ("resnet-small-int8-wot-inplace-8b-64", "inplace-8b-64"),
                                         ("squeezenet-small-int4-wot-inplace-4b-32", "inplace-4b-32"),
                                         ("vgg-small-int8", "ecc-8b-72")])
def test_digits_models_are_bit_identical_and_agree_with_fake_quant(ckpt, layout, tmp_path):
    img = export_checkpoint(f"models/{ckpt}", layout, tmp_path / "i")
    net = IntegerNetwork.from_image(img)
    a = net.forward(X)
    b = IntegerNetwork.from_image(img).forward(X, decode_weights(img)[0])
    assert np.array_equal(a, b) and a.shape == (450, 10) and a.dtype == np.int64
    pred = net.predict(X)
    ref = fake_quant_forward(img, X).argmax(1).numpy()
    assert float(np.mean(pred == ref)) >= 0.995   # measured figures: docs/formats.md
    card = yaml.safe_load(open(f"models/{ckpt}.yaml"))
    assert abs(float(np.mean(pred == Y)) - card["accuracy"]) <= 0.01


class _Mixed(nn.Module):
    """conv -> (avgpool | conv) -> cat -> residual add -> adaptive pool -> linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 4, 1)
        self.b = nn.Conv2d(8, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        s = torch.relu(self.stem(x))
        y = torch.cat([torch.relu(self.a(s)), self.b(s)], 1) + s
        return self.fc(torch.flatten(self.gap(self.pool(torch.relu(y))), 1))


def test_cat_add_and_pooling_track_the_fake_quant_reference(tmp_path):
    torch.manual_seed(0)
    img = export_image(_Mixed(), tmp_path / "m", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    assert [n["op"] for n in img.graph] == ["input", "conv", "conv", "conv", "cat", "add", "avgpool",
                                           "adaptive_avgpool", "flatten", "linear", "output"]
    net = IntegerNetwork(img)
    out = net.forward(X) * net.output_scale()
    ref = fake_quant_forward(img, X).numpy()
    # rounding differences of the fixed-point rescaling move a logit by a few output LSBs at most
    assert np.abs(out - ref).max() <= 4 * net.output_scale().max() + 0.05 * np.abs(ref).max()
    assert np.mean(out.argmax(1) == ref.argmax(1)) >= 0.97


def test_faulty_words_decode_with_counts_and_change_the_logits(lenet_image):
    words = lenet_image.words.copy()
    clean = IntegerNetwork(lenet_image).forward(X[:50])
    words[3, 0] ^= np.uint64(1 << 5)                          # single error in features.0: corrected
    words[100, 0] ^= np.uint64((1 << 2) | (1 << 40))          # double error in classifier.0: detected
    q, stats = decode_weights(lenet_image, words)
    assert stats["features.0"] == {"words": 10, "corrected": 1, "detected": 0}
    assert stats["classifier.0"] == {"words": 480, "corrected": 0, "detected": 1}
    ref = decode_weights(lenet_image)[0]
    assert np.array_equal(q["features.0"], ref["features.0"])
    assert np.count_nonzero(q["classifier.0"] != ref["classifier.0"]) >= 1
    logits = IntegerNetwork(lenet_image).forward(X[:50], q)
    assert not np.array_equal(logits, clean)
    assert all(w.dtype == np.int8 for w in q.values())


def test_wrong_input_shape_is_refused(lenet_image):
    with pytest.raises(UserError, match=r"input shape \(1, 4, 4\) != image input shape \(1, 8, 8\)"):
        IntegerNetwork(lenet_image).forward(np.zeros((2, 1, 4, 4)))


def test_infer_cli_prints_the_accuracy(lenet_image, capsys):
    assert cli_main(["infer", str(lenet_image.path)]) == 0
    out = capsys.readouterr().out
    card = yaml.safe_load(open("models/lenet5-int4-wot-inplace-4b-64.yaml"))
    acc = float(out.split("accuracy ")[1].split()[0])
    assert "450 digits test samples" in out and abs(acc - card["accuracy"]) <= 0.01
