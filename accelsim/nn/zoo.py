"""Model zoo: small networks for the 8x8 digits, and full-size ImageNet topologies
(ResNet-18, VGG-16-bn, SqueezeNet 1.0/1.1) written here for timing and energy studies
with seeded weights.

Every network is built only from what the memory-image exporter accepts: Conv2d,
Linear, BatchNorm2d (folded at export), ReLU, max/average pooling, residual add,
flatten, torch.cat and Dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from accelsim.errors import UserError


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


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with basic blocks. ``small=True``: a 3x3 stem for 8x8 digits."""

    def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), num_classes: int = 1000,
                 in_channels: int = 3, small: bool = False):
        super().__init__()
        if small:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
        layers, c = [], widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                layers.append(BasicBlock(c, w, 2 if (j == 0 and i > 0) else 1))
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
    """SqueezeNet 1.0 / 1.1 (Iandola et al. 2016), and a small variant for digits."""

    def __init__(self, version: str = "1_0", num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 96, 7, 2), nn.ReLU(inplace=True), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
            final = 512
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, 3, 2), nn.ReLU(inplace=True), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256))
            final = 512
        elif version == "small":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(inplace=True),
                Fire(32, 8, 16, 16), nn.MaxPool2d(2), Fire(32, 8, 16, 16), Fire(32, 16, 32, 32))
            final = 64
        else:
            raise UserError(f"SqueezeNet version {version!r}: expected 1_0, 1_1 or small")
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(final, num_classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class VGG16BN(nn.Module):
    """VGG-16 with batch norm (Simonyan and Zisserman 2015, configuration D)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
        self.features = _vgg_features(cfg, in_channels, "batch")
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


# name -> (constructor, input shape (C, H, W), number of classes, data set)
MODELS = {
    "lenet5": (lambda **kw: LeNet5(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small": (lambda **kw: VGGSmall(**kw), (1, 8, 8), 10, "digits"),
    "vgg-small-gn": (lambda **kw: VGGSmall(norm="group", **kw), (1, 8, 8), 10, "digits"),
    "resnet-small": (lambda **kw: ResNet((1, 1), (16, 32), small=True, in_channels=1, **kw), (1, 8, 8), 10, "digits"),
    "squeezenet-small": (lambda **kw: SqueezeNet("small", in_channels=1, **kw), (1, 8, 8), 10, "digits"),
    "resnet18": (lambda **kw: ResNet(**kw), (3, 224, 224), 1000, "imagenet"),
    "vgg16-bn": (lambda **kw: VGG16BN(**kw), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_0": (lambda **kw: SqueezeNet("1_0", **kw), (3, 224, 224), 1000, "imagenet"),
    "squeezenet1_1": (lambda **kw: SqueezeNet("1_1", **kw), (3, 224, 224), 1000, "imagenet"),
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
