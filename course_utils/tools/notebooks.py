"""Execute notebooks headless and keep their stored form clean (no widget state, no execution noise)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

# The repository this tooling works on: the course is installed from it in editable mode (`course.py` does so).
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HEADLINE_TAG = "headline"


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


def execute(path: Path, out: Path | None = None, timeout: int = 900, env: dict[str, str] | None = None) -> RunResult:
    """Run `path` top to bottom in a fresh kernel (cwd = its folder) and write the cleaned result to `out`. A failed
    run names the failing cell with its error and a few traceback lines, and has no headline (the headline cell may
    still show an earlier run's output)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    old_env = dict(os.environ)
    os.environ.update(env or {})
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start = time.perf_counter()
    error, context, current = "", [], {"index": None}

    def on_cell_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        current["index"] = cell_index

    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no "running over TCP" banner
                                on_cell_start=on_cell_start)  # fmt: skip
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
    return RunResult(path, not error, seconds, "" if error else headline(nb), error, context, failing)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        p = Path(arg)
        r = execute(p, out=p)
        print(f"{p.name}: {'ok' if r.ok else 'FAILED in ' + r.error} in {r.seconds:.1f} s — {r.headline}")
        print("\n".join(r.context))
