"""One `DatasetSpec` per dataset the course knows: how torchvision loads it, where its bundled mini copy lies, its
image shape, its typical statistics and its full size. Adding a dataset starts here (see CONTRIBUTING.md)."""

from __future__ import annotations

from dataclasses import dataclass

import torchvision

# The four IDX files of MNIST-style datasets (gzipped or not); MNIST and Fashion-MNIST use the same names.
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetSpec:
    """What the course needs to know about one dataset."""

    name: str  # the key: "mnist", "fashion-mnist"
    human: str  # how prose names it: "MNIST"
    torchvision_class: type[torchvision.datasets.MNIST]  # reads the files (and downloads them in full mode)
    mini_folder: str  # folder of the bundled mini copy, under course_utils/datasets/
    shape: tuple[int, int, int]  # (channels, height, width) of one image
    typical_mean: float  # mean training pixel in [0, 1]: tells datasets with the same file names apart
    full_train: int  # training images of the full dataset
    full_test: int  # test images of the full dataset
    speed_threshold: float  # test accuracy the benchmark's "time to X %" column waits for

    @property
    def class_name(self) -> str:
        """torchvision's folder name for the dataset (`<root>/<class_name>/raw/`)."""
        return self.torchvision_class.__name__


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist", human="MNIST", torchvision_class=torchvision.datasets.MNIST, mini_folder="mnist-mini",
        shape=(1, 28, 28), typical_mean=0.1307, full_train=60_000, full_test=10_000, speed_threshold=0.98,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist", human="Fashion-MNIST", torchvision_class=torchvision.datasets.FashionMNIST,
        mini_folder="fashion-mnist-mini", shape=(1, 28, 28), typical_mean=0.2860, full_train=60_000, full_test=10_000,
        speed_threshold=0.90,
    ),
}  # fmt: skip


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset `name`, or a ValueError naming the known datasets."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def nearest_dataset(mean: float) -> str:
    """The dataset whose typical mean pixel is nearest to `mean`."""
    return min(DATASETS, key=lambda other: abs(DATASETS[other].typical_mean - mean))
