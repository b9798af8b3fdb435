import pytest
import torch

from course_utils import banner, runtime


@pytest.fixture(autouse=True)
def _reset():
    runtime.set_quick(None)
    yield
    runtime.set_quick(None)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), ("true", True), ("off", False)])
def test_env_forces_mode(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert runtime.is_quick("cuda") is expected
    assert runtime.is_quick("cpu") is expected


def test_unset_follows_device(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert runtime.is_quick("cpu") is True
    assert runtime.is_quick("cuda") is False
    assert runtime.is_quick("mps") is False
    assert runtime.mode_name("cpu") == "quick"


def test_bad_value_says_what_to_do(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK=1"):
        runtime.is_quick()


def test_set_quick_overrides_env(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    runtime.set_quick(False)
    assert runtime.is_quick() is False
    with pytest.raises(TypeError):
        runtime.set_quick("yes")  # type: ignore[arg-type]


def test_device_order():
    dev = runtime.get_device()
    if torch.cuda.is_available():
        assert dev.type == "cuda"
    elif dev.type != "mps":
        assert dev.type == "cpu"


def test_seed_everything_repeats():
    runtime.seed_everything(3)
    a = torch.rand(4)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_run_info_reports_everything(capsys):
    info = banner.run_info(("mnist", "fashion-mnist"))
    out = capsys.readouterr().out
    for key in ("device", "mode", "torch", "torchvision", "mnist train/test", "fashion-mnist train/test"):
        assert key in info
        assert key in out
    assert info["mnist train/test"].startswith("5,000 / 10,000")
    assert info["fashion-mnist train/test"].startswith("5,000 / 2,000")
