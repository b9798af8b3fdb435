"""The classic training loop of blog posts and course notebooks, kept as the baseline that notebook 07 and the
benchmark compare `fit` against: a `DataLoader` with per-image transforms (`data.classic_loaders`), batch 64,
float32, `SGD(lr=0.01, momentum=0.5)`, `loss.item()` after every step and evaluation through a `DataLoader`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .history import History
from .runtime import get_device, sync

CLASSIC_BATCH, CLASSIC_LR, CLASSIC_MOMENTUM = 64, 0.01, 0.5


def classic_train_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, device: torch.device, max_steps: int | None = None
) -> tuple[float, float, list[float]]:
    """One epoch of the blog loop; returns the mean training loss, the training accuracy and every step's loss.

    `loss.item()` copies each step's loss to the host: on a GPU that waits for the step to finish (a synchronisation)."""
    model.train()
    running, correct, count, step_losses = 0.0, torch.zeros((), dtype=torch.long, device=device), 0, []
    for step, (x, y) in enumerate(loader):
        if max_steps is not None and step >= max_steps:
            break
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        optimizer.step()
        step_losses.append(loss.item())  # the classic per-step synchronisation
        running += step_losses[-1] * y.shape[0]
        correct += (out.detach().argmax(1) == y).sum()
        count += y.shape[0]
    return running / max(count, 1), correct.item() / max(count, 1), step_losses


@torch.no_grad()
def classic_evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Mean loss and accuracy over a `DataLoader`, with `.item()` per batch as in the blog posts."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss_sum += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        count += y.shape[0]
    return loss_sum / count, correct / count


def classic_fit(
    model: nn.Module,
    train: DataLoader,
    test: DataLoader,
    epochs: int,
    device: torch.device | str | None = None,
    lr: float = CLASSIC_LR,
    momentum: float = CLASSIC_MOMENTUM,
    on_epoch: Callable[[History], None] | None = None,
) -> History:
    """The classic loop for `epochs` epochs: fp32, `SGD(lr=0.01, momentum=0.5)`, evaluation after each epoch.

    Returns a `History` like `fit`'s: `seconds` are training seconds per epoch (evaluation excluded, as in `fit`);
    the evaluation seconds are in `history.settings["eval_seconds"]`, the process CPU seconds of each training epoch
    in `history.settings["cpu_seconds"]`. `on_epoch`, as in `fit`, is called after each epoch with the history so far."""
    dev = torch.device(device) if device is not None else get_device()
    model.to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    eval_seconds: list[float] = []
    cpu_seconds: list[float] = []
    history = History(settings={"loop": "classic", "epochs": epochs, "lr": lr, "momentum": momentum,
                                "batch_size": train.batch_size, "eval_seconds": eval_seconds,
                                "cpu_seconds": cpu_seconds})  # fmt: skip
    for _ in range(epochs):
        sync(dev)
        start, cpu_start = time.perf_counter(), time.process_time()
        train_loss, train_acc, step_losses = classic_train_epoch(model, train, optimizer, dev)
        sync(dev)
        history.seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        start = time.perf_counter()
        test_loss, test_acc = classic_evaluate(model, test, dev)
        sync(dev)
        eval_seconds.append(time.perf_counter() - start)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.step_loss += step_losses
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.lr.append(lr)
        if on_epoch is not None:
            on_epoch(history)
    return history


def classic_warmup(model: nn.Module, train: DataLoader, device: torch.device, steps: int) -> float:
    """Seconds of `steps` untimed classic steps on a throwaway copy of `model` (kernels, allocator, caches)."""
    if steps <= 0:
        return 0.0
    scratch = copy.deepcopy(model).to(device)
    sync(device)
    start = time.perf_counter()
    classic_train_epoch(scratch, train, torch.optim.SGD(scratch.parameters(), lr=CLASSIC_LR), device, max_steps=steps)
    sync(device)
    return time.perf_counter() - start
