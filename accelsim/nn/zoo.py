"""Model zoo: small networks for the 8x8 digits, and the full-size ImageNet topologies
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


class LeNet5(nn.Module):
    """LeNet-5 adapted to 8x8 inputs: two conv/pool stages and three fully connected layers."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 2 * 2, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


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

    def __init__(self, num_classes: int = 10, in_channels: int = 1, norm: str = "batch"):
        super().__init__()
        self.features = _vgg_features([16, 16, "M", 32, 32, "M"], in_channels, norm)
        self.classifier = nn.Sequential(nn.Linear(32 * 2 * 2, 64), nn.ReLU(inplace=True),
                                        nn.Dropout(0.1), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class ResNet(nn.Module):
    """ResNet with basic blocks and a 3x3 stem, for 8x8 digits."""

    def __init__(self, blocks=(1, 1), widths=(16, 32), num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
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
    """A small SqueezeNet (Iandola et al. 2016) for 8x8 digits."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(inplace=True),
            Fire(32, 8, 16, 16), nn.MaxPool2d(2), Fire(32, 8, 16, 16), Fire(32, 16, 32, 32))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(64, num_classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# MobileNetV2 for 8x8 digits: stride-1 stem, three stages (8x8 -> 4x4 -> 2x2), two of
# them with an identity shortcut, so depthwise convs, ReLU6 and signed residual adds all occur
MOBILENET_DIGITS = ((1, 8, 1, 1), (4, 16, 2, 2), (4, 24, 2, 2))


# name -> (constructor, input shape (C, H, W), number of classes, data set)
MODELS = {
    "lenet5": (lambda **kw: LeNet5(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small": (lambda **kw: VGGSmall(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small-gn": (lambda **kw: VGGSmall(norm="group", **kw), (1, 8, 8), 10, "digits"),
    "resnet-small": (lambda **kw: ResNet(**kw), (1, 8, 8), 10, "digits"),
    "squeezenet-small": (lambda **kw: SqueezeNet(**kw), (1, 8, 8), 10, "digits"),
    "mobilenet-v2-small": (lambda **kw: imagenet.MobileNetV2(in_channels=1, setting=MOBILENET_DIGITS, stem_stride=1,
                                                             first=16, last=64, dropout=0.1, **kw),
                           (1, 8, 8), 10, "digits"),
    # torchvision's key names and shapes (accelsim/nn/imagenet_models.py)
    "resnet18": (lambda **kw: imagenet.ResNet(**kw), (3, 224, 224), 1000, "imagenet"),
    "vgg16-bn": (lambda **kw: imagenet.VGG16BN(**kw), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_0": (lambda **kw: imagenet.SqueezeNet("1_0", **kw), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_1": (lambda **kw: imagenet.SqueezeNet("1_1", **kw), (3, 224, 224), 1000, "imagenet"),
    "mobilenet_v2": (lambda **kw: imagenet.MobileNetV2(**kw), (3, 224, 224), 1000, "imagenet"),
}


def list_models() -> list[str]:
    return list(MODELS)


def model_info(name: str) -> tuple[tuple[int, int, int], int, str]:
    """(input shape, number of classes, data set) of a zoo model."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    _, shape, classes, data = MODELS[name]
    return shape, classes, data


def build_model(name: str, seed: int = 0, num_classes: int | None = None) -> nn.Module:
    """A freshly initialised zoo model; the same seed gives the same weights."""
    model_info(name)
    ctor, _, classes, _ = MODELS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ctor(num_classes=num_classes or classes)
    _seed_bn_statistics(model, seed)
    return model.eval()


def _seed_bn_statistics(model: nn.Module, seed: int) -> None:
    """Give BatchNorm layers non-trivial seeded statistics so that folding is exercised."""
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
