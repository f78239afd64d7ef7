"""Model zoo: small networks for the 8x8 digits and 28x28 Fashion-MNIST (each small model
takes the input size it is given: ``build_model(name, input_shape=(1, 28, 28))``), and the
full-size ImageNet topologies
(ResNet-18, VGG-16-bn, SqueezeNet 1.0/1.1, MobileNetV2) with torchvision's state-dict
keys (accelsim.nn.imagenet_models), built with seeded weights for timing and energy
studies or loaded from a user's torchvision checkpoint.

Every network is built only from what the memory-image exporter accepts: Conv2d (also
grouped/depthwise and dilated), Linear, BatchNorm2d (folded at export), ReLU, ReLU6,
max/average pooling, residual add, flatten, torch.cat and Dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from accelsim.errors import UserError
from accelsim.nn import imagenet_models as imagenet


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":  # not foldable into a conv: such a model trains but does not export
        return nn.GroupNorm(min(4, channels), channels)
    raise UserError(f"norm = {kind!r}: expected 'batch' or 'group'")


# The classic LeNet-5 (LeCun et al. 1998) needs room for its second, unpadded 5x5 conv:
# inputs of at least this many pixels a side get it (28x28 -> 400 features for the FC
# layers); smaller ones (the 8x8 digits) a padded 3x3 conv instead.
LENET_CLASSIC_MIN_SIDE = 16
# Minerva's MLP (Reagen et al., ISCA 2016): 784-256-256-256-10 on 28x28 MNIST. An input of
# fewer features than that hidden width (the 8x8 digits: 64) gets hidden layers of its own
# width, so that the first layer does not widen the input fourfold.
MLP_HIDDEN = 256
MLP_LAYERS = 3


def _hw(input_shape) -> tuple[int, int, int]:
    c, h, w = (int(v) for v in input_shape)
    return c, h, w


class LeNet5(nn.Module):
    """LeNet-5: two conv/pool stages and three fully connected layers (120, 84, classes).
    Classic form (LeCun et al. 1998: 5x5 convs, the second unpadded) for inputs of at
    least LENET_CLASSIC_MIN_SIDE pixels a side; for the 8x8 digits a padded 3x3 second conv."""

    def __init__(self, num_classes: int = 10, input_shape=(1, 8, 8)):
        super().__init__()
        in_channels, h, w = _hw(input_shape)
        classic = min(h, w) >= LENET_CLASSIC_MIN_SIDE
        conv2 = nn.Conv2d(6, 16, 5) if classic else nn.Conv2d(6, 16, 3, padding=1)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            conv2, nn.ReLU(), nn.MaxPool2d(2))
        side = (lambda n: (n // 2 - 4) // 2) if classic else (lambda n: n // 4)
        self.classifier = nn.Sequential(
            nn.Linear(16 * side(h) * side(w), 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class MLP(nn.Module):
    """Minerva's fully connected network (Reagen et al., ISCA 2016): the flattened input,
    three hidden ReLU layers of MLP_HIDDEN (784-256-256-256-10 on 28x28), the classes.
    Weight memory is dominated by the FC layers, unlike the conv nets."""

    def __init__(self, num_classes: int = 10, input_shape=(1, 8, 8)):
        super().__init__()
        c, h, w = _hw(input_shape)
        features = c * h * w
        hidden = MLP_HIDDEN if features >= MLP_HIDDEN else features
        layers: list[nn.Module] = []
        width = features
        for _ in range(MLP_LAYERS):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.classifier = nn.Sequential(*layers, nn.Linear(width, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(x, 1))


# A full-size, batch-1 fully connected workload at ImageNet's input size: the 224x224 RGB
# image average-pooled over 7x7 windows (3 x 32 x 32 = 3072 features), three hidden ReLU
# layers of 2048, 1000 classes: 16.8 M weights (ResNet-18: 11.7 M) in FC layers only, each
# used once per inference -- the regime of Minerva's and MATIC's whole-accelerator savings.
MLP_LARGE_POOL = 7
MLP_LARGE_HIDDEN = 2048


class MLPLarge(nn.Module):
    """The full-size MLP: 7x7 average pooling, 3072-2048-2048-2048-1000 (batch 1 in the
    accelerator: every weight is read once per inference)."""

    def __init__(self, num_classes: int = 1000, input_shape=(3, 224, 224)):
        super().__init__()
        c, h, w = _hw(input_shape)
        self.pool = nn.AvgPool2d(MLP_LARGE_POOL)
        width = c * (h // MLP_LARGE_POOL) * (w // MLP_LARGE_POOL)
        layers: list[nn.Module] = []
        for _ in range(MLP_LAYERS):
            layers += [nn.Linear(width, MLP_LARGE_HIDDEN), nn.ReLU()]
            width = MLP_LARGE_HIDDEN
        self.classifier = nn.Sequential(*layers, nn.Linear(width, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(x), 1))


def _vgg_features(cfg, in_channels: int, norm: str | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers.append(nn.Conv2d(c, v, 3, padding=1, bias=norm is None))
        if norm:
            layers.append(_norm(norm, v))
        layers.append(nn.ReLU(inplace=True))
        c = v
    return nn.Sequential(*layers)


class VGGSmall(nn.Module):
    """A VGG-style net for 8x8 digits with batch norm (or group norm)."""

    def __init__(self, num_classes: int = 10, norm: str = "batch", input_shape=(1, 8, 8)):
        super().__init__()
        in_channels, h, w = _hw(input_shape)
        self.features = _vgg_features([16, 16, "M", 32, 32, "M"], in_channels, norm)
        self.classifier = nn.Sequential(nn.Linear(32 * (h // 4) * (w // 4), 64), nn.ReLU(inplace=True),
                                        nn.Dropout(0.1), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# Inputs of at least this many pixels a side (28x28) enter the small ResNet and MobileNet
# through a stride-2 stem: 14x14 feature maps keep a 28x28 network about as deep in
# resolution as the 8x8 one and its training within minutes on one core.
STRIDED_STEM_MIN_SIDE = 16


class ResNet(nn.Module):
    """ResNet with basic blocks and a 3x3 stem (stride 2 for inputs of at least
    STRIDED_STEM_MIN_SIDE a side: 28x28 -> 14x14 -> 7x7), for the digits and Fashion-MNIST."""

    def __init__(self, blocks=(1, 1), widths=(16, 32), num_classes: int = 10, input_shape=(1, 8, 8)):
        super().__init__()
        in_channels, h, w = _hw(input_shape)
        stride = 2 if min(h, w) >= STRIDED_STEM_MIN_SIDE else 1
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, stride, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, c = [], widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                layers.append(imagenet.BasicBlock(c, w, 2 if (j == 0 and i > 0) else 1))
                c = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        s = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1(s)), self.relu(self.expand3(s))], 1)


class SqueezeNet(nn.Module):
    """A small SqueezeNet (Iandola et al. 2016); global average pooling, so any input size."""

    def __init__(self, num_classes: int = 10, input_shape=(1, 8, 8)):
        super().__init__()
        in_channels = _hw(input_shape)[0]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(inplace=True),
            Fire(32, 8, 16, 16), nn.MaxPool2d(2), Fire(32, 8, 16, 16), Fire(32, 16, 32, 32))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(64, num_classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# MobileNetV2 for 8x8 digits: stride-1 stem, three stages (8x8 -> 4x4 -> 2x2), two of
# them with an identity shortcut, so depthwise convs, ReLU6 and signed residual adds all occur.
# 28x28 inputs take the same stages after a stride-2 stem (14x14 -> 7x7 -> 4x4).
MOBILENET_DIGITS = ((1, 8, 1, 1), (4, 16, 2, 2), (4, 24, 2, 2))


def _mobilenet_small(input_shape=(1, 8, 8), **kw) -> nn.Module:
    in_channels, h, w = _hw(input_shape)
    stride = 2 if min(h, w) >= STRIDED_STEM_MIN_SIDE else 1
    return imagenet.MobileNetV2(in_channels=in_channels, setting=MOBILENET_DIGITS, stem_stride=stride, first=16, last=64,
                                dropout=0.1, **kw)


def _full_size(ctor):
    """A full-size ImageNet topology keeps torchvision's form whatever the input."""
    return lambda input_shape=None, **kw: ctor(**kw)


# name -> (constructor, default input shape (C, H, W), number of classes, data set). The
# small models' constructors take ``input_shape`` and size themselves for it.
MODELS = {
    "lenet5": (lambda **kw: LeNet5(**kw), (1, 8, 8), 10, "digits"),
    "mlp": (lambda **kw: MLP(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small": (lambda **kw: VGGSmall(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small-gn": (lambda **kw: VGGSmall(norm="group", **kw), (1, 8, 8), 10, "digits"),
    "resnet-small": (lambda **kw: ResNet(**kw), (1, 8, 8), 10, "digits"),
    "squeezenet-small": (lambda **kw: SqueezeNet(**kw), (1, 8, 8), 10, "digits"),
    "mobilenet-v2-small": (_mobilenet_small, (1, 8, 8), 10, "digits"),
    # torchvision's key names and shapes (accelsim/nn/imagenet_models.py)
    "resnet18": (_full_size(lambda **kw: imagenet.ResNet(**kw)), (3, 224, 224), 1000, "imagenet"),
    "vgg16-bn": (_full_size(lambda **kw: imagenet.VGG16BN(**kw)), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_0": (_full_size(lambda **kw: imagenet.SqueezeNet("1_0", **kw)), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_1": (_full_size(lambda **kw: imagenet.SqueezeNet("1_1", **kw)), (3, 224, 224), 1000, "imagenet"),
    "mobilenet_v2": (_full_size(lambda **kw: imagenet.MobileNetV2(**kw)), (3, 224, 224), 1000, "imagenet"),
    "mlp-large": (lambda **kw: MLPLarge(**kw), (3, 224, 224), 1000, "imagenet"),
}
SMALL_MODELS = tuple(name for name, entry in MODELS.items() if entry[3] == "digits")


def list_models() -> list[str]:
    return list(MODELS)


def model_info(name: str) -> tuple[tuple[int, int, int], int, str]:
    """(input shape, number of classes, data set) of a zoo model."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    _, shape, classes, data = MODELS[name]
    return shape, classes, data


def build_model(name: str, seed: int = 0, num_classes: int | None = None, input_shape=None) -> nn.Module:
    """A freshly initialised zoo model; the same seed gives the same weights. A small model
    is sized for ``input_shape`` (C, H, W; default: the zoo's, 1x8x8), e.g. (1, 28, 28) for
    Fashion-MNIST; a full-size ImageNet topology ignores it (its pooling is adaptive)."""
    model_info(name)
    ctor, default_shape, classes, _ = MODELS[name]
    shape = tuple(int(v) for v in (input_shape or default_shape))
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"model {name!r}: input shape {shape} is not (channels, height, width)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ctor(num_classes=num_classes or classes, input_shape=shape)
    _seed_bn_statistics(model, seed)
    return model.eval()


def _seed_bn_statistics(model: nn.Module, seed: int) -> None:
    """Give BatchNorm layers non-trivial seeded statistics so that folding is exercised."""
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
