"""Hints for people in notebook kernels: a cell run before the cell that defines a name it uses.

Running the second half of a notebook in a fresh kernel (after a restart, or opening it and running one cell) raises a
bare `NameError`. The kernels that `course.py run` and `course.py lab` start load this module as an IPython extension
(`--ext=course_utils.hints`); it adds, below the usual traceback, which cell of the notebook defines the missing name
and how to run it. It uses IPython's documented extension point for this, `InteractiveShell.set_custom_exc`.

The notebook is found through `JPY_SESSION_NAME`, which Jupyter Server (and `course.py run`) sets for each kernel to
the notebook's path; the cells are read from the saved file. Elsewhere the hint is the general one.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

from .runtime import current_notebook

SESSION_ENV = "JPY_SESSION_NAME"  # read by runtime.current_notebook


def defined_names(source: str) -> set[str]:
    """The names a cell's code binds at top level or anywhere below (assignments, imports, defs, loops, with-as)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _label(cells: list[dict[str, Any]], index: int) -> str:
    """The cell's first comment line, else the last markdown heading above it (as `course.py run` names cells)."""
    source = "".join(cells[index].get("source", ""))
    for line in source.splitlines():
        if line.strip().startswith("#") and not line.strip().startswith("#!"):
            return line.strip().lstrip("#").strip()
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def defining_cell(notebook: Path, name: str) -> tuple[int, str] | None:
    """The first code cell of `notebook` (number from 1, label) that defines `name`, or None."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and name in defined_names("".join(cell.get("source", ""))):
            return index + 1, _label(cells, index)
    return None


def hint(name: str, notebook: Path | None) -> str:
    """The message shown under a NameError for `name` (the notebook file, when known, locates the defining cell)."""
    run_above = "or Run ▸ Run All Above Selected Cell"
    if notebook is None or not notebook.is_file():
        return (f"Hint: `{name}` may be defined by an earlier cell that has not run in this kernel (after a restart "
                f"nothing is defined): run the cells above first ({run_above}). Otherwise check the spelling.")  # fmt: skip
    found = defining_cell(notebook, name)
    if found is None:
        return (f"Hint: no cell of {notebook.name} (as last saved) defines `{name}`: check the spelling, or define it "
                "in a cell of your own.")  # fmt: skip
    number, label = found
    what = f"cell {number}" + (f" ('{label}')" if label else "")
    return (f"Hint: `{name}` is defined by {what} of {notebook.name}, which has not run in this kernel: run it first, "
            f"{run_above} (a restarted kernel has forgotten everything).")  # fmt: skip


def load_ipython_extension(ipython: Any) -> None:
    """IPython's extension hook: show `hint` under every NameError (the error itself is shown and reported as usual)."""

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        name = getattr(value, "name", None)
        if name:
            print(hint(name, current_notebook()), file=sys.stderr, flush=True)

    ipython.set_custom_exc((NameError,), handler)
