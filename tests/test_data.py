import gzip
import shutil
import time

import pytest
import torch
import torchvision

from course_utils import data


def test_bundled_mini_mnist_is_real_and_balanced():
    split = data.load_dataset("mnist", quick=True)
    assert split.train_images.shape == (5000, 28, 28) and split.train_images.dtype == torch.uint8
    assert split.test_images.shape == (10000, 28, 28)
    assert torch.bincount(split.train_labels).tolist() == [500] * 10
    assert split.classes[0].startswith("0")
    assert "bundled" in split.source


def test_bundled_mini_fashion_mnist():
    split = data.load_dataset("fashion-mnist", quick=True)
    assert split.train_images.shape == (5000, 28, 28)
    assert torch.bincount(split.test_labels).tolist() == [200] * 10
    assert split.classes[0] == "T-shirt/top"


def test_normalisation_constants_are_computed():
    split = data.load_dataset("mnist", quick=True)
    x = split.train_images.double() / 255
    assert split.mean == pytest.approx(float(x.mean()))
    assert split.std == pytest.approx(float(x.std()))
    # close to the well-known full-MNIST values 0.1307 / 0.3081, and far from the mistyped 0.1370 / 0.3801
    assert abs(split.mean - 0.1307) < 0.005 and abs(split.std - 0.3081) < 0.005


def test_unknown_dataset():
    with pytest.raises(ValueError, match="choose one of"):
        data.load_dataset("cifar10")


def test_usb_stick_folder_with_gz_files(tmp_path, data_cache):
    stick = tmp_path / "stick"
    stick.mkdir()
    for name in data.FILES:  # the bundled files stand in for what a teacher copied
        shutil.copy(data.BUNDLED / "mnist-mini" / f"{name}.gz", stick / f"{name}.gz")
    split = data.load_dataset("mnist", quick=False, root=stick)
    assert len(split.train_labels) == 5000 and len(split.test_labels) == 10000
    assert "only 5,000 of the 60,000 training images" in split.source  # a partial "full" set says so
    assert not split.source.startswith("full")


def test_mnist_and_fashion_mnist_files_are_never_confused(tmp_path, data_cache):
    # same file names and format: a flat folder of MNIST files must not pass for Fashion-MNIST
    folder = tmp_path / "data"
    (folder / "FashionMNIST" / "raw").mkdir(parents=True)
    for name in data.FILES:
        shutil.copy(data.BUNDLED / "mnist-mini" / f"{name}.gz", folder / f"{name}.gz")
    with pytest.raises(data.DataUnavailableError, match="not on this machine"):  # MNIST's files are not taken
        data.load_dataset("fashion-mnist", quick=False, root=folder)
    assert data.load_dataset("mnist", quick=False, root=folder).mean == pytest.approx(0.1313, abs=1e-3)
    wrong = tmp_path / "wrong" / "FashionMNIST" / "raw"  # MNIST's files in Fashion-MNIST's own folder
    shutil.copytree(folder, wrong, ignore=shutil.ignore_patterns("FashionMNIST", "imported"))
    with pytest.raises(data.DataUnavailableError, match="look like MNIST"):
        data.load_dataset("fashion-mnist", quick=False, root=tmp_path / "wrong")
    # with Fashion-MNIST in its own subfolder, each name finds its own files
    for name in data.FILES:
        shutil.copy(data.BUNDLED / "fashion-mnist-mini" / f"{name}.gz", folder / "FashionMNIST" / "raw" / f"{name}.gz")
    fashion = data.load_dataset("fashion-mnist", quick=False, root=folder)
    mnist = data.load_dataset("mnist", quick=False, root=folder)
    assert abs(fashion.mean - data.DATASETS["fashion-mnist"].typical_mean) < 0.01
    assert abs(mnist.mean - data.DATASETS["mnist"].typical_mean) < 0.01


def test_data_dir_env_with_plain_files(tmp_path, monkeypatch):
    folder = tmp_path / "mnist-files" / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for name in data.FILES:
        with gzip.open(data.BUNDLED / "mnist-mini" / f"{name}.gz") as fin, open(folder / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mnist-files"))
    split = data.load_dataset("mnist", quick=False)
    assert len(split.train_labels) == 5000
    assert str(tmp_path) in split.source


def test_missing_data_offline_fails_fast_and_helpfully(data_cache, monkeypatch):
    # A closed port on this machine stands for "no network": the connection is refused at once.
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_dataset("mnist", quick=False)
    assert time.perf_counter() - start < 10
    msg = str(err.value)
    assert str(data_cache) in msg
    for expected in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "COURSE_DATA_DIR", "COURSE_QUICK=1", "internet"):
        assert expected in msg


def test_missing_usb_folder(tmp_path):
    with pytest.raises(data.DataUnavailableError, match="Expected these four files"):
        data.load_dataset("mnist", quick=False, root=tmp_path)


def test_network_probe_times_out_quickly():
    start = time.perf_counter()
    assert data.files._network_available("http://127.0.0.1:9/", timeout=1.0) is False
    assert time.perf_counter() - start < 2


def test_device_loader_shapes_normalisation_and_shuffle():
    split = data.load_dataset("mnist", quick=True)
    loader = data.DeviceLoader(split.train_images, split.train_labels, 256, mean=split.mean, std=split.std, device="cpu")
    assert len(loader) == 20 and loader.num_samples == 5000
    assert loader.images.mean().abs() < 1e-3 and (loader.images.std() - 1).abs() < 1e-3
    first = [y.clone() for _, y in loader]
    second = [y.clone() for _, y in loader]
    assert first[0].shape == (256,) and first[-1].shape == (5000 - 19 * 256,)
    assert not torch.equal(torch.cat(first), torch.cat(second))  # reshuffled each epoch
    assert torch.equal(torch.cat(first).sort().values, split.train_labels.sort().values)  # each sample once
    x, _ = next(iter(loader))
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32


def test_device_loader_pad_resize_drop_last():
    split = data.load_dataset("mnist", quick=True)
    kw = dict(mean=split.mean, std=split.std, device="cpu")
    padded = data.DeviceLoader(split.test_images[:100], split.test_labels[:100], 32, pad=2, drop_last=True, **kw)
    assert len(padded) == 3 and padded.sample_shape == (1, 32, 32)
    corner = padded.images[:, 0, 0, 0]
    assert torch.allclose(corner, torch.full_like(corner, -split.mean / split.std))  # padding = background
    resized = data.DeviceLoader(split.test_images[:10], split.test_labels[:10], 5, resize=32, shuffle=False, **kw)
    assert resized.sample_shape == (1, 32, 32)
    with pytest.raises(ValueError, match="labels"):
        data.DeviceLoader(split.test_images[:10], split.test_labels[:9], 5, **kw)


def test_make_loaders_validation_split():
    loaders = data.make_loaders("mnist", batch_size=100, val_fraction=0.2, device="cpu", test_size=500)
    assert loaders.train.num_samples == 4000 and loaders.val is not None and loaders.val.num_samples == 1000
    assert loaders.test.num_samples == 500
    train_set = set(map(tuple, loaders.train.images.flatten(1)[:50, ::7].tolist()))
    val_set = set(map(tuple, loaders.val.images.flatten(1)[:, ::7].tolist()))
    assert not train_set & val_set


def test_classic_loaders():
    split = data.load_dataset("mnist", quick=True)
    train, test = data.classic_loaders(split, batch_size=64, train_size=640)
    x, y = next(iter(train))
    assert x.shape == (64, 1, 28, 28) and y.shape == (64,)
    assert len(train) == 10 and test.batch_size == 1000
    x32, _ = next(iter(data.classic_loaders(split, batch_size=8, train_size=16, pad=2)[0]))
    assert x32.shape == (8, 1, 32, 32)
