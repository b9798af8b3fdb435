"""Notebook 01's small CNN: the first network the course trains."""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import check_input


class SmallCNN(nn.Module):
    """Notebook 01, section 8: two 3x3 conv + ReLU + 2x2 max-pool stages (1->8->16 channels), then linear 7*7*16 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Linear(7 * 7 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, size=28)
        return self.classifier(torch.flatten(self.features(x), 1))
