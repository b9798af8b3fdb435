"""Dataset files: find the IDX files of MNIST-style datasets (bundled mini copies, a user's folder, torchvision's
download), lay them out in the cache as torchvision expects, and load them into memory as a `DatasetSplit`.

* Quick mode reads the real mini datasets bundled with this package (never the network).
* Full mode reads the full dataset from the cache folder (`COURSE_DATA_DIR` overrides it), downloading it with
  torchvision when missing; a folder holding the four `*-ubyte(.gz)` files (say, copied from a USB stick) works too.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import shutil
import socket
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision

from ..runtime import QUICK_ENV, is_quick
from .specs import DATASETS, FILES, DatasetSpec, get_spec, nearest_dataset

DATA_DIR_ENV = "COURSE_DATA_DIR"
BUNDLED = Path(__file__).resolve().parent.parent / "datasets"
DOWNLOAD_TIMEOUT = 60.0  # seconds a download may wait for the server (per connection or read), then it fails
_IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x00000803: unsigned bytes, 3 dimensions; 0x00000801: 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_STAMP_SUFFIX = ".sha256"  # next to each cached file: its checksum and the source it was made from


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


def _find_files(
    folder: Path, class_name: str, name: str | None = None, shape: tuple[int, ...] = (1, 28, 28), fix: str = ""
) -> dict[str, Path] | None:
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
            if shared_layout and name is not None and _closest_dataset(found[FILES[0]], shape, fix) != name:
                continue
            return found
    return None


def _kind(path: Path) -> str:
    """"images" or "labels", from an IDX file's name."""
    return "images" if "images" in path.name else "labels"


def _idx_problem(head: bytes, size: int, kind: str, shape: tuple[int, ...]) -> str | None:
    """What is wrong with an IDX file, judged by its first bytes and its size (None when it looks right)."""
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if size < header or len(head) < header:
        return f"it holds only {size} byte(s), less than an IDX header (empty, or cut off during a copy or download)"
    magic = int.from_bytes(head[:4], "big")
    if magic != _IDX_MAGIC[kind]:
        extra = " (it is gzip-compressed: its name should end in .gz)" if head[:2] == _GZIP_MAGIC else ""
        return (f"it does not start with the IDX {kind} number {_IDX_MAGIC[kind]} but with {magic}: it is not an "
                f"IDX {kind} file{extra}")
    dims = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if kind == "images" and tuple(dims[1:]) != tuple(shape[-2:]):
        return f"its images are {dims[1]}x{dims[2]} pixels, the dataset's are {shape[-2]}x{shape[-1]}"
    want = header + math.prod(dims)
    if size != want:
        return (f"its header announces {dims[0]:,} {kind} ({want:,} bytes) but the file holds {size:,} bytes "
                f"({'cut off' if size < want else 'extra bytes'}: damaged during a copy or download?)")
    return None


def _count(path: Path) -> int:
    """The number of items an IDX file's header announces."""
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8)[4:8], "big")


def _unreadable(shown: Path, problem: str, fix: str) -> DataUnavailableError:
    return DataUnavailableError(f"Dataset file {shown} cannot be used: {problem}.\n{fix}")


def _check_idx(path: Path, shape: tuple[int, ...], shown: Path, fix: str) -> None:
    """Raise DataUnavailableError (naming `shown`, saying `fix`) unless `path` is a complete, uncompressed IDX file."""
    with open(path, "rb") as f:
        head = f.read(16)
    problem = _idx_problem(head, path.stat().st_size, _kind(path), shape)
    if problem:
        raise _unreadable(shown, problem, fix)


def _check_pairs(raw: Path, shape: tuple[int, ...], shown: dict[str, Path], fix: str) -> None:
    """Check the four IDX files in `raw` (names as in FILES) and that images and labels come in equal numbers."""
    for name in FILES:
        _check_idx(raw / name, shape, shown.get(name, raw / name), fix)
    for prefix in ("train", "t10k"):
        images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        n_images, n_labels = _count(raw / images), _count(raw / labels)
        if n_images != n_labels:
            raise DataUnavailableError(
                f"Dataset files {shown.get(images, raw / images)} and {shown.get(labels, raw / labels)} do not belong "
                f"together: {n_images:,} images but {n_labels:,} labels (files of two different copies?).\n{fix}")


def _open(path: Path):  # noqa: ANN202 - a binary file object, plain or gzip
    if path.suffix != ".gz":
        return open(path, "rb")
    with open(path, "rb") as f:
        if f.read(2) != _GZIP_MAGIC:
            raise OSError("its name ends in .gz but it is not gzip-compressed")
    return gzip.open(path, "rb")


_READ_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _read_problem(exc: BaseException) -> str:
    if "not gzip-compressed" in str(exc):
        return str(exc)
    return f"it cannot be read or decompressed ({type(exc).__name__}: {exc}): it is damaged or cut off"


def _closest_dataset(images: Path, shape: tuple[int, ...], fix: str) -> str:
    """Which dataset an IDX image file looks like, judged by its mean pixel (`DatasetSpec.typical_mean`)."""
    try:
        with _open(images) as f:
            raw = f.read()
    except _READ_ERRORS as exc:
        raise _unreadable(images, _read_problem(exc), fix) from None
    problem = _idx_problem(raw[:16], len(raw), "images", shape)
    if problem:
        raise _unreadable(images, problem, fix)
    return nearest_dataset(torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).double().mean().item() / 255)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _source_id(src: Path) -> str:
    """A source file's identity by content (so that copies of the package in several folders share one cache)."""
    return f"{src.stat().st_size}|{_sha256(src)}"


def _cached_ok(dst: Path, src: Path) -> bool:
    """Whether `dst` is a complete copy of `src`: its stamp names this source (by size and sha256), and its own size
    and sha256 are those recorded when it was written. A truncated or altered cache file fails the check."""
    stamp = dst.with_name(dst.name + _STAMP_SUFFIX)
    try:
        digest, size, source = stamp.read_text().strip().split(" ", 2)
        return source == _source_id(src) and dst.stat().st_size == int(size) and _sha256(dst) == digest
    except (OSError, ValueError):
        return False


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _materialise(files: dict[str, Path], root: Path, class_name: str, shape: tuple[int, ...], fix: str) -> Path:
    """Lay the files out as torchvision expects (`root/<ClassName>/raw/<name>`, decompressed) and return `root`.

    A cached file is reused only when its checksum stamp matches (see `_cached_ok`); otherwise it is written again,
    under a temporary name first (so that parallel processes never see half a file). Every file is checked to be a
    complete IDX file of the right kind, and images and labels to come in equal numbers; errors name the source."""
    raw = root / class_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dst = raw / name
        if _cached_ok(dst, src):
            continue
        tmp = raw / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            with _open(src) as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            _check_idx(tmp, shape, src, fix)
            digest, size = _sha256(tmp), tmp.stat().st_size
            os.replace(tmp, dst)
        except DataUnavailableError:
            raise
        except _READ_ERRORS as exc:
            raise _unreadable(src, _read_problem(exc), fix) from None
        finally:
            tmp.unlink(missing_ok=True)
        _atomic_write_text(dst.with_name(dst.name + _STAMP_SUFFIX), f"{digest} {size} {_source_id(src)}\n")
    _check_pairs(raw, shape, files, fix)
    return root


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Every new socket waits at most `seconds` for the server (torchvision's download sets no timeout of its own);
    the process-wide default is put back afterwards."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


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


def _missing_message(human: str, class_name: str, root: Path, reason: str = "it cannot be downloaded (no network)") -> str:
    files = "\n".join(f"    {name}(.gz)" for name in FILES)
    return (
        f"The full {human} dataset is not on this machine and {reason}.\n"
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


def _bundled_fix(human: str, folder: Path) -> str:
    return (f"The bundled mini {human} in {folder} is damaged (the cache made from it was rebuilt and is still wrong): "
            "reinstall course_utils (`pip install -e .` in the repository, after `git checkout course_utils/datasets`).")


def _full_fix(human: str) -> str:
    return (f"Replace the file: copy it again from where it came from, or delete it and run again with a network "
            f"connection (torchvision downloads {human} afresh). Meanwhile quick mode ({QUICK_ENV}=1) uses the "
            f"mini {human} bundled with course_utils.")


def _download(spec: DatasetSpec, base: Path, mirror: str) -> None:
    """torchvision's download, with a time limit on every connection and read; any failure is a DataUnavailableError."""
    base.mkdir(parents=True, exist_ok=True)
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT):
            spec.torchvision_class(str(base), train=True, download=True)
            spec.torchvision_class(str(base), train=False, download=True)
    except Exception as exc:  # URLError, HTTPError, TimeoutError, torchvision's RuntimeError (checksum, mirrors)
        what = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if isinstance(exc, TimeoutError) or "timed out" in what:
            what += f" (the server did not answer within {DOWNLOAD_TIMEOUT:g} s)"
        reason = f"downloading it from {mirror} failed ({what})"
        raise DataUnavailableError(_missing_message(spec.human, spec.class_name, base, reason)) from exc


def dataset_root(name: str = "mnist", quick: bool | None = None, root: str | Path | None = None) -> tuple[Path, str]:
    """The torchvision root folder for `name` (materialised if needed) and a description of where it came from.

    Every file is checked (complete IDX files, images and labels in equal numbers) before it is used: a damaged file
    raises DataUnavailableError naming it and saying what to do."""
    spec = get_spec(name)
    cls, mini, human, class_name = spec.torchvision_class, spec.mini_folder, spec.human, spec.class_name
    quick = is_quick() if quick is None else quick
    if quick and root is None:
        files = _find_files(BUNDLED / mini, class_name)
        if files is None:  # pragma: no cover - a broken install
            raise DataUnavailableError(f"the bundled mini {human} is missing from {BUNDLED / mini}: reinstall course_utils")
        target = _writable_cache() / "bundled" / mini
        return _materialise(files, target, class_name, spec.shape, _bundled_fix(human, BUNDLED / mini)), f"bundled mini {human}"
    base = Path(root).expanduser() if root is not None else cache_dir()
    fix = _full_fix(human)
    files = _find_files(base, class_name, name, spec.shape, fix)
    if files is not None:
        in_place = all(p.parent == base / class_name / "raw" and p.suffix != ".gz" for p in files.values())
        if in_place:
            _check_pairs(base / class_name / "raw", spec.shape, {}, fix)
            return base, f"full {human} from {base}"
        # decompress into the cache, never into the user's folder; one cache folder per source folder
        source = next(iter(files.values())).parent.resolve()
        key = hashlib.sha1(str(source).encode()).hexdigest()[:10]
        target = _writable_cache() / "imported" / f"{name}-{key}"
        return _materialise(files, target, class_name, spec.shape, fix), f"full {human} from {base}"
    if root is not None:
        raise DataUnavailableError(_missing_message(human, class_name, base))
    mirror = cls.mirrors[0] if getattr(cls, "mirrors", None) else "https://download.pytorch.org"
    if not _network_available(mirror):
        raise DataUnavailableError(_missing_message(human, class_name, base))
    _download(spec, base, mirror)
    _check_pairs(base / class_name / "raw", spec.shape, {}, fix)
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
    raw = base / spec.class_name / "raw"
    try:
        train_set = spec.torchvision_class(str(base), train=True, download=False)
        test_set = spec.torchvision_class(str(base), train=False, download=False)
    except Exception as exc:  # the files were checked; this is a last resort that still names the folder
        raise DataUnavailableError(f"torchvision cannot read the {spec.human} files in {raw} ({type(exc).__name__}: "
                                   f"{exc}).\n{_full_fix(spec.human)}") from exc
    for labels, file in ((train_set.targets, FILES[1]), (test_set.targets, FILES[3])):
        if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(train_set.classes):
            raise _unreadable(raw / file, f"its labels run from {int(labels.min())} to {int(labels.max())}, but "
                              f"{spec.human} has {len(train_set.classes)} classes (0 to {len(train_set.classes) - 1})",
                              _full_fix(spec.human))
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
