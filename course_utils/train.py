"""`fit` and `evaluate`: a training loop that is fast by default and returns a `History`.

What makes it fast (each one is explained in notebook 07): device-resident data (`data.DeviceLoader`), large batches
with a learning rate scaled to the batch and a warm-up then cosine decay (`optim`), bf16 autocast where the device
computes bf16 natively (`precision`), channels_last on CUDA and CPU, cudnn.benchmark and a fused optimiser on CUDA,
and no `.item()` per step: losses and accuracies are accumulated on the device and copied to the host once per epoch.

Read it top-down: `fit` sets up and runs the epochs; `train_epoch` holds the training step.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load_if_matching, save_checkpoint
from .history import History
from .optim import default_lr, make_optimizer, schedule_factor
from .precision import autocast, default_amp
from .runtime import get_device, seed_everything, sync

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class FitConfig:
    """Every setting of `fit`, one field each; `fit(model, train, epochs=5, lr=1e-3)` sets them by keyword."""

    epochs: int = 3  # passes over the training data
    lr: float | None = None  # peak learning rate; None: scaled to the batch size (optim.default_lr)
    optimizer: str = "adamw"  # "adamw", or "sgd" (with Nesterov momentum)
    weight_decay: float = 5e-4  # decoupled weight decay, not applied to biases and normalisation weights
    momentum: float = 0.9  # SGD's momentum
    warmup: float = 0.1  # fraction of all steps over which the learning rate rises linearly from ~0
    schedule: str = "cosine"  # after the warm-up: "cosine" decay to 0, or "constant"
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    amp: bool | None = None  # bf16 autocast; None: where the device computes bf16 natively (precision.default_amp)
    channels_last: bool | None = None  # NHWC memory layout; None: on for CUDA and CPU (MPS gains nothing)
    compile: bool = False  # torch.compile the model for the training steps
    patience: int | None = None  # stop when validation accuracy has not improved for this many epochs (needs val)
    restore_best: bool = True  # with a validation loader: end with the weights of the best validation epoch
    max_steps: int | None = None  # cap on the steps per epoch (the schedule is planned for the capped epochs)
    checkpoint: str | Path | None = None  # train-or-load: load when a checkpoint of the same run exists, else save one
    seed: int | None = 0  # seeds every generator and restarts a DeviceLoader's shuffling (same seed, same batches)
    device: torch.device | str | None = None  # None: the best available (runtime.get_device)
    progress: bool = True  # a progress bar with the loss and accuracies
    desc: str | None = None  # the progress bar's label; None: the model's class name
    on_epoch: Callable[[History], None] | None = None  # called after each epoch with the history so far (progress lines)

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a whole number >= 1, got {self.epochs!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}: use 'cosine' or 'constant'")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}: use 'adamw' or 'sgd'")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1 (or None for whole epochs), got {self.max_steps!r}")

    @classmethod
    def from_options(cls, config: FitConfig | None, options: dict[str, Any]) -> FitConfig:
        """`config` (or the defaults) with `options` replacing fields; an unknown option names the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"fit got unknown option(s) {', '.join(unknown)}; the options are: {', '.join(sorted(known))}")
        return cls(**{**asdict(config or cls()), **options})


@dataclass
class EpochStats:
    """What one pass over the training data measured."""

    loss: float  # mean training loss of the epoch's steps (weights changing along the way)
    acc: float  # training accuracy of those steps
    seconds: float  # wall-clock seconds, the device synchronised before and after
    step_loss: list[float] = field(default_factory=list)  # the loss of every step


def fit(
    model: nn.Module, train: Batches, test: Batches | None = None, *, val: Batches | None = None,
    config: FitConfig | None = None, **options: Any,
) -> History:  # fmt: skip
    """Train `model` on `train` and return its `History`; `options` are `FitConfig` fields (`epochs=5`, `lr=1e-3`).

    Evaluates on `val` and `test` after each epoch. With `patience`, stops when the validation accuracy has not improved
    for that many epochs. With `checkpoint`, loads instead of training when a checkpoint of the same model and settings
    exists, and saves one otherwise. Seed the model's initialisation yourself (`seed_everything`) before building it.
    Ctrl-C stops cleanly: the partial History is returned and the model keeps its current weights.
    """
    cfg = FitConfig.from_options(config, options)
    dev = torch.device(cfg.device) if cfg.device is not None else get_device()
    if cfg.patience is not None and val is None:
        raise ValueError("early stopping (patience=...) needs a validation loader: pass val=...")
    settings = run_settings(cfg, model, train, dev, val)
    model.to(dev)
    if settings["channels_last"]:
        model.to(memory_format=torch.channels_last)
    if cfg.checkpoint is not None and (loaded := load_if_matching(cfg.checkpoint, model, settings)) is not None:
        return loaded
    if cfg.seed is not None:
        seed_everything(cfg.seed)
        if hasattr(train, "reseed"):
            train.reseed(cfg.seed)  # same seed -> same data order
    opt = make_optimizer(model, cfg.optimizer, settings["lr"], cfg.weight_decay, cfg.momentum, dev)
    total = cfg.epochs * settings["steps_per_epoch"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule_factor(cfg.schedule, total, cfg.warmup))
    step_model = torch.compile(model) if cfg.compile else model
    history, best = History(settings=settings), _BestWeights(cfg.patience, cfg.restore_best)
    with _progress(total, cfg.progress, cfg.desc or type(model).__name__) as bar, _torch_flags(dev):
        try:
            for epoch in range(cfg.epochs):
                history.lr.append(opt.param_groups[0]["lr"])
                stats = train_epoch(step_model, train, opt, sched, dev, amp=settings["amp"], bar=bar,
                                    channels_last=settings["channels_last"], label_smoothing=cfg.label_smoothing,
                                    max_steps=settings["steps_per_epoch"])  # fmt: skip
                history.add_epoch(stats.loss, stats.acc, stats.seconds, stats.step_loss)
                check_loss(stats.loss, epoch, settings)
                for name, loader in (("val", val), ("test", test)):
                    if loader is not None:
                        history.add_eval(name, *evaluate(model, loader, dev, settings["amp"], settings["channels_last"]))
                _show(bar, history)
                if cfg.on_epoch is not None:
                    cfg.on_epoch(history)
                if val is not None and best.update(model, history, epoch):
                    history.stopped_early = True
                    break
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"Interrupted: returning the history of {history.epochs} completed epoch(s); the model keeps its weights.")
    if not history.interrupted:
        best.restore(model)
        if cfg.checkpoint is not None:
            save_checkpoint(cfg.checkpoint, model, history, settings)
    return history


def train_epoch(
    model: nn.Module, batches: Batches, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device, *, amp: bool = False, channels_last: bool = False, label_smoothing: float = 0.0,
    max_steps: int | None = None, bar: Any = None,
) -> EpochStats:  # fmt: skip
    """One pass over `batches`: the training step, repeated. The host waits for the device only at the end."""
    model.train()
    sync(device)
    start = time.perf_counter()
    loss_sum, count, step_losses = torch.zeros((), device=device), 0, []
    correct = torch.zeros((), device=device, dtype=torch.long)
    for step, (x, y) in enumerate(batches):
        if max_steps is not None and step >= max_steps:
            break
        # 1. the batch onto the device, in the memory layout the convolutions prefer
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        # 2. forward pass and loss (bf16 autocast where the device computes bf16 natively; the loss in float32)
        with autocast(device, amp):
            out = model(x)
            loss = F.cross_entropy(out.float(), y, label_smoothing=label_smoothing)
        # 3. backward pass and update
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        # 4. bookkeeping on the device: no .item() here, so the host never waits for the device
        loss_sum += loss.detach() * y.shape[0]
        correct += (out.detach().argmax(1) == y).sum()
        count += y.shape[0]
        step_losses.append(loss.detach())
        if bar is not None:
            bar.update(1)
    sync(device)
    if count == 0:
        raise ValueError("the training loader yielded no batch")
    seconds = time.perf_counter() - start
    losses = torch.stack(step_losses).float().cpu().tolist()  # the epoch's one copy to the host
    return EpochStats(loss_sum.item() / count, correct.item() / count, seconds, losses)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Batches,
    device: torch.device | str | None = None,
    amp: bool | None = None,
    channels_last: bool = False,
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of `model` over `loader` (one host sync at the end)."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    amp = default_amp(dev, model) if amp is None else amp
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    count = 0
    for x, y in loader:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, amp):
            out = model(x)
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        count += y.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader")
    return loss_sum.item() / count, correct.item() / count


def run_settings(
    cfg: FitConfig, model: nn.Module, train: Batches, device: torch.device, val: Batches | None = None
) -> dict[str, Any]:
    """The settings that identify a training run (stored in `History.settings` and in checkpoints), with every
    default resolved: the learning rate, bf16 autocast, memory layout and steps per epoch actually used, and the
    data trained (and validated) on (`data_fingerprint`)."""
    batch_size = getattr(train, "batch_size", None)
    if not isinstance(batch_size, int):
        raise TypeError("fit needs a loader with an integer .batch_size (a DataLoader or a DeviceLoader)")
    steps = len(train)  # type: ignore[arg-type]
    steps = steps if cfg.max_steps is None else min(steps, cfg.max_steps)
    return {
        "epochs": cfg.epochs, "lr": default_lr(cfg.optimizer, batch_size) if cfg.lr is None else cfg.lr,
        "optimizer": cfg.optimizer, "weight_decay": cfg.weight_decay, "momentum": cfg.momentum, "warmup": cfg.warmup,
        "schedule": cfg.schedule, "label_smoothing": cfg.label_smoothing, "batch_size": batch_size,
        "steps_per_epoch": steps, "seed": cfg.seed, "amp": default_amp(device, model) if cfg.amp is None else cfg.amp,
        "channels_last": device.type in ("cuda", "cpu") if cfg.channels_last is None else cfg.channels_last,
        "patience": cfg.patience, "train_samples": int(getattr(train, "num_samples", 0) or 0),
        "data": data_fingerprint(train), "val_data": None if val is None else data_fingerprint(val),
    }  # fmt: skip


def data_fingerprint(loader: Batches) -> dict[str, Any]:
    """What identifies a loader's data for a checkpoint: a DeviceLoader's `fingerprint` (dataset, size, normalisation,
    checksums), else the dataset's class, length and folder (a DataLoader over a torchvision dataset)."""
    fingerprint = getattr(loader, "fingerprint", None)
    if isinstance(fingerprint, dict):
        return fingerprint
    dataset = getattr(loader, "dataset", None)
    base = getattr(dataset, "dataset", dataset)  # through a Subset
    return {"dataset": type(base).__name__ if base is not None else type(loader).__name__,
            "samples": len(dataset) if hasattr(dataset, "__len__") else None,  # type: ignore[arg-type]
            "root": str(getattr(base, "root", "")), "train": getattr(base, "train", None)}  # fmt: skip


DIVERGED_LOSS = 1e4  # a mean cross-entropy this large means the weights have blown up (chance level is ln 10 = 2.3)


def check_loss(loss: float, epoch: int, settings: dict[str, Any]) -> None:
    """Stop training with a clear error when the epoch's mean loss is NaN, infinite or absurdly large (diverged)."""
    if math.isfinite(loss) and loss < DIVERGED_LOSS:
        return
    default = default_lr(settings["optimizer"], settings["batch_size"])
    raise FloatingPointError(
        f"training diverged in epoch {epoch + 1}: the mean training loss is {loss:.3g}. Either the data holds NaN or "
        f"infinite values (check with torch.isfinite(x).all() on a batch), or the learning rate is too high: it was "
        f"{settings['lr']:.3g}, fit's default for {settings['optimizer']} at batch size {settings['batch_size']} is "
        f"{default:.3g} (lr=None uses it). Nothing was saved; the model's weights are unusable: build it again."
    )


class _BestWeights:
    """Early stopping on validation accuracy: remembers the best epoch (and its weights, to restore them)."""

    def __init__(self, patience: int | None, restore_best: bool) -> None:
        self.patience, self.restore_best = patience, restore_best
        self.best_acc, self.since_best, self.state = -1.0, 0, None

    def update(self, model: nn.Module, history: History, epoch: int) -> bool:
        """Record the latest validation accuracy; True when training should stop."""
        if history.val_acc[-1] > self.best_acc:
            self.best_acc, self.since_best, history.best_epoch = history.val_acc[-1], 0, epoch
            if self.restore_best:
                self.state = copy.deepcopy(model.state_dict())
            return False
        self.since_best += 1
        return self.patience is not None and self.since_best >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best epoch's weights back (when restoring was asked for and there was a validation loader)."""
        if self.state is not None:
            model.load_state_dict(self.state)


@contextlib.contextmanager
def _torch_flags(device: torch.device) -> Iterator[None]:
    """cudnn.benchmark on for CUDA training (picks the fastest convolution algorithms), put back as found after."""
    before = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


@contextlib.contextmanager
def _progress(total: int, enabled: bool, desc: str) -> Iterator[Any]:
    """A tqdm progress bar over `total` steps (None when disabled), always closed."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=True, mininterval=0.5)
    try:
        yield bar
    finally:
        bar.close()


def _show(bar: Any, history: History) -> None:
    """The latest epoch's numbers on the progress bar."""
    if bar is None:
        return
    shown = {"loss": history.train_loss, "acc": history.train_acc, "val_acc": history.val_acc, "test_acc": history.test_acc}
    bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in shown.items() if v}, refresh=True)
