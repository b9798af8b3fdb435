"""`python3 course.py gpu-check`: the CPU rehearsal runs every kind of step (probe, a notebook in full mode on a tiny
data folder, the benchmark, a reference experiment) and bundles within the device tool's limits; the budget logic
picks, shrinks and skips steps; the gather script's package list is pinned. The full rehearsal's course notebooks
(`--rehearse` without `--notebook`) take minutes on two cores, so the end-to-end test uses a one-cell stand-in
notebook and a stand-in reference module (tests/fixtures/gpu_check/)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest

from course_utils.data.specs import FILES
from course_utils.tools import gather_gpu, gpu_check
from course_utils.tools.gpu_check import Budget, Check, Log, Record, Step, Variant

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "gpu_check"
OUR_FILES = {"summary.json", "report.md", "gpu-check.log", "RESULTS.md", "notebooks.tar.gz", "reference.tar.gz"}


@pytest.mark.slow
def test_rehearsal_runs_every_kind_of_step_and_bundles_within_the_limits(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FIXTURES), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(ROOT / "course.py"), "gpu-check", "--rehearse", "--out", str(out), "--budget", "900",
           "--notebook", str(FIXTURES / "notebook.ipynb"), "--reference-module", "reference_stub"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert {name: s["status"] for name, s in steps.items()} == {
        "probe": "ok", "notebook": "ok", "bench": "ok",
        "ref-gpu-idle": "ok", "ref-shortcuts": "ok", "ref-degradation": "ok", "ref-zoo": "ok",
    }, summary["steps"]  # fmt: skip
    assert summary["rehearsal"] and summary["data"]["mnist"]["train"] == 256 and summary["data"]["fashion-mnist"]["test"] == 256
    assert all(v["ok"] for v in summary["probe"]["fit_paths"].values()), summary["probe"]["fit_paths"]

    # the notebook ran in full mode on the tiny folder, and says which data it read
    assert steps["notebook"]["details"]["headline"].startswith("SmallCNN:")
    assert "fashion-mnist train/test 256 / 256" in steps["notebook"]["data"]
    # the benchmark: both networks, parsed into speed-ups, its section in the output folder's RESULTS.md
    assert set(steps["bench"]["details"]["speedup"]) == {"SmallCNN", "ResNet18"}
    assert "<!-- section: cpu " in (out / "RESULTS.md").read_text() and "· fashion-mnist · full -->" in (out / "RESULTS.md").read_text()
    assert "--smoke" in proc.stdout and "--seeds 2" in proc.stdout

    files = {p.name: p.stat().st_size for p in out.iterdir()}
    assert set(files) == OUR_FILES and len(files) <= 8 and max(files.values()) <= 16 * 2**20
    assert {f["name"] for f in summary["files"]} == set(files) and summary["dropped"] == []
    with tarfile.open(out / "notebooks.tar.gz") as tar:
        assert tar.getnames() == ["notebook.ipynb"]
    with tarfile.open(out / "reference.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(f"{e}.cpu.json" for e in gpu_check.REFERENCE_EXPERIMENTS)
    report = (out / "report.md").read_text()
    assert "REHEARSAL" in report and "| bench | ok |" in report
    assert [t["met"] for t in summary["targets"]] == [None] * 4  # a rehearsal judges no target


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _check(tmp_path: Path, seconds: float, clock: Clock) -> Check:
    budget = Budget(seconds, reserve_s=5, clock=clock)
    log = Log(tmp_path / "log", 0.0, stream=io.StringIO())
    return Check(rehearse=True, out=tmp_path, work=tmp_path, budget=budget, log=log,
                 profile=gpu_check.PROFILES["cpu-rehearsal"], device="cpu")  # fmt: skip


def _step(name: str, kind: str, estimates: list[float], clock: Clock, took: float | None = None, protected: bool = False) -> Step:
    def run(check: Check, step: Step, variant: Variant, timeout: float) -> Record:
        clock.now += min(timeout, took if took is not None else variant.estimate_s)
        return Record(step.name, step.kind, "ok", variant.label, details={"timeout": timeout})

    return Step(name, kind, [Variant(f"v{e:g}", e) for e in estimates], run, protected=protected)


def test_budget_runs_the_best_form_that_fits_keeps_room_for_the_benchmark_and_skips_the_rest(tmp_path):
    clock = Clock()
    check = _check(tmp_path, 100, clock)
    steps = [
        _step("nb01", "notebook", [30], clock),
        _step("nb02", "notebook", [33], clock),  # 100 - 30 - 5 - (20 + 6) = 39: the bench's smallest form and margin
        _step("nb03", "notebook", [10], clock),  # 100 - 63 - 5 - 26 = 6 left: skipped, the benchmark keeps its room
        _step("bench", "bench", [60, 20], clock, protected=True),  # 32 left: the 20-s form
        _step("ref-zoo", "reference", [8], clock),  # 100 - 83 - 5 = 12 left: fits
    ]
    gpu_check.run_steps(check, steps)
    got = {r.name: (r.status, r.variant) for r in check.records}
    assert got == {"nb01": ("ok", "v30"), "nb02": ("ok", "v33"), "nb03": ("skipped", ""), "bench": ("ok", "v20"),
                   "ref-zoo": ("ok", "v8")}  # fmt: skip
    assert "would take ~10 s, 6 s left" in check.records[2].note
    # each child gets what is left for it, less the margin for ending it: nb01 may use 100 - 5 - (20 + 6) - 6 s
    assert check.records[0].details["timeout"] == 100 - 5 - 20 - 2 * gpu_check.KILL_MARGIN_S


def test_budget_scales_later_estimates_by_how_far_finished_steps_were_off(tmp_path):
    clock = Clock()
    check = _check(tmp_path, 200, clock)
    steps = [
        _step("nb01", "notebook", [20], clock, took=40),  # twice its estimate: later estimates double
        _step("nb02", "notebook", [70], clock, took=140),  # ~140 s now, 155 s left: runs (and took 140)
        _step("nb03", "notebook", [10], clock),  # ~20 s now, 200 - 180 - 5 = 15 s left: skipped
    ]
    gpu_check.run_steps(check, steps)
    assert check.budget.scale == 2.0
    assert [(r.status, r.estimate_s) for r in check.records] == [("ok", 20), ("ok", 140), ("skipped", 20)]


def test_bundle_drops_images_when_the_notebooks_pass_the_file_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "MAX_FILE_BYTES", 300_000)
    (tmp_path / "work").mkdir()
    check = _check(tmp_path / "work", 100, Clock())
    check.out = tmp_path / "out"
    check.out.mkdir()
    executed = check.work / "executed"
    executed.mkdir()
    picture = base64.b64encode(os.urandom(400_000)).decode()  # random: gzip cannot shrink it under the limit
    for name, data in (("01_big.ipynb", {"image/png": picture, "text/plain": "<Figure>"}), ("02_small.ipynb", {"text/plain": "1"})):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        nb.cells = [cell]
        nbformat.write(nb, executed / name)
    (check.out / "gpu-check.log").write_text("log\n")
    files, dropped = gpu_check.bundle(check)
    assert {f["name"] for f in files} == {"gpu-check.log", "notebooks.tar.gz"}
    assert (check.out / "notebooks.tar.gz").stat().st_size <= 300_000
    assert dropped == ["image outputs of 01_big.ipynb (notebooks.tar.gz was over 16 MiB)"]
    with tarfile.open(check.out / "notebooks.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["01_big.ipynb", "02_small.ipynb"]


def test_parse_bench_reads_speedups_and_the_course_rows():
    output = (
        "| model | loop | batch | TFLOP/s | % of peak |\n|---|---|---:|---:|---:|\n"
        "| ResNet18 | classic | 64 | 1.0 | 0.10 % |\n| ResNet18 | course | 512 | 99.0 | 10.01 % |\n\n"
        "- ResNet18: course loop **12.34×** faster per epoch (6.00 s → 0.49 s; by CPU time 3.00×), test accuracy ...\n"
    )
    parsed = gpu_check.parse_bench(output)
    assert parsed["speedup"] == {"ResNet18": 12.34}
    assert parsed["course_rows"]["ResNet18"]["% of peak"] == "10.01 %"


def test_without_a_gpu_the_check_says_to_rehearse(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert gpu_check.main([]) == 2
    assert "--rehearse" in capsys.readouterr().err


def test_gather_fetches_only_pinned_versions_into_ignored_folders():
    pins = gather_gpu.pinned_versions()
    assert len(pins) == len(gather_gpu.MISSING_ON_GPU) and all("==" in p for p in pins)
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".whl/" in ignored and ".gpudata/" in ignored
    recipe = " ".join(gather_gpu.PIP_DOWNLOAD)
    assert "--no-deps --only-binary=:all: --python-version 3.12 --implementation cp" in recipe


def test_course_py_has_the_verb():
    text = (ROOT / "course.py").read_text()
    assert '"gpu-check"' in text and "gpu-check" in (ROOT / "README.md").read_text()
    out = subprocess.run([sys.executable, str(ROOT / "course.py"), "--help"], capture_output=True, text=True).stdout
    assert "gpu-check" in out and "--rehearse" in out


def test_gpu_data_comes_from_the_data_root_else_from_the_bundled_sets(tmp_path):
    source = tmp_path / "source" / "FashionMNIST" / "raw"  # a data root with Fashion-MNIST (gzipped) and no MNIST
    source.mkdir(parents=True)
    for f in (ROOT / "course_utils" / "datasets" / "fashion-mnist-mini").glob("*.gz"):
        shutil.copyfile(f, source / f.name)
    (tmp_path / "work").mkdir()
    check = _check(tmp_path / "work", 100, Clock())
    check.rehearse = False
    gpu_check.prepare_data(check, tmp_path / "source")
    assert check.data["fashion-mnist"]["source"].startswith(f"Fashion-MNIST from {tmp_path / 'source'}")
    assert check.data["mnist"]["source"] == "bundled mini MNIST" and check.data["mnist"]["train"] == 5000
    for name in ("FashionMNIST", "MNIST"):  # decompressed, where every step reads them
        assert sorted(p.name for p in (check.data_root / name / "raw").iterdir()) == sorted(FILES)
    assert not (tmp_path / "source" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()  # nothing written there
