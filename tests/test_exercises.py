"""Homework tests reject wrong answers: every auto-graded exercise's test cells (visible and hidden, exactly as the
grader restores them) accept the model solution and reject each plausible wrong solution in
tests/fixtures/wrong_solutions.py.

Each check runs in-process, in a fresh namespace holding the notebook's imports and helper definitions (every
top-level import, def and class of its non-exercise code cells), then the solution cell, then the exercise's test
cells. A test cell earns its points exactly when it runs without an exception, as in `course_utils.tools.homework`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.fixtures.wrong_solutions import WRONG

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def _cells(number: str) -> list[dict]:
    return json.loads(NOTEBOOKS[number].read_text())["cells"]


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _context(cells: list[dict]) -> list[str]:
    """The notebook's imports and definitions: every top-level import, def, class and call-free assignment (a
    constant such as `WIDTH = 16`) of its non-exercise code cells, one statement each."""
    parts = []
    for cell in cells:
        if cell["cell_type"] != "code" or _meta(cell):
            continue
        text = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            constant = isinstance(node, ast.Assign) and not any(isinstance(n, ast.Call) for n in ast.walk(node.value))
            if constant or isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
                parts.append(ast.get_source_segment(text, node))
    return parts


def _exercises() -> list[tuple[str, str]]:
    """(notebook number, solution grade_id) of every code solution that has an auto-graded test cell."""
    found = []
    for number in NOTEBOOKS:
        cells = _cells(number)
        graded = {_meta(c)["grade_id"].rsplit("-", 1)[0] for c in cells
                  if c["cell_type"] == "code" and _meta(c).get("grade") and not _meta(c).get("solution")}  # fmt: skip
        for c in cells:
            gid = _meta(c).get("grade_id", "")
            if c["cell_type"] == "code" and _meta(c).get("solution") and gid.rsplit("-", 1)[0] in graded:
                found.append((number, gid))
    return found


def _passes(number: str, solution_id: str, solution: str | None = None) -> tuple[bool, str]:
    """Whether the exercise's test cells all pass with `solution` (default: the model solution) in the cell."""
    cells = _cells(number)
    exercise = solution_id.rsplit("-", 1)[0]
    model = next(c for c in cells if _meta(c).get("grade_id") == solution_id)
    source = solution if solution is not None else re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", "".join(model["source"]), flags=re.M)
    tests = [c for c in cells if c["cell_type"] == "code" and _meta(c).get("grade") and not _meta(c).get("solution")
             and _meta(c)["grade_id"].rsplit("-", 1)[0] == exercise]  # fmt: skip
    namespace: dict = {"__name__": "__exercise__"}
    for statement in _context(cells):
        try:
            exec(compile(statement, f"{number}-context", "exec"), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001 - a definition that needs the notebook's earlier results: not needed here
            continue
    try:
        exec(compile(source, solution_id, "exec"), namespace)  # noqa: S102
        for test in tests:
            exec(compile("".join(test["source"]), _meta(test)["grade_id"], "exec"), namespace)  # noqa: S102
    except Exception as exc:  # a failing test cell: the exercise loses its points
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


EXERCISES = _exercises()


def test_every_auto_graded_exercise_has_wrong_solutions():
    ids = {gid for _, gid in EXERCISES}
    assert set(WRONG) == ids, f"fixtures for unknown exercises: {set(WRONG) - ids}; exercises without: {ids - set(WRONG)}"
    assert all(len(wrongs) >= 2 for wrongs in WRONG.values())


@pytest.mark.parametrize(("number", "solution_id"), EXERCISES, ids=[gid for _, gid in EXERCISES])
def test_model_solution_earns_the_points(number, solution_id):
    ok, why = _passes(number, solution_id)
    assert ok, f"the model solution of {solution_id} fails its own tests: {why}"


CASES = [(n, gid, name) for n, gid in EXERCISES for name in WRONG.get(gid, {})]


@pytest.mark.parametrize(("number", "solution_id", "name"), CASES, ids=[f"{g}: {w}" for _, g, w in CASES])
def test_wrong_solution_loses_the_points(number, solution_id, name):
    ok, _ = _passes(number, solution_id, WRONG[solution_id][name])
    assert not ok, f"{solution_id}: the wrong solution '{name}' passes every test"


def test_the_correct_templates_of_one_line_mutations_pass():
    """The wrong PreActBlock and Bottleneck solutions are a correct solution with one line changed: the correct one
    must earn the points, so each rejection is caused by that line."""
    from tests.fixtures.wrong_solutions import _BOTTLENECK, _PREACT

    assert _passes("05", "nb05-ex1-sol", _PREACT) == (True, "")
    assert _passes("05", "nb05-ex2-sol", _BOTTLENECK) == (True, "")
