"""Homework from the course notebooks: student copies made by nbgrader's own preprocessors, and local grading.

The notebooks in `notebooks/` are the instructor version. Their exercises use nbgrader's syntax: solution cells with
`### BEGIN SOLUTION` / `### END SOLUTION` regions (or whole-cell solutions), locked test cells with visible asserts and a
`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` region, and free-text answers in graded markdown cells.

    python -m course_utils.tools.homework student [--out build/student] [NOTEBOOK ...]
    python -m course_utils.tools.homework grade RETURNED.ipynb [...] [--instructor NOTEBOOK|FOLDER] [--timeout SECONDS]
                                   [--jobs N] [--save FOLDER] [--csv FILE] [--allow-edited]

`student` needs the optional `instructor` extra (nbgrader); `grade` needs only nbclient and works without it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import csv
import hashlib
import math
import os
import re
import subprocess
import sys
import tempfile
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
MAX_CELL_OUTPUT = 2_000_000  # characters of output kept per cell (the course notebooks' largest: ~0.3 MB) ...
MAX_NOTEBOOK_OUTPUT = 10_000_000  # ... and per notebook (theirs: < 0.6 MB); the rest is dropped with a note
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
    """The cell's nbgrader metadata ({} when it has none, or when it is not an object: see `metadata_problems`)."""
    meta = cell.get("metadata", {})
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbg if isinstance(nbg, dict) else {}


def is_grade(cell: NotebookNode) -> bool:
    """Whether nbgrader grades the cell (a test cell or a graded answer)."""
    return nbgrader_meta(cell).get("grade", False) is True


def is_solution(cell: NotebookNode) -> bool:
    """Whether the cell holds a solution region or a free-text answer."""
    return nbgrader_meta(cell).get("solution", False) is True


def is_task(cell: NotebookNode) -> bool:
    """Whether the cell is an nbgrader task (graded by hand)."""
    return nbgrader_meta(cell).get("task", False) is True


def is_locked(cell: NotebookNode) -> bool:
    """Locked cells are restored from the instructor version when grading: test cells and read-only cells."""
    meta = nbgrader_meta(cell)
    if not meta or is_solution(cell):
        return False
    return is_grade(cell) or meta.get("locked", False) is True


def is_exercise_cell(cell: NotebookNode) -> bool:
    """Whether the cell belongs to an exercise (graded, solution, locked or task)."""
    return is_grade(cell) or is_solution(cell) or is_locked(cell) or is_task(cell)


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader grade_id, or None for a cell outside the exercises (or with a grade_id that is no string)."""
    gid = nbgrader_meta(cell).get("grade_id") if is_exercise_cell(cell) else None
    return gid if isinstance(gid, str) and gid else None


def points(cell: NotebookNode) -> float:
    """The points the cell is worth (0 for cells that are not graded, or whose points are not a number)."""
    value = nbgrader_meta(cell).get("points", 0) if (is_grade(cell) or is_task(cell)) else 0
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return float(value) if ok else 0.0


def _describe(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def metadata_problems(nb: NotebookNode) -> list[str]:
    """Cells whose structure or nbgrader metadata has the wrong types (a grade_id that is a list, nbgrader metadata
    that is a string, points that are text ...), one line per problem, naming the cell."""
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            problems.append(f"{where} is a {_describe(cell)}, not a cell")
            continue
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source", ""), str):
            problems.append(f"{where}: cell_type {cell.get('cell_type')!r} with a {type(cell.get('source')).__name__} "
                            "source is not a notebook cell")
            continue
        meta = cell.get("metadata", {})
        if not isinstance(meta, dict):
            problems.append(f"{where}: metadata is a {_describe(meta)}, expected an object")
            continue
        if "nbgrader" not in meta:
            continue
        nbg = meta["nbgrader"]
        if not isinstance(nbg, dict):
            problems.append(f"{where}: metadata.nbgrader is a {_describe(nbg)}, expected an object like "
                            '{"grade_id": "nb01-ex1-test", "grade": true, "points": 2, ...}')
            continue
        gid = nbg.get("grade_id")
        where = f"{where} ({gid})" if isinstance(gid, str) else where
        if "grade_id" in nbg and not (isinstance(gid, str) and gid.strip()):
            problems.append(f"{where}: nbgrader.grade_id is a {_describe(gid)}, expected a non-empty string")
        for key in ("grade", "solution", "locked", "task"):
            if key in nbg and not isinstance(nbg[key], bool):
                problems.append(f"{where}: nbgrader.{key} is a {_describe(nbg[key])}, expected true or false")
        value = nbg.get("points", 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            problems.append(f"{where}: nbgrader.points is a {_describe(value)}, expected a number >= 0")
    return problems


def check_metadata(nb: NotebookNode, name: str, fix: str) -> None:
    """Raise HomeworkError listing every cell of `nb` with malformed nbgrader metadata (`metadata_problems`)."""
    problems = metadata_problems(nb)
    if problems:
        raise HomeworkError(f"{name}: malformed cells or nbgrader metadata, so it cannot be graded:\n  - "
                            + "\n  - ".join(problems) + f"\n{fix}")


def is_auto_graded(cell: NotebookNode) -> bool:
    """A graded code cell: it scores its points when it runs without an error (nbgrader's autograder rule)."""
    return cell.cell_type == "code" and is_grade(cell) and not is_task(cell)


def grade_ids(nb: NotebookNode) -> set[str]:
    """Every grade_id in the notebook."""
    return {gid for cell in nb.cells if (gid := grade_id(cell))}


def read(path: Path | str) -> NotebookNode:
    """Read a notebook (nbformat 4), with a clear error when the file is missing or not a notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise HomeworkError(f"{path}: no such file") from None
    except Exception as exc:  # not JSON, not a notebook
        raise HomeworkError(f"{path}: not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(nb.get("cells"), list):
        raise HomeworkError(f"{path}: not a notebook (it has no list of cells)")
    return nb


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
    problems = metadata_problems(nb)
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid is None and "grade_id" not in nbgrader_meta(cell):
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
    # speaker notes are for the lecturer: they hold the expected answers to the questions asked in class
    student.cells = [c for c in student.cells if (c.metadata.get("slideshow") or {}).get("slide_type") != "notes"]
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


def find_instructor(
    returned: NotebookNode, candidates: Sequence[Path], name: str = "the returned notebook",
    loaded: dict[Path, NotebookNode] | None = None,
) -> Path:  # fmt: skip
    """The instructor notebook that shares the most grade_ids with `returned` (grade_ids are unique per course);
    `loaded` holds candidates already read (the grader reads each instructor notebook once)."""
    ids = grade_ids(returned)
    if not ids:
        raise HomeworkError(
            f"{name} has no nbgrader grade ids, so it cannot be matched to an exercise notebook. Was it saved by an "
            "editor that drops cell metadata? Grade the student's copy as handed out, or pass --instructor.")
    if not candidates:
        raise HomeworkError(f"no instructor notebooks to compare {name} with (looked in {NOTEBOOKS})")
    loaded = loaded or {}
    scored = sorted(((len(ids & grade_ids(loaded.get(p) or read(p))), p) for p in candidates), key=lambda t: -t[0])
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
        elif rcell.cell_type != icell.cell_type:  # nbgrader's OverwriteCells: the instructor's cell type counts
            notes.append(f"{gid}: the cell was turned from {icell.cell_type} into {rcell.cell_type}; it is graded "
                         f"as {icell.cell_type}, as handed out")
            rcell = nb.cells[mine[gid]] = _as_type(rcell, icell.cell_type)
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


def _as_type(cell: NotebookNode, cell_type: str) -> NotebookNode:
    """`cell` as a cell of `cell_type` with the same source, metadata and id (outputs dropped)."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}
    new = make[cell_type](source=cell.source, metadata=copy.deepcopy(cell.get("metadata", {})))
    if cell.get("id"):
        new["id"] = cell["id"]
    return new


@dataclass
class CellResult:
    index: int
    grade_id: str | None
    status: str  # "ok", "error", "timeout", "died", "not run"
    message: str = ""
    truncated: bool = False  # its output passed the grader's cap and was cut

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


def _output_size(content: dict) -> int:
    """Characters an output (or an output message's content) holds: its text, data, or traceback."""
    size = len(str(content.get("text", ""))) + len(str(content.get("evalue", "")))
    size += sum(len(str(v)) for v in (content.get("data") or {}).values())
    return size + sum(len(str(line)) for line in content.get("traceback") or [])


def _make_client_class():  # noqa: ANN202 - a NotebookClient subclass (nbclient is imported only when grading)
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient's client with a cap on the output kept per cell and per notebook: what goes beyond it is dropped
        and a note says so (an endless `print` must not fill the grader's memory or the feedback file)."""

        def set_caps(self, cell_cap: int, notebook_cap: int) -> None:
            self.cell_cap, self.notebook_cap = cell_cap, notebook_cap
            self.held: dict[int, tuple[int, int]] = {}  # cell index -> (outputs, characters) as last seen
            self.total, self.full, self.truncated = 0, set(), set()

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN202 - nbclient's signature
            if cell_index in self.full:
                return None
            count, held = self.held.get(cell_index, (0, 0))
            if len(outs) != count:  # cleared (clear_output) or a new run of the cell: count again
                held = sum(_output_size(o) for o in outs)
            added = _output_size(msg.get("content", {}))
            others = self.total - self.held.get(cell_index, (0, 0))[1]
            if held + added > self.cell_cap or others + held + added > self.notebook_cap:
                which = ("this cell", self.cell_cap) if held + added > self.cell_cap else ("the notebook", self.notebook_cap)
                room = min(self.cell_cap - held, self.notebook_cap - others - held)
                if msg.get("msg_type") == "stream" and room > 0:  # keep the beginning of the text that still fits
                    content = {**msg["content"], "text": str(msg["content"].get("text", ""))[:room]}
                    super().output(outs, {**msg, "content": content}, display_id, cell_index)
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"\n[output truncated by the grader: {which[0]} printed more than "
                    f"{which[1] / 1e6:g} MB; the rest was dropped]\n"))  # fmt: skip
                self.full.add(cell_index)
                self.truncated.add(cell_index)
                out = None
            else:
                out = super().output(outs, msg, display_id, cell_index)
            held = sum(_output_size(o) for o in outs) if out is None else held + added
            self.total = others + held
            self.held[cell_index] = (len(outs), held)
            return out

    return CappedClient


async def _run_cells(
    nb: NotebookNode, cwd: Path, timeout: int, env: dict[str, str], caps: tuple[int, int] | None = None
) -> list[CellResult]:  # fmt: skip
    """Execute every code cell in order in a fresh kernel. An error or a timeout is recorded and execution goes on;
    a dead or hung kernel is replaced by a new one that first replays the cells that had succeeded. Output beyond
    `caps` (characters per cell, per notebook) is dropped with a note."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    replies: dict[int, dict] = {}

    def on_executed(cell, cell_index, execute_reply):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client = _make_client_class()(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"the cell ran longer than {timeout} s", "traceback": []},
        shutdown_kernel="immediate", record_timing=False, on_cell_executed=on_executed,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.set_caps(*(caps or (MAX_CELL_OUTPUT, MAX_NOTEBOOK_OUTPUT)))
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
    for i in client.truncated:
        if i in results:
            results[i].truncated = True
    return [results[i] for i in code if i in results]


def _kernel_env(threads: int | None = None) -> dict[str, str]:
    """The grading kernel's environment: quick mode, inline figures, and `threads` CPU threads (when several kernels
    share the cores, each gets its part instead of all of them fighting over every core)."""
    env = {**os.environ, "COURSE_QUICK": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if threads is not None and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def execute_for_grading(
    nb: NotebookNode, cwd: Path, timeout: int = DEFAULT_TIMEOUT, caps: tuple[int, int] | None = None
) -> list[CellResult]:  # fmt: skip
    """Run `nb` in place in a fresh kernel in quick mode (`COURSE_QUICK=1`) with working folder `cwd`; one CellResult
    per code cell. Output beyond `caps` (characters per cell and per notebook; default MAX_CELL_OUTPUT and
    MAX_NOTEBOOK_OUTPUT) is dropped with a note."""
    from nbclient.util import run_sync

    return run_sync(_run_cells)(nb, cwd, _check_timeout(timeout), _kernel_env(), caps)


def _check_timeout(timeout: object) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise HomeworkError(f"the time limit per cell must be a whole number of seconds >= 1, got {timeout!r} "
                            "(there is no 'no limit': an endless loop would hang the grader)")
    return timeout


@dataclass
class ExerciseResult:
    key: str
    title: str
    auto_points: float
    manual_points: float
    score: float
    detail: str
    manual_score: float | None = None  # None: the free-text answer is graded by hand; 0.0: it was not answered


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
    tampered: list[str] = field(default_factory=list)  # protected files that changed while this one was graded

    @property
    def auto_points(self) -> float:
        return sum(e.auto_points for e in self.exercises)

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def manual_points(self) -> float:
        return sum(e.manual_points for e in self.exercises)

    @property
    def manual_open(self) -> float:
        """Points of free-text answers left to grade by hand (unanswered ones score 0 and are not counted)."""
        return sum(e.manual_points for e in self.exercises if e.manual_score is None)

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


UNANSWERED = ("", "YOUR ANSWER HERE")  # a free-text answer left like this scores 0, as in nbgrader


def is_unanswered(cell: NotebookNode) -> bool:
    """A free-text answer cell that still holds nbgrader's placeholder (or nothing)."""
    return _normalise(cell.source).strip() in UNANSWERED


def score_exercises(nb: NotebookNode, cells: Iterable[CellResult]) -> list[ExerciseResult]:
    """Points per exercise: a graded code cell scores its points when it ran without error; an exercise whose
    solution cell raised or timed out scores nothing; free-text answers are left for the TA ("manual"), except those
    left as `YOUR ANSWER HERE` (or empty), which score 0 as in nbgrader."""
    by_id = {r.grade_id: r for r in cells if r.grade_id}
    cell_of = {grade_id(c): c for c in nb.cells if grade_id(c)}
    results = []
    for ex in exercises(nb):
        code_cells = [g for g in ex.cells if cell_of[g].cell_type == "code"]
        failed_solutions = [by_id[g] for g in code_cells if is_solution(cell_of[g]) and g in by_id and not by_id[g].ok]
        tests = [g for g in ex.cells if is_auto_graded(cell_of[g])]
        failed_tests = [by_id[g] for g in tests if g not in by_id or not by_id[g].ok]
        answers = [cell_of[g] for g in ex.cells if cell_of[g].cell_type != "code" and is_grade(cell_of[g])
                   and is_solution(cell_of[g])]  # fmt: skip
        unanswered = bool(answers) and all(is_unanswered(c) for c in answers)
        manual_score = 0.0 if unanswered and ex.manual_points else None
        if not ex.auto_points:
            score, detail = 0.0, ("not answered (still YOUR ANSWER HERE): 0 of the manual points" if unanswered
                                  else "free-text answer: grade by hand")  # fmt: skip
        elif failed_solutions:
            score, detail = 0.0, "failed: " + _problem(failed_solutions[0])
        else:
            score = sum(points(cell_of[g]) for g in tests if g in by_id and by_id[g].ok)
            detail = "passed" if not failed_tests else "failed: " + "; ".join(_problem(r) for r in failed_tests[:2])
        if ex.auto_points and ex.manual_points:
            detail += f" (+{ex.manual_points:g} manual{', not answered: 0' if unanswered else ''})"
        results.append(ExerciseResult(ex.key, ex.title, ex.auto_points, ex.manual_points, score, detail, manual_score))
    return results


# --------------------------------------------------------------------------------------------------------------------
# The grader's defences: instructor notebooks held in memory, protected files checked after every submission


PACKAGE = Path(__file__).resolve().parents[1]  # course_utils/: its code and bundled data are protected too


@dataclass
class Instructors:
    """The instructor notebooks, read once: grading matches and restores cells from these copies and never reads the
    files again, so a submission that changes a file on disk cannot change the grading."""

    notebooks: dict[Path, NotebookNode]

    @classmethod
    def load(cls, instructor: Path | None = None) -> Instructors:
        """`instructor` is a notebook, a folder of notebooks, or None (the course notebooks)."""
        if instructor is not None and Path(instructor).is_dir():
            paths = course_notebooks(Path(instructor)) or sorted(Path(instructor).glob("*.ipynb"))
        elif instructor is not None:
            paths = [Path(instructor)]
        else:
            paths = course_notebooks()
        notebooks = {}
        for path in paths:
            notebooks[path] = read(path)
            check_metadata(notebooks[path], str(path), "Fix the instructor notebook's cell metadata first.")
        return cls(notebooks)

    def match(self, returned: NotebookNode, name: str) -> tuple[Path, NotebookNode]:
        """The instructor notebook `returned` was made from (by grade_ids) and its in-memory copy."""
        path = find_instructor(returned, list(self.notebooks), name, loaded=self.notebooks)
        return path, self.notebooks[path]


def protected_files(instructors: Instructors) -> list[Path]:
    """The files a submission must not change: the instructor notebooks, the course package's code, bundled data."""
    package = [p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".gz") and "__pycache__" not in p.parts]
    return sorted({*(p.resolve() for p in instructors.notebooks), *package})


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Guard:
    """Holds the protected files' contents; `check` finds those that changed on disk (edited, replaced, deleted),
    writes the original back, and returns their paths."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.originals = {p: p.read_bytes() for p in paths if p.is_file()}
        self.digests = {p: _digest(b) for p, b in self.originals.items()}

    def check(self) -> list[Path]:
        """The protected files that changed since the last check (they are restored before this returns)."""
        changed = []
        for path, digest in self.digests.items():
            try:
                same = path.is_file() and _digest(path.read_bytes()) == digest
            except OSError:
                same = False
            if not same:
                changed.append(path)
                tmp = path.with_name(f".{path.name}.restore-{os.getpid()}")
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(self.originals[path])
                os.replace(tmp, path)
        return changed


def _tamper_note(changed: Sequence[Path], others: Sequence[Path]) -> str:
    files = ", ".join(display_path(p) for p in changed[:4]) + (" ..." if len(changed) > 4 else "")
    also = f" (graded at the same time: {', '.join(display_path(p) for p in others)})" if others else ""
    return (f"WARNING: protected files changed on disk while this submission was graded{also}: {files}. They were "
            "restored from the grader's copy and grading used the copy, but look at this submission's code: it "
            "writes outside its working folder.")


async def grade_async(
    returned_path: Path, instructors: Instructors, timeout: int = DEFAULT_TIMEOUT, allow_edited: bool = False,
    caps: tuple[int, int] | None = None, threads: int | None = None,
) -> GradeReport:  # fmt: skip
    """Grade one returned notebook against the in-memory `instructors`, in a fresh kernel (with `threads` CPU
    threads) whose working folder is an empty temporary folder (removed afterwards)."""
    timeout = _check_timeout(timeout)
    returned_path = Path(returned_path)
    returned = read(returned_path)
    check_metadata(returned, "the notebook",
                   "Restore these cells' metadata from the handed-out copy (JupyterLab: the cell metadata editor), "
                   "then grade again.")  # fmt: skip
    inst_path, inst = instructors.match(returned, "the notebook")
    nb, notes = prepare(returned, inst, allow_edited)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grade-") as work:
        cells = await _run_cells(nb, Path(work), timeout, _kernel_env(threads), caps)
    seconds = time.perf_counter() - start
    cut = [r.grade_id or f"cell {r.index}" for r in cells if r.truncated]
    if cut:
        notes.append(f"output truncated (too long) in: {', '.join(cut[:5])}")
    return GradeReport(returned_path, inst_path, score_exercises(nb, cells), cells, nb, seconds, timeout, notes)


def grade(returned_path: Path, instructor: Path | None = None, timeout: int = DEFAULT_TIMEOUT,
          allow_edited: bool = False, caps: tuple[int, int] | None = None) -> GradeReport:
    """Grade one returned notebook; `instructor` is a notebook, a folder of notebooks or None (the course notebooks).
    Protected files (`protected_files`) changed by the submission are restored and listed in `report.tampered`."""
    from nbclient.util import run_sync

    _check_timeout(timeout)
    instructors = Instructors.load(instructor)
    guard = Guard(protected_files(instructors))
    report = run_sync(grade_async)(returned_path, instructors, timeout, allow_edited, caps)
    changed = guard.check()
    if changed:
        report.tampered = [str(p) for p in changed]
        report.notes.append(_tamper_note(changed, []))
    return report


def format_report(report: GradeReport) -> str:
    """The grading report as text: a table of exercises, points and results, then notes."""
    rows = [["exercise", "title", "points", "score", "result"]]
    for ex in report.exercises:
        title = ex.title if len(ex.title) <= 44 else ex.title[:41] + "..."
        score = f"{ex.score:g}" if ex.auto_points else ("manual" if ex.manual_score is None else f"{ex.manual_score:g}")
        pts = f"{ex.auto_points:g}" if ex.auto_points else f"({ex.manual_points:g})"
        rows.append([ex.key, title, pts, score, ex.detail])
    rows.append(["total", "auto-graded", f"{report.auto_points:g}", f"{report.score:g}", ""])
    head = (f"Grading {display_path(report.returned)} against {display_path(report.instructor)} "
            f"(quick mode, {report.timeout} s per cell)")
    lines = [head, "", *format_table(rows[1:], rows[0], right={2, 3}).splitlines()]
    if report.manual_open:
        lines.append(f"manual: {report.manual_open:g} more point(s) in free-text answers, graded by hand")
    unanswered = report.manual_points - report.manual_open
    if unanswered:
        lines.append(f"unanswered: {unanswered:g} manual point(s) of free-text answers left as YOUR ANSWER HERE score 0")
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


CSV_HEADER = ["returned", "instructor", "exercise", "auto_points", "score", "manual_points", "manual_score"]


def _csv_rows(report: GradeReport) -> list[list[str]]:
    """One row per exercise and a total; `manual_score` is empty when a TA still has to grade the answer by hand."""
    def manual(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    rows = [[str(report.returned), report.instructor.name, ex.key, f"{ex.auto_points:g}",
             f"{ex.score:g}" if ex.auto_points else manual(ex.manual_score), f"{ex.manual_points:g}",
             manual(ex.manual_score)] for ex in report.exercises]  # fmt: skip
    unanswered = report.manual_points - report.manual_open
    rows.append([str(report.returned), report.instructor.name, "total", f"{report.auto_points:g}", f"{report.score:g}",
                 f"{report.manual_points:g}", manual(0.0 if unanswered and not report.manual_open else None)])
    return rows


def _open_csv(path: Path):  # noqa: ANN202 - a text file opened for appending
    """Open the CSV for appending (header written when new); refuse a file with other columns before grading."""
    if path.exists() and path.stat().st_size:
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != CSV_HEADER:
            raise HomeworkError(f"{path} has the columns {header}, not {CSV_HEADER} (written by an older grader?): "
                                "pass a new --csv file")
        return open(path, "a", newline="")
    fh = open(path, "a", newline="")
    csv.writer(fh).writerow(CSV_HEADER)
    fh.flush()
    return fh


def default_jobs() -> int:
    """One kernel per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass
class _Batch:
    """What a grading run keeps track of: counts for the progress line, the running files, suspects of tampering."""

    total: int
    start: float = field(default_factory=time.perf_counter)
    done: int = 0
    failed: int = 0
    running: list[Path] = field(default_factory=list)
    tampering: bool = False

    def progress(self, path: Path, result: str) -> str:
        """The progress line after `path` is done: counts, the rate so far and an estimate of the time left."""
        self.done += 1
        elapsed = time.perf_counter() - self.start
        graded = self.done - self.failed  # files that ran a kernel (errors before grading take no time)
        line = f"[{self.done}/{self.total}] {display_path(path)}: {result}"
        if graded and self.done < self.total:
            rate = graded / elapsed * 60
            line += f" — {rate:.1f} submissions/min, about {(self.total - self.done) / rate:.1f} min left"
        elif self.done == self.total:
            line += f" — all done in {elapsed / 60:.1f} min" + (f" ({graded / elapsed * 60:.1f} submissions/min)" if graded else "")
        return line + (f" ({len(self.running)} running)" if self.running else "")


async def _grade_batch(args: argparse.Namespace, paths: list[Path], csv_file) -> int:  # noqa: ANN001
    instructors = Instructors.load(Path(args.instructor) if args.instructor else None)
    guard = Guard(protected_files(instructors))
    batch, slots = _Batch(len(paths)), asyncio.Semaphore(args.jobs)
    threads = max(1, default_jobs() // min(args.jobs, len(paths)))  # the cores shared among the kernels
    print(f"Grading {len(paths)} file(s), {min(args.jobs, len(paths))} at a time ({args.timeout} s per cell)",
          file=sys.stderr, flush=True)

    async def one(path: Path) -> None:
        async with slots:
            batch.running.append(path)
            report, error = None, ""
            try:
                report = await grade_async(path, instructors, args.timeout, args.allow_edited, threads=threads)
            except HomeworkError as exc:
                error = str(exc)
            except Exception as exc:  # a bug or an unexpected file: this file fails, the others are graded
                error = (f"the grader failed on this file ({type(exc).__name__}: {exc}); the other files are graded. "
                         "Please report this with the file.")
            finally:
                batch.running.remove(path)
            changed = guard.check()
            if changed:
                batch.tampering = True
                note = _tamper_note(changed, batch.running)
                print(f"{note} [{display_path(path)}]", file=sys.stderr, flush=True)
                if report is not None:
                    report.tampered, report.notes = [str(p) for p in changed], [*report.notes, note]
            if report is None:
                batch.failed += 1
                print(f"error: {path}: {error}", file=sys.stderr, flush=True)
                print(batch.progress(path, "error"), file=sys.stderr, flush=True)
                return
            print(("\n" if batch.done else "") + format_report(report), flush=True)
            if args.save:
                folder = Path(args.save)
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(report.executed, folder / _save_name(path, paths))
            if csv_file is not None:
                csv.writer(csv_file).writerows(_csv_rows(report))
                csv_file.flush()  # written as soon as graded: a crash later loses nothing
            print(batch.progress(path, f"{report.score:g}/{report.auto_points:g}"), file=sys.stderr, flush=True)

    await asyncio.gather(*(one(p) for p in paths))
    if batch.tampering:
        print("error: protected files were changed during grading (see the warnings above): they were restored",
              file=sys.stderr)
    return 1 if batch.failed or batch.tampering else 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from nbclient.util import run_sync

    paths = [Path(p) for p in args.returned]
    csv_file = _open_csv(Path(args.csv)) if args.csv else None
    try:
        return run_sync(_grade_batch)(args, paths, csv_file)
    finally:
        if csv_file is not None:
            csv_file.close()


def _at_least_one(what: str):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"{what} must be at least 1, got {value}" + (" (0 does not mean 'no limit': an endless loop would "
                                                              "hang the grader)" if "seconds" in what else ""))
        return value

    return parse


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
    gr.add_argument("--timeout", type=_at_least_one("--timeout (seconds per cell)"), default=DEFAULT_TIMEOUT,
                    metavar="SECONDS", help=f"time limit per cell, >= 1 (default {DEFAULT_TIMEOUT})")
    gr.add_argument("--jobs", type=_at_least_one("--jobs"), default=default_jobs(), metavar="N",
                    help=f"submissions graded at the same time, one kernel each (default: one per core, {default_jobs()})")
    gr.add_argument("--save", metavar="FOLDER",
                    help="also write the executed notebooks (they contain the hidden tests) for feedback")
    gr.add_argument("--csv", metavar="FILE",
                    help="append points per exercise to this CSV file (each file's rows as soon as it is graded)")
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
