"""MNIST and Fashion-MNIST, offline-first: dataset specs (`specs`), their files and caching (`files`), and the two
loaders (`loaders`: the classic `DataLoader` path and the device-resident `DeviceLoader`).

Everything a notebook needs is importable from here: `from course_utils.data import DeviceLoader, pixel_stats`.
"""

from .files import (
    BUNDLED,
    DATA_DIR_ENV,
    DatasetSplit,
    DataUnavailableError,
    cache_dir,
    dataset_root,
    load_dataset,
    pixel_stats,
)
from .loaders import DeviceLoader, Loaders, classic_loaders, default_batch_size, make_loaders, random_subset
from .specs import DATASETS, FILES, DatasetSpec, get_spec, nearest_dataset

__all__ = [
    "BUNDLED",
    "DATASETS",
    "DATA_DIR_ENV",
    "FILES",
    "DataUnavailableError",
    "DatasetSpec",
    "DatasetSplit",
    "DeviceLoader",
    "Loaders",
    "cache_dir",
    "classic_loaders",
    "dataset_root",
    "default_batch_size",
    "get_spec",
    "load_dataset",
    "make_loaders",
    "nearest_dataset",
    "pixel_stats",
    "random_subset",
]
