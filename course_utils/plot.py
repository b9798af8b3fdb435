"""Figures the notebooks share: learning curves, image grids, feature maps and kernels (figures only; tables live in
`tables`), and the course's figure style.

The style (`STYLE`, applied by `use_style()`, which every notebook calls in its first cell) sets every font size once, for all
figures: a figure shown on a 1280x720 slide must draw its smallest text at 14 pt or more. A figure is a PNG at
`figure.dpi`; the slide draws it at most about 1215 screen pixels wide (and 560 high), so with the smallest size
here (15 pt at 100 dpi) a figure up to 13.5 inches wide keeps it. Figures set no font size of their own.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from matplotlib.figure import Figure
from matplotlib.font_manager import font_scalings
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator, LogLocator, MaxNLocator, NullFormatter

from .history import History

STYLE: dict[str, object] = {
    "figure.dpi": 100,  # the PNG's pixels per inch; the slide scales the PNG to fit
    "savefig.dpi": "figure",
    "font.size": 16,
    "axes.titlesize": 17,
    "axes.labelsize": 16,
    "xtick.labelsize": 15,
    "ytick.labelsize": 15,
    "legend.fontsize": 15,
    "legend.title_fontsize": 15,
    "figure.titlesize": 17,
    "figure.labelsize": 16,
    "legend.framealpha": 0.85,
    "axes.titlepad": 8.0,
}


def use_style() -> None:
    """Apply the course's figure style (`STYLE`) to matplotlib (every notebook calls it in its first cell)."""
    mpl.rcParams.update(STYLE)


def smallest_font_pt(style: dict[str, object] | None = None) -> float:
    """The smallest text size (points) the style gives any figure text: the size the slides' figure check assumes."""
    style = STYLE if style is None else style
    base = float(style.get("font.size", mpl.rcParamsDefault["font.size"]))
    sizes = []
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
                "legend.fontsize", "legend.title_fontsize", "figure.titlesize", "figure.labelsize"):  # fmt: skip
        value = style.get(key, mpl.rcParamsDefault[key])
        if value is None:  # inherits another size (legend.title_fontsize: the legend's)
            continue
        sizes.append(base * (font_scalings.get(value) or 1.0) if isinstance(value, str) else float(value))
    return min(sizes)


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
    ax_acc.legend(loc="lower right")  # accuracy rises: the lower right is where no curve is after epoch 1
    if title:
        fig.suptitle(title)
    fit_text(fig)
    return fig


def plot_step_loss(histories: Mapping[str, History], smooth: int = 10, log: bool = True, title: str | None = None) -> Figure:
    """Per-step training loss of several runs (moving average over `smooth` steps) on one axis."""
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for i, (name, h) in enumerate(histories.items()):
        loss = torch.tensor(h.step_loss)
        if smooth > 1 and len(loss) >= smooth:
            loss = loss.unfold(0, smooth, 1).mean(1)
        ax.plot(range(1, len(loss) + 1), loss.numpy(), color=f"C{i}", label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss" + (f" ({smooth}-step mean)" if smooth > 1 else ""))
    if log:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), ncols=1 if len(histories) <= 8 else 2)  # beside the data
    if title:
        ax.set_title(title)
    fit_text(fig)
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
            ax.set_title(labels[i], color=label_colors[i] if label_colors else "black")
    if title:
        fig.suptitle(title)
    fit_text(fig)
    return fig


def fit_text(fig: Figure, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> None:
    """Wrap every axes title that is wider than its axes (and a figure title wider than the figure) onto several
    lines, then lay the figure out tightly: a long title otherwise runs over the y label or the next panel's title.
    Call it where a figure would call `fig.tight_layout(rect=...)` (it returns nothing, so a notebook cell that ends
    with it shows the figure once)."""
    fig.tight_layout(rect=rect)  # first the layout, so that each axes has its final width
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fitted = [(ax.title, ax.get_window_extent(renderer).width) for ax in fig.axes]
    if fig._suptitle is not None:  # matplotlib's figure title (no public getter)
        fitted.append((fig._suptitle, fig.bbox.width * 0.96))
    for text, room in fitted:
        content = text.get_text()
        width = text.get_window_extent(renderer).width
        if content and width > room * 0.92:  # a title as wide as its axes still meets the top tick labels
            per_line = max(12, int(max(len(line) for line in content.split("\n")) * room / width * 0.88))
            text.set_text("\n".join(textwrap.fill(line, per_line) for line in content.split("\n")))
    fig.tight_layout(rect=rect)


def _subtitle(fig: Figure, text: str) -> None:
    """A provenance line above the panels, wrapped so that nothing is cut off, then a tight layout."""
    if text:
        fig.suptitle(textwrap.fill(text, width=int(fig.get_figwidth() * 8)), fontsize=mpl.rcParams["legend.fontsize"])
    fit_text(fig)


# Where a point's label may go, in points from the point (x, y, horizontal and vertical alignment), nearest first;
# the far ones get a thin leader line back to the point.
_LABEL_SPOTS = [(dx * r, dy * r, ha, va) for r in (1, 2.5, 4.5, 6.5, 8.5) for dx, dy, ha, va in (
    (6, 4, "left", "bottom"), (6, -4, "left", "top"), (-6, 4, "right", "bottom"), (-6, -4, "right", "top"),
    (0, 7, "center", "bottom"), (0, -7, "center", "top"))]  # fmt: skip


def _overlap(a, b) -> float:
    """Area shared by two display-space boxes."""
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _text_box(t: mpl.text.Text, renderer) -> mpl.transforms.Bbox:
    """The drawn box of a text alone (an annotation's leader line left out)."""
    if isinstance(t, mpl.text.Annotation):
        t.update_positions(renderer)
    return mpl.text.Text.get_window_extent(t, renderer)


def label_points(ax: plt.Axes, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str],
                 colors: Sequence[str] | None = None) -> list:  # fmt: skip
    """Label each point (x, y) with its text, placed where it overlaps no other label, no point and stays inside the
    axes when such a place exists (else where it overlaps least). Call it after the axes' limits and the layout are set
    (`fig.tight_layout()`): the places are measured in the drawn figure."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    dots = [ax.transData.transform((x, y)) for x, y in zip(xs, ys)]
    dot_boxes = [mpl.transforms.Bbox([[u - 5, v - 5], [u + 5, v + 5]]) for u, v in dots]
    placed: list = []
    texts = []
    for i, (x, y, label) in enumerate(zip(xs, ys, labels)):
        best, best_cost = None, float("inf")
        for dx, dy, ha, va in _LABEL_SPOTS:
            far = abs(dx) > 6 or abs(dy) > 7
            t = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            color=colors[i] if colors else None,
                            arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.5"} if far else None)  # fmt: skip
            box = _text_box(t, renderer)
            inside = _overlap(box, frame)
            cost = (box.width * box.height - inside) * 4 + 3 * sum(_overlap(box, b) for b in placed)  # text over text: worst
            cost += sum(_overlap(box, b) for j, b in enumerate(dot_boxes) if j != i)
            if cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost, best_box = t, cost, box
            else:
                t.remove()
            if cost == 0:
                break
        placed.append(best_box)
        texts.append(best)
    return texts


def overlapping_text(fig: Figure, min_area: float = 4.0) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of `fig` (titles, axis and tick labels, legends, annotations) whose drawn
    boxes overlap by more than `min_area` square pixels: what a reader sees as text written over text."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    off_view = set()  # labels of ticks outside the axis limits: kept by matplotlib, never drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not (lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo)):
                    off_view.update({id(tick.label1), id(tick.label2)})
    texts = [t for t in fig.findobj(mpl.text.Text)
             if t.get_visible() and t.get_text().strip() and t.get_figure() and id(t) not in off_view]  # fmt: skip
    boxes = [(t.get_text().strip(), _text_box(t, renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1 :]
            if _overlap(box_a, box_b) > min_area]  # fmt: skip


def _mean_band(ax: plt.Axes, curves: list[list[float]], label: str, style: str, color: str, scale: float = 100.0) -> None:
    """Plot the mean of several equally long curves with a band from their minimum to their maximum."""
    t = torch.tensor(curves, dtype=torch.float64) * scale
    x = range(1, t.shape[1] + 1)
    ax.plot(x, t.mean(0).numpy(), style, color=color, label=label)
    if t.shape[0] > 1:
        ax.fill_between(x, t.min(0).values.numpy(), t.max(0).values.numpy(), color=color, alpha=0.15)


class _LogTicks(Locator):
    """Ticks on a log axis at round numbers, spread evenly enough to label: decades when the axis spans several,
    else 1-2-5 steps, else finer steps (matplotlib falls back to linear steps, which crowd on a log axis)."""

    STEPS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0),
             (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))  # fmt: skip

    def __call__(self) -> list[float]:
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        lo, hi = sorted((vmin, vmax))
        lo, hi = max(lo, 1e-300), max(hi, 1e-300)
        ticks: list[float] = []
        for mantissas in self.STEPS:
            ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                     for m in mantissas if lo <= m * 10.0**e <= hi]  # fmt: skip
            if len(ticks) >= 3:
                break
        return ticks


def plain_log_ticks(axis) -> None:
    """Label a log axis with plain numbers at round values (`_LogTicks`): matplotlib's default labels every minor
    tick as 3×10¹, 4×10¹, ... when the range is short, and those run into each other."""
    axis.set_major_locator(_LogTicks())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(LogLocator(subs=tuple(float(i) for i in range(1, 10))))
    axis.set_minor_formatter(NullFormatter())


def plot_reference_degradation(result: Mapping, subtitle: str = "") -> Figure:
    """A `degradation` reference result: final training error against depth (plain vs residual, mean and min–max
    over seeds), and the training error per epoch of the shallowest and deepest nets."""
    groups, runs = result["summary"]["groups"], result["runs"]
    depths = sorted({g["depth"] for g in groups.values()})
    fig, (ax_d, ax_c) = plt.subplots(1, 2, figsize=(13, 4.4))
    for residual, style, name in ((False, "--o", "plain"), (True, "-s", "residual")):
        stats = [next(g["train_error"] for g in groups.values() if g["depth"] == d and g["residual"] == residual)
                 for d in depths]  # fmt: skip
        mean = [100 * s["mean"] for s in stats]
        err = [[100 * (s["mean"] - s["min"]) for s in stats], [100 * (s["max"] - s["mean"]) for s in stats]]
        ax_d.errorbar(depths, mean, yerr=err, fmt=style, capsize=4, color=f"C{int(residual)}", label=name)
    ax_d.set(xlabel="depth (layers)", ylabel="final training error (%)", xticks=depths,
             title="Training error at the end of training")  # fmt: skip
    ax_d.legend()
    ax_d.grid(alpha=0.3)
    for i, depth in enumerate((depths[0], depths[-1])):
        for residual, style in ((False, "--"), (True, "-")):
            curves = [r["curves"]["train_error"] for r in runs if r["depth"] == depth and r["residual"] == residual]
            _mean_band(ax_c, curves, f"{depth} layers, {'residual' if residual else 'plain'}", style + ".", f"C{i + 2}")
    ax_c.set(xlabel="epoch", ylabel="training error (%, running)", title="Training error per epoch")
    ax_c.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_c.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the panel: inside it would hide a curve
    ax_c.grid(alpha=0.3)
    _subtitle(fig, subtitle)
    return fig


def plot_reference_shortcuts(result: Mapping, subtitle: str = "") -> Figure:
    """A `shortcuts` reference result: per dataset, training and test error per epoch with and without shortcuts
    (mean and min–max over seeds)."""
    runs = result["runs"]
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    # one legend, right of the last panel: inside a panel it would hide the curves
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets) + 2.6, 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for i, variant in enumerate(dict.fromkeys(r["variant"] for r in runs)):
            mine = [r for r in runs if r["dataset"] == dataset and r["variant"] == variant]
            _mean_band(ax, [r["curves"]["train_error"] for r in mine], f"{variant}: train", "-o", f"C{i}")
            _mean_band(ax, [r["curves"]["test_error"] for r in mine], f"{variant}: test", "--s", f"C{i}")
        ax.set(xlabel="epoch", ylabel="error (%, log scale)", yscale="log", title=f"ResNet18 on {dataset}")
        plain_log_ticks(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    _subtitle(fig, subtitle)
    return fig


def plot_reference_zoo(result: Mapping, subtitle: str = "", titles: Mapping[str, str] | None = None) -> Figure:
    """A `zoo` reference result: test accuracy against multiply-accumulates, one point per network.

    Filled markers: the mean over several seeds, with a bar from the minimum to the maximum; hollow markers labelled
    "(1 seed)": a single run, whose spread is unknown. Training seconds are not plotted: on a shared machine they do
    not even rank the networks, and MACs are the cost that does not depend on the machine. `titles` renames groups
    (group key -> display name), e.g. to tell two variants of one network apart."""
    groups = result["summary"]["groups"]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    points = []
    for i, (key, g) in enumerate(groups.items()):
        acc, title = g["test_acc"], (titles or {}).get(key, g["title"])
        mean = 100 * acc["mean"]
        if acc["n"] > 1:
            ax.errorbar([g["macs"]], [mean], yerr=[[100 * (acc["mean"] - acc["min"])], [100 * (acc["max"] - acc["mean"])]],
                        fmt="o", capsize=3, color=f"C{i}")  # fmt: skip
            label = f"{title} ({acc['n']} seeds)"
        else:
            ax.plot([g["macs"]], [mean], "o", markerfacecolor="none", markeredgecolor=f"C{i}")
            label = f"{title} (1 seed)"
        points.append((g["macs"], mean, label, f"C{i}"))
    ax.set(xscale="log", xlabel="multiply-accumulates per image (32 px, log scale)", ylabel="test accuracy (%)",
           title="mean over seeds, bars min–max; hollow: one seed")  # fmt: skip
    ax.margins(x=0.25, y=0.15)  # room for the labels of the outermost networks
    ax.grid(alpha=0.3, which="both")
    _subtitle(fig, subtitle)
    xs, ys, labels, colors = zip(*points) if points else ((), (), (), ())
    label_points(ax, xs, ys, labels, colors)  # each label in its point's colour
    return fig


def plot_reference_gpu_idle(result: Mapping, subtitle: str = "") -> Figure:
    """A `gpu-idle` reference result: seconds per epoch split into data, host synchronisation and compute, for the
    classic loop and the course loop of each model (means over repeats)."""
    groups = list(result["summary"]["groups"].values())
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.55 * len(groups)))
    labels = [f"{g['model']} · {g['loop']}" for g in groups]
    left = [0.0] * len(groups)
    for phase, color in (("data_s", "C1"), ("sync_s", "C3"), ("compute_s", "C0")):
        widths = [g[phase]["mean"] for g in groups]
        ax.barh(labels, widths, left=left, color=color, label=phase.removesuffix("_s"))
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set(xlabel="seconds per epoch (linear: each bar's parts keep their true proportions)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    _subtitle(fig, subtitle)
    return fig


def plot_loop_comparison(results: Mapping[str, Mapping[str, float | None]], threshold: float, subtitle: str = "") -> Figure:
    """The benchmark's chart: per model the course loop's speed-up over the classic loop (steady s/epoch), and the
    training seconds each loop needed to reach `threshold` test accuracy (a missing bar: not reached).

    `results[model]` holds `speedup`, `classic_tta` and `course_tta` (seconds or None)."""
    names = list(results)
    fig, (ax_speed, ax_tta) = plt.subplots(1, 2, figsize=(12, 1.8 + 0.45 * max(3, len(names))))
    y = list(range(len(names)))
    speedups = [float(results[n]["speedup"] or 0.0) for n in names]
    ax_speed.barh(y, speedups, color="C0")
    ax_speed.axvline(1.0, color="0.3", lw=1, ls="--")
    for yi, value in zip(y, speedups):
        ax_speed.text(value, yi, f" {value:.2f}×", va="center")
    ax_speed.set_xlabel("speed-up per epoch (classic s/epoch ÷ course s/epoch)")
    ax_speed.set_xlim(0, max(speedups + [1.0]) * 1.25)
    height = 0.38
    longest = max([float(results[n][k] or 0.0) for n in names for k in ("classic_tta", "course_tta")] + [1.0])
    for offset, key, color in ((-height / 2, "classic_tta", "C1"), (height / 2, "course_tta", "C0")):
        for yi, name in zip(y, names):
            value = results[name][key]
            if value is None:
                ax_tta.text(0, yi + offset, " not reached", va="center", color=color)
            else:
                ax_tta.barh(yi + offset, value, height=height, color=color)
                ax_tta.text(value, yi + offset, f" {value:.1f} s", va="center")
    ax_tta.set_xlim(0, longest * 1.3)
    ax_tta.set_xlabel(f"training seconds to {100 * threshold:g} % test accuracy")
    handles = [Patch(color="C1", label="classic loop"), Patch(color="C0", label="course loop")]
    ax_tta.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)  # above: clear of the bars
    for ax in (ax_speed, ax_tta):
        ax.set_yticks(y, names)
        ax.set_ylim(len(names) - 0.5, -0.5)  # first model on top, room for both bars of the last one
        ax.grid(axis="x", alpha=0.3)
    _subtitle(fig, subtitle)
    fig.tight_layout()
    return fig
