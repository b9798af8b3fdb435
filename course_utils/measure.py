"""Measuring a network: parameters, multiply-accumulates and FLOPs, torchsummary's table with correct totals, and
the peak throughput of the device a measurement is compared with.

Parameters come from `model.parameters()` (a module used twice counts once, unlike torchsummary's table) and
multiply-accumulates from `torch.utils.flop_counter.FlopCounterMode` (FLOPs = 2 x MACs; convolutions and matrix
products only — activations, pooling and normalisation are not counted).
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class SummaryResult:
    """Totals of a model on one input."""

    params: int
    trainable_params: int
    macs: int
    output_shape: tuple[int, ...]
    table: str

    @property
    def flops(self) -> int:
        return 2 * self.macs


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters, each tensor counted once even if a module is reused."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def count_macs(model: nn.Module, input_size: tuple[int, ...], batch_size: int = 1) -> int:
    """Multiply-accumulates of one forward pass on `batch_size` inputs of shape `input_size` (C, H, W)."""
    return count_flops(model, input_size, batch_size) // 2


def count_flops(
    model: nn.Module, input_size: tuple[int, ...], batch_size: int = 1, backward: bool = False, input_grad: bool = False
) -> int:
    """FLOPs (2 per multiply-accumulate) of a forward pass, or of forward + backward with `backward=True`.

    A whole network's input (images) needs no gradient; set `input_grad=True` for a block inside a network, whose
    backward pass also computes the gradient with respect to its input.
    """
    was_training = model.training
    model.eval() if not backward else model.train()
    x = torch.zeros((batch_size, *input_size), device=_device_of(model), requires_grad=backward and input_grad)
    counter = FlopCounterMode(display=False)
    with counter, torch.random.fork_rng(devices=[]):
        if backward:
            model(x).float().sum().backward()
            model.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def summary(model: nn.Module, input_size: tuple[int, ...], show: bool = True) -> SummaryResult:
    """Print torchsummary's table for one input of shape `input_size` (C, H, W) and return the correct totals."""
    from torchsummary import summary as ts_summary

    if len(input_size) != 3:
        raise ValueError(f"input_size must be (channels, height, width), got {input_size}")
    device = _device_of(model)
    was_training = model.training
    model.eval()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), torch.random.fork_rng(devices=[]), torch.no_grad():
        ts_summary(model, input_size, device="cuda" if device.type == "cuda" else "cpu")
    with torch.no_grad():
        out = model(torch.zeros((1, *input_size), device=device))
    model.train(was_training)
    result = SummaryResult(
        params=count_params(model),
        trainable_params=count_params(model, trainable_only=True),
        macs=count_macs(model, input_size),
        output_shape=tuple(out.shape),
        table=buffer.getvalue().rstrip(),
    )
    if show:
        print(result.table)
        print(f"Parameters (model.parameters()): {result.params:,}")
        print(f"Multiply-accumulates (FlopCounterMode / 2): {result.macs:,}  (= {result.flops:,} FLOPs)")
        print(f"Output shape: {result.output_shape}")
    return result


def stage_table(model: nn.Module, input_size: tuple[int, ...], names: list[str] | None = None) -> list[tuple[str, tuple[int, ...], int]]:
    """(child name, output shape, parameters) for each direct child (or the `names` given), on one input."""
    device = _device_of(model)
    rows: list[tuple[str, tuple[int, ...], int]] = []
    hooks = []
    wanted = dict(model.named_children()) if names is None else {n: model.get_submodule(n) for n in names}
    for name, module in wanted.items():
        hooks.append(module.register_forward_hook(
            lambda m, i, o, name=name: rows.append((name, tuple(o.shape), count_params(m)))
        ))  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_size), device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


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


def training_flops_per_image(model: nn.Module, input_size: tuple[int, ...]) -> int:
    """Forward + backward FLOPs of one training image, counted by `FlopCounterMode` on a CPU copy of `model` (batch
    of 2, since BatchNorm cannot train on a single 1x1 feature map)."""
    scratch = copy.deepcopy(model).cpu()
    return count_flops(scratch, input_size, batch_size=2, backward=True) // 2
