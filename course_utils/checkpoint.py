"""Checkpoints: a model's weights with the history and settings that produced them, saved atomically and loaded
only into the same architecture (weights only: no pickled code runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .history import History

_FLAG_TYPES = (bool, int, float, str, type(None))


def _is_flag(value: object) -> bool:
    return isinstance(value, _FLAG_TYPES) or (isinstance(value, tuple) and all(isinstance(v, _FLAG_TYPES) for v in value))


def architecture_signature(model: nn.Module) -> list[str]:
    """The class name, every state_dict entry's name and shape, and every submodule's class and public constructor
    flags (`use_residual`, `stride`, `in_channels`, ...): equal signatures mean the same network, not just loadable
    weights (a plain and a residual net without projection layers have the same weight shapes)."""
    sig = [type(model).__name__]
    sig += [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]
    for name, module in model.named_modules():
        flags = {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training" and _is_flag(v)}
        sig.append(f"flag:{name or '.'}={type(module).__name__}{flags}")
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


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The contents of a checkpoint file (weights only: no pickled code runs), or a clear error naming the file."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, empty or not a checkpoint at all: torch raises many kinds
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc)[:120]}). It is damaged or not a "
            "checkpoint: delete it (training again writes a new one) or pass another checkpoint path."
        ) from exc
    if not isinstance(payload, dict) or not {"state_dict", "architecture", "settings", "history"} <= set(payload):
        raise ValueError(f"{path} is not a course checkpoint (no weights/settings/history): delete it or pass another path")
    return payload


def load_checkpoint(path: str | Path, model: nn.Module) -> tuple[History, dict[str, Any]]:
    """Load a checkpoint written by `save_checkpoint` into `model` (weights only: no pickled code runs)."""
    payload = read_checkpoint(path)
    _check_architecture(path, model, payload["architecture"])
    model.load_state_dict(payload["state_dict"])
    history = History.from_dict(payload["history"])
    history.loaded_from_checkpoint = True
    return history, payload["settings"]


def load_if_matching(path: str | Path, model: nn.Module, settings: dict[str, Any]) -> History | None:
    """Train-or-load: when `path` holds this architecture trained with exactly `settings`, load it into `model` and
    return its History. With other settings return None without touching the model (the caller trains and overwrites
    the file); a checkpoint of another architecture raises a ValueError (nothing is loaded or overwritten)."""
    if not Path(path).is_file():
        return None
    payload = read_checkpoint(path)
    _check_architecture(path, model, payload["architecture"])  # another network's file is never overwritten
    if payload["settings"] != settings:
        print(f"{path} was trained with other settings: training again and overwriting it.")
        return None
    history, _ = load_checkpoint(path, model)
    print(f"Loaded trained weights from {path} (delete it to train again).")
    return history


def _check_architecture(path: str | Path, model: nn.Module, have: list[str]) -> None:
    want = architecture_signature(model)
    if not any(entry.startswith("flag:") for entry in have):  # an older checkpoint: compare the weight shapes only
        want = [entry for entry in want if not entry.startswith("flag:")]
    if want != have:
        diff = next((f"{a} vs {b}" for a, b in zip(want, have) if a != b), f"{len(want)} vs {len(have)} entries")
        raise ValueError(
            f"checkpoint {path} was saved for a different architecture ({have[0]}; first difference: {diff}). "
            "Delete the file or pass another checkpoint path to train this model from scratch."
        )
