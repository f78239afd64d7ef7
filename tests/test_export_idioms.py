"""The flatten idioms of common model code export; what is still refused says where,
what and what to write instead, in one line."""

import importlib

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.errors import UserError
from accelsim.image import export_image
from accelsim.infer import IntegerNetwork
from accelsim.infer.reference import fake_quant_forward
from accelsim.nn import load_digits_split

DATA = load_digits_split()
X = DATA.x_test.numpy()[:64]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Net(nn.Module):
    """conv -> ReLU -> pool, then a flatten written as ``idiom``, then a linear layer."""

    def __init__(self, idiom):
        super().__init__()
        self.idiom = idiom
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(self.idiom(self, x))


IDIOMS = {
    "view_size0": lambda m, x: x.view(x.size(0), -1),
    "reshape_shape0": lambda m, x: x.reshape(x.shape[0], -1),
    "view_size_tuple": lambda m, x: x.view((x.size(0), -1)),
    "size_then_index": lambda m, x: x.view(x.size()[0], -1),
    "size_dim_keyword": lambda m, x: x.view(x.size(dim=0), -1),
    "view_minus1_features": lambda m, x: x.view(-1, 64),
    "view_size0_features": lambda m, x: x.view(x.size(0), 64),
    "torch_flatten": lambda m, x: torch.flatten(x, 1),
    "torch_flatten_kw": lambda m, x: torch.flatten(x, start_dim=1),
    "tensor_flatten": lambda m, x: x.flatten(1),
    "nn_flatten": lambda m, x: m.flat(x),
    "torch_reshape": lambda m, x: torch.reshape(x, (x.shape[0], -1)),
}


@pytest.mark.parametrize("idiom", sorted(IDIOMS))
def test_flatten_idioms_export_and_infer(idiom, tmp_path):
    torch.manual_seed(0)
    model = Net(IDIOMS[idiom])
    img = export_image(model, tmp_path / idiom, layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    assert [n["op"] for n in img.graph] == ["input", "conv", "maxpool", "flatten", "linear", "output"]
    flat = img.graph[3]
    assert flat["shape"] == [64] and flat["inputs"] == ["pool"]
    net = IntegerNetwork(img)
    out = net.forward(X) * net.output_scale()
    assert np.abs(out - fake_quant_forward(img, X).numpy()).max() <= 1e-9 * np.abs(out).max()


class GapNet(nn.Module):
    def __init__(self, keepdim):
        super().__init__()
        self.keepdim = keepdim
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x.mean((2, 3), keepdim=True).flatten(1) if self.keepdim else x.mean([2, 3])
        return self.fc(x)


@pytest.mark.parametrize("keepdim", [False, True])
def test_global_mean_is_adaptive_average_pooling(keepdim, tmp_path):
    torch.manual_seed(1)
    model = GapNet(keepdim)
    img = export_image(model, tmp_path / "g", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    ops = [(n["op"], n["shape"]) for n in img.graph]
    assert ops == [("input", [1, 8, 8]), ("conv", [6, 8, 8]), ("adaptive_avgpool", [6, 1, 1]), ("flatten", [6]),
                   ("linear", [10]), ("output", [10])]
    pool = img.graph[2]
    assert pool["output_size"] == [1, 1] and pool["scale"] == img.graph[1]["scale"]
    net = IntegerNetwork(img)
    out = net.forward(X) * net.output_scale()
    ref = fake_quant_forward(img, X).numpy()
    assert np.abs(out - ref).max() <= 1e-9 * np.abs(ref).max()
    # the integer mean agrees with the float model's to the pooled tensor's quantization step
    want = model(torch.as_tensor(X)).detach().numpy()
    assert np.mean(out.argmax(1) == want.argmax(1)) >= 0.9


class Block(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.conv(x))


class Wrapped(nn.Module):
    def __init__(self, fn, tail=None):
        super().__init__()
        self.body = nn.Sequential(Block(fn))
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(x), 1))


REFUSED = [
    (lambda x: torch.sigmoid(x), r"^module 'body.0' \(Block\): operation torch.sigmoid \('sigmoid'\) is not supported "
                                 r"by the accelerator; use nn.ReLU / nn.ReLU6"),
    (lambda x: x * 2, r"^module 'body.0' \(Block\): operation operator.mul \('mul'\) is not supported by the "
                      r"accelerator; the accelerator computes Conv2d/Linear layers, residual adds"),
    (lambda x: x.view(1, 4, 8, 8), r"^module 'body.0' \(Block\): Tensor.view\(1, 4, 8, 8\) \('view'\) is not a flatten "
                                   r"to \(N, 256\); a fixed batch size or other reshapes are not supported: write "
                                   r"torch.flatten\(x, 1\)"),
    (lambda x: x.view(x.size(0), 4, -1).view(x.size(0), -1),
     r"^module 'body.0' \(Block\): Tensor.view\(size, 4, -1\) .* write torch.flatten\(x, 1\)"),
    (lambda x: x.permute(0, 2, 3, 1), r"^module 'body.0' \(Block\): operation Tensor.permute \('permute'\) is not "
                                      r"supported by the accelerator; write torch.flatten\(x, 1\)"),
    (lambda x: torch.clamp(x, 0, 6), r"^module 'body.0' \(Block\): operation torch.clamp .*; use nn.ReLU / nn.ReLU6"),
    (lambda x: nn.functional.hardtanh(x), r"^module 'body.0' \(Block\), F.hardtanh|F.hardtanh clamps to \[-1.0, 1.0\]"),
    (lambda x: torch.cat([x, x], 2)[:, :, :8], r"torch.cat on dim 2 is not supported; concatenate channels"),
    (lambda x: x.mean(1, keepdim=True).expand(-1, 4, -1, -1),
     r"^module 'body.0' \(Block\): Tensor.mean over dim 1 \('mean'\) is not supported; only global average pooling"),
]


@pytest.mark.parametrize("fn,match", REFUSED)
def test_refusals_name_the_module_the_operation_and_the_fix(fn, match, tmp_path):
    with pytest.raises(UserError, match=match) as err:
        export_image(Wrapped(fn), tmp_path / "r", layout="none-8b", input_shape=(1, 8, 8))
    assert "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())


def test_bad_activation_bits_are_refused(tmp_path):
    with pytest.raises(UserError, match=r"activation_bits = 9: must be an integer 2..8"):
        export_image(Net(IDIOMS["torch_flatten"]), tmp_path / "b", layout="none-8b", input_shape=(1, 8, 8),
                     activation_bits=9)
    assert not any(tmp_path.iterdir())


def test_refusal_from_the_cli_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    from accelsim.cli import main as cli_main
    from accelsim.nn import save_checkpoint
    from accelsim.nn.train import TrainConfig, train

    cfg = TrainConfig(model="vgg-small-gn", epochs=0, qat_epochs=0)
    with pytest.raises(UserError, match="GroupNorm is not supported"):   # train refuses before the first epoch
        train(cfg, show_progress=False)
    # a checkpoint made elsewhere (an older accelsim, another tool) still reaches export: skip train's pre-check
    monkeypatch.setattr(importlib.import_module("accelsim.nn.train"), "check_exportable", lambda *args, **kwargs: None)
    model, card = train(cfg, show_progress=False)
    card["command"] = "test"
    save_checkpoint(model, tmp_path / "gn", card)
    code = cli_main(["export", str(tmp_path / "gn"), "--layout", "none-8b", "-o", str(tmp_path / "img")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("accelsim: error: layer 'features.1' of type GroupNorm is not supported by the accelerator; "
                          "use BatchNorm2d right after a Conv2d (folded at export)")
    assert not (tmp_path / "img").exists()


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's, for the refused case
def test_string_padding_same_and_valid_become_integers(tmp_path):
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same", dilation=2), nn.ReLU(),
                          nn.Conv2d(4, 4, (3, 5), padding="same"), nn.ReLU(), nn.Conv2d(4, 2, 3, padding="valid"),
                          nn.Flatten(), nn.Linear(2 * 6 * 6, 10))
    img = export_image(model, tmp_path / "p", layout="none-8b", input_shape=(1, 8, 8), calibration=DATA.x_train)
    assert [layer.padding for layer in img.layers[:3]] == [(2, 2), (1, 2), (0, 0)]
    net = IntegerNetwork(img)
    out = net.forward(X) * net.output_scale()
    assert np.abs(out - fake_quant_forward(img, X).numpy()).max() <= 1e-9 * np.abs(out).max()
    with pytest.raises(UserError, match=r"^layer '0' \(Conv2d\): padding 'same' / padding_mode 'zeros' is not supported"):
        export_image(nn.Sequential(nn.Conv2d(1, 2, 2, padding="same")), tmp_path / "q", layout="none-8b",
                     input_shape=(1, 8, 8))


class TutorialNet(nn.Module):
    """The shape of PyTorch's CIFAR-10 tutorial network: one ``self.pool`` for both stages,
    functional ReLUs, torch.flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def test_a_pooling_module_used_twice_is_two_operations(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    img = export_image(TutorialNet(), tmp_path / "t", layout="none-8b", input_shape=(3, 32, 32), calibration=x)
    pools = [n for n in img.graph if n["op"] == "maxpool"]
    # the second call used to overwrite the first: a manifest whose output_hw did not follow
    assert [(p["name"], p["shape"]) for p in pools] == [("pool", [6, 14, 14]), ("pool_1", [16, 5, 5])]
    assert [n["inputs"] for n in pools] == [["conv1"], ["conv2"]]
    net = IntegerNetwork(img)
    out = net.forward(x.numpy()) * net.output_scale()
    assert np.abs(out - fake_quant_forward(img, x.numpy()).numpy()).max() <= 1e-9 * np.abs(out).max()


def test_a_weight_layer_used_twice_is_refused(tmp_path):
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.stem = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.conv(torch.relu(self.conv(self.stem(x)))), 1))

    with pytest.raises(UserError, match=r"^layer 'conv' \(Conv2d\) is called more than once in forward\(\): shared "
                                        r"weights are not supported .*give each use its own Conv2d$"):
        export_image(Shared(), tmp_path / "s", layout="none-8b", input_shape=(1, 8, 8))
    assert not any(tmp_path.iterdir())
