"""The classic CNN zoo of notebook 06: LeNet-5, AlexNet, VGG11/19, MobileNet v1, GoogLeNet v1 and ResNet18.

Each network comes in two configurations:

- **reference**: the published architecture adapted only to 1 input channel and 10 classes, at 224x224
  (32x32 for LeNet-5). Its parameter count is fixed (see `ZooEntry.reference_params`) and checked by the tests.
- **native**: what we actually train on MNIST, at 32x32 (the 28x28 digits zero-padded by 2 pixels, i.e.
  `make_loaders(..., pad=2)`). Networks that end in a global average pool (MobileNet, GoogLeNet, ResNet18) run
  unchanged at any size, so their native version *is* the reference network. AlexNet and VGG flatten a fixed-size
  feature map into their first linear layer, so the native version adapts that layer (and AlexNet's stride-4 stem,
  which would leave nothing of a 32-pixel image).

`ZOO` maps a short key to a `ZooEntry`; `build(key, native)` constructs a model, `build(key, native, device="meta")`
constructs only its shapes (no memory, instant) — enough to count parameters and multiply-accumulates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from .models import BasicBlock, ResNet18, check_input

NATIVE_SIZE = 32  # 28x28 digits padded by 2 pixels on every side
REFERENCE_SIZE = 224  # ImageNet resolution: what the reference report upsampled MNIST to


def he_init(model: nn.Module) -> nn.Module:
    """He (Kaiming) normal initialisation for networks without BatchNorm: every conv and linear layer gets weights of
    variance 2 / fan_in, so the signal keeps its scale through the ReLUs; biases start at zero. The last linear layer
    gets small weights (std 0.01) so that the first predictions are near uniform (loss ~ ln 10).

    PyTorch's default (uniform, variance 1 / (3 fan_in)) shrinks the signal by ~2.4x per ReLU layer: AlexNet, VGG and
    GoogLeNet without BatchNorm then sit at chance level for many steps before they start to learn.
    """
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for m in layers:
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    if isinstance(layers[-1], nn.Linear):
        nn.init.normal_(layers[-1].weight, std=0.01)
    return model


def check_size(module: nn.Module, x: torch.Tensor, size: int) -> None:
    """Raise a clear error unless the images in `x` are exactly `size` x `size` (for nets with a fixed flatten size)."""
    if tuple(x.shape[-2:]) != (size, size):
        name = type(module).__name__
        raise ValueError(
            f"{name} was built for {size}x{size} images (its first linear layer expects that flattened size), "
            f"got {tuple(x.shape[-2:])}. Pad 28x28 digits to 32x32 with make_loaders(..., pad=2), resize with "
            f"make_loaders(..., resize=224), or build the other configuration (zoo.build(name, native=...))."
        )


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) on 32x32 inputs, modernised: ReLU, max-pooling, BatchNorm after each conv and
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
    """AlexNet (Krizhevsky et al., 2012) in one tower (no GPU split, no local response normalisation), as in
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
    """VGG (Simonyan and Zisserman, 2014), configurations A (11 layers) and E (19 layers): stacks of 3x3 convs
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


class DepthwiseSeparable(nn.Module):
    """MobileNet's block: a 3x3 depthwise conv (one filter per channel, `groups=in_channels`) then a 1x1 pointwise
    conv that mixes channels, each followed by BatchNorm and ReLU. Costs 9*C_in + C_in*C_out multiplications per
    output pixel instead of 9*C_in*C_out for a full 3x3 conv."""

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
    """MobileNet v1 (Howard et al., 2017), width 1.0: conv3x3/2(32)-BN-ReLU, 13 depthwise separable blocks
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


class InceptionV1(nn.Module):
    """GoogLeNet's Inception block: four parallel branches, each conv followed by ReLU, concatenated on channels.

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
    """GoogLeNet / Inception v1 (Szegedy et al., 2014) as in Dive into Deep Learning: convs with biases and ReLU
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


class BiasedBasicBlock(BasicBlock):
    """`models.BasicBlock` as in Dive into Deep Learning's ResNet: the 3x3 convs carry biases and the 1x1 shortcut
    (where the shape changes) is a biased conv without BatchNorm. Same forward as `BasicBlock`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=True)
        if self.shortcut is not None:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=True)


class ResNet18Biased(ResNet18):
    """`models.ResNet18` (7x7/2 stem with bias, BN, max-pool; 4 stages of 2 blocks; global pool; linear) built from
    `BiasedBasicBlock`s: 11,178,378 parameters for 1 channel and 10 classes, against 11,175,434 for `ResNet18`.
    Size-independent like MobileNet: the native version is the reference network."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__(in_channels, num_classes)
        c_in = 64
        for i, width in enumerate(self.widths):
            stride = 1 if i == 0 else 2
            stage = nn.Sequential(BiasedBasicBlock(c_in, width, stride), BiasedBasicBlock(width, width))
            setattr(self, f"layer{i + 1}", stage)
            c_in = width


@dataclass(frozen=True)
class ZooEntry:
    """One zoo network: how to build it, its input sizes and the parameter count of its reference configuration."""

    title: str  # display name, e.g. "VGG19"
    year: int
    idea: str  # what the network introduced, in a few words
    builder: Callable[[bool, int, int], nn.Module]  # (native, in_channels, num_classes) -> model
    reference_size: int  # input side of the reference configuration
    native_size: int  # input side of the version trained on (padded) MNIST
    reference_params: int  # parameters of the reference configuration with 1 channel and 10 classes
    batchnorm: bool  # whether it normalises with BatchNorm (it then tolerates larger learning rates)
    lr: float  # AdamW learning rate chosen by validation accuracy in short runs (1-4 epochs) on the mini MNIST

    def input_size(self, native: bool = True, in_channels: int = 1) -> tuple[int, int, int]:
        """(C, H, W) the configuration expects."""
        side = self.native_size if native else self.reference_size
        return (in_channels, side, side)

    @property
    def pad(self) -> int:
        """Zero padding that turns a 28x28 digit into the native input (pass it to `make_loaders(..., pad=)`)."""
        return (self.native_size - 28) // 2

    def build(
        self, native: bool = True, in_channels: int = 1, num_classes: int = 10, device: torch.device | str | None = None
    ) -> nn.Module:
        """A fresh model; `device="meta"` creates shapes only (for counting parameters and MACs without memory)."""
        if device is None:
            return self.builder(native, in_channels, num_classes)
        with torch.device(device):
            return self.builder(native, in_channels, num_classes)


def _entry(title: str, year: int, idea: str, builder: Callable[[bool, int, int], nn.Module], reference_size: int,
           params: int, batchnorm: bool, lr: float) -> ZooEntry:
    return ZooEntry(title, year, idea, builder, reference_size, NATIVE_SIZE, params, batchnorm, lr)


# key: title, year, idea, builder(native, in_channels, num_classes), reference size, reference params, BatchNorm, lr
ZOO: dict[str, ZooEntry] = {
    "lenet5": _entry("LeNet-5", 1998, "conv-pool stacks + MLP",
                     lambda n, c, k: LeNet5(c, k), 32, 61_750, True, 1e-3),
    "alexnet": _entry("AlexNet", 2012, "ReLU, dropout, big GPU model",
                      lambda n, c, k: AlexNet(c, k, n), 224, 46_764_746, False, 3e-4),
    "vgg11": _entry("VGG11", 2014, "only 3x3 convs, 11 layers",
                    lambda n, c, k: VGG(11, c, k, n), 224, 128_806_154, False, 1e-4),
    "vgg19": _entry("VGG19", 2014, "only 3x3 convs, 19 layers",
                    lambda n, c, k: VGG(19, c, k, n), 224, 139_610_058, False, 1e-4),
    "googlenet": _entry("GoogLeNet", 2014, "Inception blocks, 1x1 reductions",
                        lambda n, c, k: GoogLeNet(c, k), 224, 5_977_530, False, 3e-4),
    "resnet18": _entry("ResNet18", 2015, "residual shortcuts + BatchNorm",
                       lambda n, c, k: ResNet18Biased(c, k), 224, 11_178_378, True, 1e-3),
    "mobilenet": _entry("MobileNet v1", 2017, "depthwise separable convs",
                        lambda n, c, k: MobileNetV1(c, k), 224, 3_216_650, True, 1e-3),
}  # fmt: skip


def build(
    name: str, native: bool = True, in_channels: int = 1, num_classes: int = 10, device: torch.device | str | None = None
) -> nn.Module:
    """Build zoo network `name` (a key of `ZOO`) in its native (trained) or reference configuration."""
    if name not in ZOO:
        raise KeyError(f"unknown zoo model {name!r}: choose one of {', '.join(ZOO)}")
    return ZOO[name].build(native, in_channels, num_classes, device)
