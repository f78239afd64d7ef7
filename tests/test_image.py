"""Memory images: export (graph capture, BN folding, quantization, packing, files) and
load (checksums and every manifest field), bad input, and the export/inspect CLI."""

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from accelsim.cli import main as cli_main
from accelsim.ecc import get_layout
from accelsim.errors import UserError
from accelsim.image import export_image, load_image
from accelsim.image.from_checkpoint import export_checkpoint
from accelsim.image.graph import capture
from accelsim.infer import decode_weights
from accelsim.nn import build_model, load_checkpoint, load_digits_split

DATA = load_digits_split()


@pytest.fixture(scope="module")
def lenet_image(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("img") / "lenet")


def _trained_integers(model, name):
    m = dict(model.named_modules())[name]
    shape = (-1,) + (1,) * (m.weight.dim() - 1)
    return torch.round(m.weight / m.weight_scale.reshape(shape)).detach().numpy().astype(np.int8)


def test_files_manifest_and_word_order(lenet_image):
    img = lenet_image
    m = img.manifest
    assert img.words.shape == (1227, 1) and [layer.name for layer in img.layers] == [
        "features.0", "features.3", "classifier.0", "classifier.2", "classifier.4"]
    assert (m.format_version, m.layout, m.code, m.word_bits, m.lanes, m.weight_bits) == (
        1, "inplace-4b-64", "hsiao-64-57", 64, 1, 4)
    # image.bin: little-endian words in address order; image.hex: the same words, 16 digits, MSB first
    raw = np.fromfile(img.path / "image.bin", dtype="<u8")
    assert np.array_equal(raw, img.words[:, 0])
    lines = (img.path / "image.hex").read_text().splitlines()
    assert {len(line) for line in lines} == {16} and [int(v, 16) for v in lines] == img.words[:, 0].tolist()
    for name in ("image.bin", "image.hex"):
        assert m.files.model_dump(by_alias=True)[name] == hashlib.sha256((img.path / name).read_bytes()).hexdigest()
    # layers are consecutive; each holds ceil(n / 16) words
    assert [layer.word_offset for layer in img.layers] == [0, 10, 64, 544, 1174]
    assert [layer.n_words for layer in img.layers] == [10, 54, 480, 630, 53]
    assert img.layers[0].gemm == (64, 25, 6) and img.layers[-1].gemm == (1, 84, 10)
    assert img.layers[0].kernel == (5, 5) and img.layers[0].padding == (2, 2) and img.layers[0].output_hw == (8, 8)
    assert [n["op"] for n in img.graph] == ["input", "conv", "maxpool", "conv", "maxpool", "flatten",
                                           "linear", "linear", "linear", "output"]
    # weight i of a layer sits in word offset + i // 16, slot i % 16 (4-bit fields, sign-extended)
    model, _ = load_checkpoint("models/lenet5-int4-wot-inplace-4b-64")
    q = _trained_integers(model, "features.3").reshape(-1)
    word = int(img.words[10 + 37 // 16, 0])
    field = (word >> (4 * (37 % 16))) & 0xF
    assert field - 16 * (field >= 8) == q[37]
    # the packed words decode to exactly the trained integers, scales are the trained ones
    decoded, stats = decode_weights(img)
    for layer in img.layers:
        assert np.array_equal(decoded[layer.name], _trained_integers(model, layer.name))
        assert stats[layer.name] == {"words": layer.n_words, "corrected": 0, "detected": 0}
    np.testing.assert_allclose(img.layers[0].weight_scale, model.features[0].weight_scale.numpy(), rtol=1e-6)


def test_load_round_trip_equals_export(lenet_image):
    again = load_image(lenet_image.path)
    assert np.array_equal(again.words, lenet_image.words)
    assert again.manifest == lenet_image.manifest
    for i, (a, b) in enumerate(zip(again.layers, lenet_image.layers)):
        assert (a.name, a.gemm, a.word_offset) == (b.name, b.gemm, b.word_offset)
        assert np.array_equal(a.bias, b.bias) and np.array_equal(a.weight_scale, b.weight_scale)
        assert a.bias.dtype == np.int32 and a.weight_scale.dtype == np.float64
        assert np.array_equal(again.layer_words(i), again.words[a.word_offset:a.word_offset + a.n_words])
    assert sum(len(again.layer_words(i)) for i in range(len(again.layers))) == len(again.words)


@pytest.mark.parametrize("layout,digits,lanes", [("ecc-8b-72", 18, 2), ("inplace-4b-32", 8, 1), ("none-8b", 16, 1)])
def test_hex_width_follows_the_word_width(layout, digits, lanes, tmp_path):
    ckpt = "models/lenet5-int4-wot-inplace-4b-32" if layout == "inplace-4b-32" else "models/lenet5-int8"
    img = export_checkpoint(ckpt, layout, tmp_path / "e")
    assert img.words.shape[1] == lanes
    lines = (img.path / "image.hex").read_text().splitlines()
    assert len(lines) == img.words.shape[0] and {len(v) for v in lines} == {digits}
    top = int(img.words[-1, 0]) | (int(img.words[-1, 1]) << 64 if lanes == 2 else 0)
    assert int(lines[-1], 16) == top
    assert (img.path / "image.bin").stat().st_size == img.words.shape[0] * lanes * 8


def test_int4_checkpoint_into_8bit_layout_keeps_its_integers(tmp_path):
    img = export_checkpoint("models/lenet5-int4", "none-8b", tmp_path / "a")
    model, _ = load_checkpoint("models/lenet5-int4")
    q = decode_weights(img)[0]["classifier.0"]
    assert np.array_equal(q, _trained_integers(model, "classifier.0")) and np.abs(q).max() <= 7


def test_per_tensor_scale_and_bias_at_accumulator_scale(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    calib = DATA.x_train[:100]
    per_ch = export_image(model, tmp_path / "c", layout="none-8b", input_shape=(1, 8, 8), calibration=calib)
    per_t = export_image(model, tmp_path / "t", layout="none-8b", input_shape=(1, 8, 8), calibration=calib,
                         per_channel=False)
    w = model[0].weight.detach().double()
    np.testing.assert_allclose(per_ch.layers[0].weight_scale, w.abs().amax(dim=(1, 2, 3)).numpy() / 127)
    np.testing.assert_allclose(per_t.layers[0].weight_scale, np.full(4, float(w.abs().max()) / 127))
    assert per_t.manifest.per_channel is False and per_ch.manifest.per_channel is True
    # the input scale is max|x| / 255 over the calibration batch (digits pixels are >= 0)
    assert per_ch.layers[0].input_scale == pytest.approx(float(calib.max()) / 255)
    layer = per_ch.layers[0]
    want = np.round(model[0].bias.detach().double().numpy() / (layer.weight_scale * layer.input_scale))
    assert np.array_equal(layer.bias, want.astype(np.int32))
    # each output channel's largest weight is +-127
    q = decode_weights(per_ch)[0]["0"]
    assert np.array_equal(np.abs(q).reshape(4, -1).max(axis=1), [127] * 4)


def test_batchnorm_is_folded_exactly():
    torch.manual_seed(1)
    conv, bn = nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(-2, 2)
        bn.bias.uniform_(-1, 1)
    model = nn.Sequential(conv, bn, nn.ReLU()).eval()
    ops, _ = capture(model, (2, 6, 6))
    assert [op.op for op in ops] == ["input", "conv", "output"] and ops[1].params["relu"]
    x = torch.randn(4, 2, 6, 6)
    with torch.no_grad():
        np.testing.assert_allclose(torch.relu(ops[1].module(x)).numpy(), model(x).numpy(), atol=1e-5)


def test_residual_network_with_folded_bn_exports(tmp_path):
    img = export_image(build_model("resnet-small", seed=4), tmp_path / "r", layout="none-8b", input_shape=(1, 8, 8),
                       calibration=DATA.x_train[:200])
    nodes = {n["name"]: n for n in img.graph}
    assert [n["op"] for n in img.graph] == ["input", "conv", "conv", "conv", "add", "conv", "conv", "conv", "add",
                                           "adaptive_avgpool", "flatten", "linear", "output"]
    # BN folded into each of the 6 convs; the ReLU after each add is fused
    # into the add, the conv before the add keeps its signed pre-activation output
    assert len(img.layers) == 7 and nodes["add_1"]["inputs"] == ["layers.1.conv2", "layers.1.downsample.0"]
    assert nodes["add"]["relu"] and not nodes["add"]["signed"] and nodes["layers.0.conv2"]["signed"]
    assert nodes["layers.0.conv1"]["relu"] and not nodes["layers.0.conv2"].get("relu")


class _Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.sigmoid(self.conv(x)).flatten(1)


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(72, 10)),
     r"^layer '1' of type Sigmoid is not supported by the accelerator; use nn.ReLU / nn.ReLU6"),
    (build_model("vgg-small-gn"), r"^layer 'features.1' of type GroupNorm is not supported.*; use BatchNorm2d right after"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Hardtanh(-1.0, 1.0)), r"^layer '1' \(Hardtanh\): only a clamp to \[0, max\]"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")), r"padding_mode 'reflect'"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(6, 3)),
     r"^layer '1' \(Linear\): its input must be flattened.*write torch.flatten\(x, 1\)"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(0)), r"^layer '1' \(Flatten\): flattens from dim 0 to -1"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, ceil_mode=True)), r"AvgPool2d\): padding, ceil_mode"),
    (_Gated(), r"^the model's forward: operation torch.sigmoid \('sigmoid'\) is not supported by the accelerator; use"),
    (nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)), r"no Conv2d or Linear layer"),
])
def test_unsupported_layers_are_refused_by_name(model, match, tmp_path):
    with pytest.raises(UserError, match=match):
        export_image(model, tmp_path / "s", layout="none-8b", input_shape=(1, 8, 8))
    assert not any(tmp_path.iterdir())   # nothing written


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_inf_weights_are_refused(value, tmp_path):
    model = build_model("lenet5")
    with torch.no_grad():
        model.classifier[0].weight[3, 5] = value
    with pytest.raises(UserError, match=r"'classifier.0' has NaN or Inf weights or bias \(weight 197\)"):
        export_image(model, tmp_path / "n", layout="none-8b", input_shape=(1, 8, 8))
    assert not any(tmp_path.iterdir())


def test_out_of_range_weights_name_layer_and_index_and_project_moves_them(tmp_path):
    with pytest.raises(UserError, match=r"layer 'features.0': weight \d+ = -?\d+ \(word \d+, throttled slot \d+\)"
                                        r".*--project"):
        export_checkpoint("models/lenet5-int4", "inplace-4b-64", tmp_path / "o")
    img = export_checkpoint("models/lenet5-int4", "inplace-4b-64", tmp_path / "p", project=True)
    plain = export_checkpoint("models/lenet5-int4", "none-4b", tmp_path / "q")
    a, b = decode_weights(img)[0], decode_weights(plain)[0]
    moved = sum(int(np.count_nonzero(a[k] != b[k])) for k in a)
    assert img.manifest.projected_weights == moved > 0
    lay = get_layout("inplace-4b-64")
    for name, q in a.items():   # every throttled slot now holds a weight in [-4, 3]
        flat = q.reshape(-1)
        slots = np.arange(flat.size) % lay.weights_per_word
        assert np.all(np.isin(slots[(flat < -4) | (flat > 3)], lay.throttled, invert=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "q"]   # the refused export left nothing


def _edit_manifest(d, fn):
    m = yaml.safe_load((d / "manifest.yaml").read_text())
    fn(m)
    (d / "manifest.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


def _flip_byte(path, index):
    raw = bytearray(path.read_bytes())
    raw[index] ^= 1
    path.write_bytes(bytes(raw))


BAD_IMAGES = {
    "tampered bin": (lambda d: _flip_byte(d / "image.bin", 100), r"image.bin: sha256 does not match"),
    "tampered hex": (lambda d: _flip_byte(d / "image.hex", 3), r"image.hex: sha256 does not match"),
    "truncated bin": (lambda d: (d / "image.bin").write_bytes((d / "image.bin").read_bytes()[:-8]),
                      r"image.bin: 9808 bytes, expected 9816 for 1227 words \(truncated"),
    "truncated hex": (lambda d: (d / "image.hex").write_text((d / "image.hex").read_text()[:-17]),
                      r"image.hex: 20842 bytes, expected 20859"),
    "missing bin": (lambda d: (d / "image.bin").unlink(), r"image.bin is missing"),
    "missing n_words": (lambda d: _edit_manifest(d, lambda m: m["layers"][2].pop("n_words")),
                        r"manifest.yaml: layers\['classifier.0'\].n_words: missing \(required\)"),
    "missing code": (lambda d: _edit_manifest(d, lambda m: m.pop("code")), r"manifest.yaml: code: missing \(required\)"),
    "missing scale": (lambda d: _edit_manifest(d, lambda m: m["graph"][3].pop("scale")),
                      r"graph node 'features.3': missing field 'scale'"),
    "bias type": (lambda d: _edit_manifest(d, lambda m: m["layers"][0].__setitem__("bias", "oops")),
                  r"layers\['features.0'\].bias: must be a list \(got 'oops'\)"),
    "bias range": (lambda d: _edit_manifest(d, lambda m: m["layers"][0]["bias"].__setitem__(0, 2**31)),
                   r"layers\['features.0'\].bias\[0\]: must be <= 2147483647 \(got 2147483648\)"),
    "negative scale": (lambda d: _edit_manifest(d, lambda m: m["layers"][1]["weight_scale"].__setitem__(2, -0.1)),
                       r"layers\['features.3'\].weight_scale\[2\]: must be > 0.0 \(got -0.1\)"),
    "zero act scale": (lambda d: _edit_manifest(d, lambda m: m["graph"][2].__setitem__("scale", 0.0)),
                       r"graph\['features.2'\].scale: must be > 0.0 \(got 0.0\)"),
    "overlap": (lambda d: _edit_manifest(d, lambda m: m["layers"][1].__setitem__("word_offset", 5)),
                r"layer 'features.0': words are not contiguous"),
    "word count": (lambda d: _edit_manifest(d, lambda m: m["layers"][4].__setitem__("n_words", 50)),
                   r"n_words 50 != 53 for 840 weights"),
    "geometry": (lambda d: _edit_manifest(d, lambda m: m["layers"][0].__setitem__("stride", [2, 2])),
                 r"output_hw \[8, 8\] does not follow"),
    "input scale": (lambda d: _edit_manifest(d, lambda m: m["layers"][1].__setitem__("input_scale", 0.5)),
                    r"layer 'features.3': input_scale 0.5 != scale"),
    "unknown layout": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("layout", "inplace-9b")),
                       r"layout: must be one of 'inplace-8b-64', .* \(got 'inplace-9b'; did you mean 'inplace-8b-64'\?\)"),
    "layout mismatch": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("layout", "none-4b")),
                        r"code 'hsiao-64-57' does not match layout none-4b"),
    "graph order": (lambda d: _edit_manifest(d, lambda m: m["graph"].insert(0, m["graph"].pop(3))),
                    r"input 'features.2' is not an earlier node"),
    "unknown op": (lambda d: _edit_manifest(d, lambda m: m["graph"][2].__setitem__("op", "softmax")),
                   r"graph\['features.2'\].op: must be one of 'input', .* \(got 'softmax'\)"),
    "not yaml": (lambda d: (d / "manifest.yaml").write_text("layers: [\n"), r"not valid YAML"),
    "version": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("format_version", 2)), r"format_version 2 != 1"),
    # issue 15: fields the loader used to ignore are honoured (checked) or refused naming the field
    "byte order": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("byte_order", "big")),
                   r"manifest.yaml: byte_order: must be 'little' \(got 'big'\)"),
    "activation bits": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("activation_bits", 9)),
                        r"manifest.yaml: activation_bits: must be <= 8 \(got 9\)"),
    "node bits": (lambda d: _edit_manifest(d, lambda m: m["graph"][1].__setitem__("bits", 1)),
                  r"manifest.yaml: graph\['features.0'\].bits: must be >= 2 \(got 1\)"),
    "relu_max without relu": (lambda d: _edit_manifest(d, lambda m: m["layers"][-1].__setitem__("relu_max", 6.0)),
                              r"manifest layer 'classifier.4': relu_max 6.0 on a layer without relu"),
    "accumulator bits": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("accumulator_bits", 16)),
                         r"manifest.yaml: accumulator_bits: must be 32 \(got 16\)"),
    "groups": (lambda d: _edit_manifest(d, lambda m: m["layers"][0].__setitem__("groups", 2)),
               r"manifest layer 'features.0': in/out channels 1/6 do not match weight_shape \[6, 1, 5, 5\] "
               r"with groups 2"),
    "node shape": (lambda d: _edit_manifest(d, lambda m: m["graph"][2].__setitem__("shape", [6, 5, 5])),
                   r"graph node 'features.2': shape \[6, 5, 5\] does not follow from its inputs \(\[6, 4, 4\]\)"),
    "input shape": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("input_shape", [1, 16, 16])),
                    r"graph node 'x': shape \[1, 8, 8\] != the manifest's input_shape \[1, 16, 16\]"),
    "node stride": (lambda d: _edit_manifest(d, lambda m: m["graph"][1].__setitem__("stride", [2, 2])),
                    r"graph node 'features.0': stride \[2, 2\] != \[1, 1\] of its layer"),
    "node relu": (lambda d: _edit_manifest(d, lambda m: m["graph"][7].__setitem__("relu", False)),
                  r"graph node 'classifier.2': relu False != relu True of its layer"),
    "stray param": (lambda d: _edit_manifest(d, lambda m: m["graph"][5].__setitem__("kernel", [2, 2])),
                    r"graph node 'flatten': field 'kernel' does not apply to op flatten"),
    "unknown field": (lambda d: _edit_manifest(d, lambda m: m["layers"][0].__setitem__("paddding", [1, 1])),
                      r"layers\['features.0'\]: unknown field 'paddding' \(did you mean 'padding'\?\)"),
    "nan scale": (lambda d: _edit_manifest(d, lambda m: m["layers"][1]["weight_scale"].__setitem__(0, float("nan"))),
                  r"layers\['features.3'\].weight_scale\[0\]: must be a finite number"),
    "scale count": (lambda d: _edit_manifest(d, lambda m: m["layers"][1]["weight_scale"].pop()),
                    r"layer 'features.3': weight_scale must be 16 finite positive numbers \(got 15\)"),
    # issue 12: the manifest's own hash covers the layer table, scales and biases
    "edited scale": (lambda d: _edit_manifest(d, lambda m: m["layers"][1]["weight_scale"].__setitem__(
        2, m["layers"][1]["weight_scale"][2] * 1.1)), r"manifest_sha256 does not match the manifest's content"),
    "edited bias": (lambda d: _edit_manifest(d, lambda m: m["layers"][0]["bias"].__setitem__(0, 7)),
                    r"manifest_sha256 does not match the manifest's content"),
    "no manifest hash": (lambda d: _edit_manifest(d, lambda m: m.pop("manifest_sha256")),
                         r"manifest_sha256: missing \(required\)"),
    "upper-case layout": (lambda d: _edit_manifest(d, lambda m: m.__setitem__("layout", "INPLACE-4b-64")),
                          r"layout: .*\(got 'INPLACE-4b-64'; did you mean 'inplace-4b-64'\?\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_images_are_refused_with_the_problem_named(case, lenet_image, tmp_path):
    d = tmp_path / "img"
    shutil.copytree(lenet_image.path, d)
    damage, match = BAD_IMAGES[case]
    damage(d)
    with pytest.raises(UserError, match=match):
        load_image(d)


def test_export_cli_writes_inspect_reads(tmp_path, capsys):
    out = tmp_path / "img"
    assert cli_main(["export", "models/lenet5-int8-wot-inplace-8b-64", "--layout", "inplace-8b-64",
                     "-o", str(out)]) == 0
    assert "5 layers, 19614 weights in 2452 64-bit words (19616 bytes)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["image.bin", "image.hex", "manifest.yaml"]
    before = (out / "image.bin").read_bytes()
    # an existing directory is kept unless --force
    assert cli_main(["export", "models/lenet5-int8", "--layout", "none-8b", "-o", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and (out / "image.bin").read_bytes() == before
    assert cli_main(["export", "models/lenet5-int8", "--layout", "none-8b", "-o", str(out), "--force"]) == 0
    assert load_image(out).layout.name == "none-8b" and sorted(p.name for p in tmp_path.iterdir()) == ["img"]
    capsys.readouterr()
    assert cli_main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "classifier.0" in text and "1 x 64 x 120" in text and "sha256 of image.bin and image.hex match" in text
    for argv, match in ((["inspect", str(tmp_path)], "no manifest.yaml"),
                        (["export", "models/nope", "--layout", "none-8b", "-o", str(tmp_path / "n")], "nope"),
                        (["export", "models/lenet5-int8", "--layout", "bogus", "-o", str(tmp_path / "b")],
                         "argument --layout: invalid choice: 'bogus'")):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img"]


def test_cli_refusal_is_one_line_exit_2_and_writes_nothing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "accelsim", "export", "models/lenet5-int4", "--layout",
                        "inplace-4b-64", "-o", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "layer 'features.0': weight" in r.stderr and "--project" in r.stderr
    assert not any(tmp_path.iterdir())
