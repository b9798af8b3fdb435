"""The run-info banner every notebook prints first: what produced its outputs (device, mode, precision, data, versions).

It sits at the top of the package's import graph: it reads the runtime, the data and the precision rules."""

from __future__ import annotations

import platform
from datetime import date

import torch

from .data import load_dataset
from .precision import fit_precision
from .runtime import device_name, get_device, mode_name


def run_info(datasets: tuple[str, ...] = ("mnist",), show: bool = True) -> dict[str, object]:
    """Print and return what produced a notebook's outputs: device, mode, dataset sizes and library versions."""
    import torchvision

    dev = get_device()
    info: dict[str, object] = {
        "date": date.today().isoformat(),
        "device": device_name(dev),
        "mode": mode_name(dev),
        "fit precision": fit_precision(dev),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    for name in datasets:
        split = load_dataset(name)
        info[f"{name} train/test"] = f"{len(split.train_labels):,} / {len(split.test_labels):,} ({split.source})"
    if show:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return info
