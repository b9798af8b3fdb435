"""Homework from the course notebooks: student copies made by nbgrader's own preprocessors, and local grading.

The notebooks in `notebooks/` are the instructor version. Their exercises use nbgrader's syntax: solution cells with
`### BEGIN SOLUTION` / `### END SOLUTION` regions (or whole-cell solutions), locked test cells with visible asserts and a
`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` region, and free-text answers in graded markdown cells.

    python -m course_utils.tools.homework student [--out build/student] [NOTEBOOK ...]
    python -m course_utils.tools.homework grade RETURNED.ipynb [...] [--instructor NOTEBOOK|FOLDER] [--timeout SECONDS]
                                   [--save FOLDER] [--csv FILE] [--allow-edited]

`student` needs the optional `instructor` extra (nbgrader); `grade` needs only nbclient and works without it.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import nbformat
from nbformat import NotebookNode

from ..tables import format_table
from .notebooks import NOTEBOOKS, ROOT, course_notebooks, display_path

DEFAULT_OUT = ROOT / "build" / "student"
DEFAULT_TIMEOUT = 120  # seconds per cell; exercises take < 5 s, quick-mode training cells well under a minute
INSTALL_HINT = (
    "The student command uses nbgrader's preprocessors, which come with the optional `instructor` extra.\n"
    "Install it into the course environment (from the repository root):\n\n"
    '    pip install -e ".[instructor]"\n'
)
TIMEOUT_ENAME = "CellTimeout"
KERNEL_DIED = "the kernel died (a crash, os._exit/exit() or running out of memory)"
MAX_RESTARTS = 3

# Markers, found the way nbgrader finds them (a substring of the line) ...
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# ... and leniently (any case and spacing), so that a misspelt marker counts as a leak instead of going unnoticed.
_LENIENT = {
    SOLUTION_MARKERS: (re.compile(r"BEGIN\s+SOLUTION", re.I), re.compile(r"END\s+SOLUTION", re.I)),
    HIDDEN_MARKERS: (re.compile(r"BEGIN\s+HIDDEN\s+TESTS?", re.I), re.compile(r"END\s+HIDDEN\s+TESTS?", re.I)),
}
# Lines that carry no information about a solution (they may appear anywhere without giving anything away).
_TRIVIAL = {
    "pass", "...", "return", "break", "continue", "else:", "try:", "finally:", "except:", "return None",
    "raise NotImplementedError()", "raise NotImplementedError", "YOUR ANSWER HERE",
}


class HomeworkError(Exception):
    """A problem the TA has to fix (wrong notebook, edited test cells, broken exercise markup): printed, exit 1."""


class MissingExtra(HomeworkError):
    """nbgrader (the `instructor` extra) is not installed: printed with the install command, exit 2."""


# --------------------------------------------------------------------------------------------------------------------
# nbgrader metadata (the same rules as nbgrader.utils, without importing nbgrader)


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata ({} when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_grade(cell: NotebookNode) -> bool:
    """Whether nbgrader grades the cell (a test cell or a graded answer)."""
    return bool(nbgrader_meta(cell).get("grade", False))


def is_solution(cell: NotebookNode) -> bool:
    """Whether the cell holds a solution region or a free-text answer."""
    return bool(nbgrader_meta(cell).get("solution", False))


def is_task(cell: NotebookNode) -> bool:
    """Whether the cell is an nbgrader task (graded by hand)."""
    return bool(nbgrader_meta(cell).get("task", False))


def is_locked(cell: NotebookNode) -> bool:
    """Locked cells are restored from the instructor version when grading: test cells and read-only cells."""
    meta = nbgrader_meta(cell)
    if not meta or is_solution(cell):
        return False
    return is_grade(cell) or bool(meta.get("locked", False))


def is_exercise_cell(cell: NotebookNode) -> bool:
    """Whether the cell belongs to an exercise (graded, solution, locked or task)."""
    return is_grade(cell) or is_solution(cell) or is_locked(cell) or is_task(cell)


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader grade_id, or None for a cell outside the exercises."""
    return nbgrader_meta(cell).get("grade_id") if is_exercise_cell(cell) else None


def points(cell: NotebookNode) -> float:
    """The points the cell is worth (0 for cells that are not graded)."""
    return float(nbgrader_meta(cell).get("points", 0) or 0) if (is_grade(cell) or is_task(cell)) else 0.0


def is_auto_graded(cell: NotebookNode) -> bool:
    """A graded code cell: it scores its points when it runs without an error (nbgrader's autograder rule)."""
    return cell.cell_type == "code" and is_grade(cell) and not is_task(cell)


def grade_ids(nb: NotebookNode) -> set[str]:
    """Every grade_id in the notebook."""
    return {gid for cell in nb.cells if (gid := grade_id(cell))}


def read(path: Path | str) -> NotebookNode:
    """Read a notebook (nbformat 4), with a clear error when the file is missing or not a notebook."""
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise HomeworkError(f"{path}: no such file") from None
    except Exception as exc:  # not JSON, not a notebook
        raise HomeworkError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------------------------------
# Solution and hidden-test regions (own parser: used to restore/compare test cells and to check for leaks)


def _regions(source: str, markers: tuple[str, str], lenient: bool = False) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (outside, inside) the marked regions; the marker lines belong to neither."""
    if lenient:
        begin, end = _LENIENT[markers]
        is_begin, is_end = (lambda s: bool(begin.search(s))), (lambda s: bool(end.search(s)))
    else:
        is_begin, is_end = (lambda s: markers[0] in s), (lambda s: markers[1] in s)
    outside: list[str] = []
    inside: list[str] = []
    in_region = False
    for line in source.split("\n"):
        if is_begin(line):
            in_region = True
        elif is_end(line):
            in_region = False
        else:
            (inside if in_region else outside).append(line)
    return outside, inside


def strip_hidden_tests(source: str) -> str:
    """A test cell as the student sees it: nbgrader's ClearHiddenTests rule (drop marked lines and markers)."""
    return "\n".join(_regions(source, HIDDEN_MARKERS)[0])


def _normalise(source: str) -> str:
    lines = [line.rstrip() for line in source.strip("\n").split("\n")]
    return "\n".join(lines).strip("\n")


def is_trivial(line: str) -> bool:
    """Blank lines, comments, bare punctuation and bare keywords say nothing about a solution."""
    s = line.strip()
    return not s or s.startswith("#") or s in _TRIVIAL or not re.search(r"[A-Za-z0-9]", s)


def secret_lines(nb: NotebookNode) -> set[str]:
    """Stripped, non-trivial lines the student must not see: solution regions, whole-cell solutions, free-text
    answers and hidden tests (markers found leniently, so a misspelt marker still counts)."""
    secret: set[str] = set()
    for cell in nb.cells:
        if is_solution(cell):
            outside, inside = _regions(cell.source, SOLUTION_MARKERS, lenient=True)
            has_region = any(_LENIENT[SOLUTION_MARKERS][0].search(x) for x in cell.source.split("\n"))
            secret.update(inside if has_region else cell.source.split("\n"))
        secret.update(_regions(cell.source, HIDDEN_MARKERS, lenient=True)[1])
    return {s.strip() for s in secret if not is_trivial(s)}


def public_lines(nb: NotebookNode) -> set[str]:
    """Stripped lines of the instructor notebook outside every secret region (the student may see these)."""
    public: set[str] = set()
    for cell in nb.cells:
        source = cell.source
        if is_solution(cell):
            if not any(_LENIENT[SOLUTION_MARKERS][0].search(x) for x in source.split("\n")):
                continue
            source = "\n".join(_regions(source, SOLUTION_MARKERS, lenient=True)[0])
        public.update(_regions(source, HIDDEN_MARKERS, lenient=True)[0])
    return {s.strip() for s in public}


def notebook_lines(nb: NotebookNode) -> set[str]:
    """Every stripped line of every cell's source and of every text output."""
    lines: set[str] = set()
    for cell in nb.cells:
        lines.update(s.strip() for s in cell.source.split("\n"))
        for out in cell.get("outputs", []):
            text = out.get("text", "") or "".join(str(v) for v in out.get("data", {}).values())
            lines.update(s.strip() for s in str(text).split("\n"))
    return lines


def leaked_lines(instructor: NotebookNode, student: NotebookNode, strict: bool = False) -> set[str]:
    """Secret lines of the instructor version that survive in the student copy. Not strict: lines that the
    instructor version also shows outside every secret region (e.g. in a worked example) are not counted."""
    leaked = secret_lines(instructor) & notebook_lines(student)
    return leaked if strict else leaked - public_lines(instructor)


# --------------------------------------------------------------------------------------------------------------------
# Exercises: graded cells grouped by their grade_id (`nb01-ex2-sol`, `nb01-ex2-test`, `nb01-ex2-test-b` -> `nb01-ex2`)

_EX_KEY = re.compile(r"^(.*?(?:^|[-_.])ex(?:ercise)?[-_]?\d+[a-z]?)(?=$|[-_.])", re.I)
_ROLE = re.compile(r"[-_.](?:sol|solution|solutions|test|tests|answer|ans|code|text|hidden|visible|check)"
                   r"(?:[-_.]?[a-z0-9]{1,3})?$", re.I)


def exercise_key(gid: str) -> str:
    """The exercise a grade_id belongs to ('ex3-test' -> 'ex3')."""
    m = _EX_KEY.match(gid)
    if m:
        return m.group(1)
    key = _ROLE.sub("", gid)
    return key or gid


@dataclass
class Exercise:
    key: str
    title: str
    cells: list[str] = field(default_factory=list)  # grade_ids in notebook order
    auto_points: float = 0.0
    manual_points: float = 0.0


def _title(nb: NotebookNode, index: int) -> str:
    """The exercise statement's title: in the nearest markdown cell above `index` (not an answer cell), the last
    heading, else the first line, up to the end of its first sentence."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown" and not is_exercise_cell(cell):
            lines = [line for line in cell.source.split("\n") if line.strip()]
            headings = [line for line in lines if line.lstrip().startswith("#")]
            for line in headings[-1:] or lines[:1]:
                text = re.sub(r"[*_`#]+", "", line)
                text = re.sub(r"\s*\([^()]*\b(?:points?|auto-graded|written)\b[^()]*\)", "", text).strip()
                return re.split(r"(?<=[.:!?])\s", text, maxsplit=1)[0].rstrip(".:")
    return ""


def exercises(nb: NotebookNode) -> list[Exercise]:
    """The notebook's exercises in order, with their auto-graded and hand-graded points."""
    found: dict[str, Exercise] = {}
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid is None:
            continue
        key = exercise_key(gid)
        ex = found.get(key)
        if ex is None:
            ex = found[key] = Exercise(key, _title(nb, index))
        ex.cells.append(gid)
        if is_auto_graded(cell):
            ex.auto_points += points(cell)
        elif is_grade(cell) or is_task(cell):
            ex.manual_points += points(cell)
    return [ex for ex in found.values() if ex.auto_points or ex.manual_points]


def check_instructor(nb: NotebookNode, name: str = "notebook") -> None:
    """Markup errors that would make homework from this notebook wrong."""
    seen: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid is None:
            if is_exercise_cell(cell):
                problems.append(f"cell {index} has nbgrader metadata but no grade_id")
            continue
        if gid in seen:
            problems.append(f"grade_id {gid!r} is used by cells {seen[gid]} and {index}")
        seen[gid] = index
        if is_grade(cell) and "points" not in nbgrader_meta(cell):
            problems.append(f"graded cell {gid!r} has no points")
    if problems:
        raise HomeworkError(f"{name}: exercise markup problems:\n  - " + "\n  - ".join(problems))


# --------------------------------------------------------------------------------------------------------------------
# Student copies: nbgrader's own preprocessors, run by an nbconvert exporter (no course folder, no database)


def _nbgrader_preprocessors() -> list:
    try:
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearHiddenTests,
            ClearMarkScheme,
            ClearOutput,
            ClearSolutions,
            ComputeChecksums,
            LockCells,
        )
    except ImportError as exc:
        raise MissingExtra(f"{INSTALL_HINT}\n(import failed: {exc})") from None
    # The order of `nbgrader generate_assignment`, minus the steps that need its gradebook database.
    return [CheckCellMetadata, LockCells, ClearSolutions, ClearOutput, ClearHiddenTests, ClearMarkScheme,
            ComputeChecksums, CheckCellMetadata]


def student_copy(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The student version of an instructor notebook (the input is not modified)."""
    from nbconvert.exporters import NotebookExporter

    preprocessors = _nbgrader_preprocessors()
    check_instructor(nb, name)
    exporter = NotebookExporter()
    for cls in preprocessors:
        exporter.register_preprocessor(cls(), enabled=True)
    try:
        body, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={"metadata": {"name": name}})
    except Exception as exc:  # nbgrader's RuntimeError/ValidationError name the problem
        raise HomeworkError(f"{name}: nbgrader could not make the student copy: {exc}") from None
    student = nbformat.reads(body, as_version=4)
    leaked = leaked_lines(nb, student)
    if leaked:
        raise HomeworkError(f"{name}: the student copy would still contain solution/hidden-test lines "
                            f"(check the BEGIN/END markers): {sorted(leaked)[:5]}")
    nbformat.validate(student)
    return student


def write_student_copies(notebooks: Sequence[Path], out: Path) -> list[Path]:
    """Write the student copy of each notebook into `out` (nbgrader's preprocessors) and return the paths."""
    _nbgrader_preprocessors()  # fail early, before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        target = out / path.name
        if target.resolve() == path.resolve():
            raise HomeworkError(f"{path}: the output folder must not be the notebooks' own folder")
        nbformat.write(student_copy(read(path), path.name), target)
        written.append(target)
    return written


# --------------------------------------------------------------------------------------------------------------------
# Grading: match, check, restore hidden tests, execute cell by cell, score


def find_instructor(returned: NotebookNode, candidates: Sequence[Path], name: str = "the returned notebook") -> Path:
    """The instructor notebook that shares the most grade_ids with `returned` (grade_ids are unique per course)."""
    ids = grade_ids(returned)
    if not ids:
        raise HomeworkError(
            f"{name} has no nbgrader grade ids, so it cannot be matched to an exercise notebook. Was it saved by an "
            "editor that drops cell metadata? Grade the student's copy as handed out, or pass --instructor.")
    if not candidates:
        raise HomeworkError(f"no instructor notebooks to compare {name} with (looked in {NOTEBOOKS})")
    scored = sorted(((len(ids & grade_ids(read(p))), p) for p in candidates), key=lambda t: -t[0])
    best = scored[0][0]
    if best == 0:
        where = ", ".join(p.name for p in candidates)
        raise HomeworkError(
            f"{name} matches none of the instructor notebooks ({where}): none of its grade ids "
            f"({', '.join(sorted(ids)[:4])}{', ...' if len(ids) > 4 else ''}) occurs in them. "
            "Pass the notebook it was made from with --instructor.")
    tied = [p for n, p in scored if n == best]
    if len(tied) > 1:
        raise HomeworkError(f"{name} matches several instructor notebooks equally well "
                            f"({', '.join(p.name for p in tied)}); pass one with --instructor.")
    return scored[0][1]


def _first_difference(returned: str, expected: str) -> str:
    got, want = _normalise(returned).split("\n"), _normalise(expected).split("\n")
    for i, (a, b) in enumerate(zip(got, want), start=1):
        if a != b:
            return f"line {i} is {a.strip()!r}, the instructor's is {b.strip()!r}"
    if len(got) > len(want):
        return f"extra line {len(want) + 1}: {got[len(want)].strip()!r}"
    return f"line {len(got) + 1} ({want[len(got)].strip()!r}) was removed"


def prepare(returned: NotebookNode, instructor: NotebookNode, allow_edited: bool = False) -> tuple[NotebookNode, list[str]]:
    """The notebook to execute: the returned one with every locked cell (test cells with their hidden tests, read-only
    cells) and all nbgrader metadata (points!) taken from the instructor version. Raises HomeworkError when a locked
    cell is missing or was edited (unless `allow_edited`: then the instructor's cell is used and a warning returned)."""
    nb = copy.deepcopy(returned)
    notes: list[str] = []
    # duplicates (a copied exercise cell): keep the last one, as nbgrader's DeduplicateIds does
    seen: set[str] = set()
    for cell in reversed(nb.cells):
        gid = grade_id(cell)
        if gid is not None and gid in seen:
            cell.metadata.pop("nbgrader", None)
            notes.append(f"{gid} appears more than once; the last copy is graded")
        elif gid is not None:
            seen.add(gid)
    inst = {grade_id(c): c for c in instructor.cells if grade_id(c)}
    mine = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    missing, edited = [], []
    for gid, icell in inst.items():
        if gid not in mine:
            if is_locked(icell) or is_auto_graded(icell):
                missing.append(gid)
            continue
        rcell = nb.cells[mine[gid]]
        if is_locked(icell):
            if rcell.cell_type != icell.cell_type:
                edited.append(f"{gid}: cell type changed from {icell.cell_type} to {rcell.cell_type}")
            else:
                got, want = strip_hidden_tests(rcell.source), strip_hidden_tests(icell.source)
                if _normalise(got) != _normalise(want):
                    edited.append(f"{gid}: {_first_difference(got, want)}")
            cell_id = rcell.get("id")
            rcell = nb.cells[mine[gid]] = copy.deepcopy(icell)  # the instructor's cell: hidden tests restored
            if cell_id:
                rcell["id"] = cell_id
            if rcell.cell_type == "code":
                rcell.outputs, rcell.execution_count = [], None
        rcell.metadata["nbgrader"] = copy.deepcopy(icell.metadata["nbgrader"])
    for gid, index in mine.items():
        if gid not in inst:
            nb.cells[index].metadata.pop("nbgrader", None)
            notes.append(f"{gid} is not an exercise cell of the instructor version; it runs ungraded")
    if missing:
        raise HomeworkError("graded cells are missing from the returned notebook (deleted?): " + ", ".join(missing)
                            + ". Grade it against the version that was handed out, or restore the cells.")
    if edited:
        message = "locked test cells were edited in the returned notebook:\n  - " + "\n  - ".join(edited)
        if not allow_edited:
            raise HomeworkError(message + "\nRe-run with --allow-edited to grade it with the instructor's test cells.")
        notes.append(message + "\n  (graded with the instructor's test cells)")
    return nb, notes


@dataclass
class CellResult:
    index: int
    grade_id: str | None
    status: str  # "ok", "error", "timeout", "died", "not run"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_text(content: dict) -> str:
    """`AssertionError: message`; a bare failed assert is shown with its line (from the traceback)."""
    text = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}".strip().rstrip(":")
    if content.get("ename") == "AssertionError" and not content.get("evalue"):
        for frame in reversed(content.get("traceback", [])):
            m = re.findall(r"---->\s*\d+\s+(.*)", _ANSI.sub("", frame))
            if m:
                text += f" ({m[-1].strip()})"
                break
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:87] + "..."


async def _responsive(client, wait: float) -> bool:
    """Does the kernel answer a no-op request within `wait` seconds (after an interrupt)?"""
    from nbclient.util import ensure_async

    msg_id = await ensure_async(client.kc.execute("", store_history=False, silent=True))
    deadline = time.monotonic() + wait
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            msg = await ensure_async(client.kc.shell_channel.get_msg(timeout=remaining))
        except Empty:
            return False
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


async def _run_cells(nb: NotebookNode, cwd: Path, timeout: int, env: dict[str, str]) -> list[CellResult]:
    """Execute every code cell in order in a fresh kernel. An error or a timeout is recorded and execution goes on;
    a dead or hung kernel is replaced by a new one that first replays the cells that had succeeded."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    replies: dict[int, dict] = {}

    def on_executed(cell, cell_index, execute_reply):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"the cell ran longer than {timeout} s", "traceback": []},
        shutdown_kernel="immediate", record_timing=False, on_cell_executed=on_executed,
        resources={"metadata": {"path": str(cwd)}},
    )
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    results: dict[int, CellResult] = {}
    succeeded: list[int] = []
    position, restarts = 0, 0
    while position < len(code):
        if restarts > MAX_RESTARTS:
            for i in code[position:]:
                results[i] = CellResult(i, grade_id(nb.cells[i]), "not run", "the kernel kept dying")
            break
        async with client.async_setup_kernel(env=env, stderr=subprocess.DEVNULL):
            try:
                for i in succeeded:  # replay after a restart (results and outputs of the first run are kept)
                    original = nb.cells[i]
                    try:
                        await client.async_execute_cell(copy.deepcopy(original), i)
                    finally:
                        nb.cells[i] = original
            except (DeadKernelError, CellTimeoutError):
                restarts += 1
                continue
            while position < len(code):
                i = code[position]
                position += 1
                cell = nb.cells[i]
                replies.pop(i, None)
                try:
                    await client.async_execute_cell(cell, i)
                except (DeadKernelError, CellTimeoutError):
                    results[i] = CellResult(i, grade_id(cell), "died", KERNEL_DIED)
                    cell.outputs.append(nbformat.v4.new_output("error", ename="DeadKernel", evalue=KERNEL_DIED,
                                                               traceback=[]))
                    restarts += 1
                    break
                content = replies.get(i, {})
                if content.get("status", "ok") == "ok":
                    results[i] = CellResult(i, grade_id(cell), "ok")
                    succeeded.append(i)
                elif content.get("ename") == TIMEOUT_ENAME:
                    results[i] = CellResult(i, grade_id(cell), "timeout", f"timed out after {timeout} s")
                    cell.outputs.append(nbformat.v4.new_output("error", ename=TIMEOUT_ENAME,
                                                               evalue=content.get("evalue", ""), traceback=[]))
                    if not await _responsive(client, max(5.0, min(float(timeout), 15.0))):
                        results[i].message += " (the kernel ignored the interrupt and was restarted)"
                        restarts += 1
                        break
                else:
                    results[i] = CellResult(i, grade_id(cell), "error", _error_text(content))
    return [results[i] for i in code if i in results]


def execute_for_grading(nb: NotebookNode, cwd: Path, timeout: int = DEFAULT_TIMEOUT) -> list[CellResult]:
    """Run `nb` in place in a fresh kernel in quick mode (`COURSE_QUICK=1`); one CellResult per code cell."""
    from nbclient.util import run_sync

    env = {**os.environ, "COURSE_QUICK": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return run_sync(_run_cells)(nb, cwd, timeout, env)


@dataclass
class ExerciseResult:
    key: str
    title: str
    auto_points: float
    manual_points: float
    score: float
    detail: str


@dataclass
class GradeReport:
    returned: Path
    instructor: Path
    exercises: list[ExerciseResult]
    cells: list[CellResult]
    executed: NotebookNode
    seconds: float
    timeout: int
    notes: list[str] = field(default_factory=list)

    @property
    def auto_points(self) -> float:
        return sum(e.auto_points for e in self.exercises)

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def manual_points(self) -> float:
        return sum(e.manual_points for e in self.exercises)

    def cell(self, gid: str) -> CellResult:
        for result in self.cells:
            if result.grade_id == gid:
                return result
        raise KeyError(gid)

    def exercise(self, key: str) -> ExerciseResult:
        for result in self.exercises:
            if result.key == key:
                return result
        raise KeyError(key)


def _problem(result: CellResult) -> str:
    return f"{result.message or result.status} in {result.grade_id}"


def score_exercises(nb: NotebookNode, cells: Iterable[CellResult]) -> list[ExerciseResult]:
    """Points per exercise: a graded code cell scores its points when it ran without error; an exercise whose
    solution cell raised or timed out scores nothing; free-text answers are left for the TA ("manual")."""
    by_id = {r.grade_id: r for r in cells if r.grade_id}
    cell_of = {grade_id(c): c for c in nb.cells if grade_id(c)}
    results = []
    for ex in exercises(nb):
        code_cells = [g for g in ex.cells if cell_of[g].cell_type == "code"]
        failed_solutions = [by_id[g] for g in code_cells if is_solution(cell_of[g]) and g in by_id and not by_id[g].ok]
        tests = [g for g in ex.cells if is_auto_graded(cell_of[g])]
        failed_tests = [by_id[g] for g in tests if g not in by_id or not by_id[g].ok]
        if not ex.auto_points:
            score, detail = 0.0, "free-text answer: grade by hand"
        elif failed_solutions:
            score, detail = 0.0, "failed: " + _problem(failed_solutions[0])
        else:
            score = sum(points(cell_of[g]) for g in tests if g in by_id and by_id[g].ok)
            detail = "passed" if not failed_tests else "failed: " + "; ".join(_problem(r) for r in failed_tests[:2])
        if ex.auto_points and ex.manual_points:
            detail += f" (+{ex.manual_points:g} manual)"
        results.append(ExerciseResult(ex.key, ex.title, ex.auto_points, ex.manual_points, score, detail))
    return results


def grade(returned_path: Path, instructor: Path | None = None, timeout: int = DEFAULT_TIMEOUT,
          allow_edited: bool = False) -> GradeReport:
    """Grade one returned notebook; `instructor` is a notebook, a folder of notebooks or None (the course notebooks)."""
    returned_path = Path(returned_path)
    returned = read(returned_path)
    if instructor is not None and Path(instructor).is_dir():
        candidates = course_notebooks(Path(instructor)) or sorted(Path(instructor).glob("*.ipynb"))
    elif instructor is not None:
        candidates = [Path(instructor)]
        read(candidates[0])  # a clear error for a wrong path
    else:
        candidates = course_notebooks()
    inst_path = find_instructor(returned, candidates, "the notebook")
    inst = read(inst_path)
    nb, notes = prepare(returned, inst, allow_edited)
    start = time.perf_counter()
    cells = execute_for_grading(nb, inst_path.parent, timeout)
    seconds = time.perf_counter() - start
    return GradeReport(returned_path, inst_path, score_exercises(nb, cells), cells, nb, seconds, timeout, notes)


def format_report(report: GradeReport) -> str:
    """The grading report as text: a table of exercises, points and results, then notes."""
    rows = [["exercise", "title", "points", "score", "result"]]
    for ex in report.exercises:
        title = ex.title if len(ex.title) <= 44 else ex.title[:41] + "..."
        score = f"{ex.score:g}" if ex.auto_points else "manual"
        pts = f"{ex.auto_points:g}" if ex.auto_points else f"({ex.manual_points:g})"
        rows.append([ex.key, title, pts, score, ex.detail])
    rows.append(["total", "auto-graded", f"{report.auto_points:g}", f"{report.score:g}", ""])
    head = (f"Grading {display_path(report.returned)} against {display_path(report.instructor)} "
            f"(quick mode, {report.timeout} s per cell)")
    lines = [head, "", *format_table(rows[1:], rows[0], right={2, 3}).splitlines()]
    if report.manual_points:
        lines.append(f"manual: {report.manual_points:g} more point(s) in free-text answers, graded by hand")
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"executed in {report.seconds:.1f} s")
    return "\n".join(lines)


def _save_name(path: Path, all_paths: Sequence[Path]) -> str:
    clash = sum(p.stem == path.stem for p in all_paths) > 1
    return f"{path.parent.name}_{path.stem}.graded.ipynb" if clash else f"{path.stem}.graded.ipynb"


# --------------------------------------------------------------------------------------------------------------------
# Command line


def _cmd_student(args: argparse.Namespace) -> int:
    notebooks = [Path(p) for p in args.notebooks] or course_notebooks()
    if not notebooks:
        print(f"no course notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    written = write_student_copies(notebooks, Path(args.out))
    rows = [["notebook", "exercises", "auto points", "manual points", "student copy"]]
    for src, dst in zip(notebooks, written):
        exs = exercises(read(src))
        rows.append([src.name, str(len(exs)), f"{sum(e.auto_points for e in exs):g}",
                     f"{sum(e.manual_points for e in exs):g}", display_path(dst)])
    print(format_table(rows[1:], rows[0], right={1, 2, 3}))
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.returned]
    failed = 0
    csv_rows = []
    for n, path in enumerate(paths):
        if n:
            print()
        try:
            report = grade(path, Path(args.instructor) if args.instructor else None, args.timeout, args.allow_edited)
        except HomeworkError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(format_report(report), flush=True)
        if args.save:
            folder = Path(args.save)
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(report.executed, folder / _save_name(path, paths))
        for ex in report.exercises:
            csv_rows.append([str(path), report.instructor.name, ex.key, f"{ex.auto_points:g}",
                             f"{ex.score:g}" if ex.auto_points else "", f"{ex.manual_points:g}"])
        csv_rows.append([str(path), report.instructor.name, "total", f"{report.auto_points:g}",
                         f"{report.score:g}", f"{report.manual_points:g}"])
    if args.csv:
        new = not Path(args.csv).exists()
        with open(args.csv, "a", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(["returned", "instructor", "exercise", "auto_points", "score", "manual_points"])
            writer.writerows(csv_rows)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the homework CLI (student copies, grading); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.homework", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="write student copies (solutions and hidden tests removed)")
    st.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="instructor notebooks (default: all course notebooks)")
    st.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: build/student)")
    gr = sub.add_parser("grade", help="grade returned student notebooks locally")
    gr.add_argument("returned", nargs="+", metavar="RETURNED.ipynb")
    gr.add_argument("--instructor", metavar="NOTEBOOK|FOLDER",
                    help="the instructor notebook (or a folder of them); default: match by grade ids in notebooks/")
    gr.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help=f"time limit per cell (default {DEFAULT_TIMEOUT})")
    gr.add_argument("--save", metavar="FOLDER",
                    help="also write the executed notebooks (they contain the hidden tests) for feedback")
    gr.add_argument("--csv", metavar="FILE", help="append points per exercise to this CSV file")
    gr.add_argument("--allow-edited", action="store_true",
                    help="grade even when locked test cells were edited (using the instructor's cells)")
    args = parser.parse_args(argv)
    try:
        return _cmd_student(args) if args.command == "student" else _cmd_grade(args)
    except MissingExtra as exc:
        print(exc, file=sys.stderr)
        return 2
    except HomeworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
