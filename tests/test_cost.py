"""The full-mode cost plans: FLOP counts as `FlopCounterMode` counts them, epochs as the notebooks set them."""

from __future__ import annotations

import json
import re
import time

import pytest
import torch

from course_utils import cost, runtime
from course_utils.measure import count_flops
from course_utils.models import REGISTRY, CifarResNet
from course_utils.tools.notebooks import course_notebooks


def _counted_gflop(model_key: str) -> float:
    if model_key.startswith("cifar_resnet"):
        with torch.device("meta"):
            model = CifarResNet(int(model_key.removeprefix("cifar_resnet")), True)
        shape = (1, 28, 28)
    else:
        entry = REGISTRY[model_key]
        with torch.device("meta"):
            model = entry.build(native=True) if entry.zoo else entry.build()
        shape = entry.shape()
    return count_flops(model, shape, batch_size=2, backward=True) / 2 / 1e9


def test_declared_flops_match_the_counted_ones():
    declared = {job.model: job.gflop_per_image for jobs in cost.PLANS.values() for job in jobs if job.model}
    for key, gflop in declared.items():
        assert _counted_gflop(key) == pytest.approx(gflop, rel=0.02), key


def test_runtime_knows_the_series_total_and_the_step_flops():
    assert runtime.FULL_SERIES_TFLOP == pytest.approx(cost.plan_gflop() / 1e3, abs=1.0)  # runtime repeats the sum
    counted = count_flops(runtime._StepBlock(), (16, 16, 16), batch_size=2, backward=True) / 2
    assert counted == pytest.approx(runtime.step_flops(1, 16), rel=0.01)


def test_every_notebook_has_a_plan_whose_epochs_are_the_notebooks():
    keys = [path.name[:2] for path in course_notebooks()]
    assert sorted(keys) == sorted(cost.PLANS)
    for path in course_notebooks():
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        full_epochs = {int(n) for n in re.findall(r"EPOCHS[^\n=]*=[^\n]*?\bif\b[^\n]*?\belse\s*\(?\s*(\d+)", source)}
        for job in cost.PLANS[path.name[:2]]:
            if job.eval_images:  # a fit run with epochs (not the fixed-step loops)
                assert job.epochs in full_epochs, (path.name, job.what, full_epochs)


def test_the_measured_step_is_short_and_the_estimate_is_stated():
    start = time.perf_counter()
    rate = cost.measured_rate("cpu")
    assert time.perf_counter() - start < 3.0 and rate > 1e8  # well under a second on an idle 2-core CPU
    text = cost.estimate("06_cnn_zoo.ipynb", "cpu", rate=rate).text()
    assert text.startswith("notebook 06: at least") and "TFLOP of training" in text
    assert cost.estimate("02", "cpu", rate=rate).seconds == 0
    with pytest.raises(ValueError, match="not a course notebook"):
        cost.estimate("99", "cpu", rate=rate)
    assert [cost.duration(s) for s in (40, 720, 3 * 3600, 5 * 86400)] == ["40 s", "12 min", "3.0 h", "5 days"]
