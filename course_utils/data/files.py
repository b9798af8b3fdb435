"""Dataset files: find the IDX files of MNIST-style datasets (bundled mini copies, a user's folder, torchvision's
download), lay them out in the cache as torchvision expects, and load them into memory as a `DatasetSplit`.

* Quick mode reads the real mini datasets bundled with this package (never the network).
* Full mode reads the full dataset from the cache folder (`COURSE_DATA_DIR` overrides it), downloading it with
  torchvision when missing; a folder holding the four `*-ubyte(.gz)` files (say, copied from a USB stick) works too.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision

from ..runtime import QUICK_ENV, is_quick
from .specs import DATASETS, FILES, get_spec, nearest_dataset

DATA_DIR_ENV = "COURSE_DATA_DIR"
BUNDLED = Path(__file__).resolve().parent.parent / "datasets"


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
    """Which dataset an IDX image file looks like, judged by its mean pixel (`DatasetSpec.typical_mean`)."""
    opener = gzip.open if images.suffix == ".gz" else open
    with opener(images, "rb") as f:
        raw = f.read()
    return nearest_dataset(torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).double().mean().item() / 255)


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
        f"  3. use quick mode ({QUICK_ENV}=1), which uses the real mini {human} bundled with course_utils."
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
    spec = get_spec(name)
    cls, mini, human, class_name = spec.torchvision_class, spec.mini_folder, spec.human, spec.class_name
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
    closest = nearest_dataset(mean)
    if closest != name:
        this, other = DATASETS[name], DATASETS[closest]
        raise DataUnavailableError(
            f"The files found for {this.human} in {base} look like {other.human}: their mean pixel is {mean:.3f} "
            f"({other.human} ≈ {other.typical_mean:.3f}, {this.human} ≈ {this.typical_mean:.3f}). The two datasets use "
            f"the same file names, so keep each in its own folder: {base / this.class_name / 'raw'} for {this.human}."
        )


def load_dataset(name: str = "mnist", quick: bool | None = None, root: str | Path | None = None) -> DatasetSplit:
    """Load MNIST or Fashion-MNIST: the bundled mini set in quick mode, the full set otherwise (see module doc)."""
    base, source = dataset_root(name, quick, root)
    spec = get_spec(name)
    train_set = spec.torchvision_class(str(base), train=True, download=False)
    test_set = spec.torchvision_class(str(base), train=False, download=False)
    if source.startswith("full") and len(train_set) < spec.full_train:  # say so when a "full" folder holds fewer
        source = source.replace("full ", "", 1) + f" — only {len(train_set):,} of the {spec.full_train:,} training images"
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
