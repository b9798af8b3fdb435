"""Training speed: the classic blog training loop against `course_utils.fit`, same device, data and epochs.

Run from the repository root (or `python course.py bench ...`, which runs exactly this module):

    python -m benchmarks.train_speed --quick --models small_cnn,inception,simple_resnet --epochs 3 --threshold 0.9
    python -m benchmarks.train_speed --full --dataset fashion-mnist --epochs 5 [--data-root DIR] [--compile]  # GPU

For every model it trains two copies of the same initial weights:

(a) the **classic loop** of the blog posts: a torchvision dataset with per-image `ToTensor`/`Normalize`
    (`course_utils.data.classic_loaders`), `DataLoader(batch_size=64, shuffle=True)`, fp32,
    `SGD(lr=0.01, momentum=0.5)`, `loss.item()` every step, evaluation through a `DataLoader` after each epoch;
(b) the **course loop**: `course_utils.fit` with its defaults on `course_utils.make_loaders` (device-resident data).

It prints, and writes into `benchmarks/RESULTS.md` (one section per device, dataset and mode; a rerun rewrites its
section), a table with the warm-up, first-epoch and steady seconds per epoch, images/s, test accuracy after the same
epochs, the speed-up, the time to reach a test accuracy, and the achieved TFLOP/s (FLOPs of a training step counted
with `FlopCounterMode`) as a fraction of the device's peak. Timing on CUDA synchronises the device before reading the
clock; a few untimed warm-up steps on a throwaway copy of the model come first, and the first timed epoch is reported
apart from the steady epochs.
"""

from __future__ import annotations

import argparse
import ast
import copy
import gc
import inspect
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

import course_utils as cu
from course_utils import models, zoo
from course_utils.data import DatasetSplit, DataUnavailableError, classic_loaders
from course_utils.mode import device_name
from course_utils.train import History

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CLASSIC_BATCH, CLASSIC_LR, CLASSIC_MOMENTUM = 64, 0.01, 0.5
THRESHOLDS = {"mnist": 0.98, "fashion-mnist": 0.90}


# ------------------------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelSpec:
    """A benchmarked network: its display name, a builder, the zero padding its input needs (2: 28 -> 32 px) and,
    for the zoo networks, the AdamW learning rate notebook 06 trains them with (None: `fit`'s default)."""

    title: str
    build: Callable[[], nn.Module]
    pad: int = 0
    lr: float | None = None

    @property
    def input_size(self) -> tuple[int, int, int]:
        side = 28 + 2 * self.pad
        return (1, side, side)


MODELS: dict[str, ModelSpec] = {
    "small_cnn": ModelSpec("SmallCNN", models.SmallCNN),
    "inception": ModelSpec("InceptionNet", models.InceptionNet),
    "simple_resnet": ModelSpec("SimpleResNet", models.SimpleResNet),
    "resnet18": ModelSpec("ResNet18", models.ResNet18, pad=2),
    "resnet18_plain": ModelSpec("ResNet18 (no shortcuts)", partial(models.ResNet18, use_residual=False), pad=2),
}
COURSE_MODELS = tuple(MODELS)
DEFAULT_MODELS = COURSE_MODELS
# The zoo of notebook 06 in its native (32x32) configuration; its ResNet18 (biased convs) is "resnet18_biased".
ZOO_NAMES: dict[str, str] = {("resnet18_biased" if key == "resnet18" else key): key for key in zoo.ZOO}
for _name, _key in ZOO_NAMES.items():
    _entry = zoo.ZOO[_key]
    MODELS[_name] = ModelSpec(f"{_entry.title} (zoo, {_entry.native_size} px)", partial(_entry.build, True), _entry.pad,
                              _entry.lr)  # fmt: skip


def resolve_models(text: str) -> list[str]:
    """Model names from a comma-separated list; `course`, `zoo` and `all` name groups, `zoo:KEY` a zoo model."""
    names: list[str] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        if raw == "course":
            group = list(COURSE_MODELS)
        elif raw == "zoo":
            group = list(ZOO_NAMES)
        elif raw == "all":
            group = list(MODELS)
        elif raw.startswith("zoo:") and raw[4:] in zoo.ZOO:
            group = [next(n for n, k in ZOO_NAMES.items() if k == raw[4:])]
        elif raw in MODELS:
            group = [raw]
        else:
            raise ValueError(f"unknown model {raw!r}: choose from {', '.join(MODELS)} (or the groups course, zoo, all)")
        names += [n for n in group if n not in names]
    if not names:
        raise ValueError("no model given: pass e.g. --models small_cnn,inception")
    return names


# ------------------------------------------------------------------------------------------- the classic loop
def sync(device: torch.device) -> None:
    """Wait for the GPU's queued work, so the clock measures work done and not work launched (no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
) -> History:
    """The classic loop for `epochs` epochs: fp32, `SGD(lr=0.01, momentum=0.5)`, evaluation after each epoch.

    Returns a `History` like `fit`'s: `seconds` are training seconds per epoch (evaluation excluded, as in `fit`);
    the evaluation seconds are in `history.settings["eval_seconds"]`, the process CPU seconds of each training epoch
    in `history.settings["cpu_seconds"]`."""
    dev = torch.device(device) if device is not None else cu.get_device()
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
    return history


class CpuTimed:
    """Wraps a loader and records the process CPU seconds of each complete pass over it: for a training loop, the CPU
    time of an epoch's steps. On a shared machine it stays close to what the epoch would take alone (wall-clock time
    also counts the time other processes hold the cores)."""

    def __init__(self, loader: cu.DeviceLoader) -> None:
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


def course_warmup(
    model: nn.Module, train: cu.DeviceLoader, device: torch.device, steps: int, compile: bool, **fit_options: object
) -> float:
    """Seconds of `steps` untimed `fit` steps on a throwaway copy of `model` (with `compile`, this compiles)."""
    if steps <= 0:
        return 0.0
    scratch = copy.deepcopy(model)
    sync(device)
    start = time.perf_counter()
    cu.fit(scratch, train, None, epochs=1, max_steps=steps, compile=compile, device=device, progress=False, **fit_options)
    sync(device)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------------- results
@dataclass
class Row:
    """One loop's measurements for one model."""

    model: str
    loop: str  # "classic", or "course" followed by any fit options that differ from the defaults
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
    speedup: float = 1.0
    history: History | None = field(default=None, repr=False)

    @property
    def first_s(self) -> float:
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
        return self.train_images / self.steady_s

    @property
    def tflops(self) -> float:
        return self.flops_per_image * self.images_per_s / 1e12

    @property
    def peak_fraction(self) -> float | None:
        return None if not self.peak_tflops else self.tflops / self.peak_tflops


# (substring of torch.cuda.get_device_name, dense bf16 tensor-core TFLOP/s from the vendor's datasheet, label);
# the first match wins, so the more specific names come first.
BF16_DENSE_PEAKS: tuple[tuple[str, float, str], ...] = (
    ("H100 PCIe", 756.0, "H100 PCIe bf16 dense 756 TFLOP/s"),
    ("H100 NVL", 835.0, "H100 NVL bf16 dense 835 TFLOP/s"),
    ("H100", 989.0, "H100 SXM bf16 dense 989 TFLOP/s"),
    ("H200", 989.0, "H200 bf16 dense 989 TFLOP/s"),
    ("A100", 312.0, "A100 bf16 dense 312 TFLOP/s"),
    ("L40S", 362.0, "L40S bf16 dense 362 TFLOP/s"),
    ("L4", 121.0, "L4 bf16 dense 121 TFLOP/s"),
    ("A10", 125.0, "A10 bf16 dense 125 TFLOP/s"),
    ("RTX 4090", 165.0, "RTX 4090 bf16 dense 165 TFLOP/s"),
)


def device_peak(device: torch.device, override: float | None = None) -> tuple[float | None, str]:
    """The peak TFLOP/s used for '% of peak' and a sentence saying which figure it is (or why there is none)."""
    if override:
        return override, f"{override:g} TFLOP/s, given with --peak-tflops"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak, label in BF16_DENSE_PEAKS:
            if key in name:
                return peak, f"{label} (vendor datasheet, dense, no sparsity), used for both loops"
        return None, f"no peak figure known for {name}: pass --peak-tflops (the datasheet's dense bf16 figure)"
    return None, f"no peak figure is used on {device.type.upper()} (none is published for this processor); '% of peak' is left empty"


def flops_per_image(spec: ModelSpec, model: nn.Module) -> int:
    """Forward + backward FLOPs of one training image, counted by `FlopCounterMode` on a CPU copy (batch of 2,
    since BatchNorm cannot train on a single 1x1 feature map)."""
    scratch = copy.deepcopy(model).cpu()
    return cu.count_flops(scratch, spec.input_size, batch_size=2, backward=True) // 2


def benchmark_model(
    name: str,
    split: DatasetSplit,
    *,
    epochs: int = 1,
    train_size: int | None = None,
    test_size: int | None = None,
    device: torch.device | str | None = None,
    compile: bool = False,
    warmup_steps: int = 5,
    threshold: float = 0.98,
    peak_tflops: float | None = None,
    fit_options: dict[str, object] | None = None,
    log: Callable[[str], None] | None = print,
) -> tuple[Row, Row]:
    """Train `name` with the classic loop and with `fit` (same initial weights, data, device and epochs).

    `fit` runs with its defaults (a zoo network with the learning rate the zoo lists for it, as in notebook 06);
    `fit_options` (e.g. `{"amp": True}`) overrides some, and the row says so."""
    fit_options = dict(fit_options or {})
    spec = MODELS[name]
    model_options = {"lr": spec.lr} if spec.lr is not None and fit_options.get("optimizer", "adamw") == "adamw" else {}
    dev = torch.device(device) if device is not None else cu.get_device()
    peak, _ = device_peak(dev, peak_tflops)
    say = log or (lambda _msg: None)
    cu.seed_everything(0)
    initial = spec.build()
    flops = flops_per_image(spec, initial)

    # (a) the classic loop
    train_dl, test_dl = classic_loaders(split, batch_size=CLASSIC_BATCH, train_size=train_size, pad=spec.pad)
    if test_size is not None:
        test_dl = DataLoader(Subset(test_dl.dataset, range(min(test_size, len(test_dl.dataset)))), batch_size=1000)
    benchmark_flag = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False  # PyTorch's default; fit switches it on for itself
    model = copy.deepcopy(initial)
    warm = classic_warmup(model, train_dl, dev, warmup_steps)
    cu.seed_everything(0)  # same shuffling as without the warm-up
    hist = classic_fit(model, train_dl, test_dl, epochs, dev)
    torch.backends.cudnn.benchmark = benchmark_flag
    n_train = len(train_dl.dataset)
    classic = Row(spec.title, "classic", CLASSIC_BATCH, epochs, n_train, warm, hist.seconds, hist.settings["cpu_seconds"],
                  sum(hist.settings["eval_seconds"]) / epochs, hist.test_acc[-1], hist.time_to_accuracy(threshold),
                  flops, peak, history=hist)  # fmt: skip
    say(f"  {spec.title:<28} classic: {classic.steady_s:8.2f} s/epoch, test acc {classic.test_acc:.4f}")
    del model
    _free(dev)

    # (b) the course loop: fit with its defaults on device-resident data
    loaders = cu.make_loaders(split.name, pad=spec.pad, train_size=train_size, test_size=test_size, device=dev,
                              root=split.root)  # the very files the classic loaders read  # fmt: skip
    model = copy.deepcopy(initial)
    warm = course_warmup(model, loaders.train, dev, warmup_steps, compile, **{**model_options, **fit_options})
    sync(dev)
    start = time.perf_counter()
    train = CpuTimed(loaders.train)
    hist = cu.fit(model, train, loaders.test, epochs=epochs, compile=compile, device=dev, progress=False,  # type: ignore[arg-type]
                  **{**model_options, **fit_options})  # fmt: skip
    sync(dev)
    wall = time.perf_counter() - start
    loop = " ".join(["course", *(f"{k}={v}" for k, v in fit_options.items())] + (["compile"] if compile else []))
    course = Row(spec.title, loop, loaders.train.batch_size, epochs,
                 loaders.train.num_samples, warm, hist.seconds, train.seconds, max(0.0, wall - sum(hist.seconds)) / epochs,
                 hist.test_acc[-1], hist.time_to_accuracy(threshold), flops, peak, history=hist)  # fmt: skip
    course.speedup = classic.steady_s / course.steady_s
    say(f"  {spec.title:<28} course:  {course.steady_s:8.2f} s/epoch, test acc {course.test_acc:.4f}"
        f"  -> {course.speedup:.2f}x faster per epoch")  # fmt: skip
    del model, loaders
    _free(dev)
    return classic, course


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


HEADERS = (
    "model", "loop", "batch", "warm-up s", "epoch 1 s", "steady s/epoch", "CPU s/epoch", "eval s/epoch", "images/s",
    "test acc",
    "speed-up", "time to {thr}", "GFLOP/image", "TFLOP/s", "% of peak",
)  # fmt: skip


def table_rows(rows: Sequence[Row], markdown: bool = True) -> list[list[str]]:
    """The rows of the results table as formatted strings (`markdown=False`: no bold markers, for plain tables)."""
    bold = "**" if markdown else ""
    out = []
    for r in rows:
        out.append([
            r.model, r.loop, str(r.batch_size), f"{r.warmup_s:.2f}", f"{r.first_s:.2f}", f"{r.steady_s:.2f}",
            f"{r.steady_cpu_s:.2f}", f"{r.eval_s:.2f}", f"{r.images_per_s:,.0f}", f"{100 * r.test_acc:.2f} %",
            f"{bold}{r.speedup:.2f}×{bold}" if r.loop != "classic" else "1.00×",
            "not reached" if r.time_to_acc is None else f"{r.time_to_acc:.2f} s",
            f"{r.flops_per_image / 1e9:.4f}", f"{r.tflops:.4f}",
            "—" if r.peak_fraction is None else f"{100 * r.peak_fraction:.2f} %",
        ])  # fmt: skip
    return out


def markdown_table(rows: Sequence[Row], threshold: float) -> str:
    """A GitHub-flavoured markdown table with every column of `HEADERS`."""
    headers = [h.replace("{thr}", f"{100 * threshold:g} %") for h in HEADERS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    return "\n".join(lines)


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict[str, str]:
    """Device, versions and (on a CPU) the load average: what a reader needs to trust or reproduce a table."""
    import torchvision

    env = {"device": device_name(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["device"] += f", {props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs"
        env["versions"] = (f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
                           f"driver-visible capability {props.major}.{props.minor}")  # fmt: skip
    else:
        env["device"] += f"; {cpu_model()}; {os.cpu_count()} logical cores"
    env["versions"] = ", ".join(
        x for x in (f"Python {platform.python_version()}", f"torch {torch.__version__}",
                    f"torchvision {torchvision.__version__}", f"course_utils {cu.__version__}", env.get("versions")) if x
    )  # fmt: skip
    return env


def load_text() -> str:
    """'load average a, b, c on N cores' (Linux/macOS), or '' where the OS does not report it."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return ""
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


# ------------------------------------------------------------------------------------------- RESULTS.md file
PREAMBLE = """# Training speed: the classic loop vs the course loop

Produced by [`train_speed.py`](train_speed.py) (`python -m benchmarks.train_speed --help`; `python course.py bench`
runs the same module). Each model starts from the same initial weights and trains on the same device, the same
images and for the same number of epochs, once per loop:

- **classic**: torchvision dataset with per-image `ToTensor`/`Normalize`, `DataLoader(batch_size=64, shuffle=True)`,
  fp32, `SGD(lr=0.01, momentum=0.5)`, `loss.item()` every step, evaluation through a `DataLoader` after each epoch;
- **course**: `course_utils.fit` with its defaults on `course_utils.make_loaders` (device-resident data, batch 128 on
  a CPU / 512 on a GPU, AdamW with a batch-scaled learning rate, warm-up + cosine decay, channels_last on
  CPU and CUDA, bf16 autocast where the device computes bf16 natively — CUDA GPUs from Ampere on, CPUs with
  AVX-512 BF16 or AMX —; on CUDA also cudnn.benchmark and a fused optimiser; one host synchronisation per epoch).
  The zoo networks (`--models zoo`) train with the AdamW learning rate `course_utils.zoo` lists for each, as in
  notebook 06 (VGG without BatchNorm does not train at `fit`'s default).

Columns: **warm-up s** — a few untimed steps on a throwaway copy of the model before timing (this is where
`--compile` compiles); **epoch 1 s** — the first timed epoch; **steady s/epoch** — mean of epochs 2..N (with one
epoch: that epoch); **CPU s/epoch** — process CPU seconds of a steady training epoch, all threads together (on a
shared machine closer to the unshared time than the wall clock; on a GPU, the host's share); **eval s/epoch** — the
test-set evaluation after each epoch, not included in the training seconds; **images/s** — training images per steady second; **speed-up** — classic steady s/epoch ÷ course steady s/epoch;
**time to X %** — training seconds until the test accuracy first reaches X % (checked after each epoch,
`History.time_to_accuracy`); **GFLOP/image** — forward + backward FLOPs of one training image counted with
`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products); **TFLOP/s** — GFLOP/image × images/s;
**% of peak** — TFLOP/s ÷ the peak figure named under the table. CUDA timings synchronise the device before reading
the clock.

Each section below belongs to one device (GPU or CPU model), dataset, mode and set of `fit` overrides; a new run
with the same rewrites it. GPU sections come first.
"""

PENDING_GPU = "gpu-pending"
_SECTION = re.compile(r"<!-- section: (?P<key>.+?) -->\n.*?<!-- /section: (?P=key) -->\n?", re.S)


def write_section(path: Path, key: str, body: str) -> None:
    """Put `body` into `path` as the section `key`: replace that section if present, else append it.

    A GPU section also removes the 'GPU pending' placeholder."""
    text = path.read_text() if path.exists() else PREAMBLE
    first = text.find("<!-- section: ")
    text = PREAMBLE + "\n" + text[first:] if first >= 0 else PREAMBLE  # keep the preamble current
    block = f"<!-- section: {key} -->\n{body.rstrip()}\n<!-- /section: {key} -->\n"
    sections = {m["key"]: m for m in _SECTION.finditer(text)}
    if key in sections:
        m = sections[key]
        text = text[: m.start()] + block + text[m.end() :]
    else:
        first_cpu = next((m for k, m in sections.items() if not _is_gpu(k)), None)
        if _is_gpu(key) and first_cpu is not None:  # GPU sections go before the CPU ones
            text = text[: first_cpu.start()] + block + "\n" + text[first_cpu.start() :]
        else:
            text = text.rstrip() + "\n\n" + block
    if key.startswith("cuda") and PENDING_GPU in sections:
        text = _SECTION.sub(lambda m: "" if m["key"] == PENDING_GPU else m.group(0), text)
        text = re.sub(r"\n{3,}", "\n\n", text)
    path.write_text(text)


def _is_gpu(key: str) -> bool:
    return key == PENDING_GPU or key.startswith(("cuda", "mps"))


def device_key(device: torch.device) -> str:
    """What identifies a device's section: the GPU's name or the CPU's model (not the thread count)."""
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu {cpu_model()}"
    return device.type


def section_body(rows: Sequence[Row], info: dict[str, str], *, dataset: str, command: str, threshold: float,
                 peak_text: str, load_before: str, load_after: str, compile: bool) -> str:  # fmt: skip
    """The markdown of one results section: heading, command, environment, table and per-model speed-ups."""
    human = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[dataset]
    first = rows[0]
    course = next(r for r in rows if r.loop != "classic")
    settings = course.history.settings if course.history else {}
    lines = [
        f"## {info['device']} · {human} ({info['mode']} mode)"
        + (f" · fit with {course.loop[7:]}" if course.loop != "course" else "") + f" · {info['date']}",
        "",
        f"- Command: `{command}`",
        f"- Device: {info['device']}",
        f"- Versions: {info['versions']}",
        f"- Data: {info['data']}; {first.train_images:,} training images, {info['test_images']} test images, "
        f"{first.epochs} epoch(s); input 28×28 (32×32 = padded by 2 for the 32-px models, in both loops)",
        f"- Course loop: `fit` {'defaults' if course.loop == 'course' else 'with ' + course.loop[7:]} — "
        f"{settings.get('optimizer')}, batch {course.batch_size}, "
        f"lr {settings.get('lr', 0):.3g}, warm-up + cosine, bf16 autocast={settings.get('amp')}, "
        f"channels_last={settings.get('channels_last')}"
        + (", `torch.compile` on (compile time is in the warm-up column)" if compile else "")
        + zoo_lr_note(rows),
        f"- Peak: {peak_text}",
    ]
    if load_before:
        lines.append(f"- Load average before / after the run: {load_before} → {load_after}"
                     + (" — other processes shared the CPU, so wall-clock times are inflated and noisy (both loops "
                        "ran under the same contention, one after the other); the CPU s/epoch column, this process's "
                        "own CPU time, is the steadier comparison" if _busy(load_before, load_after) else ""))  # fmt: skip
    lines += ["", markdown_table(rows, threshold), ""]
    for classic, course in zip(rows[0::2], rows[1::2]):
        cpu_ratio = classic.steady_cpu_s / course.steady_cpu_s if course.steady_cpu_s > 0 else float("nan")
        lines.append(f"- {classic.model}: course loop **{course.speedup:.2f}×** faster per epoch "
                     f"({classic.steady_s:.2f} s → {course.steady_s:.2f} s; by CPU time {cpu_ratio:.2f}×), test accuracy "
                     f"{100 * classic.test_acc:.2f} % (classic) vs {100 * course.test_acc:.2f} % (course) after "
                     f"{course.epochs} epoch(s)")  # fmt: skip
    return "\n".join(lines) + "\n"


def zoo_lr_note(rows: Sequence[Row]) -> str:
    """'; zoo networks: ...' naming the learning rates the zoo networks trained with, when the table has any."""
    used = [f"{r.model.split(' (')[0]} {r.history.settings['lr']:.0e}" for r in rows
            if r.loop != "classic" and r.history is not None and "(zoo" in r.model]  # fmt: skip
    if not used:
        return ""
    return ("; the zoo networks train with the AdamW learning rate `course_utils.zoo` lists for each, as in notebook "
            "06 (lr " + ", ".join(used) + ")")


def _busy(before: str, after: str) -> bool:
    cores = os.cpu_count() or 1
    try:
        return max(float(before.split()[0]), float(after.split()[0])) > 1.25 * cores
    except (ValueError, IndexError):
        return False


# ------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_speed", description=__doc__.split("\n\n")[0],
                                epilog="examples:\n" + __doc__.split("\n\n")[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated: {', '.join(MODELS)}; or the groups course, zoo, all (default: %(default)s)")
    p.add_argument("--dataset", choices=sorted(THRESHOLDS), default="mnist")
    p.add_argument("--epochs", type=int, default=None, help="epochs for both loops (default: 1 quick, 5 full)")
    p.add_argument("--train-size", type=int, default=None, help="use the first N training images (default: all)")
    p.add_argument("--test-size", type=int, default=None, help="use the first N test images (default: all)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=None, help="bundled mini dataset")
    mode.add_argument("--full", dest="quick", action="store_false", help="full dataset")
    p.add_argument("--compile", action="store_true", help="fit(..., compile=True) for the course loop")
    p.add_argument("--fit", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of fit's defaults, e.g. --fit amp=True --fit channels_last=True (repeatable)")
    p.add_argument("--threshold", type=float, default=None, help="test accuracy for time-to-accuracy (0.98 MNIST, 0.90 Fashion-MNIST)")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps before timing (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice, one per core)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--data-root", default=None, help="folder with the dataset's *-ubyte(.gz) files (full mode)")
    p.add_argument("--peak-tflops", type=float, default=None, help="override the device's peak TFLOP/s")
    p.add_argument("--out", default=str(RESULTS), help="markdown file to update (default: benchmarks/RESULTS.md); '-' for none")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def parse_fit_options(items: Sequence[str]) -> dict[str, object]:
    """`["amp=True", "lr=0.01"]` -> `{"amp": True, "lr": 0.01}` (values read as Python literals, else strings)."""
    known = inspect.signature(cu.fit).parameters
    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known or key in ("model", "train", "test", "epochs", "compile", "device", "progress"):
            raise ValueError(f"--fit {item!r}: use KEY=VALUE with KEY one of fit's options "
                             f"(amp, channels_last, lr, optimizer, warmup, schedule, ...)")  # fmt: skip
        try:
            options[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key] = value.strip()
    return options


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    try:
        names = resolve_models(args.models)
        fit_options = parse_fit_options(args.fit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.quick is not None:
        cu.set_quick(args.quick)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device) if args.device else cu.get_device()
    quick = cu.is_quick(dev)
    epochs = args.epochs or (1 if quick else 5)
    threshold = args.threshold if args.threshold is not None else THRESHOLDS[args.dataset]
    prefix = f"COURSE_QUICK={os.environ['COURSE_QUICK']} " if os.environ.get("COURSE_QUICK") else ""
    command = prefix + "python -m benchmarks.train_speed" + ("" if not raw else " " + shlex.join(raw))
    try:
        split = cu.load_dataset(args.dataset, quick=quick, root=args.data_root)
    except DataUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    peak, peak_text = device_peak(dev, args.peak_tflops)
    load_before = load_text() if dev.type == "cpu" else ""
    print(f"$ {command}")
    print(f"device {device_name(dev)}, {cu.mode_name(dev)} mode, {args.dataset} ({split.source}), {epochs} epoch(s), "
          f"models: {', '.join(names)}", flush=True)  # fmt: skip
    rows: list[Row] = []
    for name in names:
        rows += benchmark_model(name, split, epochs=epochs, train_size=args.train_size, test_size=args.test_size,
                                device=dev, compile=args.compile, warmup_steps=args.warmup_steps, threshold=threshold,
                                peak_tflops=peak, fit_options=fit_options, log=lambda m: print(m, flush=True))  # fmt: skip
    info = environment(dev)
    n_test = len(split.test_labels) if args.test_size is None else min(args.test_size, len(split.test_labels))
    info.update(mode=cu.mode_name(dev), date=date.today().isoformat(), data=split.source, test_images=f"{n_test:,}")
    body = section_body(rows, info, dataset=args.dataset, command=command, threshold=threshold, peak_text=peak_text,
                        load_before=load_before, load_after=load_text() if load_before else "", compile=args.compile)  # fmt: skip
    print()
    print(body)
    if args.out != "-":
        options = [f"{k}={v}" for k, v in fit_options.items()] + (["compile"] if args.compile else [])
        key = " · ".join([device_key(dev), args.dataset, info["mode"], *options])
        write_section(Path(args.out), key, body)
        print(f"updated {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
