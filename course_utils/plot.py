"""Figures the notebooks share: learning curves, image grids, feature maps and kernels (figures only; tables live in
`tables`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .history import History


def plot_history(histories: Mapping[str, History], title: str | None = None) -> Figure:
    """Loss and accuracy per epoch of several runs on one figure: solid = train, dashed = test (dotted = validation)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = range(1, h.epochs + 1)
        ax_loss.plot(epochs, h.train_loss, "-o", color=color, label=f"{name} train")
        ax_acc.plot(epochs, h.train_acc, "-o", color=color, label=f"{name} train")
        if h.test_loss:
            ax_loss.plot(epochs, h.test_loss, "--s", color=color, label=f"{name} test")
            ax_acc.plot(epochs, h.test_acc, "--s", color=color, label=f"{name} test")
        if h.val_loss:
            ax_loss.plot(epochs, h.val_loss, ":^", color=color, label=f"{name} val")
            ax_acc.plot(epochs, h.val_acc, ":^", color=color, label=f"{name} val")
    for ax, label in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_step_loss(histories: Mapping[str, History], smooth: int = 10, log: bool = True, title: str | None = None) -> Figure:
    """Per-step training loss of several runs (moving average over `smooth` steps) on one axis."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, (name, h) in enumerate(histories.items()):
        loss = torch.tensor(h.step_loss)
        if smooth > 1 and len(loss) >= smooth:
            loss = loss.unfold(0, smooth, 1).mean(1)
        ax.plot(range(1, len(loss) + 1), loss.numpy(), color=f"C{i}", label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss" + (f" ({smooth}-step mean)" if smooth > 1 else ""))
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_images(
    images: torch.Tensor,
    labels: Sequence[int] | torch.Tensor | None = None,
    preds: Sequence[int] | torch.Tensor | None = None,
    classes: Sequence[str] | None = None,
    ncols: int = 8,
    scale: float = 1.4,
) -> Figure:
    """A grid of (N, H, W) or (N, 1, H, W) images titled with labels and, if given, predictions (red when wrong)."""
    imgs = images.detach().cpu().float()
    imgs = imgs[:, 0] if imgs.dim() == 4 else imgs

    def name(k: int) -> str:
        return classes[k] if classes else str(k)

    titles, colors = [], []
    for i in range(imgs.shape[0]):
        title = name(int(labels[i])) if labels is not None else ""
        wrong = preds is not None and labels is not None and int(preds[i]) != int(labels[i])
        if preds is not None:
            title += f" → {name(int(preds[i]))}"
        titles.append(title)
        colors.append("red" if wrong else "black")
    show = labels is not None or preds is not None
    return _grid(imgs, ncols, None, scale, titles if show else None, colors, height=1.15, cmap="gray")


def feature_maps(model: nn.Module, layer: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The output of `layer` when `model` sees one image (C, H, W); returns (channels, h, w) on the CPU."""
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(image.unsqueeze(0).to(device))
    finally:
        handle.remove()
        model.train(was_training)
    return captured[0][0].float().cpu()


def plot_feature_maps(maps: torch.Tensor, ncols: int = 8, title: str | None = None, scale: float = 1.8) -> Figure:
    """Show each channel of a (C, H, W) tensor as its own small image, numbered."""
    return _grid(maps, ncols, title, scale, labels=[str(i) for i in range(maps.shape[0])], cmap="viridis")


def plot_kernels(weight: torch.Tensor, ncols: int = 8, title: str | None = None, scale: float = 1.6) -> Figure:
    """Show conv kernels (c_out, c_in, k, k): the first input channel of each, on a symmetric colour scale."""
    w = weight.detach().float().cpu()[:, 0]
    lim = float(w.abs().max())
    return _grid(w, ncols, title, scale, cmap="RdBu_r", vmin=-lim, vmax=lim)


def _grid(
    tiles: torch.Tensor, ncols: int, title: str | None, scale: float, labels: Sequence[str] | None = None,
    label_colors: Sequence[str] | None = None, height: float = 1.0, **imshow: object,
) -> Figure:  # fmt: skip
    """The one image-grid layout: `tiles` (N, H, W) in rows of `ncols`, each optionally titled, axes off."""
    n = tiles.shape[0]
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(tiles[i], **imshow)
        if labels is not None:
            ax.set_title(labels[i], fontsize=8, color=label_colors[i] if label_colors else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
