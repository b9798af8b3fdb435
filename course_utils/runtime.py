"""Where and how the course runs: device choice, quick/full mode, seeding and waiting for a device.

Quick mode (`COURSE_QUICK=1`) uses the bundled mini datasets and few steps so that every notebook runs in well under a
minute on a 2-core laptop; full mode (`COURSE_QUICK=0`) uses the full datasets. Unset, the mode follows the device:
quick on a CPU, full on CUDA; on Apple's MPS full only when the whole series is estimated to fit a lecture slot
(`LECTURE_SLOT_S`, 45 minutes; from a short measured step), else quick — decided once per Python session and printed with the reason.

This module imports nothing from the rest of the package: every other module may import it.
"""

from __future__ import annotations

import functools
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "COURSE_QUICK"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_switch(name: str, advice: str) -> bool | None:
    """An on/off environment variable as read now: True (1/true/yes/on), False (0/false/no/off) or None (unset);
    any other value is a ValueError that names the variable and gives `advice`."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw:
        raise ValueError(f"{name}={raw!r} is not understood: {advice}.")
    return None

# The only module-level state of course_utils: an explicit override of the mode set through `set_quick`.
_quick_override: bool | None = None


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_quick(value: bool | None) -> None:
    """Force quick (`True`) or full (`False`) mode for this Python session; `None` goes back to `COURSE_QUICK`."""
    global _quick_override
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"set_quick expects True, False or None, got {value!r}")
    _quick_override = value


def is_quick(device: torch.device | str | None = None) -> bool:
    """Resolve the mode: `set_quick` override, else `COURSE_QUICK` (1/0), else by device: quick on a CPU, full on
    CUDA, and on MPS full only when the series fits a lecture slot (`_mps_default_quick`)."""
    if _quick_override is not None:
        return _quick_override
    setting = env_switch(QUICK_ENV, f"use {QUICK_ENV}=1 for quick mode, {QUICK_ENV}=0 for full mode, or leave it unset "
                                    "(quick on a CPU, full on a GPU)")  # fmt: skip
    if setting is not None:
        return setting
    dev = torch.device(device) if device is not None else get_device()
    if dev.type == "mps":
        return _mps_default_quick()
    return dev.type == "cpu"


LECTURE_SLOT_S = 45 * 60  # a lecture slot: full mode on an Apple GPU must fit it to be the default there
# Forward + backward FLOPs of the whole series' full-mode training, in TFLOP: `cost.PLANS` declares them per notebook
# and job, and a test checks that this total agrees (this module imports nothing of the package, so it is repeated).
FULL_SERIES_TFLOP = 8751.0


class _StepBlock(torch.nn.Module):
    """The timed step's network: three 3x3 convolutions (the bulk of the course's FLOPs), pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        widths = ((16, 64), (64, 64), (64, 64))
        self.convs = torch.nn.ModuleList([torch.nn.Conv2d(cin, cout, 3, padding=1) for cin, cout in widths])
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.head(x.mean((2, 3)))


def step_flops(batch: int, side: int) -> float:
    """FLOPs of one training step of the timed block (forward + backward, the first layer without its input gradient)."""
    forward = [2 * 9 * cin * 64 * side * side for cin in (16, 64, 64)]
    return batch * (3 * sum(forward) - forward[0])


def step_rate(device: torch.device | str, amp: bool = False, budget_s: float = 0.2) -> float:
    """FLOP/s that a short training step of a conv block reaches on `device` (bf16 autocast when `amp`; channels_last
    on CPU and CUDA, as `fit` does): one warm-up step, then steps for `budget_s` seconds (2 to 20 steps)."""
    dev = torch.device(device)
    batch, side = (16, 16) if dev.type == "cpu" else (256, 16)
    generator = torch.Generator().manual_seed(0)
    model = _StepBlock().to(dev)
    x = torch.randn(batch, 16, side, side, generator=generator).to(dev)
    y = torch.randint(0, 10, (batch,), generator=generator).to(dev)
    if dev.type in ("cpu", "cuda"):
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step() -> None:
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    sync(dev)
    steps, start = 0, time.perf_counter()
    while steps < 2 or (time.perf_counter() - start < budget_s and steps < 20):
        step()
        sync(dev)
        steps += 1
    return steps * step_flops(batch, side) / (time.perf_counter() - start)


@functools.lru_cache(maxsize=1)
def _mps_default_quick() -> bool:
    """The unset mode on Apple's MPS: quick when full mode of the whole series would not fit a lecture slot.

    Measured once per Python session (a short float32 step, as `fit` trains on MPS), so the mode cannot change
    halfway through a notebook."""
    seconds = FULL_SERIES_TFLOP * 1e12 / step_rate(torch.device("mps"))
    quick = seconds > LECTURE_SLOT_S
    if quick:
        print(f"Apple GPU (MPS), {QUICK_ENV} unset: quick mode, since full mode of the seven notebooks would take at "
              f"least {seconds / 60:.0f} min here (more than a {LECTURE_SLOT_S // 60}-minute lecture slot). "
              f"{QUICK_ENV}=0 forces full mode.", flush=True)  # fmt: skip
    return quick


def mode_reason(device: torch.device | str | None = None) -> str:
    """Why the mode is what it is, in words (for the run-info cell)."""
    if _quick_override is not None:
        return "set_quick()"
    raw = os.environ.get(QUICK_ENV, "").strip()
    if raw:
        return f"{QUICK_ENV}={raw}"
    dev = torch.device(device) if device is not None else get_device()
    if dev.type == "mps":
        fits = not _mps_default_quick()
        return (f"{QUICK_ENV} unset; on MPS full mode only when the series fits a 45-minute slot: it "
                + ("does" if fits else f"does not, {QUICK_ENV}=0 forces full mode"))  # fmt: skip
    return f"{QUICK_ENV} unset: quick on a CPU, full on a GPU"


def current_notebook() -> Path | None:
    """The notebook this kernel runs, when Jupyter Server or `course.py run` said so (`JPY_SESSION_NAME`), else None."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    if not session.endswith(".ipynb"):
        return None
    path = Path(session)
    return path if path.is_absolute() else Path.cwd() / path.name


def mode_name(device: torch.device | str | None = None) -> str:
    """'quick' or 'full'."""
    return "quick" if is_quick(device) else "full"


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) so a run can be repeated exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def sync(device: torch.device | str) -> None:
    """Wait until `device` has finished its queued work (CUDA and MPS run asynchronously; a CPU needs no wait).

    Read a clock only after `sync`: otherwise a GPU timing measures the launching of the work, not the work."""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name: the GPU's model, or the CPU with its thread count."""
    dev = torch.device(device) if device is not None else get_device()
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "mps":
        return f"mps (Apple {platform.machine()})"
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {torch.get_num_threads()} threads)"
