"""MobileNet v1 (Howard et al., 2017) of notebook 06: depthwise separable convolutions."""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import check_input


class DepthwiseSeparable(nn.Module):
    """MobileNet's block (notebook 06, section 1): a 3x3 depthwise conv (one filter per channel, `groups=in_channels`) then a 1x1 pointwise
    conv that mixes channels, each followed by BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.depthwise = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
        )
        self.pointwise = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """MobileNet v1 (Howard et al., 2017; notebook 06), width 1.0: conv3x3/2(32)-BN-ReLU, 13 depthwise separable blocks
    (64 ... 1024 channels, stride 2 at five of them), global average pool, linear. No biases (BN follows every conv).
    The global pool makes it size-independent: the native version is the reference network."""

    # (out_channels, stride) of the 13 blocks
    blocks_cfg = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                  (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))  # fmt: skip

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True)
        )
        blocks, c = [], 32
        for out, stride in self.blocks_cfg:
            blocks.append(DepthwiseSeparable(c, out, stride))
            c = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))
