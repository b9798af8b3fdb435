"""Fault injection: what a hostile student, a careless TA and a flaky network do to the course, and what they get back
— a clear error that names the thing and the fix, or the correct result. One section per class of fault:

* grader   — submissions that read or rewrite the instructor notebook, turn a free-text answer into code, print without
             end, carry malformed nbgrader metadata or crash the grader; `--timeout 0`; unanswered free text; the CSV;
* checkpoints — another dataset or data subset, a plain vs a residual net with the same weight shapes, `epochs=0`;
* data     — truncated, empty, garbage, mismatched and not-really-gzip IDX files; a damaged cache of the bundled data;
* network  — a server that accepts and never answers, one that answers 404, one that sends garbage;
* API      — bad batch/train/test sizes and fractions, wrong image size or dtype, NaN images, a learning rate of 1e6;
* runner   — a notebook that fails (cell, error and context; no stale headline), slides without their vendored files.

Kernel starts are few (one grading batch of three kernels, one notebook run): the module runs in about a minute on
two cores.
"""

from __future__ import annotations

import copy
import csv
import http.server
import math
import os
import re
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torchvision

import course_utils as cu
from course_utils import data, models
from course_utils.checkpoint import load_checkpoint, load_if_matching, save_checkpoint
from course_utils.history import History
from course_utils.tools import homework as hw
from course_utils.tools import notebooks, slides

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "hw_fixture.ipynb"
MINI = data.BUNDLED / "mnist-mini"


def by_id(nb):
    return {hw.grade_id(c): c for c in nb.cells if hw.grade_id(c)}


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ================================================================================================== grader, no kernel


def test_malformed_metadata_is_a_clear_error_per_cell(tmp_path, capsys):
    nb = hw.read(FIXTURE)
    cells = by_id(nb)
    cells["fx-ex1-test"].metadata.nbgrader["grade_id"] = ["fx", "ex1"]  # a list as grade_id
    cells["fx-ex2-test-a"].metadata.nbgrader["points"] = "three"
    cells["fx-ex4-test"].metadata.nbgrader["grade"] = "yes"
    cells["fx-shapes"].metadata["nbgrader"] = "locked"  # a string instead of an object
    for cell in nb.cells:  # the accessors never crash on it
        hw.grade_id(cell), hw.points(cell), hw.is_locked(cell)
    problems = hw.metadata_problems(nb)
    assert len(problems) == 4
    assert any(re.search(r"cell 3: metadata.nbgrader is a str 'locked'", p) for p in problems)
    assert any("grade_id is a list" in p for p in problems)
    assert any("(fx-ex2-test-a): nbgrader.points is a str 'three'" in p for p in problems)
    assert any("(fx-ex4-test): nbgrader.grade is a str 'yes', expected true or false" in p for p in problems)
    path = write(nb, tmp_path / "mallory.ipynb")
    assert hw.main(["grade", str(path), "--instructor", str(FIXTURE), "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "mallory.ipynb: the notebook: malformed cells or nbgrader metadata" in err and "handed-out copy" in err
    with pytest.raises(hw.HomeworkError, match="fx-ex2-test-a"):
        hw.check_instructor(nb, "instructor.ipynb")


@pytest.mark.parametrize("value", ["0", "-5", "abc"])
def test_timeout_must_be_a_positive_number_of_seconds(value, capsys):
    with pytest.raises(SystemExit) as stop:
        hw.main(["grade", str(FIXTURE), "--timeout", value])
    assert stop.value.code == 2
    assert "--timeout" in capsys.readouterr().err
    for bad in (0, -1):
        with pytest.raises(hw.HomeworkError, match="no 'no limit'"):
            hw.grade(FIXTURE, FIXTURE, timeout=bad)


def test_free_text_answers_left_unanswered_score_zero_and_code_cells_stay_markdown():
    inst = hw.read(FIXTURE)
    nb = copy.deepcopy(inst)
    by_id(nb)["fx-ex3-answer"].source = "YOUR ANSWER HERE"
    prepared, _ = hw.prepare(nb, inst)
    ok = [hw.CellResult(i, hw.grade_id(c), "ok") for i, c in enumerate(prepared.cells) if c.cell_type == "code"]
    ex3 = next(e for e in hw.score_exercises(prepared, ok) if e.key == "fx-ex3")
    assert ex3.manual_score == 0 and ex3.score == 0 and "not answered" in ex3.detail
    # the answer cell turned into a code cell: graded as the markdown cell it was handed out as, never auto-graded
    nb = copy.deepcopy(inst)
    index = next(i for i, c in enumerate(nb.cells) if hw.grade_id(c) == "fx-ex3-answer")
    nb.cells[index] = nbformat.v4.new_code_cell("print('free points?')", metadata=nb.cells[index].metadata)
    prepared, notes = hw.prepare(nb, inst)
    assert prepared.cells[index].cell_type == "markdown" and any("turned from markdown into code" in n for n in notes)
    assert not hw.is_auto_graded(prepared.cells[index])
    ex3 = next(e for e in hw.score_exercises(prepared, ok) if e.key == "fx-ex3")
    assert ex3.auto_points == 0 and ex3.manual_score is None  # answered: graded by hand


def test_csv_with_other_columns_is_refused_before_grading(tmp_path, capsys):
    sheet = tmp_path / "grades.csv"
    sheet.write_text("returned,instructor,exercise,auto_points,score,manual_points\n")
    assert hw.main(["grade", str(FIXTURE), "--instructor", str(FIXTURE), "--csv", str(sheet)]) == 1
    assert "pass a new --csv file" in capsys.readouterr().err


# ============================================================================================ grader, one kernel batch


SNOOP = """
import os
print("cwd:", os.getcwd(), "| instructor visible:", os.path.exists("hw_fixture.ipynb"), "| files:", os.listdir("."))
open({target!r}, "w").write("{{}}")  # rewrite the instructor notebook
"""


def test_hostile_batch(tmp_path, monkeypatch, capsys):
    """One `grade` run over five submissions, two kernels at a time: a solved copy that snoops on its working folder
    and rewrites the instructor notebook, a good copy, one with an endless print and a free-text answer turned into
    code, one with malformed metadata, and one that makes the grader itself crash."""
    inst_dir = tmp_path / "instructor"
    inst_path = write(hw.read(FIXTURE), inst_dir / "hw_fixture.ipynb")
    original = inst_path.read_bytes()
    solved = hw.read(FIXTURE)
    subs = tmp_path / "returned"
    snoop = copy.deepcopy(solved)
    by_id(snoop)["fx-ex1-sol"].source += SNOOP.format(target=str(inst_path))
    looping = copy.deepcopy(solved)
    by_id(looping)["fx-ex2-sol"].source = "while True:\n    print('x' * 10_000)"
    index = next(i for i, c in enumerate(looping.cells) if hw.grade_id(c) == "fx-ex3-answer")
    looping.cells[index] = nbformat.v4.new_code_cell("pass", metadata=looping.cells[index].metadata)
    broken = copy.deepcopy(solved)
    by_id(broken)["fx-ex1-test"].metadata.nbgrader["grade_id"] = ["not", "a", "string"]
    crash = copy.deepcopy(solved)
    crash.cells[0].source += "\nCRASH-THE-GRADER"
    files = [write(nb, subs / f"{name}.ipynb") for name, nb in
             [("snoop", snoop), ("good", solved), ("loop", looping), ("broken", broken), ("crash", crash)]]
    real_prepare = hw.prepare

    def crashing_prepare(returned, instructor, allow_edited=False):
        if "CRASH-THE-GRADER" in returned.cells[0].source:
            raise RuntimeError("a bug in the grader")
        return real_prepare(returned, instructor, allow_edited)

    monkeypatch.setattr(hw, "prepare", crashing_prepare)
    sheet, saved = tmp_path / "grades.csv", tmp_path / "feedback"
    rc = hw.main(["grade", *map(str, files), "--instructor", str(inst_dir), "--timeout", "4", "--jobs", "2",
                  "--csv", str(sheet), "--save", str(saved)])
    out, err = capsys.readouterr()
    assert rc == 1  # failures and tampering are reported in the exit status
    # the instructor notebook is back, and grading used the in-memory copy: the snooper still gets its real score
    assert inst_path.read_bytes() == original
    # the warning names the file and the suspect: the snooper itself in brackets, or, when another submission finished
    # first after the change, the snooper among the ones "graded at the same time" (the order depends on timing)
    warnings = [line for line in err.splitlines() if line.startswith("WARNING: protected files changed")]
    assert warnings and all("hw_fixture.ipynb" in w and "restored" in w for w in warnings), err
    assert any("snoop.ipynb" in w for w in warnings), err
    executed = hw.read(saved / "snoop.graded.ipynb")
    said = "".join(o.get("text", "") for o in by_id(executed)["fx-ex1-sol"].outputs)
    cwd = re.search(r"cwd: (\S+)", said).group(1)
    assert "instructor visible: False" in said and "files: []" in said, said
    assert Path(cwd).name.startswith("grade-") and not Path(cwd).exists()  # its own temporary folder, removed
    # every graded file's rows are in the CSV; the broken and the crashing one are reported, not lost
    rows = list(csv.DictReader(sheet.open()))
    totals = {Path(r["returned"]).stem: (r["auto_points"], r["score"]) for r in rows if r["exercise"] == "total"}
    assert totals == {"snoop": ("6", "6"), "good": ("6", "6"), "loop": ("6", "3")}, totals
    assert "broken.ipynb: the notebook: malformed" in err and "grade_id is a list" in err
    assert "crash.ipynb: the grader failed on this file (RuntimeError: a bug in the grader)" in err
    assert re.search(r"\[5/5\] .*all done in", err) and "submissions/min" in err
    # the endless print: cut at the cap with a note, the cell timed out, the rest of the notebook was graded
    loop = hw.read(saved / "loop.graded.ipynb")
    assert (saved / "loop.graded.ipynb").stat().st_size < hw.MAX_CELL_OUTPUT * 1.5
    assert "output truncated by the grader" in "".join(o.get("text", "") for o in by_id(loop)["fx-ex2-sol"].outputs)
    assert by_id(loop)["fx-ex3-answer"].cell_type == "markdown"  # the answer turned into code is not run
    assert re.search(r"fx-ex2\s.*timed out", out) and re.search(r"fx-ex3\s.*\(1\)\s+manual", out)


# ========================================================================================================= checkpoints


@pytest.fixture(scope="module")
def tiny():
    kw = dict(batch_size=64, train_size=256, test_size=128, device="cpu")
    return {name: data.make_loaders(name, **kw) for name in ("mnist", "fashion-mnist")}


def one_step(model, loader, **kw):
    cu.seed_everything(0)
    return cu.fit(model, loader, epochs=1, max_steps=1, progress=False, device="cpu", **kw)


def test_checkpoint_identity_includes_the_data(tiny, tmp_path, capsys):
    ckpt = tmp_path / "small.pt"
    cu.seed_everything(0)
    one_step(models.SmallCNN(), tiny["mnist"].train, checkpoint=ckpt)
    assert one_step(models.SmallCNN(), tiny["mnist"].train, checkpoint=ckpt).loaded_from_checkpoint
    # Fashion-MNIST with the same number of images, batch size and settings: trained again, not loaded
    assert not one_step(models.SmallCNN(), tiny["fashion-mnist"].train, checkpoint=ckpt).loaded_from_checkpoint
    assert "trained with other settings" in capsys.readouterr().out
    other = data.make_loaders("fashion-mnist", batch_size=64, train_size=256, device="cpu", val_fraction=0.25, seed=1)
    again = data.make_loaders("fashion-mnist", batch_size=64, train_size=256, device="cpu", val_fraction=0.25, seed=2)
    assert other.train.num_samples == again.train.num_samples and other.train.fingerprint != again.train.fingerprint
    fp = tiny["mnist"].train.fingerprint
    assert fp["dataset"] == "mnist" and fp["samples"] == 256 and fp == tiny["mnist"].train.fingerprint


def test_plain_and_residual_nets_are_different_architectures(tmp_path):
    ckpt = tmp_path / "resnet.pt"
    save_checkpoint(ckpt, models.SimpleResNet(use_residual=True), History(), {"epochs": 1})
    plain = models.SimpleResNet(use_residual=False)  # the very same state_dict keys and shapes
    assert plain.state_dict().keys() == models.SimpleResNet().state_dict().keys()
    with pytest.raises(ValueError, match=r"different architecture.*use_residual"):
        load_if_matching(ckpt, plain, {"epochs": 1})
    load_checkpoint(ckpt, models.SimpleResNet(use_residual=True))  # the same network loads


def test_checkpoints_of_older_versions_still_load(tmp_path):
    """A checkpoint written before constructor flags were part of the signature: compared by weights alone."""
    ckpt = tmp_path / "old.pt"
    model = models.SmallCNN()
    save_checkpoint(ckpt, model, History(), {"epochs": 1})
    payload = torch.load(ckpt, weights_only=True)
    payload["architecture"] = [e for e in payload["architecture"] if not e.startswith("flag:")]
    torch.save(payload, ckpt)
    load_checkpoint(ckpt, models.SmallCNN())


def test_zero_epochs_write_nothing(tiny, tmp_path):
    ckpt = tmp_path / "none.pt"
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        cu.fit(models.SmallCNN(), tiny["mnist"].train, epochs=0, checkpoint=ckpt, progress=False, device="cpu")
    assert not ckpt.exists()


# ================================================================================================================ data


def _stick(tmp_path):
    import shutil

    stick = tmp_path / "stick"
    stick.mkdir()
    for name in data.FILES:
        shutil.copy(MINI / f"{name}.gz", stick / f"{name}.gz")
    return stick


def _plain(stick, name, content):
    (stick / f"{name}.gz").unlink()
    (stick / name).write_bytes(content)
    return stick / name


def _raw(name):
    import gzip

    with gzip.open(MINI / f"{name}.gz") as f:
        return f.read()


FAULTS = {  # what a careless copy does to one file, and what the error must say about it
    "truncated gz": (lambda s: (s / "train-images-idx3-ubyte.gz").write_bytes((MINI / "train-images-idx3-ubyte.gz").read_bytes()[:50_000]),
                     "train-images-idx3-ubyte.gz", "damaged or cut off"),
    "empty": (lambda s: _plain(s, "train-labels-idx1-ubyte", b""), "train-labels-idx1-ubyte", "0 byte"),
    "garbage": (lambda s: _plain(s, "t10k-images-idx3-ubyte", os.urandom(4096)), "t10k-images-idx3-ubyte", "not an IDX images file"),
    "not gzip": (lambda s: (s / "t10k-labels-idx1-ubyte.gz").write_bytes(b"<html>404</html>"), "t10k-labels-idx1-ubyte.gz", "not gzip"),
    "truncated plain": (lambda s: _plain(s, "train-images-idx3-ubyte", _raw("train-images-idx3-ubyte")[:-784]),
                        "train-images-idx3-ubyte", "cut off"),
    "labels of another copy": (lambda s: _plain(s, "train-labels-idx1-ubyte", _raw("train-labels-idx1-ubyte")[:4] + (100).to_bytes(4, "big")
                                                + _raw("train-labels-idx1-ubyte")[8:108]), "train-labels-idx1-ubyte", "5,000 images but 100 labels"),
    "gzip without .gz": (lambda s: (s / "train-labels-idx1-ubyte.gz").rename(s / "train-labels-idx1-ubyte"), "train-labels-idx1-ubyte",
                         "gzip-compressed: its name should end in .gz"),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS))
def test_unreadable_dataset_files_are_named_with_the_fix(fault, tmp_path, data_cache):
    damage, file, problem = FAULTS[fault]
    stick = _stick(tmp_path)
    damage(stick)
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_dataset("mnist", quick=False, root=stick)
    msg = str(err.value)
    assert f"{stick / file}" in msg and problem in msg and "copy it again" in msg and "COURSE_QUICK=1" in msg, msg


def test_a_damaged_cache_of_the_bundled_data_is_rebuilt(data_cache):
    first = data.load_dataset("mnist", quick=True)
    raw = data_cache / "bundled" / "mnist-mini" / "MNIST" / "raw"
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    images.write_bytes(images.read_bytes()[:1000])  # truncated, and newer than the bundled file
    damaged = bytearray(labels.read_bytes())
    damaged[-10:] = bytes(10)  # same size, other content
    labels.write_bytes(bytes(damaged))
    again = data.load_dataset("mnist", quick=True)
    assert torch.equal(again.train_images, first.train_images) and torch.equal(again.train_labels, first.train_labels)


# ============================================================================================================= network


class _Server:
    """A local server on a free port: "silent" accepts connections and never answers; an HTTP `status` otherwise."""

    def __init__(self, kind: str) -> None:
        self.stop = threading.Event()
        if kind == "silent":
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.thread = threading.Thread(target=self._accept, daemon=True)
        else:
            status, body = (404, b"not here") if kind == "404" else (200, b"\x00garbage" * 100)

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_HEAD(self):
                    self.send_response(status)
                    self.end_headers()

                def do_GET(self):
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args):
                    pass

            self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.port = self.http.server_address[1]
            self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        held = []
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                held.append(self.sock.accept()[0])  # accepted, never answered
            except OSError:
                continue
        for conn in held:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        if hasattr(self, "http"):
            self.http.shutdown()
            self.http.server_close()
        else:
            self.thread.join(2)
            self.sock.close()


@pytest.mark.parametrize("kind, said", [("silent", "did not answer within 1 s"), ("404", "404"),
                                        ("garbage", "corrupted")])  # fmt: skip
def test_a_failing_download_is_a_clear_error_and_never_hangs(kind, said, data_cache, monkeypatch):
    server = _Server(kind)
    try:
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.port}/"])
        monkeypatch.setattr(data.files, "DOWNLOAD_TIMEOUT", 1.0)
        start = time.perf_counter()
        with pytest.raises(data.DataUnavailableError) as err:
            data.load_dataset("mnist", quick=False)
        assert time.perf_counter() - start < 20
    finally:
        server.close()
    msg = str(err.value)
    assert f"127.0.0.1:{server.port}" in msg and said in msg and "COURSE_DATA_DIR" in msg and "COURSE_QUICK=1" in msg, msg
    assert socket.getdefaulttimeout() is None  # the process-wide default is put back


# ================================================================================================================= API


@pytest.mark.parametrize("kw, match", [
    ({"batch_size": 0}, "batch_size must be at least 1"), ({"batch_size": -8}, "batch_size must be at least 1"),
    ({"batch_size": 2.5}, "batch_size must be a whole number"), ({"batch_size": True}, "whole number"),
    ({"train_size": 0}, "train_size must be at least 1"), ({"train_size": -100}, "at least 1"),
    ({"train_size": 6000}, "more than the 5,000 training images of the bundled mini MNIST"),
    ({"test_size": 10_001}, "more than the 10,000 test images"), ({"test_size": 0}, "test_size must be at least 1"),
    ({"val_fraction": 1.0}, r"val_fraction must be a number in \[0, 1\)"), ({"val_fraction": math.nan}, "val_fraction"),
    ({"val_fraction": "0.2"}, "val_fraction"), ({"train_size": 3, "val_fraction": 0.1}, "leaves 0 for validation"),
    ({"pad": -2}, "pad must be at least 0"), ({"resize": 0}, "resize must be at least 1"),
])  # fmt: skip
def test_make_loaders_checks_its_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        data.make_loaders("mnist", device="cpu", **kw)


@pytest.mark.parametrize("cls", [models.SmallCNN, models.InceptionNet, models.SimpleResNet])
def test_small_nets_say_which_size_they_need(cls):
    model = cls()
    with pytest.raises(ValueError, match=r"built for 28x28 images.*got \(32, 32\).*without pad="):
        model(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"built for 28x28.*pad=4"):
        model(torch.zeros(2, 1, 20, 20))
    for dtype in (torch.float64, torch.uint8):
        with pytest.raises(TypeError, match=r"x\.float\(\)"):
            model(torch.zeros(2, 1, 28, 28, dtype=dtype))
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # nested blocks see bf16 activations: allowed under autocast
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


class _Poisoned:
    """A loader whose first image of every batch holds a NaN (a bug in a student's preprocessing)."""

    def __init__(self, loader):
        self.loader, self.batch_size = loader, loader.batch_size

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            x = x.clone()
            x[0, 0, 0, 0] = float("nan")
            yield x, y


def test_fit_stops_when_the_loss_is_not_finite(tiny, tmp_path):
    ckpt = tmp_path / "diverged.pt"
    with pytest.raises(FloatingPointError, match=r"diverged in epoch 1.*nan.*torch.isfinite"):
        cu.fit(models.SmallCNN(), _Poisoned(tiny["mnist"].train), epochs=2, progress=False, device="cpu",
               checkpoint=ckpt)  # fmt: skip
    with pytest.raises(FloatingPointError, match=r"diverged.*learning rate is too high: it was 1e\+06"):
        cu.fit(models.SmallCNN(), tiny["mnist"].train, epochs=2, lr=1e6, progress=False, device="cpu", checkpoint=ckpt)
    assert not ckpt.exists()  # nothing saved
    with pytest.raises(ValueError, match="NaN or infinite"):
        data.DeviceLoader(torch.full((4, 1, 28, 28), math.nan), torch.zeros(4, dtype=torch.long), 2,
                          mean=0.0, std=1.0, device="cpu")  # fmt: skip


# ============================================================================================================== runner


def test_a_failed_notebook_run_names_the_cell_and_shows_no_stale_headline(tmp_path):
    stale = nbformat.v4.new_output("stream", name="stdout", text="test accuracy 0.99 (an earlier run)\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A notebook that fails"),
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell("def step(n):\n    return torch.zeros(2, 3) @ torch.zeros(n, 2)\n\nstep(5)"),
        nbformat.v4.new_code_cell("print('test accuracy 0.99')", metadata={"tags": ["headline"]}, outputs=[stale]),
    ])  # fmt: skip
    path = write(nb, tmp_path / "fails.ipynb")
    result = notebooks.execute(path, out=tmp_path / "out.ipynb")
    assert not result.ok and result.headline == "" and result.cell == 3
    assert re.match(r"cell 3 of 4 \(In \[2\]\): RuntimeError: .*mat1 and mat2 shapes cannot be multiplied", result.error)
    context = "\n".join(result.context)
    assert "step(5)" in context and "torch.zeros(2, 3) @ torch.zeros(n, 2)" in context and "---->" in context


def test_offline_slides_without_vendor_say_what_is_missing(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "npm").write_text("#!/bin/sh\nexit 1\n")  # the registry unreachable: npm fails and prints nothing
    (fake / "npm").chmod(0o755)
    for path_value, said in ((str(fake), "npm printed nothing"), (str(tmp_path / "empty"), "npm is needed")):
        monkeypatch.setenv("PATH", path_value)
        with pytest.raises(RuntimeError) as err:
            slides.ensure_vendor(tmp_path / "vendor", quiet=True)
        msg = str(err.value)
        assert "reveal.js@5.2.1" in msg and "mathjax@2.7.7" in msg and said in msg, msg
        assert "copy the folder" in msg and "--cdn" in msg and str(tmp_path / "vendor" / "reveal.js") in msg

