"""Optimiser and learning-rate schedule of `fit`: a batch-scaled learning rate, AdamW or SGD, warm-up + cosine."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn


def default_lr(optimizer: str, batch_size: int) -> float:
    """Learning rate scaled to the batch: linear for SGD (0.1 at 256), square-root for AdamW (1e-3 at 64)."""
    if optimizer == "sgd":
        return 0.1 * batch_size / 256
    return 1e-3 * math.sqrt(batch_size / 64)


def make_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW or SGD (Nesterov), fused on CUDA and foreach elsewhere; no weight decay on biases and norm weights."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    speed: dict[str, bool] = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, **speed)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, **speed)
    raise ValueError(f"unknown optimizer {name!r}: use 'adamw' or 'sgd'")


def warmup_cosine(total_steps: int, warmup: float = 0.1) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up over the first `warmup` fraction of steps, then cosine decay to 0."""
    warm = max(1, int(total_steps * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def schedule_factor(schedule: str, total_steps: int, warmup: float = 0.1) -> Callable[[int], float]:
    """The learning-rate factor of `schedule`: 'cosine' (`warmup_cosine`) or 'constant' (always 1)."""
    if schedule == "cosine":
        return warmup_cosine(total_steps, warmup)
    if schedule == "constant":
        return lambda step: 1.0
    raise ValueError(f"unknown schedule {schedule!r}: use 'cosine' or 'constant'")
