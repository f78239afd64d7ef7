"""Fine-tuning and 4-bit activations end to end: train -> export -> integer-exact inference."""

import numpy as np
import pytest

from accelsim.cli import main as cli_main
from accelsim.errors import UserError
from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork
from accelsim.nn import load_digits_split, save_checkpoint
from accelsim.nn.train import TrainConfig, train

DATA = load_digits_split()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(capsys, *argv):
    """The CLI in-process: (exit status, stdout, stderr)."""
    code = cli_main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_four_bit_activations_train_export_and_run_integer_exact(tmp_path, capsys):
    out = tmp_path / "l4"
    cfg = TrainConfig(model="lenet5", bits=4, layout="inplace-4b-64", epochs=2, qat_epochs=1, act_bits=4)
    model, card = train(cfg, show_progress=False)
    card["command"] = "test"
    save_checkpoint(model, out, card)
    assert card["activation_bits"] == 4 and card["config"]["act_bits"] == 4
    img = export_checkpoint(str(out), "inplace-4b-64", tmp_path / "img")
    assert img.manifest.activation_bits == 4
    bits = [(n["op"], n["bits"], n["signed"]) for n in img.graph if n["op"] != "output"]
    assert bits[0] == ("input", 8, False) and all(b == 4 for op, b, signed in bits[1:] if not signed)
    acc = float(np.mean(IntegerNetwork(img).predict(DATA.x_test.numpy()) == DATA.y_test.numpy()))
    # the integer path computes what QAT trained: 4-bit ReLU outputs (the fake-quant figure)
    assert abs(acc - card["accuracy_quantized_activations"]) <= 0.03 and acc > 0.3
    code, out, _ = run(capsys, "infer", str(tmp_path / "img"))
    assert code == 0 and f"integer-exact accuracy {acc:.4f}" in out


def test_bad_activation_bits_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--model", "lenet5", "--bits", "4", "--activation-bits", "9", "-o",
                       str(tmp_path / "x"))
    assert code == 2 and err == "accelsim: error: activation bits = 9: must be 2 to 8\n"
    assert not any(tmp_path.iterdir())
    with pytest.raises(UserError, match=r"^--activation-bits 4 needs --bits"):
        TrainConfig(model="lenet5", act_bits=4).validate()


def test_fine_tune_from_a_checkpoint_keeps_what_it_learnt(tmp_path):
    cfg = TrainConfig(model="lenet5", init="models/lenet5-fp32", bits=4, layout="inplace-4b-64", epochs=0,
                      qat_epochs=1, lr=1e-3)
    model, card = train(cfg, show_progress=False)
    assert card["from"] == "models/lenet5-fp32" and card["layout"] == "inplace-4b-64"
    assert card["fp32_accuracy"] == 0.9756      # the start is the shipped checkpoint, unchanged
    assert card["accuracy"] >= 0.93             # one QAT+WOT epoch from it (one from scratch: ~0.5)
    card["command"] = "test"
    save_checkpoint(model, tmp_path / "ft", card)
    img = export_checkpoint(str(tmp_path / "ft"), "inplace-4b-64", tmp_path / "img")   # no --project needed
    assert img.manifest.projected_weights == 0


def test_fine_tune_from_a_bare_state_dict_with_its_key_names(tmp_path):
    from safetensors.torch import save_file

    from accelsim.nn import load_checkpoint
    start, start_card = load_checkpoint("models/lenet5-fp32")
    save_file(start.state_dict(), tmp_path / "user.safetensors")     # no card: what a converted checkpoint is
    cfg = TrainConfig(model="lenet5", init=str(tmp_path / "user.safetensors"), bits=8, epochs=0, qat_epochs=0)
    model, card = train(cfg, show_progress=False)
    assert card["fp32_accuracy"] == start_card.accuracy and abs(card["accuracy"] - start_card.accuracy) <= 0.01
    with pytest.raises(UserError, match=r"does not fit model vgg-small: tensor features.0.weight has shape \[6, 1, 5, 5\], the model.s \[16, 1, 3, 3\] \(24 missing, 6 unexpected, 4 misshapen\)$"):
        train(TrainConfig(model="vgg-small", init=str(tmp_path / "user.safetensors"), epochs=0, qat_epochs=0),
              show_progress=False)


def test_from_checkpoint_of_another_model_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--from", "models/lenet5-fp32", "--model", "vgg-small", "--bits", "8", "-o",
                       str(tmp_path / "x"))
    assert code == 2 and err == "accelsim: error: --from models/lenet5-fp32: a lenet5 checkpoint, not vgg-small\n"
    assert not any(tmp_path.iterdir())


FUNCTIONAL_NET = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """ReLUs written the functional way, as most model code does."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(F.relu6(self.fc1(torch.flatten(x, 1))).relu())


def build():
    return Net()
'''


def test_functional_relus_become_modules_with_the_same_outputs_and_keys(tmp_path):
    import torch

    from accelsim.nn.modelref import build_factory, parse_factory
    from accelsim.quant.qat import modular_activations

    (tmp_path / "net.py").write_text(FUNCTIONAL_NET)
    model = build_factory(parse_factory(str(tmp_path / "net.py:build")), seed=0)
    gm = modular_activations(model)
    acts = [type(m).__name__ for n, m in gm.named_modules() if n.startswith("_functional_act")]
    assert acts == ["ReLU", "ReLU", "ReLU6", "ReLU"]
    assert list(gm.state_dict()) == list(model.state_dict())
    x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(gm(x), model(x))
    from accelsim.nn import load_checkpoint
    lenet = load_checkpoint("models/lenet5-fp32")[0]
    assert modular_activations(lenet) is lenet       # nn.ReLU modules already: unchanged


def test_functional_relus_are_fake_quantized_as_the_integer_path_computes(tmp_path):
    """2-bit activations on a network with functional ReLUs: the card's fake-quant accuracy
    is what integer-exact inference gets (it used to claim the float-activation figure:
    0.88 against 0.72)."""
    (tmp_path / "net.py").write_text(FUNCTIONAL_NET)
    cfg = TrainConfig(model=str(tmp_path / "net.py:build"), bits=4, epochs=8, qat_epochs=2, act_bits=2)
    model, card = train(cfg, show_progress=False)
    card["command"] = "test"
    save_checkpoint(model, tmp_path / "c", card)
    img = export_checkpoint(str(tmp_path / "c"), "none-4b", tmp_path / "img", trust_model_file=True)   # its own net.py
    assert img.manifest.activation_bits == 2
    acc = float(np.mean(IntegerNetwork(img).predict(DATA.x_test.numpy()) == DATA.y_test.numpy()))
    assert abs(acc - card["accuracy_quantized_activations"]) <= 0.03
    assert card["accuracy"] - card["accuracy_quantized_activations"] > 0.05   # 2 bits cost accuracy
