"""The course's networks, one module per family, and the one registry of them.

`small` (notebook 01) · `inception` (03, GoogLeNet of 06) · `resnet` (04, 05, 06) · `classic` (LeNet-5, AlexNet,
VGG of 06) · `mobilenet` (06) · `registry` (`REGISTRY`, `build`). Every class is importable from here, so
`course_utils.models.ResNet18` works whatever module it lives in.
"""

from .classic import NATIVE_SIZE, REFERENCE_SIZE, VGG, VGG_CONFIGS, AlexNet, LeNet5
from .common import check_input, check_size, he_init
from .inception import GoogLeNet, InceptionA, InceptionNet, InceptionV1
from .mobilenet import DepthwiseSeparable, MobileNetV1
from .registry import REGISTRY, ModelEntry, build, zoo_entries
from .resnet import (
    BasicBlock,
    BiasedBasicBlock,
    CifarResNet,
    ResidualBlock,
    ResNet18,
    SimpleResNet,
    load_torchvision_resnet18,
    torchvision_resnet18_state,
)
from .small import SmallCNN

__all__ = [
    "NATIVE_SIZE",
    "REFERENCE_SIZE",
    "REGISTRY",
    "VGG",
    "VGG_CONFIGS",
    "AlexNet",
    "BasicBlock",
    "BiasedBasicBlock",
    "CifarResNet",
    "DepthwiseSeparable",
    "GoogLeNet",
    "InceptionA",
    "InceptionNet",
    "InceptionV1",
    "LeNet5",
    "MobileNetV1",
    "ModelEntry",
    "ResNet18",
    "ResidualBlock",
    "SimpleResNet",
    "SmallCNN",
    "build",
    "check_input",
    "check_size",
    "he_init",
    "load_torchvision_resnet18",
    "torchvision_resnet18_state",
    "zoo_entries",
]
