"""The classic networks of notebook 06: LeNet-5 (1998), AlexNet (2012) and VGG (2014).

Each comes in two configurations: **reference** — the published architecture adapted only to 1 input channel and 10
classes, at 224x224 (32x32 for LeNet-5) — and **native**, what we train on MNIST at 32x32 (the 28x28 digits
zero-padded by 2 pixels). AlexNet and VGG flatten a fixed-size feature map into their first linear layer, so their
native version adapts that layer (and AlexNet's stride-4 stem, which would leave nothing of a 32-pixel image).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import check_input, check_size, he_init

NATIVE_SIZE = 32  # 28x28 digits padded by 2 pixels on every side
REFERENCE_SIZE = 224  # ImageNet resolution: what the reference report upsampled MNIST to


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998; notebook 06, section 1) on 32x32 inputs, modernised: ReLU, max-pooling, BatchNorm after each conv and
    dropout in the classifier. conv5x5(6)-BN-ReLU-pool -> conv5x5(16)-BN-ReLU-pool -> 400 -> 120 -> 84 -> classes."""

    input_size = 32

    def __init__(self, in_channels: int = 1, num_classes: int = 10, dropout: float = 0.3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5), nn.BatchNorm2d(6), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        check_size(self, x, self.input_size)
        return self.classifier(self.features(x))


def _mlp_head(in_features: int, num_classes: int, dropout: float = 0.5) -> nn.Sequential:
    """AlexNet's and VGG's classifier: two 4096-wide ReLU layers with dropout, then the class scores."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )  # fmt: skip


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al., 2012; notebook 06) in one tower (no GPU split, no local response normalisation), as in
    Dive into Deep Learning: conv11x11/4(96) -> pool -> conv5x5(256) -> pool -> 3x conv3x3 (384, 384, 256) -> pool
    -> 4096 -> 4096 -> classes, with 3x3/2 overlapping max-pools.

    Reference (224 px): stem stride 4, padding 1; feature maps 54 -> 26 -> 12 -> 5, flatten 256*5*5 = 6400.
    Native (32 px): the same layers with stem stride 2, padding 5; maps 16 -> 7 -> 3 -> 1, flatten 256.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, native: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.input_size = NATIVE_SIZE if native else REFERENCE_SIZE
        stride, padding, side = (2, 5, 1) if native else (4, 1, 5)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=11, stride=stride, padding=padding), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )  # fmt: skip
        self.classifier = _mlp_head(256 * side * side, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        check_size(self, x, self.input_size)
        return self.classifier(self.features(x))


VGG_CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG (Simonyan and Zisserman, 2014; notebook 06), configurations A (11 layers) and E (19 layers): stacks of 3x3 convs
    (padding 1, ReLU) separated by 2x2 max-pools ("M"), then 4096 -> 4096 -> classes. As torchvision's vgg11/vgg19
    without BatchNorm. Five pools divide the side by 32: 224 -> 7 (flatten 512*7*7 = 25,088), native 32 -> 1 (512)."""

    def __init__(self, depth: int = 11, in_channels: int = 1, num_classes: int = 10, native: bool = False) -> None:
        super().__init__()
        if depth not in VGG_CONFIGS:
            raise ValueError(f"VGG depth must be one of {sorted(VGG_CONFIGS)}, got {depth}")
        self.in_channels, self.depth = in_channels, depth
        self.input_size = NATIVE_SIZE if native else REFERENCE_SIZE
        layers: list[nn.Module] = []
        c = in_channels
        for v in VGG_CONFIGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = int(v)
        self.features = nn.Sequential(*layers)
        side = self.input_size // 32
        self.classifier = _mlp_head(512 * side * side, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        check_size(self, x, self.input_size)
        return self.classifier(self.features(x))
