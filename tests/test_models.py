import pytest
import torch
import torchvision

from course_utils import models
from course_utils.measure import count_params


@pytest.mark.parametrize(
    ("factory", "params", "size"),
    [
        (lambda: models.SmallCNN(), 9_098, 28),
        (lambda: models.InceptionNet(), 97_298, 28),
        (lambda: models.SimpleResNet(), 41_514, 28),
        (lambda: models.ResNet18(), 11_175_434, 32),
        (lambda: models.ResNet18(use_residual=False), 11_001_610, 32),
    ],
)
def test_parameter_counts_and_output_shape(factory, params, size):
    model = factory()
    assert count_params(model) == params
    assert model(torch.zeros(2, 1, size, size)).shape == (2, 10)


def test_inception_block_shape():
    block = models.InceptionA(10)
    assert block(torch.zeros(2, 10, 12, 12)).shape == (2, 88, 12, 12)


def test_plain_resnet18_has_no_projection_layers():
    plain = models.ResNet18(use_residual=False)
    assert not any("shortcut" in name for name, _ in plain.named_parameters())
    assert any("shortcut" in name for name, _ in models.ResNet18().named_parameters())


def test_simple_resnet_without_skip_has_same_parameters():
    assert count_params(models.SimpleResNet(use_residual=False)) == 41_514


def test_residual_block_shape_rule():
    with pytest.raises(ValueError, match="projection=True"):
        models.ResidualBlock(16, 32)
    with pytest.raises(ValueError, match="stride 2"):
        models.ResidualBlock(16, stride=2)
    block = models.ResidualBlock(16, 32, stride=2, projection=True)
    assert block(torch.zeros(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    x = torch.randn(1, 4, 5, 5)
    assert torch.all(models.ResidualBlock(4)(x) >= 0)


def test_wrong_input_is_explained():
    with pytest.raises(ValueError, match="in_channels=3"):
        models.ResNet18()(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="unsqueeze"):
        models.SmallCNN()(torch.zeros(1, 28, 28))
    with pytest.raises(ValueError, match=r"built for 28x28.*pad=4"):
        models.InceptionNet()(torch.zeros(1, 1, 20, 20))
    with pytest.raises(TypeError):
        models.SmallCNN()([[0.0]])


def test_torchvision_equivalence():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None).eval()
    ours = models.load_torchvision_resnet18(models.ResNet18(in_channels=3, num_classes=1000), tv).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - tv(x)).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="use_residual=True"):
        models.load_torchvision_resnet18(models.ResNet18(3, 1000, use_residual=False), tv)
    with pytest.raises(ValueError, match="in_channels=3, num_classes=1000"):
        models.load_torchvision_resnet18(models.ResNet18(), tv)


def test_cifar_resnet_depths():
    for depth in (8, 20):
        for residual in (True, False):
            net = models.CifarResNet(depth, residual)
            convs = sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules())
            assert convs + 1 == depth  # 3x3 convs + the linear layer
            assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="6n\\+2"):
        models.CifarResNet(10)
