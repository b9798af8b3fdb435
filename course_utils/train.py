"""`fit` and `evaluate`: a training loop that is fast by default and returns a `History`.

What makes it fast (each one is explained in the notebooks):
device-resident data (`data.DeviceLoader`), large batches with a learning rate scaled to the batch and a warm-up then
cosine decay, bf16 autocast on CUDA and on CPUs with native bf16, channels_last on CUDA and CPU, cudnn.benchmark, a fused/foreach optimiser, and no `.item()` per
step: losses and accuracies are accumulated on the device and copied to the host once per epoch.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .mode import get_device, seed_everything

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class History:
    """Per-epoch train/validation/test loss and accuracy, seconds per epoch and the loss of every step."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    loaded_from_checkpoint: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.seconds)

    def time_to_accuracy(self, threshold: float, on: str = "test") -> float | None:
        """Training seconds until the `on` ('test' or 'val') accuracy first reaches `threshold`, or None."""
        accs = self.test_acc if on == "test" else self.val_acc
        elapsed = 0.0
        for acc, sec in zip(accs, self.seconds):
            elapsed += sec
            if acc >= threshold:
                return elapsed
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (safe for `torch.load(weights_only=True)` and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of `to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no completed epoch)"
        last = f"train loss {self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.4f}"
        if self.test_acc:
            last += f", test acc {self.test_acc[-1]:.4f}"
        return f"History({self.epochs} epochs, {sum(self.seconds):.1f} s; {last})"


def _batch_size(loader: Batches) -> int:
    size = getattr(loader, "batch_size", None)
    if not isinstance(size, int):
        raise TypeError("fit needs a loader with an integer .batch_size (a DataLoader or a DeviceLoader)")
    return size


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` computes bf16 natively: CUDA from Ampere on, CPUs with AVX-512 BF16 or AMX.

    On other CPUs bf16 is emulated and slower than float32; MPS is left at float32."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if dev.type == "cpu":
        checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(check is not None and bool(check()) for check in checks)
    return False


def default_amp(device: torch.device | str, model: nn.Module | None = None) -> bool:
    """`fit`'s default for bf16 autocast: on where the device computes bf16 natively (`native_bf16`).

    On a CPU it stays off for a model with grouped or depthwise convolutions (MobileNet): oneDNN runs those about
    2x slower in bf16 than in float32 (measured on a 2-core AMD EPYC with AVX-512 BF16)."""
    dev = torch.device(device)
    if not native_bf16(dev):
        return False
    if dev.type == "cpu" and model is not None:
        return not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in model.modules())
    return True


def fit_precision(device: torch.device | str) -> str:
    """In words, what `fit` computes in by default on `device` (for run-info cells and tables)."""
    dev = torch.device(device)
    if not native_bf16(dev):
        return "float32 (no native bf16)"
    return "bf16 autocast (native bf16" + ("; float32 for depthwise convs)" if dev.type == "cpu" else ")")


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


def _autocast(device: torch.device, amp: bool) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp)


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
        with _autocast(dev, amp):
            out = model(x)
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        count += y.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader")
    return loss_sum.item() / count, correct.item() / count


def architecture_signature(model: nn.Module) -> list[str]:
    """The class name and every state_dict entry's name and shape: equal signatures mean loadable weights."""
    sig = [type(model).__name__]
    sig += [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]
    return sig


def save_checkpoint(path: str | Path, model: nn.Module, history: History, settings: dict[str, Any]) -> None:
    """Save weights, history and settings atomically: write a temporary file, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "architecture": architecture_signature(model),
        "settings": settings,
        "history": history.to_dict(),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, model: nn.Module) -> tuple[History, dict[str, Any]]:
    """Load a checkpoint written by `save_checkpoint` into `model` (weights only: no pickled code runs)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    want, have = architecture_signature(model), payload["architecture"]
    if want != have:
        diff = next((f"{a} vs {b}" for a, b in zip(want, have) if a != b), f"{len(want)} vs {len(have)} entries")
        raise ValueError(
            f"checkpoint {path} was saved for a different architecture ({have[0]}; first difference: {diff}). "
            "Delete the file or pass another checkpoint path to train this model from scratch."
        )
    model.load_state_dict(payload["state_dict"])
    history = History.from_dict(payload["history"])
    history.loaded_from_checkpoint = True
    return history, payload["settings"]


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=True, mininterval=0.5)


def fit(
    model: nn.Module,
    train: Batches,
    test: Batches | None = None,
    *,
    epochs: int = 3,
    lr: float | None = None,
    optimizer: str = "adamw",
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    warmup: float = 0.1,
    schedule: str = "cosine",
    label_smoothing: float = 0.0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool = False,
    val: Batches | None = None,
    patience: int | None = None,
    restore_best: bool = True,
    max_steps: int | None = None,
    checkpoint: str | Path | None = None,
    seed: int | None = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train `model` on `train` for `epochs` epochs and return its `History`.

    Evaluates on `val` and `test` after each epoch. With `patience`, stops when the validation accuracy has not improved
    for that many epochs and (with `restore_best`) puts back the best weights. With `checkpoint`, loads instead of
    training when a checkpoint of the same architecture and settings exists, and saves one otherwise.
    `seed` seeds every generator and restarts a DeviceLoader's shuffling (seed the model's initialisation yourself
    with `seed_everything` before building it). Ctrl-C stops cleanly: the partial History is returned and the model keeps its current weights.
    `amp` (bf16 autocast) defaults to on where the device computes bf16 natively (CUDA GPUs from Ampere on, CPUs with
    AVX-512 BF16 or AMX; not for depthwise convolutions on a CPU: `default_amp`), `channels_last` to on for CUDA and
    CPU (faster convolutions on both; MPS gains nothing); `max_steps` caps the steps per epoch.
    """
    dev = torch.device(device) if device is not None else get_device()
    amp = default_amp(dev, model) if amp is None else amp
    channels_last = dev.type in ("cuda", "cpu") if channels_last is None else channels_last
    if patience is not None and val is None:
        raise ValueError("early stopping (patience=...) needs a validation loader: pass val=...")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"unknown schedule {schedule!r}: use 'cosine' or 'constant'")
    batch_size = _batch_size(train)
    lr = default_lr(optimizer, batch_size) if lr is None else lr
    steps_per_epoch = len(train)  # type: ignore[arg-type]
    if max_steps is not None:
        steps_per_epoch = min(steps_per_epoch, max_steps)
    settings = {
        "epochs": epochs, "lr": lr, "optimizer": optimizer, "weight_decay": weight_decay, "momentum": momentum,
        "warmup": warmup, "schedule": schedule, "label_smoothing": label_smoothing, "batch_size": batch_size,
        "steps_per_epoch": steps_per_epoch, "seed": seed, "amp": amp, "channels_last": channels_last,
        "patience": patience, "train_samples": int(getattr(train, "num_samples", 0) or 0),
    }  # fmt: skip

    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if checkpoint is not None and Path(checkpoint).is_file():
        history, saved = load_checkpoint(checkpoint, model)
        if saved == settings:
            print(f"Loaded trained weights from {checkpoint} (delete it to train again).")
            return history
        print(f"{checkpoint} was trained with other settings: training again and overwriting it.")

    if seed is not None:
        seed_everything(seed)
        if hasattr(train, "reseed"):
            train.reseed(seed)  # same seed -> same data order
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    opt = make_optimizer(model, optimizer, lr, weight_decay, momentum, dev)
    total = max(1, epochs * steps_per_epoch)
    factor = warmup_cosine(total, warmup) if schedule == "cosine" else (lambda step: 1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    step_fn = torch.compile(model) if compile else model

    history = History(settings=settings)
    best_acc, best_state, since_best = -1.0, None, 0
    bar = _progress(total, progress, desc or type(model).__name__)
    try:
        for epoch in range(epochs):
            model.train()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            count = 0
            step_losses: list[torch.Tensor] = []
            history.lr.append(opt.param_groups[0]["lr"])
            for step, (x, y) in enumerate(train):
                if step >= steps_per_epoch:
                    break
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                if channels_last and x.dim() == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                with _autocast(dev, amp):
                    out = step_fn(x)
                    loss = F.cross_entropy(out.float(), y, label_smoothing=label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss = loss.detach()
                loss_sum += loss * y.shape[0]
                correct += (out.detach().argmax(1) == y).sum()
                count += y.shape[0]
                step_losses.append(loss)
                if bar is not None:
                    bar.update(1)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - start
            if count == 0:
                raise ValueError("the training loader yielded no batch")
            history.step_loss += torch.stack(step_losses).float().cpu().tolist()
            history.train_loss.append(loss_sum.item() / count)
            history.train_acc.append(correct.item() / count)
            history.seconds.append(seconds)
            postfix = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.3f}"}
            if val is not None:
                vl, va = evaluate(model, val, dev, amp, channels_last)
                history.val_loss.append(vl)
                history.val_acc.append(va)
                postfix["val_acc"] = f"{va:.3f}"
            if test is not None:
                tl, ta = evaluate(model, test, dev, amp, channels_last)
                history.test_loss.append(tl)
                history.test_acc.append(ta)
                postfix["test_acc"] = f"{ta:.3f}"
            if bar is not None:
                bar.set_postfix(postfix, refresh=True)
            if val is not None:
                if history.val_acc[-1] > best_acc:
                    best_acc, since_best, history.best_epoch = history.val_acc[-1], 0, epoch
                    if restore_best:
                        best_state = copy.deepcopy(model.state_dict())
                else:
                    since_best += 1
                    if patience is not None and since_best >= patience:
                        history.stopped_early = True
                        break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted: returning the history of {history.epochs} completed epoch(s); the model keeps its weights.")
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None and restore_best and not history.interrupted:
        model.load_state_dict(best_state)
    if checkpoint is not None and not history.interrupted:
        save_checkpoint(checkpoint, model, history, settings)
    return history
