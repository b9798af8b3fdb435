"""Convolution and pooling from scratch (readable loops, no tricks), the output-size formula and cost counters.

Deep-learning "convolution" is cross-correlation: the kernel slides over the input without being flipped.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def conv_output_size(n: int, k: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length along one axis: floor((n + 2p - d(k-1) - 1) / s) + 1. Raises if the output would be empty."""
    for name, value, low in (("n", n, 1), ("k", k, 1), ("padding", padding, 0), ("stride", stride, 1), ("dilation", dilation, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    span = dilation * (k - 1) + 1
    if n + 2 * padding < span:
        raise ValueError(
            f"the kernel spans {span} pixels (k={k}, dilation={dilation}) but the padded input has only "
            f"{n + 2 * padding} (n={n}, padding={padding}): the output would be empty. "
            "Add padding, use a smaller kernel or dilation, or stop downsampling earlier."
        )
    return (n + 2 * padding - span) // stride + 1


def corr2d(X: torch.Tensor, K: torch.Tensor, padding: int = 0, stride: int = 1, dilation: int = 1) -> torch.Tensor:
    """2-D cross-correlation of one (H, W) input with one (kh, kw) kernel: Y[i, j] = sum(window * K)."""
    if X.dim() != 2 or K.dim() != 2:
        raise ValueError(f"corr2d takes a 2-D input and a 2-D kernel, got shapes {tuple(X.shape)} and {tuple(K.shape)}")
    if padding:
        X = torch.nn.functional.pad(X, (padding, padding, padding, padding))
    kh, kw = K.shape
    oh = conv_output_size(X.shape[0], kh, 0, stride, dilation)
    ow = conv_output_size(X.shape[1], kw, 0, stride, dilation)
    Y = torch.zeros((oh, ow), dtype=torch.result_type(X, K), device=X.device)
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride, j * stride
            window = X[r : r + dilation * (kh - 1) + 1 : dilation, c : c + dilation * (kw - 1) + 1 : dilation]
            Y[i, j] = (window * K).sum()
    return Y


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor, padding: int = 0, stride: int = 1) -> torch.Tensor:
    """Several input channels: cross-correlate channel by channel and sum. X: (c_in, H, W), K: (c_in, kh, kw)."""
    if X.shape[0] != K.shape[0]:
        raise ValueError(f"the input has {X.shape[0]} channels but the kernel {K.shape[0]}: they must be equal")
    return sum(corr2d(x, k, padding, stride) for x, k in zip(X, K))  # type: ignore[return-value]


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor, padding: int = 0, stride: int = 1) -> torch.Tensor:
    """Several output channels: one multi-input kernel per output channel. X: (c_in, H, W), K: (c_out, c_in, kh, kw)."""
    if K.dim() != 4:
        raise ValueError(f"the kernel must have shape (c_out, c_in, kh, kw), got {tuple(K.shape)}")
    return torch.stack([corr2d_multi_in(X, k, padding, stride) for k in K], 0)


def corr2d_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution is a fully connected layer at every pixel: (c_out, c_in) @ (c_in, H*W)."""
    c_in, h, w = X.shape
    c_out = K.shape[0]
    Y = K.reshape(c_out, c_in) @ X.reshape(c_in, h * w)
    return Y.reshape(c_out, h, w)


def pool2d(X: torch.Tensor, pool_size: int | tuple[int, int], mode: str = "max", stride: int | None = None, padding: int = 0) -> torch.Tensor:
    """Max or average pooling of one (H, W) input; the stride defaults to the window size, as in PyTorch."""
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    stride = ph if stride is None else stride
    if padding:
        fill = float("-inf") if mode == "max" else 0.0
        X = torch.nn.functional.pad(X, (padding, padding, padding, padding), value=fill)
    oh = conv_output_size(X.shape[0], ph, 0, stride)
    ow = conv_output_size(X.shape[1], pw, 0, stride)
    Y = torch.zeros((oh, ow), dtype=X.dtype, device=X.device)
    for i in range(oh):
        for j in range(ow):
            window = X[i * stride : i * stride + ph, j * stride : j * stride + pw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def conv2d_mults(c_in: int, c_out: int, k: int | tuple[int, int], out_h: int, out_w: int, groups: int = 1) -> int:
    """Multiplications (= multiply-accumulates) of one conv layer: k_h * k_w * (c_in / groups) * c_out * out_h * out_w."""
    kh, kw = (k, k) if isinstance(k, int) else k
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide c_in={c_in} and c_out={c_out}")
    return kh * kw * (c_in // groups) * c_out * out_h * out_w


def conv_layer_mults(layer: nn.Conv2d, in_h: int, in_w: int) -> int:
    """Multiplications of an `nn.Conv2d` applied to an in_h x in_w input (one image)."""
    kh, kw = layer.kernel_size
    (ph, pw), (sh, sw), (dh, dw) = layer.padding, layer.stride, layer.dilation  # type: ignore[misc]
    out_h = conv_output_size(in_h, kh, ph, sh, dh)
    out_w = conv_output_size(in_w, kw, pw, sw, dw)
    return conv2d_mults(layer.in_channels, layer.out_channels, (kh, kw), out_h, out_w, layer.groups)


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field of a stack of (kernel, stride) layers: r += (k - 1) * (product of earlier strides)."""
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r
