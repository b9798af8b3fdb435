"""Execute notebooks headless and keep their stored form clean (no widget state, no execution noise)."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

# The repository this tooling works on: the course is installed from it in editable mode (`course.py` does so).
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HEADLINE_TAG = "headline"
# Per-cell seconds of the last run of each notebook on this machine (git-ignored): the next run's time estimate.
TIMINGS = ROOT / "build" / "run-times.json"
PROGRESS_EVERY = 8.0  # seconds between progress lines while a notebook runs (the issue asks for at most 10)
HINTS_EXTENSION = "course_utils.hints"  # loaded into every kernel the course starts: the out-of-order hint


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course notebooks in order (file names start with their number)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def display_path(path: Path) -> str:
    """`path` relative to the current folder when it lies below it (shorter messages), else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _path_rewrites() -> list[tuple[re.Pattern[str], str]]:
    """Absolute paths of this machine and what committed outputs show instead: files of the repository relative to
    it, installed packages as <site-packages>/..., the Python installation, temporary and home folders by name."""
    rules = [
        (r"(?:[A-Za-z]:)?[/\\][^\s'\"()\[\]<>:;]*?[/\\](?:site|dist)-packages[/\\]", "<site-packages>/"),
        (re.escape(str(ROOT)) + r"[/\\]?", ""),
        (re.escape(sys.prefix) + r"[/\\]?", "<python>/"),
        (re.escape(sys.base_prefix) + r"[/\\]?", "<python>/"),
        (re.escape(tempfile.gettempdir()) + r"[/\\]?", "<tmp>/"),
        (re.escape(str(Path.home())) + r"(?=[/\\])", "~"),
    ]
    return [(re.compile(pattern), replacement) for pattern, replacement in rules]


def scrub_paths(text: str) -> str:
    """`text` with this machine's absolute paths rewritten (see `_path_rewrites`)."""
    for pattern, replacement in _path_rewrites():
        text = pattern.sub(replacement, text)
    return text


def _scrub_output(out: nbformat.NotebookNode) -> None:
    if "text" in out:
        out["text"] = scrub_paths("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
    if "traceback" in out:
        out["traceback"] = [scrub_paths(line) for line in out["traceback"]]
    if "evalue" in out:
        out["evalue"] = scrub_paths(out["evalue"])
    for mime, value in out.get("data", {}).items():
        if mime.startswith("text/") or mime == "application/json" and isinstance(value, str):
            out["data"][mime] = scrub_paths("".join(value) if isinstance(value, list) else value)


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip widget state and per-cell execution metadata so that diffs show only real changes, and rewrite the
    absolute paths of the machine that ran the notebook (`scrub_paths`)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type == "code":
            # Widget outputs (tqdm's progress bar) store only their first frame ("0/120") as text: drop them.
            cell.outputs = [
                out for out in cell.get("outputs", [])
                if "application/vnd.jupyter.widget-view+json" not in out.get("data", {})
            ]  # fmt: skip
            for out in cell.outputs:
                _scrub_output(out)
    return nb


def headline(nb: nbformat.NotebookNode) -> str:
    """The last line printed by the cell tagged `headline` (what the run table shows for this notebook)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and HEADLINE_TAG in cell.metadata.get("tags", []):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            lines = [line for line in text.strip().splitlines() if line.strip()]
            return lines[-1].strip() if lines else ""
    return ""


@dataclass
class RunResult:
    path: Path
    ok: bool
    seconds: float
    headline: str  # empty for a failed run: the headline cell may still show an earlier run's output
    error: str = ""  # "cell 23 of 60 (In [17]): ValueError: ..." for a failed run (cells counted from 1)
    context: list[str] = field(default_factory=list)  # a few traceback lines around the failing line
    cell: int | None = None  # the failing cell's number (from 1, as `error` gives it)
    cell_seconds: dict[str, float] = field(default_factory=dict)  # seconds per executed cell, by cell id
    cpu_seconds: float | None = None  # the kernel's CPU seconds, all threads (POSIX; None where unknown)


def cell_label(nb: nbformat.NotebookNode, index: int, width: int = 48) -> str:
    """A short name for cell `index`: its first comment line, else the last markdown heading above it."""
    cell = nb.cells[index]
    if cell.cell_type == "code":
        for line in cell.source.splitlines():
            text = line.strip()
            if text.startswith("#") and not text.startswith(("#!", "# noqa", "# fmt:")):
                return _shorten(text.lstrip("#").strip(), width)
    for above in reversed(nb.cells[: index + 1]):
        if above.cell_type == "markdown":
            for line in above.source.splitlines():
                if line.startswith("#"):
                    return _shorten(line.lstrip("#").strip(), width)
    return ""


def _shorten(text: str, width: int) -> str:
    text = re.sub(r"[*`_]", "", text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def load_timings(path: Path = TIMINGS) -> dict[str, dict]:
    """The recorded per-cell seconds of earlier runs ({} when there are none or the file is unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_timing(name: str, key: str, result: RunResult, path: Path = TIMINGS) -> None:
    """Store the per-cell seconds of a successful run of notebook `name` under `key` (mode and device)."""
    if not result.ok:
        return
    data = load_timings(path)
    data.setdefault(name, {})[key] = {"seconds": round(result.seconds, 1), "cells": result.cell_seconds}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def previous_timing(name: str, key: str, path: Path = TIMINGS) -> dict | None:
    """The last recorded run of notebook `name` under `key`, or None."""
    entry = load_timings(path).get(name, {}).get(key)
    return entry if isinstance(entry, dict) and isinstance(entry.get("cells"), dict) else None


class Progress:
    """Prints a plain line (no carriage returns: it works in CI logs) at least every `every` seconds while a notebook
    runs: the notebook, the cell being run (number/total and label), the elapsed seconds and the remaining time
    estimated from the previous run's per-cell seconds (`previous`)."""

    def __init__(self, nb: nbformat.NotebookNode, name: str, previous: dict | None = None,
                 every: float = PROGRESS_EVERY, write: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.nb, self.name, self.every = nb, name, every
        self.previous = {str(k): float(v) for k, v in (previous or {}).get("cells", {}).items()}
        self.write = write or (lambda line: print(line, flush=True))
        self.start = time.perf_counter()
        self.index: int | None = None
        self.cell_start = self.start
        self.last_line = self.start
        self.seconds: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cell_started(self, index: int) -> None:
        with self._lock:
            self.index, self.cell_start = index, time.perf_counter()

    def cell_finished(self, index: int) -> None:
        cell = self.nb.cells[index]
        if cell.cell_type == "code":
            self.seconds[str(cell.get("id", index))] = round(time.perf_counter() - self.cell_start, 2)

    def remaining(self) -> float | None:
        """Seconds left by the previous run's per-cell times (None without a previous run)."""
        if not self.previous or self.index is None:
            return None
        now = time.perf_counter()
        ids = [str(c.get("id", i)) for i, c in enumerate(self.nb.cells)]
        current = self.previous.get(ids[self.index], 0.0)
        left = max(0.0, current - (now - self.cell_start))
        return left + sum(self.previous.get(i, 0.0) for i in ids[self.index + 1 :])

    def line(self) -> str:
        now = time.perf_counter()
        index = self.index
        where = "starting the kernel" if index is None else f"cell {index + 1}/{len(self.nb.cells)}"
        label = "" if index is None else cell_label(self.nb, index)
        left = self.remaining()
        estimate = "no earlier run to estimate from" if left is None else f"about {left:.0f} s left (last run)"
        return f"    {self.name}: {where}" + (f" {label!r}" if label else "") + f" — {now - self.start:.0f} s, {estimate}"

    def _beat(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                due = time.perf_counter() - self.last_line >= self.every
            if due:
                self.write(self.line())
                self.last_line = time.perf_counter()


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_context(traceback: str | list[str], keep: int = 8) -> list[str]:
    """The last lines of a traceback that show where it failed (the notebook cell's frame and the innermost frame,
    with their arrow lines), without colour codes or machine paths; the exception line itself is not included."""
    text = "\n".join(traceback) if isinstance(traceback, list) else traceback
    lines = [scrub_paths(_ANSI.sub("", line)).rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip() and not set(line.strip()) <= {"-"}]
    frames = [i for i, line in enumerate(lines) if line.startswith(("Cell In[", "File ", "Input In ["))]
    if not frames:
        return lines[-keep - 1 : -1]
    shown = []
    for start in ([frames[0]] if len(frames) == 1 else [frames[0], frames[-1]]):
        stop = next((i for i in frames if i > start), len(lines) - 1)
        block = lines[start:stop]
        arrow = next((i for i, line in enumerate(block) if line.lstrip().startswith("---->")), len(block) - 1)
        shown += [block[0], *block[max(1, arrow - 2) : arrow + 1]]
    return shown[-keep:]


def _failure(nb: nbformat.NotebookNode, index: int | None, exc: BaseException) -> tuple[str, list[str]]:
    """The one-line error and the context lines of a failed run (`index`: the failing cell)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    cell = nb.cells[index] if index is not None and index < len(nb.cells) else None
    where = f"cell {index + 1} of {len(nb.cells)}" if index is not None else "a cell"
    if cell is not None and cell.get("execution_count"):
        where += f" (In [{cell.execution_count}])"
    if isinstance(exc, CellExecutionError):
        line = f"{exc.ename}: {exc.evalue}".strip().rstrip(":")
        return f"{where}: {scrub_paths(' '.join(line.split()))}", failure_context(exc.traceback)
    if isinstance(exc, CellTimeoutError):
        message = "it ran longer than the time limit (a long training run in full mode? an endless loop?)"
    elif isinstance(exc, DeadKernelError):
        message = "the kernel died (out of memory? a crash in native code?)"
    else:
        message = f"{type(exc).__name__}: {exc}"
    source = [line for line in (cell.source.splitlines() if cell is not None else []) if line.strip()]
    return f"{where}: {message}", [f"    {line}" for line in source[-4:]]


def execute(path: Path, out: Path | None = None, timeout: int = 900, env: dict[str, str] | None = None,
            progress: bool = False, previous: dict | None = None, every: float = PROGRESS_EVERY,
            write: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
    """Run `path` top to bottom in a fresh kernel (cwd = its folder) and write the cleaned result to `out`. A failed
    run names the failing cell with its error and a few traceback lines, and has no headline (the headline cell may
    still show an earlier run's output). With `progress`, a line every `every` seconds names the cell being run,
    the elapsed time and an estimate from `previous` (an earlier run's `record_timing` entry). The kernel loads the
    out-of-order hint (`course_utils.hints`)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    old_env = dict(os.environ)
    os.environ.update(env or {})
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ["JPY_SESSION_NAME"] = str(path.resolve())  # as jupyter_server does: the hint reads the notebook
    start, cpu_start = time.perf_counter(), _children_cpu()
    error, context, current = "", [], {"index": None}
    meter = Progress(nb, path.stem, previous, every, write)

    def on_cell_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        current["index"] = cell_index
        meter.cell_started(cell_index)

    def on_cell_executed(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        meter.cell_finished(cell_index)

    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                                extra_arguments=["--IPKernelApp.log_level=ERROR",  # no "running over TCP" banner
                                                 f"--ext={HINTS_EXTENSION}"],
                                on_cell_start=on_cell_start, on_cell_executed=on_cell_executed)  # fmt: skip
        if progress:
            with meter:
                client.execute()
        else:
            client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        error, context = _failure(nb, current["index"], exc)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    seconds = time.perf_counter() - start
    clean(nb)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    failing = current["index"] + 1 if error and current["index"] is not None else None
    cpu_end = _children_cpu()  # the kernel has exited and been waited for: its CPU time is counted now
    cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
    return RunResult(path, not error, seconds, "" if error else headline(nb), error, context, failing, meter.seconds, cpu)


def _children_cpu() -> float | None:
    """CPU seconds (user + system) of this process's finished children, or None where the OS does not tell."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        p = Path(arg)
        r = execute(p, out=p)
        print(f"{p.name}: {'ok' if r.ok else 'FAILED in ' + r.error} in {r.seconds:.1f} s — {r.headline}")
        print("\n".join(r.context))
