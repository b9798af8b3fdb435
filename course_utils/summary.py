"""Model summaries: torchsummary's layer table, plus totals counted correctly.

Parameters come from `model.parameters()` (a module used twice counts once, unlike torchsummary's table) and
multiply-accumulates from `torch.utils.flop_counter.FlopCounterMode` (FLOPs = 2 x MACs; convolutions and matrix
products only — activations, pooling and normalisation are not counted).
"""

from __future__ import annotations

import contextlib
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
