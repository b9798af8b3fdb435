"""The training-speed benchmark: its CLI runs and writes a complete table (a smoke test — no timing is asserted),
and its RESULTS.md bookkeeping rewrites a device's section instead of piling sections up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from course_utils.models import registry
from course_utils.tools import bench as train_speed

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = ["model", "loop", "batch", "warm-up s", "epoch 1 s", "steady s/epoch", "CPU s/epoch", "eval s/epoch",
           "images/s", "test acc", "speed-up", "time to 98 %", "GFLOP/image", "TFLOP/s", "% of peak"]  # fmt: skip


def test_cli_writes_a_table_with_every_column(tmp_path):
    out = tmp_path / "RESULTS.md"
    cmd = [sys.executable, "-m", "course_utils.tools.bench", "--quick", "--models", "small_cnn", "--train-size", "256",
           "--test-size", "500", "--epochs", "2", "--warmup-steps", "1", "--threshold", "0.98", "--out", str(out),
           "--chart", str(tmp_path / "chart.png")]  # fmt: skip
    env = {**os.environ, "COURSE_QUICK": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text()
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    assert [c.strip() for c in header.strip("|").split("|")] == COLUMNS
    rows = [line for line in lines if line.startswith("| SmallCNN |")]
    assert len(rows) == 2, "one row per loop"
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[1] for c in cells] == ["classic", "course"]
    assert all(len(c) == len(COLUMNS) for c in cells)
    col = {name: i for i, name in enumerate(COLUMNS)}
    assert cells[0][col["batch"]] == "64" and cells[0][col["speed-up"]] == "1.00×"
    assert float(cells[1][col["speed-up"]].strip("*×")) > 0  # a number; its size depends on the machine
    assert all(c[col["time to 98 %"]] == "not reached" or c[col["time to 98 %"]].endswith(" s") for c in cells)
    assert cells[0][col["GFLOP/image"]] == cells[1][col["GFLOP/image"]] == "0.0016", "same FLOPs for both loops"
    assert all(float(c[col["CPU s/epoch"]]) > 0 and c[col["% of peak"]] == "—" for c in cells)
    for needle in ("- Command: `", "python3 course.py bench --quick --models small_cnn", "- Device: cpu",
                   "- Versions: Python", "torch ", "- Peak: no peak figure is used on CPU", "256 training images"):  # fmt: skip
        assert needle in text, needle
    assert "| SmallCNN |" in result.stdout, "the table is printed too"
    for loop in ("classic", "course"):  # a progress line per epoch while a model trains
        for epoch in (1, 2):
            assert re.search(rf"SmallCNN {loop}: epoch {epoch}/2, [0-9.]+ s/epoch, test acc 0\.\d+", result.stdout), result.stdout
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart: {tmp_path / 'chart.png'}" in result.stdout


def test_chart_goes_next_to_the_table_or_into_build():
    cpu = torch.device("cpu")
    assert train_speed.chart_path("x/c.png", None, cpu, "mnist", "quick") == Path("x/c.png")
    assert train_speed.chart_path(None, "benchmarks/RESULTS.md", cpu, "mnist", "quick") == Path("benchmarks/speed-cpu-mnist-quick.png")
    default = train_speed.chart_path(None, None, cpu, "fashion-mnist", "full")
    assert default == ROOT / "build" / "bench" / "speed-cpu-fashion-mnist-full.png"
    probe = default.relative_to(ROOT)
    assert subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT).returncode == 0  # never a git change
    assert train_speed.parse_args([]).out is None  # the table file is written only when asked (--out)


def test_results_file_keeps_one_section_per_key(tmp_path):
    path = tmp_path / "RESULTS.md"
    train_speed.write_section(path, train_speed.PENDING_GPU, "## GPU: pending\n")
    train_speed.write_section(path, "cpu (x86_64) · mnist · quick", "## CPU run 1\n")
    train_speed.write_section(path, "cpu (x86_64) · mnist · quick", "## CPU run 2\n")
    text = path.read_text()
    assert text.startswith("# Training speed")
    assert "CPU run 1" not in text and text.count("CPU run 2") == 1 and "GPU: pending" in text
    train_speed.write_section(path, "cuda NVIDIA H100 80GB HBM3 · fashion-mnist · full", "## H100\n")
    text = path.read_text()
    assert "GPU: pending" not in text, "a real GPU section replaces the placeholder"
    assert text.index("## H100") < text.index("CPU run 2"), "GPU sections come first"
    assert text.count("<!-- section:") == 2


def test_model_names_and_fit_options():
    assert train_speed.resolve_models("inception, small_cnn,inception") == ["inception", "small_cnn"]
    assert "resnet18_d2l" in train_speed.resolve_models("zoo") and "resnet18" not in train_speed.resolve_models("zoo")
    assert registry.REGISTRY["resnet18"].shape() == (1, 32, 32), "ResNet18 runs on 28x28 digits padded by 2"
    with pytest.raises(ValueError, match="unknown model 'lenet'"):
        train_speed.resolve_models("lenet")
    assert train_speed.parse_fit_options(["amp=True", "lr=0.01", "optimizer=sgd"]) == {
        "amp": True, "lr": 0.01, "optimizer": "sgd"}  # fmt: skip
    with pytest.raises(ValueError, match="KEY=VALUE"):
        train_speed.parse_fit_options(["ampp=True"])


def test_zoo_lr_note_names_the_zoo_learning_rates():
    from types import SimpleNamespace as NS

    rows = [NS(loop="classic", key="vgg19", model="VGG19", lr=0.01),
            NS(loop="course", key="vgg19", model="VGG19", lr=1e-4),
            NS(loop="course", key="small_cnn", model="SmallCNN", lr=1.4e-3)]  # fmt: skip
    assert train_speed.zoo_lr_note(rows).endswith("(lr VGG19 1e-04)")
    assert train_speed.zoo_lr_note(rows[2:]) == ""


class _Throwaway(nn.Module):
    """A model that exists only in this test."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_a_new_registry_entry_appears_in_the_benchmark(monkeypatch, tmp_path):
    """Adding a network is adding a registry entry: the benchmark picks it up with no other change."""
    entry = registry.ModelEntry(title="Throwaway", builder=lambda n, c, k: _Throwaway(), notebook="00", input_size=28,
                                reference_params=7_850)  # fmt: skip
    monkeypatch.setitem(registry.REGISTRY, "throwaway", entry)
    assert "throwaway" in train_speed.resolve_models("all")
    out = tmp_path / "RESULTS.md"
    args = ["--quick", "--models", "throwaway", "--train-size", "256", "--test-size", "200", "--epochs", "1",
            "--warmup-steps", "1", "--out", str(out)]  # fmt: skip
    assert train_speed.main(args) == 0
    assert "| Throwaway | classic |" in out.read_text() and "| Throwaway | course |" in out.read_text()
