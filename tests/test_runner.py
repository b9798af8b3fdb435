"""`course.py run`'s progress lines and the out-of-order hint of the kernels the course starts."""

from __future__ import annotations

import time

import nbformat
import pytest

from course_utils import hints
from course_utils.tools import notebooks as nbs


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c[2:]) if c.startswith("md") else nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_progress_lines_come_at_least_every_ten_seconds(tmp_path):
    path = _notebook(tmp_path / "slow.ipynb", ["md# Setup", "import time", "md## A long wait", "time.sleep(13)",
                                               "# the last cell\ntime.sleep(2)"])  # fmt: skip
    lines: list[tuple[float, str]] = []
    start = time.perf_counter()
    result = nbs.execute(path, out=tmp_path / "out.ipynb", progress=True, write=lambda line: lines.append((time.perf_counter(), line)))
    end = time.perf_counter()
    assert result.ok, result.error
    stamps = [start] + [t for t, _ in lines] + [end]
    assert max(b - a for a, b in zip(stamps, stamps[1:])) <= 10.0, lines
    assert all("\r" not in line for _, line in lines)  # plain lines: CI logs show them
    waiting = [line for _, line in lines if "cell 4/5 'A long wait'" in line]
    assert waiting and "no earlier run" in waiting[0]
    assert set(result.cell_seconds) == {c.id for c in nbformat.read(path, 4).cells if c.cell_type == "code"}
    assert result.cell_seconds[nbformat.read(path, 4).cells[3].id] >= 12
    assert result.cpu_seconds is None or result.cpu_seconds > 0  # the kernel's own CPU time (POSIX)


def test_estimates_come_from_the_last_run(tmp_path):
    path = _notebook(tmp_path / "est.ipynb", ["import time", "# wait\ntime.sleep(1)", "x = 1"])
    nb = nbformat.read(path, 4)
    ids = [c.id for c in nb.cells]
    record = tmp_path / "times.json"
    done = nbs.RunResult(path, True, 61.0, "", cell_seconds={ids[0]: 1.0, ids[1]: 50.0, ids[2]: 10.0})
    nbs.record_timing("est", "quick mode, cpu", done, record)
    previous = nbs.previous_timing("est", "quick mode, cpu", record)
    assert previous["seconds"] == 61.0 and nbs.previous_timing("est", "full mode, cuda", record) is None
    meter = nbs.Progress(nb, "est", previous, write=lambda line: None)
    meter.cell_started(1)
    assert 59 <= meter.remaining() <= 60
    assert "about 60 s left (last run)" in meter.line() and "cell 2/3 'wait'" in meter.line()
    nbs.record_timing("est", "quick mode, cpu", nbs.RunResult(path, False, 1.0, ""), record)  # failed runs: not kept
    assert nbs.previous_timing("est", "quick mode, cpu", record)["seconds"] == 61.0


def test_a_cell_run_before_its_setup_cell_names_the_cell_to_run(tmp_path):
    path = _notebook(tmp_path / "order.ipynb", ["md# Title", "md## Run info", "import math as m\nlimit = 3",
                                                "md## Later", "print(m.pi * limit)", "print(limt)"])  # fmt: skip
    fresh = nbformat.read(path, 4)
    fresh.cells = fresh.cells[3:]  # a fresh kernel that starts in the second half, as after a restart
    partial = _notebook(tmp_path / "partial.ipynb", [])
    nbformat.write(fresh, partial)
    # the kernel reads the notebook named by JPY_SESSION_NAME (Jupyter Server sets it; here: the full notebook)
    from nbclient import NotebookClient

    client = NotebookClient(fresh, kernel_name="python3", allow_errors=True, extra_arguments=[f"--ext={nbs.HINTS_EXTENSION}"])
    import os

    old = os.environ.get(hints.SESSION_ENV)
    os.environ[hints.SESSION_ENV] = str(path)
    try:
        client.execute()
    finally:
        os.environ.pop(hints.SESSION_ENV) if old is None else os.environ.__setitem__(hints.SESSION_ENV, old)
    first, typo = fresh.cells[1].outputs, fresh.cells[2].outputs
    assert first[0].output_type == "error" and first[0].ename == "NameError"  # the error itself is unchanged
    text = "".join(o.get("text", "") for o in first)
    assert "`m` is defined by cell 3 ('Run info') of order.ipynb" in text and "Run All Above" in text
    assert "no cell of order.ipynb (as last saved) defines `limt`" in "".join(o.get("text", "") for o in typo)


def test_hint_without_a_known_notebook_and_the_runner_loads_it(tmp_path):
    assert "may be defined by an earlier cell" in hints.hint("cu", None)
    assert hints.defined_names("%matplotlib inline\nimport a.b as c, d.e\nfor i, (j, k) in x: pass\ndef f(): pass") >= {
        "c", "d", "i", "j", "k", "f"}
    path = _notebook(tmp_path / "run.ipynb", ["# setup\nimport course_utils as cu", "print(cu)"])
    nb = nbformat.read(path, 4)
    nb.cells = nb.cells[1:]
    nbformat.write(nb, tmp_path / "half.ipynb")
    result = nbs.execute(tmp_path / "half.ipynb", out=tmp_path / "half.out.ipynb")
    assert not result.ok and "NameError" in result.error
    out = nbformat.read(tmp_path / "half.out.ipynb", 4)
    assert "no cell of half.ipynb" in "".join(o.get("text", "") for o in out.cells[0].outputs)


@pytest.mark.parametrize("source, label", [("# Train the model\nfit()", "Train the model"), ("x = 1", "Heading")])
def test_cell_labels(source, label):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Heading\ntext"), nbformat.v4.new_code_cell(source)]
    assert nbs.cell_label(nb, 1) == label
