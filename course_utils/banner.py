"""The run-info banner every notebook prints first: what produced its outputs (device, mode, precision, data, versions).

It sits at the top of the package's import graph: it reads the runtime, the data and the precision rules."""

from __future__ import annotations

import platform
from datetime import date

import torch

from .cost import estimate, notebook_key
from .data import load_dataset
from .precision import fit_precision
from .runtime import current_notebook, device_name, get_device, mode_name, mode_reason


def run_info(datasets: tuple[str, ...] = ("mnist",), show: bool = True, notebook: str | None = None) -> dict[str, object]:
    """Print and return what produced a notebook's outputs: device, mode (and why), precision, the estimated full-mode
    time on this device (`cost.estimate`, for `notebook` — by default the one this kernel runs, else the series),
    dataset sizes and library versions."""
    import torchvision

    dev = get_device()
    path = current_notebook()
    key = notebook_key(notebook) if notebook else (notebook_key(path.name) if path else None)
    info: dict[str, object] = {
        "date": date.today().isoformat(),
        "device": device_name(dev),
        "mode": mode_name(dev),
        "mode set by": mode_reason(dev),
        "fit precision": fit_precision(dev) + ("" if "COURSE_BF16" in fit_precision(dev) else "; COURSE_BF16=0/1 overrides"),
        "full mode here": estimate(key, dev).text(),
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
