"""Two ways to feed a network: the classic `DataLoader` path of every blog post, and `DeviceLoader`, which keeps the
whole dataset as one normalised tensor on the device and slices batches out of it (what `fit` uses by default)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from ..runtime import get_device
from .files import DatasetSplit, load_dataset
from .specs import get_spec


def classic_loaders(
    split: DatasetSplit,
    batch_size: int = 64,
    train_size: int | None = None,
    pad: int = 0,
    resize: int | None = None,
    num_workers: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """The classic path: torchvision datasets with per-image `ToTensor`/`Normalize` in a shuffling `DataLoader`."""
    steps: list[object] = []
    if pad:
        steps.append(transforms.Pad(pad))
    if resize is not None:
        steps.append(transforms.Resize(resize))
    steps += [transforms.ToTensor(), transforms.Normalize((split.mean,), (split.std,))]
    tf = transforms.Compose(steps)
    cls = get_spec(split.name).torchvision_class
    train_set = cls(str(split.root), train=True, download=False, transform=tf)
    test_set = cls(str(split.root), train=False, download=False, transform=tf)
    train = Subset(train_set, range(train_size)) if train_size else train_set
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=num_workers),
        DataLoader(test_set, batch_size=1000, shuffle=False, num_workers=num_workers),
    )


class DeviceLoader:
    """The whole dataset as one normalised tensor on the device (notebook 07, section 2); each epoch reshuffles it
    with a device-side permutation and yields contiguous slices, with no per-sample Python work.

    `pad` adds zero (background) pixels on every side (28 + 2*2 = 32 for ResNet18); `resize` rescales instead.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int = 256,
        *,
        mean: float,
        std: float,
        shuffle: bool = True,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        pad: int = 0,
        resize: int | None = None,
        channels_last: bool = False,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels: they must match one to one")
        check_count("batch_size", batch_size)
        check_count("pad", pad, minimum=0)
        if resize is not None:
            check_count("resize", resize)
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"mean must be finite and std positive, got mean={mean}, std={std}: compute them with "
                             "pixel_stats(images)")
        if images.is_floating_point() and not bool(torch.isfinite(images).all()):
            bad = int((~torch.isfinite(images)).sum())
            raise ValueError(f"the images hold {bad:,} NaN or infinite value(s): training on them gives a NaN loss. "
                             "Find where they come from, or replace them (torch.nan_to_num(images)) first.")
        self.name, self.mean, self.std, self.pad, self.resize = name, float(mean), float(std), pad, resize
        self._checksum = _checksum(images, labels)
        self.device = torch.device(device) if device is not None else get_device()
        x = images.to(self.device)
        x = x.unsqueeze(1) if x.dim() == 3 else x
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if pad:
            x = F.pad(x, (pad, pad, pad, pad))
        if resize is not None:
            x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
        x = (x - mean) / std
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self.images = x
        self.labels = labels.to(self.device).long()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the shuffling sequence, so two runs see the batches in the same order."""
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = self.labels.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data (a checkpoint stores it): dataset name, sample count and shape, normalisation,
        padding or resizing, and order-sensitive checksums of the images and labels as they were given."""
        images, labels = (round(v, 6) if isinstance(v, float) else v for v in self._checksum.tolist())
        return {"dataset": self.name, "samples": self.num_samples, "shape": list(self.sample_shape),
                "mean": self.mean, "std": self.std, "pad": self.pad, "resize": self.resize,
                "images_checksum": images, "labels_checksum": labels}  # fmt: skip

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.images, self.labels
        if self.shuffle:
            perm = torch.randperm(y.shape[0], device=self.device, generator=self.generator)
            x, y = x[perm], y[perm]
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        for b in range(len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            yield x[sl], y[sl]


def _checksum(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Position-weighted sums of the images and labels (exact integers for uint8 images): cheap, one pass, no sync."""
    n = labels.shape[0]
    exact = not images.is_floating_point()
    dtype = torch.int64 if exact else torch.float32
    weights = torch.arange(1, n + 1, device=images.device, dtype=dtype)
    per_image = images.reshape(n, -1).sum(1, dtype=dtype)
    return torch.stack([(per_image * weights).sum(), (labels.to(images.device, dtype) * weights).sum()])


def check_count(name: str, value: object, minimum: int = 1, maximum: int | None = None, what: str = "") -> int:
    """`value` as an int when it is a whole number in [minimum, maximum], else a ValueError naming `name` (and
    `what` the maximum is: "the training images of the bundled mini MNIST")."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value:,} is more than the {maximum:,} {what}: pass at most {maximum:,}, or None "
                         "for all of them")
    return value


@dataclass
class Loaders:
    """What `make_loaders` returns: device-resident train/test (and validation) loaders plus the dataset."""

    train: DeviceLoader
    test: DeviceLoader
    val: DeviceLoader | None
    split: DatasetSplit


def default_batch_size(device: torch.device | str | None = None) -> int:
    """512 on a GPU (keeps it busy), 128 on a CPU (enough steps per epoch on the mini datasets)."""
    dev = torch.device(device) if device is not None else get_device()
    return 128 if dev.type == "cpu" else 512


def make_loaders(
    name: str = "mnist",
    batch_size: int | None = None,
    *,
    quick: bool | None = None,
    device: torch.device | str | None = None,
    pad: int = 0,
    resize: int | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    val_fraction: float = 0.0,
    channels_last: bool = False,
    seed: int = 0,
    root: str | Path | None = None,
) -> Loaders:
    """Device-resident loaders for `name` in the resolved mode.

    `train_size` keeps the first N training images (the bundled sets are already shuffled), `test_size` a seeded
    random subset of the test set, and `val_fraction` holds out a random part of the training set for validation.
    Sizes are whole numbers >= 1 and at most what the dataset holds (more raises a ValueError that says how many
    there are: quick mode's mini sets are small); `batch_size=None` picks the device default (`default_batch_size`).
    """
    if batch_size is not None:
        check_count("batch_size", batch_size)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be a number in [0, 1) (the share of training images held out), got "
                         f"{val_fraction!r}")
    split = load_dataset(name, quick=quick, root=root)
    origin = split.source.split(" — ")[0]  # "bundled mini MNIST", "full MNIST from <folder>"
    if train_size is not None:
        check_count("train_size", train_size, maximum=len(split.train_labels), what=f"training images of the {origin}")
    if test_size is not None:
        check_count("test_size", test_size, maximum=len(split.test_labels), what=f"test images of the {origin}")
    dev = torch.device(device) if device is not None else get_device()
    bs = batch_size or default_batch_size(dev)
    xs, ys = split.train_images, split.train_labels
    if train_size is not None:
        xs, ys = xs[:train_size], ys[:train_size]
    val = None
    common = dict(mean=split.mean, std=split.std, device=dev, pad=pad, resize=resize, channels_last=channels_last,
                  name=split.name)
    if val_fraction:
        order = torch.randperm(len(ys), generator=torch.Generator().manual_seed(seed))
        n_val = int(round(len(ys) * val_fraction))
        if not 0 < n_val < len(ys):
            raise ValueError(f"val_fraction={val_fraction} of {len(ys):,} training images leaves {n_val:,} for validation "
                             f"and {len(ys) - n_val:,} for training: both need at least one (raise train_size or "
                             "choose another fraction)")
        vi, ti = order[:n_val], order[n_val:]
        val = DeviceLoader(xs[vi], ys[vi], 1024, shuffle=False, **common)
        xs, ys = xs[ti], ys[ti]
    xt, yt = split.test_images, split.test_labels
    if test_size is not None and test_size < len(yt):  # a seeded random subset: the first images are not typical
        pick = torch.tensor(random_subset(len(yt), test_size, seed))
        xt, yt = xt[pick], yt[pick]
    return Loaders(
        train=DeviceLoader(xs, ys, bs, shuffle=True, seed=seed, **common),
        test=DeviceLoader(xt, yt, 1024, shuffle=False, **common),
        val=val,
        split=split,
    )


def random_subset(total: int, size: int, seed: int = 0) -> list[int]:
    """Sorted indices of a seeded random subset of `size` out of `total` items: `make_loaders(test_size=...)` evaluates
    on this subset, and the classic loop of a comparison must use the same one."""
    pick = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:size].sort().values
    return pick.tolist()
