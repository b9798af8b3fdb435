"""MNIST and Fashion-MNIST through `torchvision.datasets`, offline-first, with two loaders.

* Quick mode reads the real mini datasets bundled with this package (never the network).
* Full mode reads the full dataset from the cache folder (`COURSE_DATA_DIR` overrides it), downloading it with
  torchvision when missing; a folder holding the four `*-ubyte(.gz)` files (say, copied from a USB stick) works too.
* `classic_loaders` is the `DataLoader` + `ToTensor`/`Normalize` path of every blog post (and of the benchmark).
* `DeviceLoader` keeps the whole dataset as one normalised tensor on the device and slices batches out of it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from .mode import get_device, is_quick

DATA_DIR_ENV = "COURSE_DATA_DIR"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BUNDLED = Path(__file__).parent / "datasets"
FULL_TRAIN_SIZE = 60_000  # MNIST and Fashion-MNIST alike
# Mean training pixel (in [0, 1]) of each dataset: the files have the same names and format, the pixels differ a lot.
TYPICAL_MEAN = {"mnist": 0.1307, "fashion-mnist": 0.2860}

# name -> (torchvision class, bundled mini folder, human name)
DATASETS: dict[str, tuple[type[torchvision.datasets.MNIST], str, str]] = {
    "mnist": (torchvision.datasets.MNIST, "mnist-mini", "MNIST"),
    "fashion-mnist": (torchvision.datasets.FashionMNIST, "fashion-mnist-mini", "Fashion-MNIST"),
}


class DataUnavailableError(FileNotFoundError):
    """The dataset is neither on disk nor downloadable; the message says what to do."""


def cache_dir() -> Path:
    """Where full datasets are downloaded: `$COURSE_DATA_DIR`, else `$XDG_CACHE_HOME/course_utils` (~/.cache)."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "course_utils"


def _writable_cache() -> Path:
    """The cache folder, or a temporary one when the cache cannot be written (read-only home, say)."""
    for candidate in (cache_dir(), Path(tempfile.gettempdir()) / "course_utils"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            probe = candidate / ".write-test"
            probe.touch()
            probe.unlink()
            return candidate
        except OSError:
            continue
    raise OSError(f"cannot write to {cache_dir()} nor to the temporary folder: set {DATA_DIR_ENV} to a writable folder")


def _find_files(folder: Path, class_name: str, name: str | None = None) -> dict[str, Path] | None:
    """The four IDX files (plain or .gz) in `folder/<ClassName>/raw`, `folder/<ClassName>`, `folder` or `folder/raw`,
    if all are there. The dataset's own subfolder comes first; MNIST and Fashion-MNIST use the same file names, so
    files found directly in `folder` (or `folder/raw`) count only if their pixels look like dataset `name`'s."""
    for sub in (folder / class_name / "raw", folder / class_name, folder, folder / "raw"):
        found = {}
        for file in FILES:
            for candidate in (sub / file, sub / f"{file}.gz"):
                if candidate.is_file():
                    found[file] = candidate
                    break
        if len(found) == len(FILES):
            shared_layout = sub in (folder, folder / "raw")
            if shared_layout and name is not None and _closest_dataset(found["train-images-idx3-ubyte"]) != name:
                continue
            return found
    return None


def _closest_dataset(images: Path) -> str:
    """Which dataset an IDX image file looks like, judged by its mean pixel (see TYPICAL_MEAN)."""
    opener = gzip.open if images.suffix == ".gz" else open
    with opener(images, "rb") as f:
        raw = f.read()
    return _nearest_dataset(torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).double().mean().item() / 255)


def _nearest_dataset(mean: float) -> str:
    """The dataset whose typical mean pixel (TYPICAL_MEAN) is nearest to `mean`."""
    return min(TYPICAL_MEAN, key=lambda other: abs(TYPICAL_MEAN[other] - mean))


def _materialise(files: dict[str, Path], root: Path, class_name: str) -> Path:
    """Lay the files out as torchvision expects (`root/<ClassName>/raw/<name>`, decompressed) and return `root`."""
    raw = root / class_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dst = raw / name
        if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        tmp = dst.with_suffix(".part")
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, dst)
    return root


def _network_available(url: str, timeout: float = 3.0) -> bool:
    """Whether `url`'s host answers a TCP connection within `timeout` seconds (DNS included, never hangs longer)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _missing_message(human: str, class_name: str, root: Path) -> str:
    files = "\n".join(f"    {name}(.gz)" for name in FILES)
    return (
        f"The full {human} dataset is not on this machine and it cannot be downloaded (no network).\n"
        f"Looked in: {root} (and {root / class_name / 'raw'}).\n"
        f"Expected these four files there, gzipped or not:\n{files}\n"
        f"(MNIST and Fashion-MNIST use the same file names: keep each in its own subfolder, "
        f"{root / 'MNIST' / 'raw'} and {root / 'FashionMNIST' / 'raw'}.)\n"
        "Ways out:\n"
        f"  1. connect to the internet and run again: torchvision downloads {human} once into {root};\n"
        f"  2. copy the four files (from a USB stick, say) into {root / class_name / 'raw'}, or point "
        f"{DATA_DIR_ENV} at the folder that holds them;\n"
        f"  3. use quick mode ({'COURSE_QUICK'}=1), which uses the real mini {human} bundled with course_utils."
    )


@dataclass
class DatasetSplit:
    """A dataset loaded into memory: uint8 images (N, 28, 28), int64 labels, and statistics of the training images."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]
    mean: float
    std: float
    source: str
    root: Path
    train_set: torchvision.datasets.MNIST = field(repr=False)
    test_set: torchvision.datasets.MNIST = field(repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images scaled to [0, 1] — compute them, never type them by hand."""
    x = images.to(torch.float64).div_(255.0)
    return float(x.mean()), float(x.std())


def dataset_root(name: str = "mnist", quick: bool | None = None, root: str | Path | None = None) -> tuple[Path, str]:
    """The torchvision root folder for `name` (materialised if needed) and a description of where it came from."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {sorted(DATASETS)}")
    cls, mini, human = DATASETS[name]
    class_name = cls.__name__
    quick = is_quick() if quick is None else quick
    if quick and root is None:
        files = _find_files(BUNDLED / mini, class_name)
        if files is None:  # pragma: no cover - a broken install
            raise DataUnavailableError(f"the bundled mini {human} is missing from {BUNDLED / mini}: reinstall course_utils")
        return _materialise(files, _writable_cache() / "bundled" / mini, class_name), f"bundled mini {human}"
    base = Path(root).expanduser() if root is not None else cache_dir()
    files = _find_files(base, class_name, name)
    if files is not None:
        in_place = all(p.parent == base / class_name / "raw" and p.suffix != ".gz" for p in files.values())
        if in_place:
            return base, f"full {human} from {base}"
        # decompress into the cache, never into the user's folder; one cache folder per source folder
        source = next(iter(files.values())).parent.resolve()
        key = hashlib.sha1(str(source).encode()).hexdigest()[:10]
        target = _writable_cache() / "imported" / f"{name}-{key}"
        return _materialise(files, target, class_name), f"full {human} from {base}"
    if root is not None:
        raise DataUnavailableError(_missing_message(human, class_name, base))
    mirror = cls.mirrors[0] if getattr(cls, "mirrors", None) else "https://download.pytorch.org"
    if not _network_available(mirror):
        raise DataUnavailableError(_missing_message(human, class_name, base))
    base.mkdir(parents=True, exist_ok=True)
    cls(str(base), train=True, download=True)
    cls(str(base), train=False, download=True)
    return base, f"full {human} downloaded to {base}"


def _check_identity(name: str, mean: float, base: Path) -> None:
    """Refuse files that are the other dataset (same file names and format): judged by the mean pixel value."""
    closest = _nearest_dataset(mean)
    if closest != name:
        human, other = DATASETS[name][2], DATASETS[closest][2]
        raise DataUnavailableError(
            f"The files found for {human} in {base} look like {other}: their mean pixel is {mean:.3f} "
            f"({other} ≈ {TYPICAL_MEAN[closest]:.3f}, {human} ≈ {TYPICAL_MEAN[name]:.3f}). The two datasets use the same "
            f"file names, so keep each in its own folder: {base / DATASETS[name][0].__name__ / 'raw'} for {human}."
        )


def load_dataset(name: str = "mnist", quick: bool | None = None, root: str | Path | None = None) -> DatasetSplit:
    """Load MNIST or Fashion-MNIST: the bundled mini set in quick mode, the full set otherwise (see module doc)."""
    base, source = dataset_root(name, quick, root)
    cls = DATASETS[name][0]
    train_set = cls(str(base), train=True, download=False)
    test_set = cls(str(base), train=False, download=False)
    if source.startswith("full") and len(train_set) < FULL_TRAIN_SIZE:  # say so when a "full" folder holds fewer
        source = source.replace("full ", "", 1) + f" — only {len(train_set):,} of the {FULL_TRAIN_SIZE:,} training images"
    mean, std = pixel_stats(train_set.data)
    _check_identity(name, mean, base)
    return DatasetSplit(
        name=name,
        train_images=train_set.data,
        train_labels=train_set.targets.long(),
        test_images=test_set.data,
        test_labels=test_set.targets.long(),
        classes=list(train_set.classes),
        mean=mean,
        std=std,
        source=source,
        root=base,
        train_set=train_set,
        test_set=test_set,
    )


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
    cls = DATASETS[split.name][0]
    train_set = cls(str(split.root), train=True, download=False, transform=tf)
    test_set = cls(str(split.root), train=False, download=False, transform=tf)
    train = Subset(train_set, range(train_size)) if train_size else train_set
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=num_workers),
        DataLoader(test_set, batch_size=1000, shuffle=False, num_workers=num_workers),
    )


class DeviceLoader:
    """The whole dataset as one normalised tensor on the device; each epoch reshuffles it with a device-side
    permutation and yields contiguous slices, with no per-sample Python work.

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
    ) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels: they must match one to one")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if std <= 0:
            raise ValueError(f"std must be positive, got {std}: compute it with pixel_stats(images)")
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
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    split = load_dataset(name, quick=quick, root=root)
    dev = torch.device(device) if device is not None else get_device()
    bs = batch_size or default_batch_size(dev)
    xs, ys = split.train_images, split.train_labels
    if train_size is not None:
        xs, ys = xs[:train_size], ys[:train_size]
    val = None
    common = dict(mean=split.mean, std=split.std, device=dev, pad=pad, resize=resize, channels_last=channels_last)
    if val_fraction:
        order = torch.randperm(len(ys), generator=torch.Generator().manual_seed(seed))
        n_val = int(round(len(ys) * val_fraction))
        vi, ti = order[:n_val], order[n_val:]
        val = DeviceLoader(xs[vi], ys[vi], 1024, shuffle=False, **common)
        xs, ys = xs[ti], ys[ti]
    xt, yt = split.test_images, split.test_labels
    if test_size is not None and test_size < len(yt):  # a seeded random subset: the first images are not typical
        pick = torch.randperm(len(yt), generator=torch.Generator().manual_seed(seed))[:test_size].sort().values
        xt, yt = xt[pick], yt[pick]
    return Loaders(
        train=DeviceLoader(xs, ys, bs, shuffle=True, seed=seed, **common),
        test=DeviceLoader(xt, yt, 1024, shuffle=False, **common),
        val=val,
        split=split,
    )
