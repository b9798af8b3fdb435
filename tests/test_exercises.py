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
    constant such as `WIDTH = 16`) of its non-exercise code cells, one statement each; the body of a top-level `try`
    counts as top level (the first cell imports course_utils in one)."""
    parts = []
    for cell in cells:
        if cell["cell_type"] != "code" or _meta(cell):
            continue
        text = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in [n for top in tree.body for n in (top.body if isinstance(top, ast.Try) else [top])]:
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


# ------------------------------------------------------------------ the same, through the course's grader itself
# Each round is one returned notebook, graded end to end by `course_utils.tools.homework.grade` in a kernel, exactly
# as a TA grades: round k hands in the k-th wrong solution of every exercise (the model solution where an exercise
# has fewer wrong ones), so every wrong solution of the fixtures is graded once. Exercises are independent (no cell
# after an exercise may use its result), so one notebook can carry several wrong solutions at once.

ROUNDS = [(number, k) for number in NOTEBOOKS
          for k in range(max((len(WRONG[gid]) for n, gid in EXERCISES if n == number), default=0))]  # fmt: skip


def _returned(number: str, k: int, folder: Path) -> tuple[Path, dict[str, str | None]]:
    """The student copy of notebook `number` with round k's solutions filled in; which wrong solution each exercise
    got (None: the model solution)."""
    import nbformat

    from course_utils.tools import homework as hw

    path = NOTEBOOKS[number]
    instructor = hw.read(path)
    model = {hw.grade_id(c): c.source for c in instructor.cells if hw.grade_id(c)}
    returned = hw.student_copy(instructor, path.name)
    handed_in: dict[str, str | None] = {}
    for cell in returned.cells:
        gid = hw.grade_id(cell)
        if gid in WRONG:
            names = list(WRONG[gid])
            handed_in[gid] = names[k] if k < len(names) else None
            cell.source = WRONG[gid][names[k]] if k < len(names) else model[gid]
    out = folder / path.name
    nbformat.write(returned, out)
    return out, handed_in


@pytest.mark.parametrize(("number", "k"), ROUNDS, ids=[f"{n}-round{k + 1}" for n, k in ROUNDS])
def test_the_grader_scores_wrong_solutions_zero(number, k, tmp_path):
    pytest.importorskip("nbgrader", reason='the grader needs nbgrader: pip install -e ".[instructor]"')
    from course_utils.tools import homework as hw

    returned, handed_in = _returned(number, k, tmp_path)
    report = hw.grade(returned, NOTEBOOKS[number], timeout=300)
    problems = []
    for gid, wrong in handed_in.items():
        result = report.exercise(hw.exercise_key(gid))
        if wrong is not None and result.score > 0:
            problems.append(f"{gid} '{wrong}': {result.score:g} of {result.auto_points:g} points")
        if wrong is None and result.score != result.auto_points:
            problems.append(f"{gid} model solution: {result.score:g} of {result.auto_points:g} ({result.detail})")
    assert not problems, "the grader gave points to wrong answers or withheld them from right ones:\n" + "\n".join(problems)
