"""Measuring training speed: one network trained by the classic loop (`classic`) and by `fit`, from the same initial
weights on the same images and device, with warm-up, first-epoch and steady timings, CPU time, accuracy, time to an
accuracy, and the achieved FLOP rate against the device's peak. Notebook 07 and the benchmark CLI
(`python -m course_utils.tools.bench`, `python3 course.py bench`) both use `compare_loops`.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset

from .classic import CLASSIC_BATCH, classic_fit, classic_warmup
from .data import DatasetSplit, DeviceLoader, classic_loaders, make_loaders, random_subset
from .history import History
from .measure import device_peak, training_flops_per_image
from .models import REGISTRY
from .runtime import get_device, seed_everything, sync
from .tables import format_table
from .train import fit


class CpuTimed:
    """Wraps a loader and records the process CPU seconds of each complete pass over it: for a training loop, the CPU
    time of an epoch's steps. On a shared machine it stays close to what the epoch would take alone (wall-clock time
    also counts the time other processes hold the cores)."""

    def __init__(self, loader: DeviceLoader) -> None:
        self.loader = loader
        self.seconds: list[float] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> object:
        return getattr(self.loader, name)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start = time.process_time()
        yield from self.loader
        self.seconds.append(time.process_time() - start)


def course_warmup(model: nn.Module, train: DeviceLoader, device: torch.device, steps: int, **fit_options: Any) -> float:
    """Seconds of `steps` untimed `fit` steps on a throwaway copy of `model` (with `compile=True`, this compiles)."""
    if steps <= 0:
        return 0.0
    scratch = copy.deepcopy(model)
    sync(device)
    start = time.perf_counter()
    fit(scratch, train, None, **{**fit_options, "epochs": 1, "max_steps": steps, "device": device, "progress": False})
    sync(device)
    return time.perf_counter() - start


@dataclass
class Row:
    """One loop's measurements for one model."""

    key: str  # the model's registry key
    model: str  # its title
    loop: str  # "classic" or "course"
    batch_size: int
    epochs: int
    train_images: int
    warmup_s: float
    epoch_s: list[float]
    cpu_s: list[float]  # process CPU seconds of each training epoch (all threads together)
    eval_s: float  # mean evaluation seconds per epoch
    test_acc: float
    time_to_acc: float | None
    flops_per_image: int  # forward + backward FLOPs of one training image
    peak_tflops: float | None
    fit_options: dict[str, Any] = field(default_factory=dict)  # fit options that differ from the defaults
    lr: float | None = None  # the learning rate the loop trained with
    speedup: float = 1.0
    history: History | None = field(default=None, repr=False)

    @property
    def loop_label(self) -> str:
        """The loop as a table shows it: 'classic', 'course', or 'course' followed by the options it changed."""
        return " ".join([self.loop, *(f"{k}={v}" for k, v in self.fit_options.items())])

    @property
    def first_s(self) -> float:
        """Seconds of the first timed epoch."""
        return self.epoch_s[0]

    @property
    def steady_s(self) -> float:
        """Mean seconds of epochs 2..N; with a single epoch, that epoch (measured after the warm-up steps)."""
        rest = self.epoch_s[1:] or self.epoch_s
        return sum(rest) / len(rest)

    @property
    def steady_cpu_s(self) -> float:
        """Mean process CPU seconds of epochs 2..N (or of the single epoch)."""
        rest = self.cpu_s[1:] or self.cpu_s
        return sum(rest) / len(rest) if rest else float("nan")

    @property
    def images_per_s(self) -> float:
        """Training images per steady second."""
        return self.train_images / self.steady_s

    @property
    def tflops(self) -> float:
        """Achieved TFLOP/s: FLOPs per training image x images per second."""
        return self.flops_per_image * self.images_per_s / 1e12

    @property
    def peak_fraction(self) -> float | None:
        """Achieved TFLOP/s over the device's peak (None where no peak figure is known)."""
        return None if not self.peak_tflops else self.tflops / self.peak_tflops


def compare_loops(
    key: str,
    split: DatasetSplit,
    *,
    epochs: int = 1,
    train_size: int | None = None,
    test_size: int | None = None,
    device: torch.device | str | None = None,
    warmup_steps: int = 5,
    threshold: float = 0.98,
    peak_tflops: float | None = None,
    fit_options: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = print,
) -> tuple[Row, Row]:
    """Train registered network `key` with the classic loop and with `fit` (same initial weights, images, test set,
    device and epochs). `fit` runs with its defaults and the learning rate the registry lists for the network (a zoo
    network's, as in notebook 06); `fit_options` (e.g. `{"amp": True}`) overrides some, and the row records them."""
    entry, options = REGISTRY[key], dict(fit_options or {})
    if entry.lr is not None and options.get("optimizer", "adamw") == "adamw":
        options.setdefault("lr", entry.lr)
    dev = torch.device(device) if device is not None else get_device()
    peak, _ = device_peak(dev, peak_tflops)
    say = log or (lambda _msg: None)
    seed_everything(0)
    initial = entry.build()
    flops = training_flops_per_image(initial, entry.shape())

    # (a) the classic loop, on a test set chosen exactly as make_loaders chooses it (the same images for both loops)
    train_dl, test_dl = classic_loaders(split, batch_size=CLASSIC_BATCH, train_size=train_size, pad=entry.pad)
    if test_size is not None and test_size < len(test_dl.dataset):
        test_dl = DataLoader(Subset(test_dl.dataset, random_subset(len(test_dl.dataset), test_size)), batch_size=1000)
    model = copy.deepcopy(initial)
    warm = classic_warmup(model, train_dl, dev, warmup_steps)
    seed_everything(0)  # same shuffling as without the warm-up
    hist = classic_fit(model, train_dl, test_dl, epochs, dev, on_epoch=_epoch_line(say, entry.title, "classic", epochs))
    classic = Row(key, entry.title, "classic", CLASSIC_BATCH, epochs, len(train_dl.dataset), warm, hist.seconds,
                  hist.settings["cpu_seconds"], sum(hist.settings["eval_seconds"]) / epochs, hist.test_acc[-1],
                  hist.time_to_accuracy(threshold), flops, peak, lr=hist.settings["lr"], history=hist)  # fmt: skip
    say(f"  {entry.title:<28} classic: {classic.steady_s:8.2f} s/epoch, test acc {classic.test_acc:.4f}")
    del model
    _free(dev)

    # (b) the course loop: fit on device-resident data made from the very files the classic loaders read
    loaders = make_loaders(split.name, pad=entry.pad, train_size=train_size, test_size=test_size, device=dev,
                           root=split.root)  # fmt: skip
    model = copy.deepcopy(initial)
    warm = course_warmup(model, loaders.train, dev, warmup_steps, **options)
    sync(dev)
    start = time.perf_counter()
    train = CpuTimed(loaders.train)
    hist = fit(model, train, loaders.test, **{**options, "epochs": epochs, "device": dev, "progress": False,  # type: ignore[arg-type]
                                              "on_epoch": _epoch_line(say, entry.title, "course", epochs)})  # fmt: skip
    sync(dev)
    wall = time.perf_counter() - start
    course = Row(key, entry.title, "course", loaders.train.batch_size, epochs, loaders.train.num_samples, warm,
                 hist.seconds, train.seconds, max(0.0, wall - sum(hist.seconds)) / epochs, hist.test_acc[-1],
                 hist.time_to_accuracy(threshold), flops, peak, fit_options=dict(fit_options or {}),
                 lr=hist.settings["lr"], history=hist)  # fmt: skip
    course.speedup = classic.steady_s / course.steady_s
    say(f"  {entry.title:<28} course:  {course.steady_s:8.2f} s/epoch, test acc {course.test_acc:.4f}"
        f"  -> {course.speedup:.2f}x faster per epoch")  # fmt: skip
    del model, loaders
    _free(dev)
    return classic, course


def _epoch_line(say: Callable[[str], None], title: str, loop: str, epochs: int) -> Callable[[History], None]:
    """A progress line after each epoch: epoch i/n, its training seconds and the test accuracy so far."""

    def line(history: History) -> None:
        acc = f", test acc {history.test_acc[-1]:.4f}" if history.test_acc else ""
        say(f"    {title} {loop}: epoch {history.epochs}/{epochs}, {history.seconds[-1]:.1f} s/epoch{acc}")

    return line


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


HEADERS = (
    "model", "loop", "batch", "warm-up s", "epoch 1 s", "steady s/epoch", "CPU s/epoch", "eval s/epoch", "images/s",
    "test acc", "speed-up", "time to {thr}", "GFLOP/image", "TFLOP/s", "% of peak",
)  # fmt: skip


def headers(threshold: float) -> list[str]:
    """`HEADERS` with the accuracy threshold filled in."""
    return [h.replace("{thr}", f"{100 * threshold:g} %") for h in HEADERS]


def table_rows(rows: Sequence[Row], markdown: bool = True) -> list[list[str]]:
    """The rows of the results table as formatted strings (`markdown=False`: no bold markers, for plain tables)."""
    bold = "**" if markdown else ""
    out = []
    for r in rows:
        out.append([
            r.model, r.loop_label, str(r.batch_size), f"{r.warmup_s:.2f}", f"{r.first_s:.2f}", f"{r.steady_s:.2f}",
            f"{r.steady_cpu_s:.2f}", f"{r.eval_s:.2f}", f"{r.images_per_s:,.0f}", f"{100 * r.test_acc:.2f} %",
            f"{bold}{r.speedup:.2f}×{bold}" if r.loop != "classic" else "1.00×",
            "not reached" if r.time_to_acc is None else f"{r.time_to_acc:.2f} s",
            f"{r.flops_per_image / 1e9:.4f}", f"{r.tflops:.4f}",
            "—" if r.peak_fraction is None else f"{100 * r.peak_fraction:.2f} %",
        ])  # fmt: skip
    return out


def results_table(rows: Sequence[Row], threshold: float, markdown: bool = False) -> str:
    """The speed table of `rows` (plain text, or markdown for RESULTS.md)."""
    return format_table(table_rows(rows, markdown), headers(threshold), right=range(2, len(HEADERS)), markdown=markdown)
