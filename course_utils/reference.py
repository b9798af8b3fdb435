"""Reference experiments: multi-seed results, each trained to the end of a stated schedule (not necessarily converged),
that the notebooks load instead of training in quick mode.

One command produces every file, one JSON file per experiment and device kind in `course_utils/reference_results/`:

    python -m course_utils.reference [EXPERIMENT ...] [--device D] [--seeds N] [--smoke] [--data-root DIR] [--out DIR]

Experiments (all by default, in this order):

- `degradation`: plain vs residual `CifarResNet` (BatchNorm, three stages) at several depths on Fashion-MNIST
  (He et al. 2016, Fig. 1 and 6, scaled down); final training error and loss (training set, eval mode), test error,
  and a `conclusion` computed from the numbers.
- `shortcuts`: `ResNet18` with vs without shortcuts, identical initial weights for every shared layer and identical
  batches, on Fashion-MNIST and on the bundled 5,000-image MNIST (inputs padded to 32x32).
- `zoo`: notebook 06's classic networks (native 32 px) on the bundled MNIST: learning rate picked per network from a
  small sweep on a validation split, early stopping, then test accuracy against parameters, MACs and training time.
- `gpu-idle`: notebook 07's question on this device: the classic blog loop against `fit`, per-phase seconds per epoch
  (data, host synchronisation, compute) and achieved TFLOP/s for SmallCNN and ResNet18 on the bundled MNIST.

Every file carries its provenance (command, git commit, device, precision, versions, date, wall and CPU time), the
configuration, the seeds, per-seed curves and a summary (mean, standard deviation, min and max over seeds).
`--smoke` runs everything at a tiny size into a temporary folder (never the committed one), to test the code.

Notebooks use `load_reference`, `provenance_line` and `validate`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .classic import CLASSIC_BATCH, CLASSIC_LR, CLASSIC_MOMENTUM, classic_evaluate
from .data import DatasetSplit, DeviceLoader, classic_loaders, load_dataset, make_loaders
from .history import History
from .measure import count_flops, count_macs, count_params
from .models import REGISTRY, CifarResNet, ResNet18, zoo_entries
from .precision import default_amp, fit_precision
from .runtime import cpu_model, device_name, get_device, seed_everything, sync
from .speed import CpuTimed
from .train import evaluate, fit

EXPERIMENTS = ("degradation", "shortcuts", "zoo", "gpu-idle")
RESULTS_DIR = Path(__file__).resolve().parent / "reference_results"
COMMAND = "python -m course_utils.reference"
SCHEMA = 1
PROVENANCE_KEYS = (
    "command", "git_commit", "git_dirty", "device", "device_kind", "precision", "torch", "torchvision", "python",
    "date", "wall_s", "cpu_s",
)  # fmt: skip
TOP_KEYS = ("experiment", "schema", "provenance", "config", "seeds", "runs", "summary")
Log = Callable[[str], None]


class ReferenceMissingError(FileNotFoundError):
    """No reference result for this experiment and device; the message names the command that produces it."""


# ------------------------------------------------------------------------------------------- public helpers
def device_kind(device: torch.device | str | None = None) -> str:
    """The device part of a result's file name: `cpu`, `mps`, or `cuda-` and the GPU's model (`cuda-h200`)."""
    dev = torch.device(device) if device is not None else get_device()
    if dev.type != "cuda":
        return dev.type
    name = torch.cuda.get_device_name(dev).lower().replace("nvidia", "")
    slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"cuda-{slug}" if slug else "cuda"


def result_path(experiment: str, kind: str, folder: str | Path | None = None) -> Path:
    """Where the result of `experiment` on device kind `kind` lives, e.g. `.../degradation.cpu.json`."""
    _check_experiment(experiment)
    return Path(folder if folder is not None else RESULTS_DIR) / f"{experiment}.{kind}.json"


def load_reference(experiment: str, device: str | None = None, *, folder: str | Path | None = None) -> dict[str, Any]:
    """The reference result of `experiment` for `device`'s kind (default: the best available device), falling back
    to the CPU result; raises `ReferenceMissingError` (a `FileNotFoundError`) naming the command that produces it."""
    _check_experiment(experiment)
    kind = _kind_of(device)
    for candidate in dict.fromkeys((kind, "cpu")):
        path = result_path(experiment, candidate, folder)
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    where = Path(folder if folder is not None else RESULTS_DIR)
    device_arg = "cpu" if kind == "cpu" else ("cuda" if kind.startswith("cuda") else kind)
    raise ReferenceMissingError(
        f"No reference result for {experiment!r} on {kind}" + (" or cpu" if kind != "cpu" else "") + f" in {where}.\n"
        f"Produce it (it trains for a long time; see the module's docstring) with:\n"
        f"    {COMMAND} {experiment} --device {device_arg}\n"
        f"(or `python3 course.py reference {experiment} --device {device_arg}` from the course's folder)."
    )


def _kind_of(device: str | None) -> str:
    """The device kind of a device name ('cpu', 'cuda:1') or of a kind given as is ('cuda-h200')."""
    if device is None:
        return device_kind(get_device())
    try:
        dev = torch.device(device)
    except RuntimeError:
        return device
    if dev.type == "cuda" and not torch.cuda.is_available():
        return "cuda"
    return device_kind(dev)


def _scale_words(text: str) -> str:
    """'full Fashion-MNIST 6,000 training images' (a subset of the full set) -> '6,000 of the 60,000 Fashion-MNIST
    training images'."""
    from .data.specs import DATASETS

    def words(m: re.Match) -> str:
        spec = next((s for s in DATASETS.values() if s.human == m.group(1)), None)
        if spec is None or int(m.group(2).replace(",", "")) >= spec.full_train:
            return m.group(0)
        return f"{m.group(2)} of the {spec.full_train:,} {m.group(1)} training images"

    return re.sub(r"full ([\w-]+) ([\d,]+) training images", words, text)


def provenance_line(result: dict[str, Any]) -> str:
    """One line saying what produced `result`, e.g. 'reference: Fashion-MNIST 10,000 images, 3 seeds, 8 epochs,
    cpu (AMD EPYC, 2 threads), 2026-11-30, commit abc1234'."""
    prov, config = result.get("provenance", {}), result.get("config", {})
    commit = prov.get("git_commit") or "unknown"
    dirty = " (uncommitted changes)" if prov.get("git_dirty") else ""
    smoke = " [SMOKE TEST, not a reference]" if config.get("smoke") else ""
    shared = ""
    before = str(prov.get("load_average_before") or "").split()
    if before and prov.get("device_kind") == "cpu":  # a CPU shared with other work: its timings are inflated
        loads = [float(before[0]), float(str(prov.get("load_average_after") or before[0]).split()[0])]
        cores = prov.get("cpu_count") or 2  # the producing machine's cores (files before this field: a 2-core CPU)
        if max(loads) > 1.25 * cores:
            shared = f", CPU shared with other jobs (load {loads[0]:.1f} → {loads[1]:.1f}: timings inflated)"
    return (
        f"reference{smoke}: {_scale_words(config.get('scale_text', '?'))}, {len(result.get('seeds', []))} seeds, "
        f"{prov.get('device', '?')}, {str(prov.get('date', '?'))[:10]}, commit {commit[:7]}{dirty}{shared}"
    )


def validate(result: dict[str, Any]) -> list[str]:
    """Problems found in a result: missing keys or provenance, fewer seeds than declared, non-finite numbers.
    An empty list means the result is fine."""
    problems = [f"missing key {key!r}" for key in TOP_KEYS if key not in result]
    if problems:
        return problems
    prov = result["provenance"]
    problems += [f"provenance lacks {key!r}" for key in PROVENANCE_KEYS if key not in prov]
    if result["experiment"] not in EXPERIMENTS:
        problems.append(f"unknown experiment {result['experiment']!r}")
    declared = result["config"].get("seeds")
    seeds = result["seeds"]
    if not isinstance(declared, int):
        problems.append("config lacks the declared number of seeds ('seeds')")
    elif len(set(seeds)) < declared:
        problems.append(f"{len(set(seeds))} distinct seeds, fewer than the declared {declared}")
    fewer = result["config"].get("fewer_seeds", {})
    per_group: dict[str, set[int]] = {}
    for run in result["runs"]:
        if "group" not in run or "seed" not in run:
            problems.append("a run lacks 'group' or 'seed'")
            continue
        per_group.setdefault(run["group"], set()).add(run["seed"])
    if not per_group:
        problems.append("no runs")
    for group, got in per_group.items():
        if isinstance(declared, int) and len(got) < declared and group not in fewer:
            problems.append(f"group {group!r} has {len(got)} seed(s), fewer than the declared {declared}, unexplained")
    reading = {"shortcuts": shortcuts_reading, "degradation": degradation_conclusion}.get(result["experiment"])
    stored = result["summary"].get("conclusion")
    if reading and stored is not None and not problems:
        try:
            computed = reading(result)
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
            computed = f"(cannot be computed: {exc!r})"
        if stored != computed:
            problems.append("summary.conclusion differs from the reading computed from the numbers (run the "
                            f"experiment again): stored {stored[:120]!r}, computed {computed[:120]!r}")
    problems += [f"non-finite number at {where}" for where in _non_finite(result)]
    problems += [f"a path of the producing machine at {where}: {text!r} (write it as <data-root> or <out>)"
                 for where, text in _machine_paths(result)]
    return problems


_ABSOLUTE = re.compile(r"(?:^|[\s=\"'(])(?:/(?:home|work|tmp|Users|root|mnt|srv|opt|var)/|[A-Za-z]:\\)")


def _leaves(value: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    """Every non-container value inside `value`, with its path ($.key[i]...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{where}[{i}]")
    else:
        yield where, value


def _machine_paths(value: Any) -> Iterator[tuple[str, str]]:
    """Every string in `value` that contains an absolute path of the machine that produced it."""
    return ((where, leaf) for where, leaf in _leaves(value) if isinstance(leaf, str) and _ABSOLUTE.search(leaf))


def redact_paths(value: Any, folders: dict[str, str | Path | None]) -> Any:
    """`value` with every occurrence of each folder written as its placeholder, e.g. {"<data-root>": "/home/ann/data"}
    turns the data root a run was given into `<data-root>`."""
    names = sorted(((name, placeholder) for placeholder, folder in folders.items() if folder is not None
                    for name in {str(folder), str(Path(folder).resolve())}), key=lambda pair: -len(pair[0]))  # fmt: skip

    def redact(item: Any) -> Any:
        if isinstance(item, str):
            for name, placeholder in names:
                item = item.replace(name, placeholder)
            return item
        if isinstance(item, dict):
            return {key: redact(v) for key, v in item.items()}
        if isinstance(item, list):
            return [redact(v) for v in item]
        return item

    return redact(value)


# ------------------------------------------------------------------------------------------- small utilities
def _check_experiment(experiment: str) -> None:
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}: choose from {', '.join(EXPERIMENTS)}")


def _non_finite(value: Any) -> Iterator[str]:
    return (where for where, leaf in _leaves(value) if isinstance(leaf, float) and not math.isfinite(leaf))


def spread(values: Sequence[float]) -> dict[str, float | int]:
    """Mean, sample standard deviation (0 for one value), min, max and count of `values`."""
    vals = [float(v) for v in values]
    return {
        "mean": statistics.fmean(vals),
        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
    }


def _pm(stats: dict[str, float | int], scale: float = 100.0, unit: str = " %") -> str:
    return f"{scale * stats['mean']:.2f} ± {scale * stats['std']:.2f}{unit}"


def _errors(accs: Sequence[float]) -> list[float]:
    return [1.0 - a for a in accs]


def _git_state() -> tuple[str | None, bool | None]:
    """HEAD's commit and whether the working tree differs from it (None, None outside a git checkout)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=20, check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True,
                                timeout=20, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def _device_text(dev: torch.device) -> str:
    """`cpu (AMD EPYC, 2 threads)` or the GPU's name (`runtime.device_name`)."""
    if dev.type != "cpu":
        return device_name(dev)
    n = torch.get_num_threads()
    return f"cpu ({cpu_model()}, {n} thread{'s' if n != 1 else ''})"


def _load_average() -> str | None:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return None


def _eval_loader(images: torch.Tensor, labels: torch.Tensor, split: DatasetSplit, dev: torch.device, pad: int) -> DeviceLoader:
    """An unshuffled loader over given images, normalised with the training statistics (for eval-mode passes)."""
    return DeviceLoader(images, labels, 1024, mean=split.mean, std=split.std, shuffle=False, device=dev, pad=pad)


def _final_eval(model: nn.Module, train_eval: DeviceLoader, test_full: DeviceLoader, dev: torch.device) -> dict[str, float]:
    """Training loss/error over the whole training set in eval mode (BatchNorm running statistics) and test error."""
    train_loss, train_acc = evaluate(model, train_eval, dev)
    test_loss, test_acc = evaluate(model, test_full, dev)
    return {"train_loss": train_loss, "train_error": 1 - train_acc, "test_loss": test_loss, "test_error": 1 - test_acc}


def _curves(h: History, test_key: str = "test_error") -> dict[str, list[float]]:
    curves = {"train_loss": h.train_loss, "train_error": _errors(h.train_acc), "seconds": h.seconds}
    if h.test_acc:
        curves[test_key] = _errors(h.test_acc)
    if h.val_acc:
        curves["val_error"] = _errors(h.val_acc)
    return curves


@dataclass(frozen=True)
class Context:
    """What every experiment needs: device, seeds, size, where the data is, and a logger."""

    device: torch.device
    seeds: tuple[int, ...]
    smoke: bool
    data_root: str | None
    log: Log


# ------------------------------------------------------------------------------------------------ degradation
def degradation_config(smoke: bool, gpu: bool = False) -> dict[str, Any]:
    """Scale of the degradation experiment (see the module docstring); `smoke` is the tiny test size. On a CPU,
    4,000 training images for 5 epochs (about 5 core-minutes per seed on a 2-core laptop CPU); on a GPU, the full
    60,000 images for 10 epochs and a 110-layer pair as well."""
    if smoke:
        return {"depths": [8, 14], "train_size": 128, "epochs": 1, "batch_size": 32, "curve_test_size": 128,
                "final_test_size": 256, "shared_weights": "copied from the residual net"}  # fmt: skip
    if gpu:
        return {"depths": [8, 20, 56, 110], "train_size": None, "epochs": 10, "batch_size": 128,
                "curve_test_size": None, "final_test_size": None, "shared_weights": "copied from the residual net"}  # fmt: skip
    return {"depths": [8, 20, 56], "train_size": 4_000, "epochs": 5, "batch_size": 128, "curve_test_size": 1_000,
            "final_test_size": None, "shared_weights": "copied from the residual net"}  # fmt: skip


def run_degradation(ctx: Context) -> dict[str, Any]:
    """Plain vs residual CifarResNet at several depths on Fashion-MNIST; per-seed curves, final errors, conclusion."""
    cfg = degradation_config(ctx.smoke, gpu=ctx.device.type == "cuda")
    quick = ctx.smoke
    loaders = make_loaders("fashion-mnist", cfg["batch_size"], quick=quick, device=ctx.device, root=None if quick else ctx.data_root,
                           train_size=cfg["train_size"], test_size=cfg["curve_test_size"], seed=0)  # fmt: skip
    split = loaders.split
    n_train = loaders.train.num_samples
    train_eval = _eval_loader(split.train_images[:n_train], split.train_labels[:n_train], split, ctx.device, 0)
    n_test = cfg["final_test_size"] or len(split.test_labels)
    test_full = _eval_loader(split.test_images[:n_test], split.test_labels[:n_test], split, ctx.device, 0)
    runs = []
    for seed in ctx.seeds:
        for depth in cfg["depths"]:
            seed_everything(seed)
            residual = CifarResNet(depth, True)
            plain = CifarResNet(depth, False)
            copy_shared_weights(residual, plain)  # every layer the two share starts from the same weights
            for use_residual, model in ((False, plain), (True, residual)):
                group = f"{'residual' if use_residual else 'plain'}-{depth}"
                h = fit(model, loaders.train, loaders.test, epochs=cfg["epochs"], seed=seed, device=ctx.device, progress=False)
                final = _final_eval(model, train_eval, test_full, ctx.device)
                runs.append({"group": group, "seed": seed, "depth": depth, "residual": use_residual,
                             "params": count_params(model), "amp": h.settings["amp"], "lr": h.settings["lr"],
                             "curves": _curves(h), "final": final,
                             "final_running": {"train_loss": h.train_loss[-1], "train_error": 1 - h.train_acc[-1]},
                             "train_seconds": sum(h.seconds)})  # fmt: skip
                ctx.log(f"degradation seed {seed} {group:<12} train error {100 * final['train_error']:.2f} % "
                        f"(eval mode), loss {final['train_loss']:.4f}, test error {100 * final['test_error']:.2f} %, "
                        f"{sum(h.seconds):.0f} s")  # fmt: skip
    groups = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    summary: dict[str, Any] = {"groups": {}}
    for group, members in groups.items():
        summary["groups"][group] = {
            "depth": members[0]["depth"], "residual": members[0]["residual"], "params": members[0]["params"],
            **{key: spread([m["final"][key] for m in members]) for key in ("train_error", "train_loss", "test_error")},
            "running_train_error": spread([m["final_running"]["train_error"] for m in members]),
        }  # fmt: skip
    summary.update(_degradation_conclusion(summary["groups"], cfg["depths"], len(ctx.seeds)))
    config = {
        **cfg, "dataset": "fashion-mnist", "data_source": split.source, "train_images": n_train,
        "final_test_images": n_test, "seeds": len(ctx.seeds), "smoke": ctx.smoke,
        "model": "course_utils.models.CifarResNet(depth, use_residual): 3x3 stem (16), three stages of (depth-2)/6 "
                 "BasicBlocks (16/32/64 channels), BatchNorm, global average pool; input 28x28",
        "training": "course_utils.fit defaults: AdamW, lr 1e-3*sqrt(batch/64), weight decay 5e-4, 10 % linear warm-up "
                    "then cosine decay to 0 over all epochs (the schedule runs to its end), bf16 autocast where native",
        "same_batches": "for a given seed, every depth and variant sees the same batches in the same order "
                        "(fit(seed=s) reseeds the loader) and the model is initialised after seed_everything(s)",
        "train_error_measured": "final train_error/train_loss: the whole training subset in eval mode (BatchNorm "
                                "running statistics) after the last epoch; curves: running values of each epoch "
                                "(train mode, weights changing during the epoch)",
        "test_error_measured": f"curves: a fixed random subset of {cfg['curve_test_size']:,} test images after each "
                               f"epoch; final: {n_test:,} test images",
        "scale_text": f"Fashion-MNIST {n_train:,} of {len(split.train_labels):,} training images, {cfg['epochs']} epochs, "
                      f"depths {'/'.join(map(str, cfg['depths']))}",
    }  # fmt: skip
    # the stored sentence is the reading the notebooks print (with its caveats), computed from these numbers
    summary["conclusion"] = degradation_conclusion({"config": config, "runs": runs, "summary": summary, "seeds": ctx.seeds})
    return {"config": config, "runs": runs, "summary": summary}


def _degradation_conclusion(groups: dict[str, Any], depths: Sequence[int], n_seeds: int) -> dict[str, Any]:
    """The sentence the numbers support: does the deepest plain net end training worse than the shallowest one,
    and does the deepest residual net not?"""
    lo, hi = min(depths), max(depths)
    p_lo, p_hi = groups[f"plain-{lo}"]["train_error"], groups[f"plain-{hi}"]["train_error"]
    r_lo, r_hi = groups[f"residual-{lo}"]["train_error"], groups[f"residual-{hi}"]["train_error"]
    plain_worse = p_hi["mean"] > p_lo["mean"]
    plain_separated = p_hi["min"] > p_lo["max"]
    residual_worse = r_hi["mean"] > r_lo["mean"]
    seeds = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
    if plain_worse:
        first = (f"plain-{hi} ends with higher training error than plain-{lo} ({_pm(p_hi)} vs {_pm(p_lo)}, {seeds}; "
                 + (f"every seed of plain-{hi} above every seed of plain-{lo})" if plain_separated
                    else "the seed ranges overlap)"))  # fmt: skip
    else:
        first = f"plain-{hi} does NOT end with higher training error than plain-{lo} ({_pm(p_hi)} vs {_pm(p_lo)}, {seeds})"
    if residual_worse:
        second = f"residual-{hi} also ends above residual-{lo} ({_pm(r_hi)} vs {_pm(r_lo)})"
    else:
        second = f"residual-{hi} does not: it ends at {_pm(r_hi)} against residual-{lo}'s {_pm(r_lo)}"
    holds = plain_worse and not residual_worse
    verdict = ("Within this schedule the pattern of He et al.'s Fig. 1 appears." if holds and plain_separated
               else "The means show the degradation pattern, but the seed ranges of the plain nets overlap."
               if holds else "The degradation pattern does NOT show within this schedule.")  # fmt: skip
    return {"conclusion": f"{first}; {second}. {verdict}", "lesson_holds": holds, "plain_ranges_separate": plain_separated}


def last_epoch_drop(result: dict[str, Any], group: str) -> float:
    """How many points the running training error of `group` fell in the last epoch (mean over its seeds): a large
    drop means the schedule ended while the network was still learning fast."""
    drops = [100 * (r["curves"]["train_error"][-2] - r["curves"]["train_error"][-1])
             for r in result["runs"] if r["group"] == group and len(r["curves"]["train_error"]) >= 2]  # fmt: skip
    return sum(drops) / len(drops) if drops else 0.0


def shared_weights_text(result: dict[str, Any]) -> str:
    """How the plain and residual nets of one depth were initialised in a `degradation` result."""
    if result["config"].get("shared_weights"):
        return "plain and residual nets of one depth start from the same weights in every layer they share"
    return ("plain and residual nets of one depth share the seed but not all initial weights (this file predates"
            " copying them: the projections shift later random draws)")


def degradation_conclusion(result: dict[str, Any]) -> str:
    """The conclusion of a `degradation` result, computed now from its numbers (not the sentence stored when it ran):
    whether the deepest plain net ends above the shallowest, whether the deepest residual net does not, and whether
    the deepest plain net was still learning fast when the schedule ended — then the run cannot say whether the gap
    would persist at convergence."""
    depths = sorted({r["depth"] for r in result["runs"]})
    text = _degradation_conclusion(result["summary"]["groups"], depths, len(result.get("seeds", [])))["conclusion"]
    deep = f"plain-{max(depths)}"
    drop = last_epoch_drop(result, deep)
    epochs = len(result["runs"][0]["curves"]["train_error"])
    if drop > 2.0:
        text += (f" But {deep}'s training error was still falling by {drop:.1f} points in the last of {epochs} epochs:"
                 " this run cannot say whether the gap would persist at convergence (a slower start would look"
                 " the same).")
    return text + f" Initial weights: {shared_weights_text(result)}."


# --------------------------------------------------------------------------------------------------- shortcuts
def shortcuts_config(smoke: bool) -> dict[str, Any]:
    """Scale of the shortcuts experiment per dataset: training images (None: all), epochs, batch."""
    if smoke:
        return {"datasets": {"fashion-mnist": {"train_size": 64, "epochs": 1, "quick": True, "final_test_size": 128},
                             "mnist": {"train_size": 64, "epochs": 1, "quick": True, "final_test_size": 128}},
                "batch_size": 32, "curve_test_size": 64}  # fmt: skip
    return {"datasets": {"fashion-mnist": {"train_size": 6_000, "epochs": 5, "quick": False, "final_test_size": None},
                         "mnist": {"train_size": None, "epochs": 6, "quick": True, "final_test_size": None}},
            "batch_size": 128, "curve_test_size": 2_000}  # fmt: skip


def copy_shared_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every state_dict entry of `source` whose name and shape match into `target`; every entry of `target` must
    be covered (raises otherwise). Returns the names copied."""
    src, dst = source.state_dict(), target.state_dict()
    copied = [k for k, v in dst.items() if k in src and src[k].shape == v.shape]
    missing = [k for k in dst if k not in copied]
    if missing:
        raise AssertionError(f"{len(missing)} tensor(s) of the target got no weights from the source: {missing[:5]}")
    target.load_state_dict({k: src[k].clone() for k in copied}, strict=True)
    return copied


def run_shortcuts(ctx: Context) -> dict[str, Any]:
    """ResNet18 with vs without shortcuts from identical shared weights and identical batches, on two datasets."""
    cfg = shortcuts_config(ctx.smoke)
    runs, data_config, texts = [], {}, []
    for dataset, dcfg in cfg["datasets"].items():
        loaders = make_loaders(dataset, cfg["batch_size"], quick=dcfg["quick"], device=ctx.device, pad=2,
                               root=None if dcfg["quick"] else ctx.data_root, train_size=dcfg["train_size"],
                               test_size=cfg["curve_test_size"], seed=0)  # fmt: skip
        split = loaders.split
        n_train = loaders.train.num_samples
        train_eval = _eval_loader(split.train_images[:n_train], split.train_labels[:n_train], split, ctx.device, 2)
        n_test = dcfg["final_test_size"] or len(split.test_labels)
        test_full = _eval_loader(split.test_images[:n_test], split.test_labels[:n_test], split, ctx.device, 2)
        data_config[dataset] = {**dcfg, "train_images": n_train, "final_test_images": n_test,
                                "curve_test_images": loaders.test.num_samples, "source": split.source}  # fmt: skip
        texts.append(f"{split.source.split(' from ')[0]} {n_train:,} training images, {dcfg['epochs']} epochs")
        texts[-1] = _scale_words(texts[-1])
        for seed in ctx.seeds:
            seed_everything(seed)
            residual = ResNet18(use_residual=True)
            plain = ResNet18(use_residual=False)
            copied = copy_shared_weights(residual, plain)
            for name, model in (("with shortcuts", residual), ("without shortcuts", plain)):
                h = fit(model, loaders.train, loaders.test, epochs=dcfg["epochs"], seed=seed, device=ctx.device, progress=False)
                final = _final_eval(model, train_eval, test_full, ctx.device)
                runs.append({"group": f"{dataset}/{name}", "dataset": dataset, "variant": name, "seed": seed,
                             "params": count_params(model), "shared_tensors_copied": len(copied),
                             "amp": h.settings["amp"], "lr": h.settings["lr"], "curves": _curves(h), "final": final,
                             "train_seconds": sum(h.seconds)})  # fmt: skip
                ctx.log(f"shortcuts {dataset} seed {seed} {name:<17} test error {100 * final['test_error']:.2f} %, "
                        f"train error {100 * final['train_error']:.2f} % (eval mode), {sum(h.seconds):.0f} s")
    summary: dict[str, Any] = {"groups": {}}
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    for group, members in groups.items():
        summary["groups"][group] = {
            **{key: spread([m["final"][key] for m in members]) for key in ("train_error", "train_loss", "test_error")},
            "train_seconds": spread([m["train_seconds"] for m in members]), "params": members[0]["params"],
        }  # fmt: skip
    summary["conclusion"] = shortcuts_reading({"summary": summary})  # the notebooks print the same reading
    config = {
        "datasets": data_config, "batch_size": cfg["batch_size"], "curve_test_size": cfg["curve_test_size"], "seeds": len(ctx.seeds), "smoke": ctx.smoke,
        "input": "28x28 images zero-padded to 32x32 (pad=2), as notebook 05",
        "model": "course_utils.models.ResNet18(use_residual=True/False)",
        "init": "per seed: seed_everything(seed), build the residual net, build the plain net, copy every state_dict "
                "entry of matching name and shape into the plain net (asserted: every plain-net tensor is copied; "
                "the residual net's projection shortcuts have no counterpart)",
        "same_batches": "both variants train on the same loader, reseeded with the run's seed by fit: same batches, same order",
        "lr_protocol": "fit's default for both variants (AdamW, lr 1e-3*sqrt(batch/64), weight decay 5e-4, 10 % warm-up "
                       "then cosine to 0 over all epochs); no tuning for either side",
        "train_error_measured": "final: the whole training set in eval mode; curves: running values per epoch",
        "test_error_measured": f"curves: a fixed random subset of {cfg['curve_test_size']:,} test images after each "
                               "epoch; final: the first final_test_images test images (all 10,000 unless smoke)",
        "scale_text": "; ".join(texts),
    }  # fmt: skip
    return {"config": config, "runs": runs, "summary": summary}


# ------------------------------------------------------------------------------------------------------- zoo
@dataclass(frozen=True)
class ZooNet:
    """What this module needs of a zoo network: key, title, a builder, input padding and the zoo's listed lr."""

    key: str
    title: str
    build: Callable[[], nn.Module]
    pad: int
    listed_lr: float


def zoo_networks() -> list[ZooNet]:
    """The zoo of notebook 06 in its native configuration, from the model registry (`models.zoo_entries`)."""
    from functools import partial

    return [ZooNet(key, e.title, partial(e.build, True), e.pad, e.lr or 1e-3) for key, e in zoo_entries().items()]


def zoo_config(smoke: bool) -> dict[str, Any]:
    """Scale of the zoo experiment: sweep factors around each network's listed lr, epochs, patience, split, and
    which networks get a shorter sweep and a single seed (the costliest on a CPU)."""
    if smoke:
        return {"networks": ["lenet5", "mobilenet"], "train_size": 100, "val_fraction": 0.2, "test_size": 128,
                "batch_size": 32, "max_epochs": 1, "patience": 1, "lr_factors": [1.0, 3.0], "weight_decay": 0.05,
                "short_sweep": {"mobilenet": 1}, "one_seed": ["mobilenet"]}  # fmt: skip
    costly = ["alexnet", "vgg11", "vgg19"]
    return {"networks": None, "train_size": None, "val_fraction": 0.2, "test_size": None, "batch_size": 128,
            "max_epochs": 4, "patience": 2, "lr_factors": [1 / 3, 1.0, 3.0], "weight_decay": 0.05,
            "short_sweep": dict.fromkeys(costly, 1), "one_seed": costly}  # fmt: skip


def run_zoo(ctx: Context) -> dict[str, Any]:
    """Per network: lr sweep (seed 0) on validation accuracy, more seeds at the chosen lr with early stopping,
    test accuracy of the best-validation weights, parameters, MACs and training time."""
    cfg = zoo_config(ctx.smoke)
    loaders = make_loaders("mnist", cfg["batch_size"], quick=True, device=ctx.device, pad=2, train_size=cfg["train_size"],
                           test_size=cfg["test_size"], val_fraction=cfg["val_fraction"], seed=0)  # fmt: skip
    assert loaders.val is not None
    runs, sweeps, fewer, info = [], {}, {}, {}
    first, *rest = ctx.seeds
    for net in zoo_networks():
        if cfg["networks"] is not None and net.key not in cfg["networks"]:
            continue
        probe = net.build()
        side = 28 + 2 * net.pad
        info[net.key] = {"title": net.title, "params": count_params(probe), "macs": count_macs(probe, (1, side, side)),
                         "listed_lr": net.listed_lr, "amp": default_amp(ctx.device, probe)}  # fmt: skip
        del probe

        def train(lr: float, seed: int, epochs: int, net: ZooNet = net) -> tuple[nn.Module, History]:
            seed_everything(seed)
            model = net.build()
            h = fit(model, loaders.train, None, epochs=epochs, lr=lr, weight_decay=cfg["weight_decay"],
                    val=loaders.val, patience=cfg["patience"], restore_best=True, seed=seed, device=ctx.device,
                    progress=False)  # fmt: skip
            return model, h

        sweep_epochs = cfg["short_sweep"].get(net.key, cfg["max_epochs"])
        sweep, best = [], None
        for factor in cfg["lr_factors"]:
            lr = net.listed_lr * factor
            model, h = train(lr, first, sweep_epochs)
            best_val = h.val_acc[h.best_epoch] if h.best_epoch is not None else float("nan")
            sweep.append({"lr": lr, "seed": first, "epochs_planned": sweep_epochs, "best_val_acc": best_val,
                          "epochs": h.epochs, "best_epoch": h.best_epoch, "train_seconds": sum(h.seconds)})  # fmt: skip
            ctx.log(f"zoo {net.key:<10} sweep lr {lr:.2e} ({sweep_epochs} epoch(s) planned): best val acc "
                    f"{best_val:.4f} after {h.epochs} epoch(s), {sum(h.seconds):.0f} s")
            if best is None or best_val > best[0]:
                best = (best_val, lr, model, h)
            del model
        assert best is not None
        _, lr, model, h = best
        reused = sweep_epochs == cfg["max_epochs"]
        sweeps[net.key] = {"tried": sweep, "chosen_lr": lr, "sweep_epochs": sweep_epochs,
                           "criterion": f"highest best-epoch validation accuracy, seed {first}",
                           "seed_run_reused": reused}  # fmt: skip
        seeds = [first] if net.key in cfg["one_seed"] else [first, *rest]
        if len(seeds) < len(ctx.seeds):
            fewer[net.key] = (f"1 seed: {net.title} is among the costliest networks on this CPU; more seeds (and a "
                              "full-length sweep) did not fit the time budget")  # fmt: skip
        for seed in seeds:
            if seed != first or not reused:
                model, h = train(lr, seed, cfg["max_epochs"])
            test_loss, test_acc = evaluate(model, loaders.test, ctx.device)
            be = h.best_epoch if h.best_epoch is not None else h.epochs - 1
            runs.append({"group": net.key, "seed": seed, "lr": lr, "test_acc": test_acc, "test_loss": test_loss,
                         "best_val_acc": h.val_acc[be], "best_epoch": be, "epochs": h.epochs,
                         "stopped_early": h.stopped_early, "train_seconds": sum(h.seconds),
                         "seconds_per_epoch": sum(h.seconds) / h.epochs, "seconds_to_best": sum(h.seconds[: be + 1]),
                         "curves": _curves(h)})  # fmt: skip
            ctx.log(f"zoo {net.key:<10} seed {seed} lr {lr:.2e}: test acc {test_acc:.4f} (best epoch {be + 1} of "
                    f"{h.epochs}), {sum(h.seconds):.0f} s")
        del model
    summary: dict[str, Any] = {"groups": {}}
    for key, meta in info.items():
        members = [r for r in runs if r["group"] == key]
        summary["groups"][key] = {
            **meta, "chosen_lr": sweeps[key]["chosen_lr"], "test_acc": spread([m["test_acc"] for m in members]),
            "train_seconds": spread([m["train_seconds"] for m in members]),
            "seconds_per_epoch": spread([m["seconds_per_epoch"] for m in members]),
            "epochs": spread([m["epochs"] for m in members]),
        }  # fmt: skip
    ranked = sorted(summary["groups"].items(), key=lambda kv: -kv[1]["test_acc"]["mean"])
    summary["ranking_by_test_acc"] = [key for key, _ in ranked]
    top, bottom = ranked[0][1], ranked[-1][1]
    summary["conclusion"] = (
        f"highest test accuracy: {top['title']} ({_pm(top['test_acc'])}, {top['params']:,} parameters, "
        f"{top['macs'] / 1e6:.1f} M MACs); lowest: {bottom['title']} ({_pm(bottom['test_acc'])}, "
        f"{bottom['params']:,} parameters, {bottom['macs'] / 1e6:.1f} M MACs)"
    )
    n_train = loaders.train.num_samples
    config = {
        **cfg, "sweeps": sweeps, "fewer_seeds": fewer, "seeds": len(ctx.seeds), "smoke": ctx.smoke,
        "dataset": "mnist", "data_source": loaders.split.source, "train_images": n_train,
        "val_images": loaders.val.num_samples, "test_images": loaders.test.num_samples,
        "input": "28x28 digits zero-padded to 32x32 (pad=2): the native configuration of course_utils.zoo",
        "protocol": "fit with AdamW, the batch and weight decay given here, 10 % warm-up then cosine decay planned "
                    "over max_epochs; early stopping when the validation accuracy has not improved for `patience` "
                    "epochs; the best-validation weights are restored and tested on the test set. Sweep: lr = the "
                    "zoo's listed lr x each of lr_factors, seed 0, the same protocol over max_epochs (its run at the "
                    "chosen lr is reused as seed 0) - except the networks in short_sweep, whose sweep runs are "
                    "complete schedules of that many epochs, after which seed 0 is trained again at the chosen lr",
        "macs": "course_utils.count_macs, one 1x32x32 image, forward pass",
        "training_time": "fit's training seconds (evaluation excluded), wall clock, on a CPU shared with other work",
        "scale_text": f"bundled MNIST {n_train:,} training / {loaders.val.num_samples:,} validation images, up to "
                      f"{cfg['max_epochs']} epochs (early stopping)",
    }  # fmt: skip
    return {"config": config, "runs": runs, "summary": summary}


# -------------------------------------------------------------------------------------------------- gpu-idle
def classic_loop() -> dict[str, Any]:
    """The classic blog loop's settings and evaluation (`course_utils.classic`)."""
    return {"batch_size": CLASSIC_BATCH, "lr": CLASSIC_LR, "momentum": CLASSIC_MOMENTUM,
            "evaluate": classic_evaluate, "reference": "course_utils.classic.classic_train_epoch"}  # fmt: skip


def gpu_idle_config(smoke: bool) -> dict[str, Any]:
    """Scale of the gpu-idle experiment: training images, epochs per repeat, test images."""
    if smoke:
        return {"train_size": 128, "epochs": 1, "test_size": 128, "models": ["SmallCNN"]}
    return {"train_size": None, "epochs": 3, "test_size": None, "models": ["SmallCNN", "ResNet18"]}


def _classic_epoch(model: nn.Module, loader: Any, opt: torch.optim.Optimizer, dev: torch.device) -> dict[str, float]:
    """`course_utils.classic.classic_train_epoch`, step for step, with a clock around each phase. On CUDA each
    phase ends with a synchronisation so its time is the GPU's; on a CPU every operation is already synchronous."""
    model.train()
    phases = {"data_s": 0.0, "sync_s": 0.0, "compute_s": 0.0}
    images = 0
    sync(dev)
    start, cpu_start = time.perf_counter(), time.process_time()
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            break
        x, y = x.to(dev), y.to(dev)
        sync(dev)
        t1 = time.perf_counter()
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        sync(dev)
        t2 = time.perf_counter()
        loss.item()  # the classic per-step host synchronisation
        t3 = time.perf_counter()
        phases["data_s"] += t1 - t0
        phases["compute_s"] += t2 - t1
        phases["sync_s"] += t3 - t2
        images += y.shape[0]
    sync(dev)
    return {**phases, "epoch_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start, "images": images}


class _TimedBatches(CpuTimed):
    """`speed.CpuTimed` (process CPU seconds per pass, in `seconds`) that also adds up the wall-clock seconds spent
    producing batches (shuffle and slicing), in `data_s`."""

    def __init__(self, loader: DeviceLoader) -> None:
        super().__init__(loader)
        self.data_s: list[float] = []

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        spent, cpu_start = 0.0, time.process_time()
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                break
            spent += time.perf_counter() - t0
            yield batch
        self.data_s.append(spent)
        self.seconds.append(time.process_time() - cpu_start)


def run_gpu_idle(ctx: Context) -> dict[str, Any]:
    """Classic loop vs `fit` on the bundled MNIST: seconds per epoch split into data, host sync and compute, TFLOP/s."""
    cfg = gpu_idle_config(ctx.smoke)
    classic = classic_loop()
    split = load_dataset("mnist", quick=True)
    entries = {"SmallCNN": REGISTRY["small_cnn"], "ResNet18": REGISTRY["resnet18"]}  # the course's own networks
    runs, flops = [], {}
    for name in cfg["models"]:
        build, pad = entries[name].build, entries[name].pad
        side = 28 + 2 * pad
        probe = build()
        flops[name] = count_flops(probe, (1, side, side), batch_size=2, backward=True) // 2
        classic_train, classic_test = classic_loaders(split, batch_size=classic["batch_size"], train_size=cfg["train_size"], pad=pad)
        course = make_loaders("mnist", quick=True, device=ctx.device, pad=pad, train_size=cfg["train_size"],
                              test_size=cfg["test_size"], seed=0)  # fmt: skip
        if cfg["test_size"] is not None:
            from torch.utils.data import DataLoader, Subset

            pick = torch.randperm(len(classic_test.dataset), generator=torch.Generator().manual_seed(0))[: cfg["test_size"]]
            classic_test = DataLoader(Subset(classic_test.dataset, pick.sort().values.tolist()), batch_size=1000)
        for repeat in ctx.seeds:
            seed_everything(repeat)
            initial = build()
            # classic loop: fp32, SGD, DataLoader batch 64 with per-image ToTensor/Normalize, .item() per step
            model = copy.deepcopy(initial).to(ctx.device)
            opt = torch.optim.SGD(model.parameters(), lr=classic["lr"], momentum=classic["momentum"])
            torch.manual_seed(repeat)  # the DataLoader's shuffling
            epochs = [_classic_epoch(model, classic_train, opt, ctx.device) for _ in range(cfg["epochs"])]
            _, test_acc = classic["evaluate"](model, classic_test, ctx.device)
            runs.append(_idle_run(name, "classic", repeat, epochs, flops[name], test_acc, classic["batch_size"], "float32"))
            # course loop: fit's defaults on device-resident data
            model = copy.deepcopy(initial)
            timed = _TimedBatches(course.train)
            h = fit(model, timed, None, epochs=cfg["epochs"], seed=repeat, device=ctx.device, progress=False)
            _, test_acc = evaluate(model, course.test, ctx.device)
            epochs = [{"data_s": d, "sync_s": 0.0, "compute_s": s - d, "epoch_s": s, "cpu_s": c, "images": timed.num_samples}
                      for d, s, c in zip(timed.data_s, h.seconds, timed.seconds)]  # fmt: skip
            precision = "bf16 autocast" if h.settings["amp"] else "float32"
            runs.append(_idle_run(name, "course", repeat, epochs, flops[name], test_acc, course.train.batch_size, precision))
            for run in runs[-2:]:
                last = run["epochs"][-1]
                ctx.log(f"gpu-idle {name} {run['loop']:<7} repeat {repeat}: last epoch {last['epoch_s']:.2f} s "
                        f"(data {last['data_s']:.2f}, sync {last['sync_s']:.3f}, compute {last['compute_s']:.2f}), "
                        f"{last['tflops']:.4f} TFLOP/s, test acc {run['test_acc']:.4f}")  # fmt: skip
    summary: dict[str, Any] = {"groups": {}}
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    for group, members in groups.items():
        steady = [e for m in members for e in (m["epochs"][1:] or m["epochs"])]
        summary["groups"][group] = {
            "model": members[0]["model"], "loop": members[0]["loop"], "precision": members[0]["precision"],
            **{key: spread([e[key] for e in steady]) for key in ("epoch_s", "data_s", "sync_s", "compute_s", "cpu_s", "tflops")},
            "test_acc": spread([m["test_acc"] for m in members]), "flops_per_image": members[0]["flops_per_image"],
            "peak_fraction": None,
        }  # fmt: skip
    sentences = []
    for name in cfg["models"]:
        a, b = summary["groups"][f"{name}/classic"], summary["groups"][f"{name}/course"]
        ratio = a["epoch_s"]["mean"] / b["epoch_s"]["mean"]
        sentences.append(f"{name}: classic {a['epoch_s']['mean']:.2f} ± {a['epoch_s']['std']:.2f} s/epoch "
                         f"(data {a['data_s']['mean']:.2f}, sync {a['sync_s']['mean']:.3f}, compute "
                         f"{a['compute_s']['mean']:.2f}) vs course {b['epoch_s']['mean']:.2f} ± {b['epoch_s']['std']:.2f} "
                         f"s/epoch ({ratio:.2f}x)")  # fmt: skip
    summary["conclusion"] = "; ".join(sentences) + f" on {ctx.device.type.upper()}."
    n_train = len(split.train_labels) if cfg["train_size"] is None else min(cfg["train_size"], len(split.train_labels))
    config = {
        **cfg, "seeds": len(ctx.seeds), "repeats": len(ctx.seeds), "smoke": ctx.smoke, "label": ctx.device.type.upper(),
        "dataset": "mnist", "data_source": split.source, "train_images": n_train,
        "classic_loop": f"{classic['reference']} reproduced step for step with a clock per phase: torchvision dataset, "
                        f"per-image ToTensor/Normalize, DataLoader(batch {classic['batch_size']}, shuffle, 0 workers), "
                        f"float32, SGD(lr {classic['lr']}, momentum {classic['momentum']}), loss.item() every step",
        "course_loop": "course_utils.fit with its defaults on make_loaders' device-resident DeviceLoader (AdamW, "
                       "batch 128 on CPU / 512 on GPU, bf16 autocast where native, channels_last, no per-step sync)",
        "phases": "data: producing the batch and moving it to the device; sync: loss.item() (classic) — fit has no "
                  "per-step host sync inside its timed epoch (one .item() per epoch after the clock), recorded as 0; "
                  "compute: forward + loss + backward + optimizer step (for fit: epoch seconds minus data seconds, "
                  "which includes its scheduler step and on-device bookkeeping)",
        "tflops": "flops_per_image (course_utils.count_flops(..., backward=True), batch 2 halved) x images / epoch seconds",
        "peak_fraction": "left empty on a CPU: no published peak for this processor" if ctx.device.type == "cpu" else
                         "not computed here",
        "steady": "summary statistics use epochs 2.. of every repeat (the first epoch includes warm-up); with one "
                  "epoch, that epoch",
        "scale_text": f"bundled MNIST {n_train:,} training images, {cfg['epochs']} epoch(s) per repeat, {ctx.device.type.upper()}",
    }  # fmt: skip
    return {"config": config, "runs": runs, "summary": summary}


def _idle_run(model: str, loop: str, repeat: int, epochs: list[dict[str, float]], flops_per_image: int, test_acc: float,
              batch_size: int, precision: str) -> dict[str, Any]:  # fmt: skip
    for e in epochs:
        e["tflops"] = flops_per_image * e["images"] / e["epoch_s"] / 1e12
    return {"group": f"{model}/{loop}", "model": model, "loop": loop, "seed": repeat, "batch_size": batch_size,
            "precision": precision, "flops_per_image": flops_per_image, "epochs": epochs, "test_acc": test_acc}  # fmt: skip


# ------------------------------------------------------------------------------------------------------- CLI
RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "degradation": run_degradation,
    "shortcuts": run_shortcuts,
    "zoo": run_zoo,
    "gpu-idle": run_gpu_idle,
}


def _precision_text(experiment: str, dev: torch.device) -> str:
    if experiment == "gpu-idle":
        return f"classic loop float32; course loop: fit default, {fit_precision(dev)}"
    return f"fit default: {fit_precision(dev)}"


def run_experiment(experiment: str, ctx: Context, command: str, git: tuple[str | None, bool | None], out: Path) -> Path:
    """Run one experiment, add its provenance and write `<out>/<experiment>.<device kind>.json`; returns the path."""
    import torchvision

    wall0, cpu0, load0 = time.perf_counter(), time.process_time(), _load_average()
    started = datetime.now(UTC)
    body = RUNNERS[experiment](ctx)
    provenance = {
        "command": command, "git_commit": git[0], "git_dirty": git[1], "device": _device_text(ctx.device),
        "device_kind": device_kind(ctx.device), "precision": _precision_text(experiment, ctx.device),
        "torch": torch.__version__, "torchvision": torchvision.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "date": started.isoformat(timespec="seconds"), "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
        "load_average_before": load0, "load_average_after": _load_average(),
    }  # fmt: skip
    result = {"experiment": experiment, "schema": SCHEMA, "provenance": provenance, "config": body["config"],
              "seeds": list(ctx.seeds), "runs": body["runs"], "summary": body["summary"]}  # fmt: skip
    result = redact_paths(result, {"<data-root>": ctx.data_root, "<out>": out})  # no path of this machine in a file
    path = result_path(experiment, provenance["device_kind"], out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    problems = validate(result)
    ctx.log(f"{experiment}: wrote {path} ({provenance['wall_s']:.0f} s wall, {provenance['cpu_s']:.0f} s CPU)"
            + (f"; PROBLEMS: {problems}" if problems else ""))  # fmt: skip
    return path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of `python -m course_utils.reference`."""
    p = argparse.ArgumentParser(prog=COMMAND, description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--seeds", type=int, default=None, help="seeds (repeats for gpu-idle); default 3, smoke 2")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, 1 epoch, 2 seeds, into a temporary folder")
    p.add_argument("--data-root", default=None, help="folder with Fashion-MNIST's *-ubyte(.gz) files (full runs)")
    p.add_argument("--out", default=None, help="output folder (default: course_utils/reference_results; smoke: a temporary one)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 2; 1 with --smoke, whose tiny batches gain nothing from a second)")
    args = p.parse_args(argv)
    for name in args.experiments:
        if name not in EXPERIMENTS:
            p.error(f"unknown experiment {name!r}: choose from {', '.join(EXPERIMENTS)}")
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be at least 1")
    return args


def _log(message: str) -> None:
    print(f"[{datetime.now():%Y-%m-%d %H:%M:%S}] {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen experiments one after another, writing each result as soon as it is finished."""
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    torch.set_num_threads(args.threads or (1 if args.smoke else 2))
    dev = torch.device(args.device) if args.device else get_device()
    seeds = tuple(range(args.seeds if args.seeds is not None else (2 if args.smoke else 3)))
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="reference-smoke-")) if args.smoke else RESULTS_DIR)
    command = COMMAND + ("" if not raw else " " + shlex.join(raw))
    git = _git_state()
    ctx = Context(device=dev, seeds=seeds, smoke=args.smoke, data_root=args.data_root, log=_log)
    _log(f"$ {command}  (device {_device_text(dev)}, seeds {list(seeds)}, commit {git[0]}, dirty {git[1]}, out {out})")
    for experiment in args.experiments or EXPERIMENTS:
        _log(f"{experiment}: start")
        run_experiment(experiment, ctx, command, git, out)
    return 0



# -------------------------------------------------------------------------------------------------- reading
def reference_table(result: dict[str, Any], ranges: bool = False) -> tuple[list[list[str]], list[str]]:
    """The summary of a reference result as table rows and headers: mean ± std over seeds (and [min–max])."""
    groups, experiment = result["summary"]["groups"], result["experiment"]

    def pm_range(stats: dict[str, Any], scale: float = 100.0, digits: int = 2) -> str:
        if stats["n"] == 1:
            return f"{scale * stats['mean']:.{digits}f} (one seed)"
        text = f"{scale * stats['mean']:.{digits}f} ± {scale * stats['std']:.{digits}f}"
        if ranges and stats["n"] > 1:
            text += f" [{scale * stats['min']:.{digits}f}–{scale * stats['max']:.{digits}f}]"
        return text

    if experiment == "degradation":
        headers = ["depth", "network", "train error % (eval)", "train loss", "test error %", "seeds"]
        rows = [[str(g["depth"]), "residual" if g["residual"] else "plain", pm_range(g["train_error"]),
                 pm_range(g["train_loss"], 1.0, 3), pm_range(g["test_error"]), str(g["train_error"]["n"])]
                for g in sorted(groups.values(), key=lambda g: (g["depth"], g["residual"]))]  # fmt: skip
    elif experiment == "shortcuts":
        headers = ["data / ResNet18", "train error %", "train loss", "test error %", "seeds"]
        rows = [[name, pm_range(g["train_error"]), pm_range(g["train_loss"], 1.0, 3), pm_range(g["test_error"]),
                 str(g["test_error"]["n"])] for name, g in groups.items()]  # fmt: skip
    elif experiment == "zoo":
        headers = ["network", "parameters (32 px)", "MACs (32 px)", "lr (chosen)", "test accuracy %", "s / epoch", "seeds"]
        order = result["summary"].get("ranking_by_test_acc", list(groups))
        rows = [[groups[k]["title"], f"{groups[k]['params']:,}", f"{groups[k]['macs'] / 1e6:,.1f} M",
                 f"{groups[k]['chosen_lr']:.0e}", pm_range(groups[k]["test_acc"]),
                 f"{groups[k]['seconds_per_epoch']['mean']:.1f}", str(groups[k]["test_acc"]["n"])] for k in order]  # fmt: skip
    elif experiment == "gpu-idle":
        headers = ["model", "loop", "precision", "s / epoch", "data s", "sync s", "compute s", "TFLOP/s", "epochs timed"]
        rows = [[g["model"], g["loop"], g["precision"], pm_range(g["epoch_s"], 1.0, 3), f"{g['data_s']['mean']:.3f}",
                 f"{g['sync_s']['mean']:.3f}", f"{g['compute_s']['mean']:.3f}", f"{g['tflops']['mean']:.4f}",
                 str(g["epoch_s"]["n"])] for g in groups.values()]  # fmt: skip
    else:
        raise ValueError(f"unknown experiment {experiment!r}")
    return rows, headers


def show_reference(result: dict[str, Any], ranges: bool = False, reading: bool = True) -> None:
    """Print a reference result for a notebook: its provenance line, its table and (unless `reading=False`, for a
    notebook that printed it already) its computed conclusion."""
    from .tables import format_table

    rows, headers = reference_table(result, ranges)
    print(provenance_line(result))
    print(format_table(rows, headers, right=range(1, len(headers)) if result["experiment"] != "gpu-idle" else range(3, 9)))
    readings = {"shortcuts": shortcuts_reading, "degradation": degradation_conclusion}
    compute = readings.get(result["experiment"])
    conclusion = compute(result) if compute else result["summary"].get("conclusion")
    if conclusion and reading:
        print(conclusion if isinstance(conclusion, str) else json.dumps(conclusion))


def degradation_reading(result: dict[str, Any]) -> str:
    """The depth trend of each variant in a `degradation` result, computed from its summary: final training error per
    depth (mean over seeds) and whether the deepest net of each variant ends above or below the best shallower one,
    with or without overlapping seed ranges — so that no step of the trend is hidden behind a shallow-vs-deep pair."""
    groups = result["summary"]["groups"]
    n = len(result.get("seeds", []))
    lines = []
    for residual, name in ((False, "plain"), (True, "residual")):
        stats = {g["depth"]: g["train_error"] for g in groups.values() if g["residual"] == residual}
        depths = sorted(stats)
        trend = " → ".join(f"{100 * stats[d]['mean']:.1f}" for d in depths)
        deep = depths[-1]
        best = min(depths[:-1], key=lambda d: stats[d]["mean"])
        gap = 100 * (stats[deep]["mean"] - stats[best]["mean"])
        separate = stats[deep]["min"] > stats[best]["max"] or stats[deep]["max"] < stats[best]["min"]
        lines.append(
            f"{name}: {' → '.join(map(str, depths))} layers end at {trend} % training error; the {deep}-layer net is "
            f"{abs(gap):.1f} points {'above' if gap > 0 else 'below'} the {best}-layer one "
            f"(seed ranges {'do not overlap' if separate else 'overlap'}; {n} seeds)"
        )
    return "\n".join(lines)


def shortcuts_reading(result: dict[str, Any]) -> str:
    """Per dataset of a `shortcuts` result: test and training error with and without shortcuts (mean ± std over the
    seeds), and whether the seed ranges of the test error overlap — "no clear difference" when they do."""
    groups = result["summary"]["groups"]
    lines = []
    for dataset in dict.fromkeys(name.split("/")[0] for name in groups):
        with_, without = groups[f"{dataset}/with shortcuts"], groups[f"{dataset}/without shortcuts"]
        a, b = with_["test_error"], without["test_error"]
        overlap = not (a["max"] < b["min"] or b["max"] < a["min"])
        verdict = ("no clear difference in test error: the seed ranges overlap" if overlap else
                   f"test error {'lower' if a['mean'] < b['mean'] else 'higher'} with shortcuts in every seed")  # fmt: skip
        lines.append(
            f"{dataset}: test error {_pm(a)} with shortcuts vs {_pm(b)} without ({a['n']} seeds) — {verdict}; "
            f"training error {_pm(with_['train_error'])} vs {_pm(without['train_error'])}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
