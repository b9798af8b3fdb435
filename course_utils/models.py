"""The networks of notebooks 01-05, each a short readable definition.

SmallCNN (01) · InceptionA and InceptionNet (03) · ResidualBlock and SimpleResNet (04) ·
BasicBlock, ResNet18 and CifarResNet (05). Every forward checks its input and says what to do when it is wrong.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F


def check_input(module: nn.Module, x: torch.Tensor, channels: int, min_size: int = 1) -> None:
    """Raise a clear error unless `x` is a batch (N, C, H, W) with `channels` channels and H, W >= `min_size`."""
    name = type(module).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        hint = " Add the batch dimension with x.unsqueeze(0)." if x.dim() == 3 else ""
        raise ValueError(f"{name} expects a batch of images of shape (N, C, H, W), got shape {tuple(x.shape)}.{hint}")
    if x.shape[1] != channels:
        raise ValueError(
            f"{name} expects {channels} input channel(s), got {x.shape[1]} (input shape {tuple(x.shape)}). "
            f"Build the model with in_channels={x.shape[1]}, or convert the images "
            f"({'to grayscale' if channels == 1 else f'to {channels} channels'})."
        )
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"{name} needs images of at least {min_size}x{min_size} pixels, got {tuple(x.shape[-2:])}")


class SmallCNN(nn.Module):
    """Notebook 01's network: two 3x3 conv + ReLU + 2x2 max-pool stages (1->8->16 channels), then linear 7*7*16 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Linear(7 * 7 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, min_size=28)
        return self.classifier(torch.flatten(self.features(x), 1))


class InceptionA(nn.Module):
    """Four parallel branches whose outputs are stacked along the channel axis: 16 + 24 + 24 + 24 = 88 channels.

    1x1 -> 16 | 1x1 -> 16, 5x5 -> 24 | 1x1 -> 16, 3x3 -> 24, 3x3 -> 24 | 3x3 avg-pool, 1x1 -> 24.
    Padding and stride 1 keep H x W unchanged in every branch, so `torch.cat(..., dim=1)` can join them.
    """

    out_channels = 88

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),
            nn.Conv2d(16, 24, kernel_size=5, padding=2),
        )
        self.branch3x3 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),
            nn.Conv2d(16, 24, kernel_size=3, padding=1),
            nn.Conv2d(24, 24, kernel_size=3, padding=1),
        )
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(in_channels, 24, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        branches = [self.branch1x1(x), self.branch5x5(x), self.branch3x3(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)


class InceptionNet(nn.Module):
    """1x28x28 -> conv5x5(10), pool, ReLU -> InceptionA -> conv5x5(20), pool, ReLU -> InceptionA -> linear 1408 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.incep1 = InceptionA(10)
        self.conv2 = nn.Conv2d(InceptionA.out_channels, 20, kernel_size=5)
        self.incep2 = InceptionA(20)
        self.fc = nn.Linear(InceptionA.out_channels * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, min_size=28)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = self.incep1(x)
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = self.incep2(x)
        return self.fc(torch.flatten(x, 1))


class ResidualBlock(nn.Module):
    """y = relu(x + F(x)) with F = conv3x3 -> ReLU -> conv3x3 (padding 1, biases, no normalisation).

    The sum needs x and F(x) of the same shape. When the block changes the channel count or the stride, pass
    `projection=True`: the shortcut becomes a 1x1 convolution (with that stride) that reshapes x.
    `use_residual=False` removes the skip: y = relu(F(x)), the "plain" network of the comparison.
    """

    def __init__(
        self,
        channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        projection: bool = False,
        use_residual: bool = True,
    ) -> None:
        super().__init__()
        out_channels = channels if out_channels is None else out_channels
        if use_residual and (out_channels != channels or stride != 1) and not projection:
            raise ValueError(
                f"ResidualBlock({channels} -> {out_channels} channels, stride {stride}) changes the shape of x, "
                f"so x + F(x) cannot be added. Pass projection=True to map x through a 1x1 convolution "
                f"({channels} -> {out_channels} channels, stride {stride}), or keep channels and stride unchanged."
            )
        self.in_channels, self.use_residual = channels, use_residual
        self.conv1 = nn.Conv2d(channels, out_channels, kernel_size=3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = nn.Conv2d(channels, out_channels, 1, stride=stride) if projection and use_residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        out = self.conv2(F.relu(self.conv1(x)))
        if self.use_residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out)


class SimpleResNet(nn.Module):
    """conv5x5(16), ReLU, pool -> ResidualBlock(16) -> conv5x5(32), ReLU, pool -> ResidualBlock(32) -> linear 512 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, use_residual: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=5)
        self.block1 = ResidualBlock(16, use_residual=use_residual)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.block2 = ResidualBlock(32, use_residual=use_residual)
        self.fc = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, min_size=28)
        x = self.block1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = self.block2(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return self.fc(torch.flatten(x, 1))


class BasicBlock(nn.Module):
    """ResNet's basic block: conv3x3-BN-ReLU-conv3x3-BN, add the shortcut, ReLU.

    The shortcut is the identity, or a 1x1 conv (stride s, no bias) + BN where the shape changes. With
    `use_residual=False` there is no addition and no projection layer exists at all.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, use_residual: bool = True) -> None:
        super().__init__()
        self.in_channels, self.use_residual = in_channels, use_residual
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module | None = None
        if use_residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.use_residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out)


class ResNet18(nn.Module):
    """ResNet18: 7x7/2 stem (with bias) + BN + ReLU + 3x3/2 max-pool, four stages of two basic blocks
    (64/128/256/512 channels, stride 2 at the start of stages 2-4), adaptive average pool, linear head."""

    widths = (64, 128, 256, 512)

    def __init__(self, in_channels: int = 1, num_classes: int = 10, use_residual: bool = True) -> None:
        super().__init__()
        self.in_channels, self.use_residual = in_channels, use_residual
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=True),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, c_in = [], 64
        for i, width in enumerate(self.widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(c_in, width, stride, use_residual), BasicBlock(width, width, 1, use_residual)))
            c_in = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def torchvision_resnet18_state(tv_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a `torchvision.models.resnet18` state_dict to `ResNet18`'s names (conv1 -> stem.0, downsample ->
    shortcut, ...) and add the zero stem bias that torchvision's bias-free stem lacks."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in tv_state.items():
        new = re.sub(r"^conv1\.", "stem.0.", key)
        new = re.sub(r"^bn1\.", "stem.1.", new)
        new = new.replace(".downsample.", ".shortcut.")
        renamed[new] = value
    stem = renamed["stem.0.weight"]
    renamed["stem.0.bias"] = torch.zeros(stem.shape[0], dtype=stem.dtype)
    return renamed


def load_torchvision_resnet18(model: ResNet18, tv_model: nn.Module) -> ResNet18:
    """Copy the weights of a torchvision resnet18 into `model` (built with in_channels=3, num_classes=1000)."""
    if not model.use_residual:
        raise ValueError("torchvision's resnet18 has shortcuts: build ResNet18(..., use_residual=True) to load it")
    want_in = tv_model.conv1.in_channels  # type: ignore[union-attr]
    want_out = tv_model.fc.out_features  # type: ignore[union-attr]
    if model.in_channels != want_in or model.fc.out_features != want_out:
        raise ValueError(
            f"the torchvision model takes {want_in} input channels and predicts {want_out} classes, this ResNet18 "
            f"{model.in_channels} and {model.fc.out_features}: build ResNet18(in_channels={want_in}, num_classes={want_out})"
        )
    model.load_state_dict(torchvision_resnet18_state(tv_model.state_dict()), strict=True)
    return model


class CifarResNet(nn.Module):
    """He et al.'s CIFAR-style network of depth 6n+2: 3x3 conv (16), three stages of n basic blocks
    (16/32/64 channels, stride 2 at stages 2-3), global average pool, linear. `use_residual=False` gives the plain net."""

    def __init__(self, depth: int = 20, use_residual: bool = True, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110 ...), got {depth}")
        n = (depth - 2) // 6
        self.in_channels, self.depth, self.use_residual = in_channels, depth, use_residual
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        blocks, c_in = [], 16
        for i, width in enumerate((16, 32, 64)):
            for j in range(n):
                blocks.append(BasicBlock(c_in, width, 2 if (i > 0 and j == 0) else 1, use_residual))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))
