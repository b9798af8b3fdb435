import itertools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import conv


@pytest.mark.parametrize(("padding", "stride", "dilation"), [(0, 1, 1), (1, 1, 1), (2, 2, 1), (0, 3, 1), (1, 1, 2), (2, 2, 2)])
def test_corr2d_matches_conv2d(padding, stride, dilation):
    g = torch.Generator().manual_seed(padding * 10 + stride + dilation)
    X, K = torch.randn(9, 11, generator=g), torch.randn(3, 2, generator=g)
    want = F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride, dilation=dilation)[0, 0]
    assert torch.allclose(conv.corr2d(X, K, padding, stride, dilation), want, atol=1e-5)


def test_corr2d_is_not_flipped_convolution():
    X = torch.arange(16.0).reshape(4, 4)
    K = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    assert not torch.allclose(conv.corr2d(X, K), conv.corr2d(X, K.flip(0, 1)))


def test_multi_channel_versions():
    g = torch.Generator().manual_seed(0)
    X, K = torch.randn(3, 8, 8, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    want = F.conv2d(X[None], K, padding=1, stride=2)[0]
    assert torch.allclose(conv.corr2d_multi_in_out(X, K, padding=1, stride=2), want, atol=1e-4)
    assert torch.allclose(conv.corr2d_multi_in(X, K[0]), F.conv2d(X[None], K[:1])[0, 0], atol=1e-4)
    with pytest.raises(ValueError, match="channels"):
        conv.corr2d_multi_in(X, K[0, :2])


def test_1x1_is_a_matrix_product():
    g = torch.Generator().manual_seed(1)
    X, K = torch.randn(5, 6, 7, generator=g), torch.randn(3, 5, 1, 1, generator=g)
    assert torch.allclose(conv.corr2d_1x1(X, K), F.conv2d(X[None], K)[0], atol=1e-5)


@pytest.mark.parametrize(("size", "stride", "padding"), [(2, None, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)])
def test_pool2d_matches_torch(size, stride, padding):
    X = torch.randn(7, 9, generator=torch.Generator().manual_seed(size))
    s = size if stride is None else stride
    mx = nn.MaxPool2d(size, stride=s, padding=padding)(X[None, None])[0, 0]
    av = nn.AvgPool2d(size, stride=s, padding=padding)(X[None, None])[0, 0]
    assert torch.allclose(conv.pool2d(X, size, "max", stride, padding), mx)
    assert torch.allclose(conv.pool2d(X, size, "avg", stride, padding), av, atol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        conv.pool2d(X, 2, "median")


def test_conv_output_size_matches_nn_conv2d_over_a_grid():
    x = torch.zeros(1, 1, 13, 13)
    for k, p, s, d in itertools.product((1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2)):
        if 13 + 2 * p < d * (k - 1) + 1:
            continue
        out = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)(x)
        assert out.shape[-1] == conv.conv_output_size(13, k, p, s, d), (k, p, s, d)


def test_empty_output_raises_clearly():
    with pytest.raises(ValueError, match="output would be empty"):
        conv.conv_output_size(4, 3, padding=0, dilation=2)
    with pytest.raises(ValueError, match="stride"):
        conv.conv_output_size(4, 3, stride=0)


def test_multiplication_counts_of_the_bottleneck_example():
    direct = conv.conv2d_mults(192, 32, 5, 28, 28)
    bottleneck = conv.conv2d_mults(192, 16, 1, 28, 28) + conv.conv2d_mults(16, 32, 5, 28, 28)
    assert direct == 120_422_400
    assert bottleneck == 12_443_648
    assert conv.conv_layer_mults(nn.Conv2d(192, 32, 5, padding=2), 28, 28) == direct
    assert conv.conv_layer_mults(nn.Conv2d(8, 8, 3, padding=1, groups=8), 10, 10) == 9 * 8 * 100


def test_receptive_field():
    assert conv.receptive_field([(3, 1), (3, 1)]) == 5
    assert conv.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]) == 10
