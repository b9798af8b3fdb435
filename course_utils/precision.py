"""Which number format training uses: bf16 autocast where the device computes bf16 natively, float32 elsewhere."""

from __future__ import annotations

import torch
import torch.nn as nn


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

    On a CPU it stays off for the whole of a model that has any grouped or depthwise convolution (MobileNet): oneDNN
    ran those about 2x slower in bf16 than in float32 in one uncommitted measurement on a 2-core AMD EPYC with
    AVX-512 BF16 (the ratio depends on the shapes)."""
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
    return "bf16 autocast (native bf16" + ("; float32 for models with depthwise convs)" if dev.type == "cpu" else ")")


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bf16 autocast on `device` when `enabled` (a no-op context otherwise)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
