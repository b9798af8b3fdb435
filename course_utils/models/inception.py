"""Inception: notebook 03's `InceptionA` and `InceptionNet`, and GoogLeNet (Szegedy et al., 2014) of notebook 06."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import check_input, he_init


class InceptionA(nn.Module):
    """Notebook 03, section 2: four parallel branches whose outputs are stacked along the channel axis:
    16 + 24 + 24 + 24 = 88 channels.

    1x1 -> 16 | 1x1 -> 16, 5x5 -> 24 | 1x1 -> 16, 3x3 -> 24, 3x3 -> 24 | 3x3 avg-pool, 1x1 -> 24, every conv followed
    by a ReLU (without them each branch, and the whole block, would be one affine map: notebook 02, section 4).
    Padding and stride 1 keep H x W unchanged in every branch, so `torch.cat(..., dim=1)` can join them.
    """

    out_channels = 88

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.branch1x1 = nn.Sequential(nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU())
        self.branch5x5 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU(),
            nn.Conv2d(16, 24, kernel_size=5, padding=2), nn.ReLU(),
        )  # fmt: skip
        self.branch3x3 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU(),
            nn.Conv2d(16, 24, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(24, 24, kernel_size=3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(in_channels, 24, kernel_size=1), nn.ReLU(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        branches = [self.branch1x1(x), self.branch5x5(x), self.branch3x3(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)


class InceptionNet(nn.Module):
    """Notebook 03, section 3: 1x28x28 -> conv5x5(10), pool, ReLU -> InceptionA -> conv5x5(20), pool, ReLU
    -> InceptionA -> linear 1408 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.incep1 = InceptionA(10)
        self.conv2 = nn.Conv2d(InceptionA.out_channels, 20, kernel_size=5)
        self.incep2 = InceptionA(20)
        self.fc = nn.Linear(InceptionA.out_channels * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, size=28)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = self.incep1(x)
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = self.incep2(x)
        return self.fc(torch.flatten(x, 1))


class InceptionV1(nn.Module):
    """GoogLeNet's Inception block (notebook 06's GoogLeNet; notebook 03, section 5 builds it step by step as
    `GoogLeNetInception`): four parallel branches, each conv followed by ReLU, concatenated on channels.

    1x1 (c1) | 1x1 (c2[0]) -> 3x3 (c2[1]) | 1x1 (c3[0]) -> 5x5 (c3[1]) | 3x3/1 max-pool -> 1x1 (c4).
    The 1x1 "reductions" c2[0] and c3[0] make the 3x3 and 5x5 convs cheap. Out: c1 + c2[1] + c3[1] + c4 channels.
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = c1 + c2[1] + c3[1] + c4

        def conv(c_in: int, c_out: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU(inplace=True)]

        self.branch1 = nn.Sequential(*conv(in_channels, c1, 1))
        self.branch2 = nn.Sequential(*conv(in_channels, c2[0], 1), *conv(c2[0], c2[1], 3))
        self.branch3 = nn.Sequential(*conv(in_channels, c3[0], 1), *conv(c3[0], c3[1], 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv(in_channels, c4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class GoogLeNet(nn.Module):
    """GoogLeNet / Inception v1 (Szegedy et al., 2014; notebook 06, section 1) as in Dive into Deep Learning: convs
    with biases and ReLU
    (no BatchNorm, no local response normalisation), true 5x5 branches, no auxiliary classifiers.
    Stem 7x7/2(64) -> pool -> 1x1(64) -> 3x3(192) -> pool -> inception 3a, 3b -> pool -> 4a-4e -> pool -> 5a, 5b
    -> global average pool -> dropout 0.4 -> linear 1024 -> classes. Size-independent like MobileNet."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(3, stride=2, padding=1)

        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3), nn.ReLU(inplace=True), pool(),
            nn.Conv2d(64, 64, 1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(inplace=True), pool(),
        )  # fmt: skip
        self.stage3 = nn.Sequential(
            InceptionV1(192, 64, (96, 128), (16, 32), 32),  # 3a -> 256
            InceptionV1(256, 128, (128, 192), (32, 96), 64),  # 3b -> 480
            pool(),
        )
        self.stage4 = nn.Sequential(
            InceptionV1(480, 192, (96, 208), (16, 48), 64),  # 4a -> 512
            InceptionV1(512, 160, (112, 224), (24, 64), 64),  # 4b -> 512
            InceptionV1(512, 128, (128, 256), (24, 64), 64),  # 4c -> 512
            InceptionV1(512, 112, (144, 288), (32, 64), 64),  # 4d -> 528
            InceptionV1(528, 256, (160, 320), (32, 128), 128),  # 4e -> 832
            pool(),
        )
        self.stage5 = nn.Sequential(
            InceptionV1(832, 256, (160, 320), (32, 128), 128),  # 5a -> 832
            InceptionV1(832, 384, (192, 384), (48, 128), 128),  # 5b -> 1024
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        x = self.stage5(self.stage4(self.stage3(self.stem(x))))
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
