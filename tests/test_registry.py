"""The one model registry: every entry's reference parameter count, the zoo of notebook 06 (native forward shapes,
reference MACs) and clear errors."""

from __future__ import annotations

import pytest
import torch

from course_utils import count_macs, count_params
from course_utils.models import REGISTRY, build, zoo_entries

REFERENCE_PARAMS = {
    "lenet5": 61_750,
    "alexnet": 46_764_746,
    "vgg11": 128_806_154,
    "vgg19": 139_610_058,
    "mobilenet": 3_216_650,
    "googlenet": 5_977_530,
    "resnet18_d2l": 11_178_378,
}
COURSE_PARAMS = {
    "small_cnn": 9_098,
    "inception": 97_298,
    "simple_resnet": 41_514,
    "resnet18": 11_175_434,
    "resnet18_plain": 11_001_610,
}


def test_registry_holds_the_known_networks() -> None:
    """The networks the notebooks teach are registered (a new entry needs no change here: see the checks below)."""
    assert set(REFERENCE_PARAMS) <= set(zoo_entries()) and set(COURSE_PARAMS) <= set(REGISTRY)
    for name, entry in zoo_entries().items():
        assert entry.reference_params == REFERENCE_PARAMS.get(name, entry.reference_params)
        assert entry.native_size == 32 and entry.pad == 2
        assert entry.reference_size == (32 if name == "lenet5" else 224)
        model = entry.build(device="meta")
        assert entry.batchnorm == any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name", list(REFERENCE_PARAMS))
def test_reference_parameter_count(name: str) -> None:
    model = build(name, native=False, device="meta")  # shapes only: no memory for VGG19's 140 M parameters
    assert count_params(model) == REFERENCE_PARAMS[name]


@pytest.mark.parametrize("name", list(REFERENCE_PARAMS))
def test_reference_forward_shape_on_meta(name: str) -> None:
    entry = REGISTRY[name]
    model = entry.build(native=False, device="meta").eval()
    out = model(torch.zeros((2, *entry.shape(native=False)), device="meta"))
    assert tuple(out.shape) == (2, 10)


@pytest.mark.parametrize("name", list(REFERENCE_PARAMS))
def test_native_forward_backward(name: str) -> None:
    entry = REGISTRY[name]
    torch.manual_seed(0)
    model = entry.build(native=True)
    x = torch.randn(4, *entry.shape(native=True))
    out = model(x)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_native_differs_only_where_it_must() -> None:
    """Global-average-pool networks are unchanged; AlexNet and VGG shrink their first linear layer only."""
    for name, entry in zoo_entries().items():
        native = count_params(entry.build(native=True, device="meta"))
        if name in ("alexnet", "vgg11", "vgg19"):
            flat_ref = 256 * 5 * 5 if name == "alexnet" else 512 * 7 * 7
            flat_native = 256 if name == "alexnet" else 512
            assert entry.reference_params - native == (flat_ref - flat_native) * 4096
        else:
            assert native == entry.reference_params


def test_reference_macs() -> None:
    """Multiply-accumulates at 224x224 (counted on the meta device) and their ratio to the native 32x32 run."""
    resnet = build("resnet18_d2l", native=False, device="meta")
    assert count_macs(resnet, (1, 224, 224)) == 1_734_890_496
    fc = 512 * 10  # the classifier sees the pooled 512 features at any input size
    assert 49 * (count_macs(resnet, (1, 32, 32)) - fc) + fc == 1_734_890_496  # every conv costs (224/32)^2 = 49x more
    vgg19 = build("vgg19", native=False, device="meta")
    assert count_macs(vgg19, (1, 224, 224)) == 19_570_204_672


def test_other_channel_and_class_counts() -> None:
    model = build("mobilenet", in_channels=3, num_classes=100)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_wrong_channel_count_is_a_clear_error() -> None:
    model = build("resnet18_d2l")
    with pytest.raises(ValueError, match=r"expects 1 input channel\(s\), got 3"):
        model(torch.randn(2, 3, 32, 32))


def test_wrong_size_is_a_clear_error() -> None:
    model = build("vgg11", native=True)
    with pytest.raises(ValueError, match=r"built for 32x32 images.*pad=2"):
        model(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"built for 224x224"):
        build("alexnet", native=False, device="meta")(torch.zeros(1, 1, 32, 32, device="meta"))


def test_unbatched_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        build("lenet5")(torch.randn(1, 32, 32))


def test_unknown_name() -> None:
    with pytest.raises(KeyError, match="choose one of small_cnn"):
        build("vgg16")


@pytest.mark.parametrize("name", list(COURSE_PARAMS))
def test_course_model_parameter_counts(name: str) -> None:
    entry = REGISTRY[name]
    assert entry.reference_params == COURSE_PARAMS[name] == count_params(entry.build(device="meta"))
    model = entry.build()
    assert model(torch.zeros(2, *entry.shape())).shape == (2, 10)


def test_d2l_resnet18_differs_from_resnet18_only_in_biases() -> None:
    """Notebook 06's ResNet18 is notebook 05's with biased 3x3 convs and biased 1x1 shortcuts without BatchNorm."""
    ours, d2l = REGISTRY["resnet18"].build(device="meta"), REGISTRY["resnet18_d2l"].build(device="meta")
    assert count_params(d2l) - count_params(ours) == 11_178_378 - 11_175_434


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_entry_is_consistent(key: str) -> None:
    """What every registry entry must satisfy, new ones included: its reference parameter count is right, it builds
    from (native, in_channels, num_classes), takes its input size and predicts 10 classes; zoo entries say their
    published input size and whether they use BatchNorm."""
    entry = REGISTRY[key]
    assert entry.title and entry.notebook.isdigit() and entry.input_size in (28, 32)
    reference = entry.build(native=False, device="meta")
    assert count_params(reference) == entry.reference_params, "reference_params does not match the network"
    assert getattr(entry.build(device="meta"), "in_channels", None) == 1, "networks keep self.in_channels"
    if entry.zoo:
        assert entry.reference_size in (32, 224) and entry.year and entry.idea
        assert entry.batchnorm == any(isinstance(m, torch.nn.BatchNorm2d) for m in reference.modules())
