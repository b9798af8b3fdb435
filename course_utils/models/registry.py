"""The one registry of the course's networks: every network a notebook trains or the benchmark times.

An entry says how to build the network and what the course knows about it. Adding a network is adding an entry here
(see CONTRIBUTING.md); the benchmark's `--models`, notebook 06's zoo and the tests read this registry and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from .classic import NATIVE_SIZE, VGG, AlexNet, LeNet5
from .inception import GoogLeNet, InceptionNet
from .mobilenet import MobileNetV1
from .resnet import BiasedBasicBlock, ResNet18, SimpleResNet
from .small import SmallCNN

Builder = Callable[[bool, int, int], nn.Module]  # (native, in_channels, num_classes) -> a fresh model


@dataclass(frozen=True)
class ModelEntry:
    """One registered network: how to build it and what the course knows about it."""

    title: str  # display name, e.g. "VGG19"
    builder: Builder
    notebook: str  # the notebook that teaches it, e.g. "05"
    input_size: int  # side of the images it trains on: 28, or 32 (the 28x28 images padded by 2)
    reference_params: int  # parameters of the reference configuration with 1 channel and 10 classes
    lr: float | None = None  # AdamW learning rate it trains with; None: fit's default (batch-scaled)
    zoo: bool = False  # one of notebook 06's classic networks
    reference_size: int | None = None  # zoo: input side of the published configuration (224; LeNet-5: 32)
    year: int | None = None  # zoo: year of publication
    idea: str = ""  # zoo: what the network is known for, in a few words (not all of it introduced there)
    batchnorm: bool = False  # whether it normalises with BatchNorm (it then tolerates larger learning rates)

    @property
    def pad(self) -> int:
        """Zero padding that turns a 28x28 image into this network's input (pass it to `make_loaders(..., pad=)`)."""
        return (self.input_size - 28) // 2

    @property
    def native_size(self) -> int:
        """The side of the images the network trains on (same as `input_size`)."""
        return self.input_size

    def shape(self, native: bool = True, in_channels: int = 1) -> tuple[int, int, int]:
        """(C, H, W) of one input: the trained (native) configuration, or the published (reference) one."""
        side = self.input_size if native or self.reference_size is None else self.reference_size
        return (in_channels, side, side)

    def build(
        self, native: bool = True, in_channels: int = 1, num_classes: int = 10, device: torch.device | str | None = None
    ) -> nn.Module:
        """A fresh model; `device="meta"` creates shapes only (for counting parameters and MACs without memory)."""
        if device is None:
            return self.builder(native, in_channels, num_classes)
        with torch.device(device):
            return self.builder(native, in_channels, num_classes)


# Learning rates of the zoo networks: AdamW, set from short validation runs (1-4 epochs on the mini MNIST) that are
# not committed; the committed sweep of the reference runs (reference_results/zoo.*.json, notebook 06 section 6) is
# the documented choice and preferred 3x larger rates for LeNet-5, AlexNet and MobileNet. The course's own networks
# train with fit's default.
REGISTRY: dict[str, ModelEntry] = {
    "small_cnn": ModelEntry(
        title="SmallCNN", builder=lambda n, c, k: SmallCNN(c, k), notebook="01", input_size=28, reference_params=9_098,
    ),
    "inception": ModelEntry(
        title="InceptionNet", builder=lambda n, c, k: InceptionNet(c, k), notebook="03", input_size=28,
        reference_params=97_298,
    ),
    "simple_resnet": ModelEntry(
        title="SimpleResNet", builder=lambda n, c, k: SimpleResNet(c, k), notebook="04", input_size=28,
        reference_params=41_514,
    ),
    "resnet18": ModelEntry(
        title="ResNet18", builder=lambda n, c, k: ResNet18(c, k), notebook="05", input_size=32,
        reference_params=11_175_434, batchnorm=True,
    ),
    "resnet18_plain": ModelEntry(
        title="ResNet18 (no shortcuts)", builder=lambda n, c, k: ResNet18(c, k, use_residual=False), notebook="05",
        input_size=32, reference_params=11_001_610, batchnorm=True,
    ),
    "lenet5": ModelEntry(
        title="LeNet-5", builder=lambda n, c, k: LeNet5(c, k), notebook="06", input_size=NATIVE_SIZE,
        reference_params=61_750, lr=1e-3, zoo=True, reference_size=32, year=1998, idea="conv-pool stacks + MLP",
        batchnorm=True,
    ),
    "alexnet": ModelEntry(
        title="AlexNet", builder=lambda n, c, k: AlexNet(c, k, n), notebook="06", input_size=NATIVE_SIZE,
        reference_params=46_764_746, lr=3e-4, zoo=True, reference_size=224, year=2012,
        idea="big GPU model; popularised ReLU, dropout",
    ),
    "vgg11": ModelEntry(
        title="VGG11", builder=lambda n, c, k: VGG(11, c, k, n), notebook="06", input_size=NATIVE_SIZE,
        reference_params=128_806_154, lr=1e-4, zoo=True, reference_size=224, year=2014,
        idea="only 3x3 convs, 11 layers",
    ),
    "vgg19": ModelEntry(
        title="VGG19", builder=lambda n, c, k: VGG(19, c, k, n), notebook="06", input_size=NATIVE_SIZE,
        reference_params=139_610_058, lr=1e-4, zoo=True, reference_size=224, year=2014,
        idea="only 3x3 convs, 19 layers",
    ),
    "googlenet": ModelEntry(
        title="GoogLeNet", builder=lambda n, c, k: GoogLeNet(c, k), notebook="06", input_size=NATIVE_SIZE,
        reference_params=5_977_530, lr=3e-4, zoo=True, reference_size=224, year=2014,
        idea="Inception blocks, 1x1 reductions",
    ),
    "resnet18_d2l": ModelEntry(
        title="ResNet18 (D2L)", builder=lambda n, c, k: ResNet18(c, k, block=BiasedBasicBlock), notebook="06",
        input_size=NATIVE_SIZE, reference_params=11_178_378, lr=1e-3, zoo=True, reference_size=224, year=2015,
        idea="residual shortcuts", batchnorm=True,
    ),
    "mobilenet": ModelEntry(
        title="MobileNet v1", builder=lambda n, c, k: MobileNetV1(c, k), notebook="06", input_size=NATIVE_SIZE,
        reference_params=3_216_650, lr=1e-3, zoo=True, reference_size=224, year=2017, idea="depthwise separable throughout",
        batchnorm=True,
    ),
}  # fmt: skip


def zoo_entries() -> dict[str, ModelEntry]:
    """The classic networks of notebook 06, in the order of the registry (by year)."""
    return {key: entry for key, entry in REGISTRY.items() if entry.zoo}


def build(
    key: str, native: bool = True, in_channels: int = 1, num_classes: int = 10, device: torch.device | str | None = None
) -> nn.Module:
    """Build registered network `key` in its native (trained) or reference (published) configuration."""
    if key not in REGISTRY:
        raise KeyError(f"unknown model {key!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[key].build(native, in_channels, num_classes, device)
