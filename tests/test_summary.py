import torch
import torch.nn as nn

from course_utils import models
from course_utils.measure import count_flops, count_macs, stage_table, summary


def test_summary_totals(capsys):
    result = summary(models.InceptionNet(), (1, 28, 28))
    out = capsys.readouterr().out
    assert result.params == result.trainable_params == 97_298
    assert result.output_shape == (1, 10)
    assert result.flops == 2 * result.macs
    assert "Total params: 97,298" in out and "Parameters (model.parameters()): 97,298" in out


def test_macs_of_one_conv():
    layer = nn.Conv2d(192, 32, 5, padding=2)
    assert count_macs(layer, (192, 28, 28)) == 120_422_400
    assert count_flops(layer, (192, 28, 28), backward=True) > 2 * 120_422_400


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.conv(self.conv(x))


def test_reused_module_counted_once(capsys):
    result = summary(Shared(), (4, 8, 8))
    out = capsys.readouterr().out
    assert result.params == 20
    assert "Total params: 40" in out  # torchsummary counts the reused layer twice


def test_stage_table():
    rows = stage_table(models.ResNet18(), (1, 32, 32))
    names = [r[0] for r in rows]
    assert names == ["stem", "layer1", "layer2", "layer3", "layer4", "pool", "fc"]
    assert rows[1][1] == (1, 64, 8, 8) and rows[4][1] == (1, 512, 1, 1)


def test_summary_does_not_change_rng_or_mode():
    model = models.SmallCNN()
    torch.manual_seed(0)
    summary(model, (1, 28, 28), show=False)
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1)) and model.training
