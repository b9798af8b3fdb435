"""Which number format training uses: bf16 autocast where the device computes bf16 natively, float32 elsewhere.

`COURSE_BF16` overrides the hardware rule: `COURSE_BF16=0` keeps training in float32 everywhere (e.g. to see how the
notebooks run on a CPU without native bf16), `COURSE_BF16=1` turns bf16 autocast on everywhere (emulated, so slower,
where the device lacks native bf16); unset, the hardware rule applies. It is read here only (`bf16_setting`), at
call time.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .runtime import env_switch

BF16_ENV = "COURSE_BF16"


def bf16_setting() -> bool | None:
    """`COURSE_BF16` as read now: `True` (force bf16 autocast on), `False` (force float32), `None` (unset: hardware rule)."""
    return env_switch(BF16_ENV, f"use {BF16_ENV}=0 to train in float32, {BF16_ENV}=1 to force bf16 autocast, or leave "
                                "it unset (bf16 exactly where the device computes it natively)")  # fmt: skip


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
    """`fit`'s default for bf16 autocast: on where the device computes bf16 natively (`native_bf16`), unless
    `COURSE_BF16` says otherwise (`bf16_setting`).

    On a CPU it stays off for the whole of a model that has any grouped or depthwise convolution (MobileNet): oneDNN
    ran those about 2x slower in bf16 than in float32 in one uncommitted measurement on a 2-core AMD EPYC with
    AVX-512 BF16 (the ratio depends on the shapes)."""
    dev = torch.device(device)
    forced = bf16_setting()
    if forced is not None:
        return forced
    if not native_bf16(dev):
        return False
    if dev.type == "cpu" and model is not None:
        return not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in model.modules())
    return True


def fit_precision(device: torch.device | str) -> str:
    """In words, what `fit` computes in by default on `device` (for run-info cells and tables)."""
    dev = torch.device(device)
    forced = bf16_setting()
    if forced is False:
        return f"float32 ({BF16_ENV}=0)"
    if forced is True:
        return f"bf16 autocast ({BF16_ENV}=1" + ("" if native_bf16(dev) else "; emulated: no native bf16") + ")"
    if not native_bf16(dev):
        return "float32 (no native bf16)"
    return "bf16 autocast (native bf16" + ("; float32 for models with depthwise convs)" if dev.type == "cpu" else ")")


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bf16 autocast on `device` when `enabled` (a no-op context otherwise)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
