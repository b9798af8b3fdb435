"""Helpers every network module shares: input checks with messages that say the fix, and He initialisation."""

from __future__ import annotations

import torch
import torch.nn as nn


def check_input(module: nn.Module, x: torch.Tensor, channels: int, min_size: int = 1, size: int | None = None) -> None:
    """Raise a clear error unless `x` is a batch (N, C, H, W) of floating-point images of the module's dtype with
    `channels` channels and H, W >= `min_size` (exactly `size` x `size` when given: nets with a fixed flatten size)."""
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
    check_dtype(module, x)
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        raise ValueError(f"{name} was built for {size}x{size} images (its linear layer expects that flattened size), "
                         f"got {tuple(x.shape[-2:])}. {_size_fix(tuple(x.shape[-2:]), size)}")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"{name} needs images of at least {min_size}x{min_size} pixels, got {tuple(x.shape[-2:])}")


def _size_fix(got: tuple[int, ...], size: int) -> str:
    """How to get `size` x `size` images from images of shape `got` with make_loaders."""
    h, w = got
    if h == w and h < size and (size - h) % 2 == 0:
        return f"Pad them by {(size - h) // 2} pixels per side (make_loaders(..., pad={(size - h) // 2})) or resize them (resize={size})."
    if h == w == size + 4:
        return (f"They look padded ({size} + 2 * 2 = {size + 4}): load them without pad= (make_loaders(...) gives "
                f"{size}x{size}), or use a network built for {size + 4}x{size + 4} images.")
    return f"Resize them with make_loaders(..., resize={size}) (or load them without pad=/resize=)."


def check_dtype(module: nn.Module, x: torch.Tensor) -> None:
    """Raise a clear error unless `x` is floating point and, outside autocast, of the dtype of the module's weights."""
    name = type(module).__name__
    if not x.is_floating_point():
        raise TypeError(f"{name} expects floating-point images, got {x.dtype}. Convert with x.float() (uint8 pixels: "
                        "x.float() / 255, then normalise, as make_loaders does).")
    weight = next(module.parameters(), None)
    if weight is None or x.dtype == weight.dtype or x.device.type not in ("cpu", "cuda", "mps", "xpu"):
        return
    if torch.is_autocast_enabled(x.device.type):  # autocast runs layers in bf16/fp16 on float32 weights by design
        return
    fix = "x.float()" if weight.dtype == torch.float32 else f"x.to({weight.dtype})"
    raise TypeError(f"{name}'s weights are {weight.dtype} but the images are {x.dtype}: convert with {fix} "
                    f"(or the model with model.to({x.dtype}) if you meant {x.dtype}).")


def check_size(module: nn.Module, x: torch.Tensor, size: int) -> None:
    """Raise a clear error unless the images in `x` are exactly `size` x `size` (for nets with a fixed flatten size)."""
    if tuple(x.shape[-2:]) != (size, size):
        name = type(module).__name__
        raise ValueError(
            f"{name} was built for {size}x{size} images (its first linear layer expects that flattened size), "
            f"got {tuple(x.shape[-2:])}. Pad 28x28 digits to 32x32 with make_loaders(..., pad=2), resize with "
            f"make_loaders(..., resize=224), or build the other configuration (models.build(key, native=...))."
        )


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
