"""Residual networks: notebook 04's `ResidualBlock` and `SimpleResNet`, notebook 05's `BasicBlock`, `ResNet18` and
He et al.'s CIFAR-style `CifarResNet`, and the Dive-into-Deep-Learning `BiasedBasicBlock` of notebook 06's ResNet18."""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import check_input


class ResidualBlock(nn.Module):
    """Notebook 04, section 2: y = relu(x + F(x)) with F = conv3x3 -> ReLU -> conv3x3 (padding 1, biases, no norm).

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
    """Notebook 04, section 4: conv5x5(16), ReLU, pool -> ResidualBlock(16) -> conv5x5(32), ReLU, pool
    -> ResidualBlock(32) -> linear 512 -> 10."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, use_residual: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=5)
        self.block1 = ResidualBlock(16, use_residual=use_residual)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.block2 = ResidualBlock(32, use_residual=use_residual)
        self.fc = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels, size=28)
        x = self.block1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = self.block2(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return self.fc(torch.flatten(x, 1))


class BasicBlock(nn.Module):
    """ResNet's basic block (notebook 05, section 1): conv3x3-BN-ReLU-conv3x3-BN, add the shortcut, ReLU.

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


class BiasedBasicBlock(BasicBlock):
    """`BasicBlock` as in Dive into Deep Learning's ResNet (notebook 06, section 1): the 3x3 convs carry biases and
    the 1x1 shortcut (where the shape changes) is a biased conv without BatchNorm. It builds its own layers (it does
    not call `BasicBlock.__init__`) and inherits `BasicBlock.forward`. `ResNet18(block=BiasedBasicBlock)` has
    11,178,378 parameters for 1 channel and 10 classes, against 11,175,434 with `BasicBlock`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, use_residual: bool = True) -> None:
        nn.Module.__init__(self)
        self.in_channels, self.use_residual = in_channels, use_residual
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module | None = None
        if use_residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=True)


class ResNet18(nn.Module):
    """ResNet18 (notebook 05, section 2): 7x7/2 stem (with bias) + BN + ReLU + 3x3/2 max-pool, four stages of two
    blocks (64/128/256/512 channels, stride 2 at the start of stages 2-4), adaptive average pool, linear head.
    `block` is the block class, built as block(in_channels, out_channels, stride, use_residual)."""

    widths = (64, 128, 256, 512)

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, use_residual: bool = True, block: type[nn.Module] = BasicBlock
    ) -> None:
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
            stages.append(nn.Sequential(block(c_in, width, stride, use_residual), block(width, width, 1, use_residual)))
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
    """He et al.'s CIFAR-style network of depth 6n+2 (notebook 05, section 6): 3x3 conv (16), three stages of n basic
    blocks (16/32/64 channels, stride 2 at stages 2-3), global average pool, linear. `use_residual=False` gives the
    plain net."""

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
