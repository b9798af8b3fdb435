import pytest
import torch

import course_utils as cu
from course_utils import history, models, optim, precision


@pytest.fixture(scope="module")
def loaders():
    return cu.make_loaders("mnist", batch_size=128, train_size=1024, test_size=512, val_fraction=0.25, device="cpu")


def quick_fit(loaders, **kw):
    cu.seed_everything(kw.get("seed", 0))
    model = models.SmallCNN()
    kw.setdefault("epochs", 2)
    return model, cu.fit(model, loaders.train, loaders.test, progress=False, device="cpu", **kw)


def test_fit_learns_and_records_everything(loaders):
    _, h = quick_fit(loaders, epochs=3, lr=3e-3)
    assert h.epochs == 3 and len(h.test_acc) == 3 and len(h.train_loss) == 3
    assert len(h.step_loss) == 3 * len(loaders.train) and len(h.lr) == 3
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.test_acc[-1] > 0.6
    assert all(s > 0 for s in h.seconds)
    assert "epochs" in repr(h)


def test_seeded_fits_are_identical(loaders):
    _, a = quick_fit(loaders, seed=7)
    _, b = quick_fit(loaders, seed=7)
    assert a.step_loss == b.step_loss and a.test_acc == b.test_acc and a.train_loss == b.train_loss


def test_evaluate(loaders):
    model = models.SmallCNN()
    loss, acc = cu.evaluate(model, loaders.test, device="cpu")
    assert 0 <= acc <= 1 and loss > 0
    assert model.training  # evaluate restores the mode


def test_checkpoint_round_trip(loaders, tmp_path):
    ckpt = tmp_path / "ckpt" / "small.pt"
    model, h1 = quick_fit(loaders, checkpoint=ckpt)
    assert ckpt.is_file() and not list(ckpt.parent.glob(".*tmp"))  # atomic: no temp file left
    fresh = models.SmallCNN()
    h2 = cu.fit(fresh, loaders.train, loaders.test, epochs=2, checkpoint=ckpt, progress=False, device="cpu")
    assert h2.loaded_from_checkpoint and h2.test_acc == h1.test_acc and h2.step_loss == h1.step_loss
    for (k, v), (_, w) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(v, w), k
    retrained = cu.fit(models.SmallCNN(), loaders.train, epochs=1, checkpoint=ckpt, progress=False, device="cpu")
    assert not retrained.loaded_from_checkpoint  # other settings: trained again


def test_checkpoint_of_other_architecture_is_refused(loaders, tmp_path):
    ckpt = tmp_path / "small.pt"
    quick_fit(loaders, epochs=1, checkpoint=ckpt)
    with pytest.raises(ValueError, match="different architecture"):
        cu.fit(models.SimpleResNet(), loaders.train, epochs=1, checkpoint=ckpt, progress=False, device="cpu")


class InterruptAfter:
    """A loader that behaves like Ctrl-C after `n` batches."""

    def __init__(self, loader, n):
        self.loader, self.n, self.batch_size, self.seen = loader, n, loader.batch_size, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            if self.seen == self.n:
                raise KeyboardInterrupt
            self.seen += 1
            yield batch


def test_ctrl_c_returns_partial_history_and_keeps_weights(loaders, capsys):
    model = models.SmallCNN()
    before = model.features[0].weight.detach().clone()
    steps = len(loaders.train)
    h = cu.fit(model, InterruptAfter(loaders.train, steps + 3), loaders.test, epochs=3, progress=False, device="cpu")
    assert h.interrupted and h.epochs == 1 and len(h.test_acc) == 1
    assert not torch.equal(before, model.features[0].weight)
    assert "Interrupted" in capsys.readouterr().out


def test_early_stopping_restores_best(loaders):
    model = models.SmallCNN()
    h = cu.fit(model, loaders.train, loaders.test, val=loaders.val, patience=1, epochs=6, lr=0.3,
               optimizer="sgd", progress=False, device="cpu")  # fmt: skip
    assert h.best_epoch is not None and len(h.val_acc) == h.epochs
    if h.stopped_early:
        assert h.epochs < 6
    _, acc = cu.evaluate(model, loaders.val, device="cpu")
    assert acc == pytest.approx(max(h.val_acc))
    with pytest.raises(ValueError, match="validation loader"):
        cu.fit(model, loaders.train, patience=2, progress=False)


def test_schedule_and_defaults():
    f = optim.warmup_cosine(100, 0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0) and f(99) < 0.01
    assert optim.default_lr("sgd", 512) == pytest.approx(0.2)
    assert optim.default_lr("adamw", 256) == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="optimizer"):
        optim.make_optimizer(models.SmallCNN(), "rmsprop", 0.1, 0.0, 0.9, torch.device("cpu"))


def test_bf16_default_follows_the_hardware(loaders, monkeypatch):
    monkeypatch.delenv(precision.BF16_ENV, raising=False)
    assert precision.default_amp("cpu") == precision.native_bf16("cpu")
    assert precision.default_amp("mps") is False
    depthwise = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, groups=8), torch.nn.Conv2d(8, 4, 1))
    assert precision.default_amp("cpu", depthwise) is False  # bf16 depthwise convs are slower on CPUs
    assert precision.default_amp("cpu", models.SmallCNN()) == precision.native_bf16("cpu")
    assert precision.fit_precision("cpu").startswith("bf16" if precision.native_bf16("cpu") else "float32")
    _, h = quick_fit(loaders, epochs=1)
    assert h.settings["amp"] == precision.native_bf16("cpu")  # recorded, so checkpoints and tables say which was used
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert precision.default_amp("cpu") is False  # emulated bf16 is slower than float32: stay in float32
    _, h = quick_fit(loaders, epochs=3, lr=3e-3, amp=True)  # forcing it works, and bf16 training still learns
    assert h.settings["amp"] is True and h.test_acc[-1] > 0.6


def test_course_bf16_overrides_the_hardware_rule(monkeypatch):
    depthwise = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, groups=8), torch.nn.Conv2d(8, 4, 1))
    monkeypatch.setenv(precision.BF16_ENV, "0")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert precision.default_amp("cpu") is False and precision.default_amp("cpu", models.SmallCNN()) is False
    assert precision.fit_precision("cpu") == "float32 (COURSE_BF16=0)"  # the run-info cell says why
    monkeypatch.setenv(precision.BF16_ENV, "1")
    assert precision.default_amp("cpu", depthwise) is True and precision.default_amp("mps") is True
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert "emulated" in precision.fit_precision("cpu")
    monkeypatch.setenv(precision.BF16_ENV, "maybe")
    with pytest.raises(ValueError, match="COURSE_BF16=0"):
        precision.default_amp("cpu")


def test_history_helpers():
    h = history.History(test_acc=[0.5, 0.9, 0.95], seconds=[1.0, 2.0, 3.0])
    assert h.time_to_accuracy(0.9) == 3.0 and h.time_to_accuracy(0.99) is None
    assert history.History.from_dict(h.to_dict()) == h


def test_progress_bar_runs(loaders):
    _, h = quick_fit(loaders, epochs=1, max_steps=2)
    assert len(h.step_loss) == 2
    cu.fit(models.SmallCNN(), loaders.train, epochs=1, max_steps=2, progress=True, device="cpu")


def _global_flags() -> dict:
    return {
        "cudnn.benchmark": torch.backends.cudnn.benchmark,
        "cudnn.deterministic": torch.backends.cudnn.deterministic,
        "deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
        "threads": torch.get_num_threads(),
        "default dtype": torch.get_default_dtype(),
        "grad enabled": torch.is_grad_enabled(),
        "matmul precision": torch.get_float32_matmul_precision(),
    }


@pytest.mark.parametrize("benchmark_flag", [False, True])
def test_fit_leaves_global_torch_flags_as_it_found_them(loaders, benchmark_flag, monkeypatch):
    from course_utils import train

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", benchmark_flag)
    before = _global_flags()
    quick_fit(loaders, epochs=1, max_steps=2)
    assert _global_flags() == before
    with train._torch_flags(torch.device("cuda")):  # the CUDA path switches cudnn.benchmark on ...
        assert torch.backends.cudnn.benchmark is True
    assert _global_flags() == before  # ... and puts it back


def test_fit_options_are_checked():
    with pytest.raises(TypeError, match="unknown option.*epoch.*the options are"):
        cu.FitConfig.from_options(None, {"epoch": 3})
    for bad in ({"epochs": 0}, {"epochs": 1.5}, {"lr": -1.0}, {"schedule": "step"}, {"optimizer": "rmsprop"}):
        with pytest.raises(ValueError):
            cu.FitConfig(**bad)


def test_checkpoint_with_other_settings_is_not_loaded(loaders, tmp_path):
    """Settings are compared before any weight is loaded: training again starts from the model's own weights."""
    from course_utils.checkpoint import load_if_matching

    ckpt = tmp_path / "small.pt"
    _, h = quick_fit(loaders, epochs=1, checkpoint=ckpt)
    cu.seed_everything(1)
    fresh = models.SmallCNN()
    start = {k: v.clone() for k, v in fresh.state_dict().items()}
    assert load_if_matching(ckpt, fresh, {**h.settings, "lr": 0.5}) is None
    assert all(torch.equal(v, start[k]) for k, v in fresh.state_dict().items()), "stale weights were loaded"
    assert load_if_matching(ckpt, fresh, h.settings) is not None  # same settings: loaded


def test_unreadable_checkpoint_names_the_file(loaders, tmp_path):
    for content in (b"", b"garbage" * 10):
        ckpt = tmp_path / "broken.pt"
        ckpt.write_bytes(content)
        with pytest.raises(ValueError, match=r"broken\.pt cannot be read.*delete it"):
            quick_fit(loaders, epochs=1, checkpoint=ckpt)
