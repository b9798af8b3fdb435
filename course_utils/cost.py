"""What full mode costs: each notebook's planned training work, and an estimate of its time on this device.

Each notebook's full-mode training is declared here as jobs — a network, its forward + backward FLOPs per training
image, images per epoch, epochs and how many such runs — with the numbers its cells use in full mode (a test checks
the FLOP counts against `FlopCounterMode` and the epochs against the notebooks). The estimate divides the planned
FLOPs by the rate a short training step of a convolutional block reaches on this device (`measured_rate`, well under
a second, in the precision and memory layout `fit` uses). It is a lower bound: small networks keep a device busy only
partly, and data handling, evaluation and plotting come on top, so a real run takes longer — on a GPU up to a few
times longer for the small networks of notebooks 01–04.

The rule for Apple GPUs lives in `runtime.is_quick` (with the mode unset, MPS runs full mode only when the whole series,
`runtime.FULL_SERIES_TFLOP` = the sum of these plans, is estimated to fit `LECTURE_SLOT_S`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .precision import default_amp
from .runtime import LECTURE_SLOT_S, get_device, step_rate

__all__ = ["LECTURE_SLOT_S", "PLANS", "Estimate", "Job", "duration", "estimate", "measured_rate", "plan_gflop"]
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000  # the full datasets (Fashion-MNIST has the same sizes)


@dataclass(frozen=True)
class Job:
    """One kind of training run in a notebook's full mode."""

    what: str
    gflop_per_image: float  # forward + backward FLOPs of one training image, in GFLOP (FlopCounterMode)
    images: int  # training images per epoch
    epochs: int  # epochs (an upper bound where early stopping may end sooner)
    runs: int = 1  # how many such runs (networks, learning rates, with/without shortcuts)
    eval_images: int = 0  # images evaluated after each epoch (forward only: about a third of a training image)
    model: str | None = None  # registry key, or "cifar_resnet<depth>[_plain]": the test recounts the FLOPs

    @property
    def gflop(self) -> float:
        """All FLOPs of the job in GFLOP: training plus the evaluations after each epoch."""
        return self.runs * self.epochs * (self.images + self.eval_images / 3) * self.gflop_per_image


_T, _E = MNIST_TRAIN, MNIST_TEST
_TRAIN80, _VAL20 = int(0.8 * _T), _T - int(0.8 * _T)  # make_loaders(val_fraction=0.2)

# Full mode of each notebook, as its cells set it (the `... if QUICK else ...` constants).
PLANS: dict[str, tuple[Job, ...]] = {
    "01": (Job("SmallCNN", 0.00163, _T, 8, eval_images=_E, model="small_cnn"),),
    "02": (),  # no training: timing loops of single layers only
    "03": (
        Job("SmallCNN, learning-rate sweep", 0.00163, _TRAIN80, 10, runs=3, eval_images=_VAL20, model="small_cnn"),
        Job("InceptionNet, learning-rate sweep", 0.0358, _TRAIN80, 10, runs=3, eval_images=_VAL20, model="inception"),
        Job("SmallCNN", 0.00163, _T, 10, eval_images=_E, model="small_cnn"),
        Job("InceptionNet", 0.0358, _T, 10, eval_images=_E, model="inception"),
    ),
    "04": (
        Job("SimpleResNet with and without skips", 0.0116, _T, 10, runs=2, eval_images=_E, model="simple_resnet"),
        Job("41-layer conv stacks, 500 Adam steps of 64", 0.027, 500 * 64, 1, runs=3),  # 40 convs 16x16x3x3 at 7x7
    ),
    "05": (
        Job("ResNet18 with shortcuts", 0.211, _T, 8, eval_images=_E, model="resnet18"),
        Job("ResNet18 without shortcuts", 0.209, _T, 8, eval_images=_E, model="resnet18_plain"),
        *(Job(f"CifarResNet-{d} plain and residual (Fashion-MNIST)", g, _T, 3, runs=2, model=f"cifar_resnet{d}")
          for d, g in ((8, 0.0558), (20, 0.186), (56, 0.576), (110, 1.16))),
    ),  # fmt: skip
    "06": tuple(
        Job(title, g, _TRAIN80, 30, eval_images=_VAL20 + _E, model=key)  # up to 30 epochs: early stopping may end sooner
        for key, title, g in (("lenet5", "LeNet-5", 0.00226), ("alexnet", "AlexNet", 0.467), ("vgg11", "VGG11", 1.02),
                              ("vgg19", "VGG19", 2.49), ("googlenet", "GoogLeNet", 0.182),
                              ("resnet18_d2l", "ResNet18 (d2l)", 0.211), ("mobilenet", "MobileNet v1", 0.242))
    ),  # fmt: skip
    "07": tuple(
        Job(f"{title}, classic loop and course loop", g, _T, 2, runs=2, eval_images=_E, model=key)
        for key, title, g in (("small_cnn", "SmallCNN", 0.00163), ("inception", "InceptionNet", 0.0358),
                              ("simple_resnet", "SimpleResNet", 0.0116), ("resnet18", "ResNet18", 0.211))
    ),  # fmt: skip
}


def notebook_key(name: str) -> str | None:
    """'05' for '05_resnet18_shortcuts.ipynb' or a path to it; None for a name that is not a course notebook."""
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    return stem[:2] if stem[:2] in PLANS else None


def measured_rate(device: torch.device | str | None = None, budget_s: float = 0.2) -> float:
    """FLOP/s a short training step of a conv block reaches on `device` in `fit`'s precision (`runtime.step_rate`)."""
    dev = torch.device(device) if device is not None else get_device()
    probe = nn.Conv2d(1, 1, 1)  # a model without grouped convolutions: default_amp's plain answer for `dev`
    return step_rate(dev, amp=default_amp(dev, probe), budget_s=budget_s)


@dataclass(frozen=True)
class Estimate:
    """A full-mode time estimate: planned GFLOP, the measured rate and the seconds it gives."""

    what: str  # "notebook 05" or "the series (7 notebooks)"
    gflop: float
    rate: float  # FLOP/s measured on this device
    device: str

    @property
    def seconds(self) -> float:
        return self.gflop * 1e9 / self.rate

    def text(self) -> str:
        if self.gflop == 0:
            return (f"{self.what}: no training in full mode, only timing loops (larger batch, more rounds and widths than "
                    "quick mode): not estimated, minutes on a CPU")
        rate = f"{self.rate / 1e12:.2f} TFLOP/s" if self.rate >= 1e12 else f"{self.rate / 1e9:.0f} GFLOP/s"
        return (f"{self.what}: at least {duration(self.seconds)} on {self.device} ({self.gflop / 1e3:,.1f} TFLOP of "
                f"training at the {rate} a short step measured here; small networks and data handling add to it)")  # fmt: skip


def duration(seconds: float) -> str:
    """'40 s', '12 min', '3.4 h', '9 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def plan_gflop(notebooks: list[str] | None = None) -> float:
    """The planned full-mode GFLOP of the notebooks named by number ('05'), or of all."""
    keys = notebooks if notebooks is not None else list(PLANS)
    return sum(job.gflop for key in keys for job in PLANS[key])


def estimate(notebook: str | None = None, device: torch.device | str | None = None, rate: float | None = None) -> Estimate:
    """Full-mode time of `notebook` ('05', or a notebook's file name; None: the whole series) on `device`."""
    dev = torch.device(device) if device is not None else get_device()
    key = notebook_key(notebook) if notebook is not None else None
    if notebook is not None and key is None:
        raise ValueError(f"{notebook!r} is not a course notebook: use one of {', '.join(PLANS)}")
    gflop = plan_gflop([key] if key else None)
    what = f"notebook {key}" if key else f"the series ({len(PLANS)} notebooks)"
    return Estimate(what, gflop, rate if rate is not None else measured_rate(dev), dev.type)
