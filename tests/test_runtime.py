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
    assert runtime.mode_name("cpu") == "quick"


@pytest.mark.parametrize(("hours", "quick"), [(0.5, False), (3.0, True)])
def test_unset_on_mps_is_full_only_when_the_series_fits_a_lecture(monkeypatch, capsys, hours, quick):
    from course_utils import cost

    monkeypatch.delenv("COURSE_QUICK", raising=False)
    rate = 1e12
    measured = runtime.FULL_SERIES_TFLOP * 1e12 / (hours * 3600)  # what the short step on MPS would measure
    monkeypatch.setattr(runtime, "step_rate", lambda device, amp=False, budget_s=0.2: measured)
    runtime._mps_default_quick.cache_clear()
    try:
        assert runtime.is_quick("mps") is quick
        assert runtime.is_quick("mps") is quick  # decided once: the measurement is not repeated
        out = capsys.readouterr().out
        assert ("COURSE_QUICK=0 forces full mode" in out) is quick and out.count("Apple GPU") == int(quick)
        assert ("does not" in runtime.mode_reason("mps")) is quick
    finally:
        runtime._mps_default_quick.cache_clear()
    assert cost.estimate(None, "cpu", rate=rate).seconds == pytest.approx(cost.plan_gflop() * 1e9 / rate)


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
    assert info["mode set by"] == "COURSE_QUICK=1" and "the series (7 notebooks): at least" in info["full mode here"]


def test_run_info_estimates_the_running_notebook(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/somewhere/05_resnet18_shortcuts.ipynb")  # as Jupyter Server sets it
    monkeypatch.setenv("COURSE_BF16", "0")
    info = banner.run_info((), show=False)
    assert info["full mode here"].startswith("notebook 05: at least") and info["fit precision"] == "float32 (COURSE_BF16=0)"
    assert banner.run_info((), show=False, notebook="02")["full mode here"].startswith("notebook 02: no training")
