"""The full-size zoo models reproduce torchvision's architectures key for key."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from accelsim.nn import build_model, model_info
from accelsim.nn.imagenet_models import make_divisible
from accelsim.nn.zoo import MODELS

ARCH = json.loads((Path(__file__).parent / "data" / "torchvision_arch.json").read_text())["models"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def meta_model(name):
    """The zoo model's structure without allocating weights (VGG-16 has 138 M)."""
    with torch.device("meta"):
        return MODELS[name][0](num_classes=MODELS[name][2])


@pytest.mark.parametrize("name", sorted(ARCH))
def test_state_dict_keys_shapes_and_layers_equal_torchvision(name):
    want = ARCH[name]
    model = meta_model(name)
    got = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert got == want["state_dict"]            # same keys, same order, same shapes
    assert sum(p.numel() for p in model.parameters()) == want["parameters"]
    leaves = {n: repr(m) for n, m in model.named_modules() if n and not list(m.children())}
    assert leaves == want["modules"]            # kernel, stride, padding, groups, ceil_mode, p of dropout...


def test_parameter_counts_of_the_papers():
    counts = {n: ARCH[n]["parameters"] for n in ARCH}
    assert counts == {"resnet18": 11_689_512, "vgg16-bn": 138_365_992, "squeezenet1_0": 1_248_424,
                      "squeezenet1_1": 1_235_496, "mobilenet_v2": 3_504_872}


def test_torchvision_checkpoint_loads_unchanged_and_computes():
    gen = torch.Generator().manual_seed(7)
    state = {k: (torch.randn(shape, generator=gen) * 0.05 if k.endswith("weight") or k.endswith("bias")
                 else torch.rand(shape, generator=gen) + 0.5 if k.endswith("running_var")
                 else torch.zeros(shape, dtype=torch.int64) if k.endswith("num_batches_tracked")
                 else torch.randn(shape, generator=gen) * 0.1)
             for k, shape in ARCH["mobilenet_v2"]["state_dict"]}
    blob = st_save(state)
    model = build_model("mobilenet_v2", seed=1)
    model.load_state_dict(st_load(blob), strict=True)
    assert torch.equal(model.features[17].conv[1][0].weight, state["features.17.conv.1.0.weight"])
    y = model(torch.rand(2, 3, 64, 64, generator=gen))
    assert y.shape == (2, 1000) and torch.isfinite(y).all()


def test_mobilenet_structure_and_width_rule():
    model = meta_model("mobilenet_v2")
    depthwise = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 17 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert sum(isinstance(m, torch.nn.ReLU6) for m in model.modules()) == 35
    assert [make_divisible(v) for v in (32 * 0.35, 16 * 0.5, 1280 * 1.4, 24 * 0.75)] == [16, 8, 1792, 24]
    small = build_model("mobilenet-v2-small", seed=0)
    assert model_info("mobilenet-v2-small") == ((1, 8, 8), 10, "digits")
    assert small(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    # by hand: stem 176, t1 block 320, stage 2 1216 + 2912, stage 3 3440 + 5904, 1x1 to 64 1664, fc 650
    assert sum(p.numel() for p in small.parameters()) == 16_282


@pytest.mark.parametrize("name", ["lenet5", "mlp", "vgg-small", "vgg-small-gn", "resnet-small", "squeezenet-small",
                                  "mobilenet-v2-small"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_small_zoo_models_take_the_input_they_are_given(name, shape):
    """Every small zoo model builds for the 8x8 digits and 28x28 Fashion-MNIST, classifies
    into 10 classes, and is made only of what the memory-image exporter accepts."""
    from accelsim.image.graph import capture

    model = build_model(name, seed=0, input_shape=shape)
    x = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0))
    assert model(x).shape == (3, 10)
    if name != "vgg-small-gn":   # group norm trains but does not fold into a conv (documented)
        capture(model, shape)


def test_classic_lenet5_and_minerva_mlp_sizes():
    """By hand: classic LeNet-5 on 28x28 is 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706
    parameters (LeCun et al. 1998's C1, C3 without the partial connection table, F5 on
    16x5x5, F6, output); Minerva's MLP 784-256-256-256-10 is 200,960 + 2 x 65,792 + 2,570;
    on 8x8 it is 64-64-64-64-10. The digits LeNet-5 keeps its shapes (its checkpoints load)."""
    def count(name, shape):
        return sum(p.numel() for p in build_model(name, input_shape=shape).parameters())

    lenet = build_model("lenet5", input_shape=(1, 28, 28))
    assert lenet.features[3].kernel_size == (5, 5) and lenet.features[3].padding == (0, 0)
    assert count("lenet5", (1, 28, 28)) == 61_706
    assert [m.in_features for m in lenet.classifier if isinstance(m, torch.nn.Linear)] == [400, 120, 84]
    assert count("mlp", (1, 28, 28)) == 335_114
    mlp8 = build_model("mlp")
    assert [(m.in_features, m.out_features) for m in mlp8.classifier if isinstance(m, torch.nn.Linear)] == \
        [(64, 64), (64, 64), (64, 64), (64, 10)]
    assert count("lenet5", (1, 8, 8)) == count("lenet5", None) == 156 + 880 + 7_800 + 10_164 + 850
    # stride-2 stems: 28x28 enters the small ResNet and MobileNet at 14x14
    assert build_model("resnet-small", input_shape=(1, 28, 28)).stem[0].stride == (2, 2)
    assert build_model("resnet-small").stem[0].stride == (1, 1)
    with pytest.raises(Exception, match="not \\(channels, height, width\\)"):
        build_model("mlp", input_shape=(28, 28))
