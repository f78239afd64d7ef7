"""MobileNetV2 through export and integer-exact inference: depthwise/grouped and dilated
convolution, ReLU6, inverted residuals, narrower activations; the flatten idioms."""

import time

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.image import export_image
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.integer import _grouped_gemm, _im2col
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import build_model, load_digits_split

DATA = load_digits_split()
X = DATA.x_test.numpy()[:100]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def assert_tracks_reference(img, x):
    """Integer logits equal the fake-quant reference's: every activation on the way agrees
    (the fixed-point multipliers' rounding never flips a level on these inputs), so the
    logits differ only by float64 rounding of the reference."""
    net = IntegerNetwork(img)
    out = net.forward(x) * net.output_scale()
    ref = fake_quant_forward(img, x).numpy()
    assert np.abs(out - ref).max() <= 1e-9 * np.abs(ref).max()
    assert np.array_equal(out.argmax(1), ref.argmax(1))
    return out


@pytest.mark.parametrize("groups,dilation,stride,padding", [(1, 1, 1, 1), (4, 1, 2, 1), (8, 1, 1, 1),
                                                          (2, 2, 1, 2), (8, 3, 2, 0), (1, (2, 1), 1, (2, 1))])
def test_grouped_dilated_integer_conv_equals_torch_exactly(groups, dilation, stride, padding):
    rng = np.random.default_rng(groups * 10 + stride)
    x = rng.integers(-127, 128, (2, 8, 9, 7))
    w = rng.integers(-127, 128, (16, 8 // groups, 3, 3))
    want = torch.nn.functional.conv2d(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(w, dtype=torch.float64),
                                      stride=stride, padding=padding, dilation=dilation, groups=groups).numpy()
    pad, dil = (padding,) * 2 if isinstance(padding, int) else padding, (dilation,) * 2 if isinstance(dilation, int) \
        else dilation
    cols, ho, wo = _im2col(x, (3, 3), (stride, stride), pad, dilation=dil)
    got = _grouped_gemm(cols.astype(np.float64), w.reshape(16, -1).T.astype(np.float64), groups)
    got = got.reshape(2, ho, wo, 16).transpose(0, 3, 1, 2)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_digits_mobilenet_exports_with_depthwise_relu6_and_residuals(tmp_path):
    model = build_model("mobilenet-v2-small", seed=3)
    img = export_image(model, tmp_path / "m", layout="inplace-8b-64", input_shape=(1, 8, 8), project=True,
                       calibration=DATA.x_train[:256])
    layers = {layer.name: layer for layer in img.layers}
    entries = {e.name: e.model_dump(exclude_unset=True) for e in img.manifest.layers}
    dw = [layer for layer in img.layers if layer.groups > 1]
    assert [layer.name for layer in dw] == ["features.1.conv.0.0", "features.2.conv.1.0", "features.3.conv.1.0",
                                            "features.4.conv.1.0", "features.5.conv.1.0"]
    for layer in dw:
        c = layer.out_channels
        assert layer.groups == layer.in_channels == c and layer.weight_shape == (c, 1, 3, 3)
        assert entries[layer.name]["weight_shape"] == [c, 1, 3, 3] and entries[layer.name]["groups"] == c
        assert layer.gemm[1] == 9 and layer.macs == layer.gemm[0] * 9 * c   # one 3x3 window per output
    # every ReLU6 fused into its conv as an upper clamp; the projections stay linear and signed
    assert layers["features.0.0"].relu and layers["features.0.0"].relu_max == 6.0
    assert entries["features.0.0"]["relu_max"] == 6.0 and entries["features.2.conv.2"]["relu"] is False
    assert "relu_max" not in entries["features.2.conv.2"]
    nodes = {n["name"]: n for n in img.graph}
    adds = [n for n in img.graph if n["op"] == "add"]
    assert len(adds) == 2 and all(n["signed"] for n in adds)
    assert [n["op"] for n in img.graph][-4:] == ["adaptive_avgpool", "flatten", "linear", "output"]
    assert not any(n["op"] == "relu" for n in img.graph)
    assert len(img.layers) == 17 and img.n_weights == sum(
        m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    # calibration sees the clamped (ReLU6) values: no scale spans more than 6.0
    assert all(nodes[x.name]["scale"] * 255 <= 6.0 + 1e-9 for x in img.layers if x.relu_max)
    assert_tracks_reference(img, X)


class _Dilated(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=2, dilation=2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=(2, 1), dilation=(2, 1), groups=4)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = nn.functional.relu6(self.conv1(x))
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.reshape(x.shape[0], -1))


def test_dilated_and_grouped_conv_with_functional_ops(tmp_path):
    torch.manual_seed(1)
    img = export_image(_Dilated(), tmp_path / "d", layout="none-8b", input_shape=(1, 8, 8),
                       calibration=DATA.x_train[:256])
    e = {x.name: x.model_dump(exclude_unset=True) for x in img.manifest.layers}
    assert e["conv1"]["dilation"] == [2, 2] and e["conv1"]["output_hw"] == [8, 8] and e["conv1"]["relu_max"] == 6.0
    assert e["conv2"]["dilation"] == [2, 1] and e["conv2"]["groups"] == 4 and e["conv2"]["weight_shape"] == [8, 2, 3, 3]
    assert e["conv2"]["in_channels"] == 8 and e["conv2"]["gemm"] == [64, 18, 8]
    assert [n["op"] for n in img.graph] == ["input", "conv", "conv", "maxpool", "flatten", "linear", "output"]
    assert_tracks_reference(img, X)


def test_unfused_relu6_is_a_relu_node_with_max(tmp_path):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU6(), nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        model[0].weight.mul_(30)   # conv outputs well beyond 6 so that the clamp matters
    img = export_image(model, tmp_path / "r", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    relu = [n for n in img.graph if n["op"] == "relu"]
    assert len(relu) == 1 and relu[0]["max"] == 6.0 and relu[0]["signed"] is False
    cap = int(np.floor(6.0 / relu[0]["scale"] + 0.5))
    assert 0 < cap < 127   # the clamp bites inside the signed 8-bit range of the conv output
    net = IntegerNetwork(img)
    seen = []
    orig = net._relu
    net._relu = lambda node, ins, wmat: seen.append((ins[0].max(), orig(node, ins, wmat).max())) or orig(node, ins, wmat)
    assert_tracks_reference(img, X)
    net.forward(X[:50])
    assert seen[0][0] > cap and seen[0][1] == cap


def test_four_bit_activations_run_integer_exact(tmp_path):
    model = build_model("mobilenet-v2-small", seed=5)
    img = export_image(model, tmp_path / "a4", layout="none-8b", input_shape=(1, 8, 8), activation_bits=4,
                       calibration=DATA.x_train[:256])
    assert img.manifest.activation_bits == 4
    bits = {n["name"]: (n["bits"], n["signed"]) for n in img.graph if n["op"] != "output"}
    assert bits["x"] == (8, False) and bits["features.0.0"] == (4, False)
    assert all(b == (8 if signed else 4) for name, (b, signed) in bits.items() if name != "x")
    # the unsigned 4-bit activations really are 0..15 inside the integer network
    net = IntegerNetwork(img)
    seen = {}
    orig = net._weight_layer

    def spy(node, *a):
        y = orig(node, *a)
        seen[node["name"]] = (int(y.min()), int(y.max()))
        return y
    net._weight_layer = spy
    net.forward(X[:50])
    assert seen["features.0.0"][0] >= 0 and seen["features.0.0"][1] <= 15
    assert max(hi for name, (lo, hi) in seen.items() if not bits.get(name, (8, True))[1]) == 15
    assert_tracks_reference(img, X)


@pytest.mark.slow   # full size (ResNet-18 / MobileNetV2): `-m "not slow"` skips it while developing
def test_full_size_mobilenet_v2_exports_at_224(tmp_path):
    model = build_model("mobilenet_v2", seed=0)
    assert sum(p.numel() for p in model.parameters()) == 3_504_872
    calib = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    img = export_image(model, tmp_path / "mb", layout="none-8b", input_shape=(3, 224, 224), calibration=calib)
    assert time.perf_counter() - t0 < 120   # a guard against a hang, not a speed target
    assert len(img.layers) == 53 and img.n_weights == 3_469_760   # conv + fc weights (BN folded, biases apart)
    dw = [layer for layer in img.layers if layer.groups > 1]
    assert len(dw) == 17 and all(layer.groups == layer.in_channels == layer.out_channels for layer in dw)
    assert [layer.groups for layer in dw][:4] == [32, 96, 144, 144] and dw[-1].groups == 960
    assert img.layers[0].output_hw == (112, 112) and img.layers[-2].output_hw == (7, 7)
    assert sum(layer.relu_max == 6.0 for layer in img.layers) == 35
    assert sum(n["op"] == "add" for n in img.graph) == 10
    macs = sum(layer.macs for layer in img.layers)
    assert macs == 300_774_272   # MobileNetV2 1.0 @224: ~300 M multiply-adds (Sandler et al. 2018, table 4)
    q = decode_weights(img)[0]
    assert q["features.18.0"].shape == (1280, 320, 1, 1) and q["classifier.1"].shape == (1000, 1280)
    assert_tracks_reference(img, calib[:1].numpy())   # the integer path at full size: same logits


def test_cycle_model_and_energy_count_depthwise_macs_exactly(tmp_path):
    from accelsim.energy.model import energy_of
    from accelsim.hw.accelerator import simulate

    img = export_image(build_model("mobilenet-v2-small", seed=3), tmp_path / "h", layout="inplace-8b-64", project=True,
                       input_shape=(1, 8, 8), calibration=DATA.x_train[:64])
    result = simulate(img)
    stats = {s.name: s for s in result.layers}
    # a 3x3 depthwise layer over 8x8 with 16 channels: 64 pixels x 9 taps x 16 channels
    assert stats["features.1.conv.0.0"].macs == 64 * 9 * 16
    # by the weight tensors: every weight is used once per output pixel
    want = sum(int(np.prod(layer.weight_shape)) * layer.output_hw[0] * layer.output_hw[1] for layer in img.layers)
    assert result.actions()["mac_ops"] == {"8x8": want}
    energy = energy_of(result, img.layout, vdd=0.6)
    assert energy.totals["mac"] == pytest.approx(want * 0.30)   # 0.30 pJ per 8-bit MAC; the PE array stays at nominal vdd
