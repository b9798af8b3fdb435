"""Homework tooling: student copies (nbgrader's preprocessors) and local grading (course_utils/tools/homework.py).

Precise behaviour is tested on a small instructor notebook (tests/fixtures/hw_fixture.ipynb: solution regions, a
whole-cell solution, visible and hidden tests, a free-text answer, non-exercise cells); generic properties are tested
on every course notebook that exists; one real notebook (the cheapest) is graded end to end.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.tools import homework as hw
from course_utils.tools.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parent.parent

FIXTURE = ROOT / "tests" / "fixtures" / "hw_fixture.ipynb"
COURSE = course_notebooks()
HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
needs_nbgrader = pytest.mark.skipif(
    not HAS_NBGRADER, reason='nbgrader (the `instructor` extra) is not installed: pip install -e ".[instructor]"')
needs_course = pytest.mark.skipif(not COURSE, reason="no course notebooks in notebooks/ yet")
AUTO_IDS = ["fx-ex1-test", "fx-ex2-test-a", "fx-ex2-test-b", "fx-ex4-test"]


def by_id(nb):
    return {hw.grade_id(c): c for c in nb.cells if hw.grade_id(c)}


def solved(instructor, student):
    """The student copy with every exercise done as the instructor did (solution markers dropped)."""
    nb = copy.deepcopy(student)
    inst = by_id(instructor)
    for cell in nb.cells:
        gid = hw.grade_id(cell)
        if gid and hw.is_solution(cell):
            cell.source = "\n".join(line for line in inst[gid].source.split("\n") if "SOLUTION" not in line)
    return nb


def exercise_code(cell):
    """Solution and test cells: the cells that may fail in an untouched student copy."""
    return hw.is_solution(cell) or hw.is_grade(cell)


def python_source(source):
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def assert_tests_use_the_solutions(nb, name):
    """Static check, cheap enough for every notebook: each auto-graded test cell uses a name that the student defines
    in a solution cell of the same exercise (so it cannot pass on the untouched copy)."""
    cells = by_id(nb)
    for ex in hw.exercises(nb):
        defined = set()
        for gid in ex.cells:
            if hw.is_solution(cells[gid]) and cells[gid].cell_type == "code":
                for node in python_source(cells[gid].source).body:
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        defined.add(node.name)
                    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                    for target in filter(None, targets):  # x = ..., x: int = ..., x += ..., for x in ...
                        defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        for gid in ex.cells:
            if hw.is_auto_graded(cells[gid]) and not hw.is_solution(cells[gid]):
                used = {n.id for n in ast.walk(python_source(cells[gid].source)) if isinstance(n, ast.Name)}
                assert used & defined, f"{name}: test cell {gid} uses nothing its exercise's solution defines"


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def cost(path):
    """A static estimate of a notebook's run time, to pick the cheapest real notebook to grade end to end."""
    text = "\n".join(c.source for c in hw.read(path).cells if c.cell_type == "code")
    return 100 * len(re.findall(r"\bfit\(|\.backward\(|\bepochs?\b", text)) + len(text.splitlines())


# ---------------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def instructor():
    return hw.read(FIXTURE)


@pytest.fixture(scope="session")
def student(instructor):
    if not HAS_NBGRADER:
        pytest.skip('nbgrader (the `instructor` extra) is not installed: pip install -e ".[instructor]"')
    return hw.student_copy(instructor, FIXTURE.name)


@pytest.fixture(scope="session")
def student_path(student, tmp_path_factory):
    return write(student, tmp_path_factory.mktemp("student") / FIXTURE.name)


@pytest.fixture(scope="session")
def graded_instructor():
    return hw.grade(FIXTURE, FIXTURE, timeout=30)


@pytest.fixture(scope="session")
def graded_student(student_path):
    return hw.grade(student_path, FIXTURE, timeout=30)


# ------------------------------------------------------------------------------------- pure functions, no kernel


def test_exercise_keys():
    assert hw.exercise_key("nb01-ex1-sol") == "nb01-ex1"
    assert hw.exercise_key("nb01-ex1-test") == "nb01-ex1"
    assert hw.exercise_key("nb03-ex2-test-b") == "nb03-ex2"
    assert hw.exercise_key("ex4-answer") == "ex4"
    assert hw.exercise_key("nb02_exercise_3_tests") == "nb02_exercise_3"
    assert hw.exercise_key("conv-size-test") == hw.exercise_key("conv-size-sol") == "conv-size"


def test_fixture_exercises(instructor):
    exs = hw.exercises(instructor)
    assert [(e.key, e.auto_points, e.manual_points) for e in exs] == [
        ("fx-ex1", 2, 0), ("fx-ex2", 3, 0), ("fx-ex3", 0, 1), ("fx-ex4", 1, 0)]
    assert exs[0].title == "Exercise 1 — output size"
    hw.check_instructor(instructor)
    assert_tests_use_the_solutions(instructor, FIXTURE.name)


def test_check_instructor_reports_duplicate_ids(instructor):
    nb = copy.deepcopy(instructor)
    by_id(nb)["fx-ex2-test-b"].metadata.nbgrader["grade_id"] = "fx-ex2-test-a"
    with pytest.raises(hw.HomeworkError, match="fx-ex2-test-a.*used by cells"):
        hw.check_instructor(nb, "x.ipynb")


def test_strip_hidden_tests_matches_nbgrader(instructor):
    pre = pytest.importorskip("nbgrader.preprocessors", reason="nbgrader (the `instructor` extra) is not installed")
    nb = copy.deepcopy(instructor)
    pre.ClearHiddenTests().preprocess(nb, {})
    for mine, theirs in zip(instructor.cells, nb.cells):
        assert hw.strip_hidden_tests(mine.source) == theirs.source


def test_secret_lines_of_fixture(instructor):
    secret = hw.secret_lines(instructor)
    assert "return (n + 2 * p - k) // s + 1" in secret  # a solution region
    assert "rf += (k - 1) * jump" in secret  # a whole-cell solution (no markers)
    assert "assert output_size(7, 3, 0, 2) == 3" in secret  # a hidden test
    assert any(line.startswith("Because the kernel visits") for line in secret)  # a free-text answer
    assert "assert output_size(28, 5, 2, 1) == 28" not in secret  # a visible test
    assert not any(hw.is_trivial(line) for line in secret)


def test_missing_nbgrader_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)  # import fails as if not installed
    assert hw.main(["student", "--out", str(tmp_path), str(FIXTURE)]) == 2
    assert 'pip install -e ".[instructor]"' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ student copy (fixture)


@needs_nbgrader
def test_student_copy_removes_every_solution_and_hidden_test_line(instructor, student):
    nbformat.validate(student)
    assert hw.leaked_lines(instructor, student, strict=True) == set()
    sources = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in sources and "HIDDEN TESTS" not in sources
    cells = by_id(student)
    assert cells["fx-ex1-sol"].source == "def output_size(n, k, p, s):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert cells["fx-ex2-sol"].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert "        # YOUR CODE HERE\n        raise NotImplementedError()" in cells["fx-ex4-sol"].source
    assert cells["fx-ex3-answer"].source == "YOUR ANSWER HERE"
    assert cells["fx-ex1-test"].source.strip() == "assert output_size(28, 5, 2, 1) == 28"


@needs_nbgrader
def _not_notes(cells):
    return [c for c in cells if (c.metadata.get("slideshow") or {}).get("slide_type") != "notes"]


def test_student_copy_keeps_other_cells_and_slides_and_locks_tests(instructor, student):
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in _not_notes(instructor.cells)]
    for mine, theirs in zip(_not_notes(instructor.cells), student.cells):
        assert theirs.metadata.get("slideshow") == mine.metadata.get("slideshow")
        assert theirs.metadata.get("tags") == mine.metadata.get("tags")
        if mine.cell_type == "code":
            assert theirs.outputs == [] and theirs.execution_count is None
        if not hw.is_exercise_cell(mine):
            assert theirs.source == mine.source
            assert theirs.metadata == mine.metadata
    for gid in [*AUTO_IDS, "fx-shapes"]:
        assert by_id(student)[gid].metadata.get("editable") is False
    assert by_id(student)["fx-shapes"].source == by_id(instructor)["fx-shapes"].source  # read-only, not an exercise
    assert by_id(student)["fx-ex1-sol"].metadata.get("deletable") is False


@needs_nbgrader
def test_student_copy_drops_speaker_notes(instructor):
    """Speaker notes hold the expected answers to the questions asked in class: students do not get them."""
    nb = copy.deepcopy(instructor)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("Ask the room ... expected answer: 42",
                                                      metadata={"slideshow": {"slide_type": "notes"}}))
    student = hw.student_copy(nb, "notes.ipynb")
    assert not any("expected answer: 42" in c.source for c in student.cells)
    assert len(student.cells) == len(_not_notes(nb.cells))


@needs_nbgrader
def test_student_copy_refuses_a_misspelt_marker(instructor):
    nb = copy.deepcopy(instructor)
    cell = by_id(nb)["fx-ex1-test"]
    cell.source = cell.source.replace("BEGIN HIDDEN TESTS", "BEGIN HIDDEN TEST").replace("END HIDDEN TESTS", "END HIDDEN TEST")
    with pytest.raises(hw.HomeworkError, match="would still contain"):
        hw.student_copy(nb, "typo.ipynb")


@needs_nbgrader
def test_student_command(tmp_path):
    """The command line as the README gives it: all course notebooks by default (the fixture when there are none)."""
    args = [sys.executable, "-m", "course_utils.tools.homework", "student", "--out", str(tmp_path)] + ([] if COURSE else [str(FIXTURE)])
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    expected = [p.name for p in COURSE] or [FIXTURE.name]
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == expected
    assert all(name in done.stdout for name in expected)
    for name in expected:
        nbformat.validate(hw.read(tmp_path / name))


# --------------------------------------------------------------------------------------------- matching, checking


def test_find_instructor_by_grade_ids(instructor, tmp_path):
    other = copy.deepcopy(instructor)
    for cell in other.cells:
        if hw.grade_id(cell):
            cell.metadata.nbgrader["grade_id"] = "zz-" + cell.metadata.nbgrader["grade_id"]
    other_path = write(other, tmp_path / "other.ipynb")
    assert hw.find_instructor(instructor, [other_path, FIXTURE]) == FIXTURE
    assert hw.find_instructor(other, [other_path, FIXTURE]) == other_path
    with pytest.raises(hw.HomeworkError, match="matches none of the instructor notebooks"):
        hw.find_instructor(other, [FIXTURE], "alice.ipynb")
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    with pytest.raises(hw.HomeworkError, match="no nbgrader grade ids"):
        hw.find_instructor(plain, [FIXTURE])


def test_grade_command_unknown_notebook_is_a_clear_error(instructor, tmp_path, capsys):
    other = copy.deepcopy(instructor)
    for cell in other.cells:
        if hw.grade_id(cell):
            cell.metadata.nbgrader["grade_id"] = "zz-" + cell.metadata.nbgrader["grade_id"]
    path = write(other, tmp_path / "alice.ipynb")
    assert hw.main(["grade", str(path), "--instructor", str(FIXTURE)]) == 1
    err = capsys.readouterr().err
    assert "alice.ipynb: the notebook matches none of the instructor notebooks" in err and "--instructor" in err


@needs_nbgrader
def test_prepare_restores_hidden_tests_and_instructor_points(instructor, student):
    nb = copy.deepcopy(student)
    by_id(nb)["fx-ex1-test"].metadata.nbgrader["points"] = 100  # a student cannot give themselves points
    prepared, notes = hw.prepare(nb, instructor)
    assert notes == []
    for gid in AUTO_IDS:
        assert by_id(prepared)[gid].source == by_id(instructor)[gid].source
    assert by_id(prepared)["fx-ex1-test"].metadata.nbgrader["points"] == 2
    assert by_id(prepared)["fx-ex1-sol"].source == by_id(student)["fx-ex1-sol"].source  # the answer is kept


@needs_nbgrader
def test_prepare_refuses_edited_or_deleted_test_cells(instructor, student):
    nb = copy.deepcopy(student)
    by_id(nb)["fx-ex2-test-a"].source = "assert True"
    with pytest.raises(hw.HomeworkError, match=r"fx-ex2-test-a: line 1 is 'assert True'"):
        hw.prepare(nb, instructor)
    prepared, notes = hw.prepare(nb, instructor, allow_edited=True)
    assert by_id(prepared)["fx-ex2-test-a"].source == by_id(instructor)["fx-ex2-test-a"].source
    assert any("fx-ex2-test-a" in n for n in notes)
    nb = copy.deepcopy(student)
    nb.cells = [c for c in nb.cells if hw.grade_id(c) != "fx-ex4-test"]
    with pytest.raises(hw.HomeworkError, match="missing.*fx-ex4-test"):
        hw.prepare(nb, instructor)
    nb = copy.deepcopy(student)  # read-only cells are locked too
    by_id(nb)["fx-shapes"].source = "SHAPES = []"
    with pytest.raises(hw.HomeworkError, match="fx-shapes: line 1"):
        hw.prepare(nb, instructor)
    nb = copy.deepcopy(student)  # whitespace-only changes are not edits
    by_id(nb)["fx-ex1-test"].source += "\n\n"
    hw.prepare(nb, instructor)


# -------------------------------------------------------------------------------------------- grading (fixture)


def test_grading_the_instructor_version_gives_full_marks(graded_instructor):
    report = graded_instructor
    assert report.auto_points == 6 and report.score == 6 and report.manual_points == 1
    for gid in AUTO_IDS:
        assert report.cell(gid).ok, report.cell(gid)
    assert report.exercise("fx-ex3").detail.startswith("free-text")
    # quick mode in the grading kernel
    first = report.executed.cells[1]
    assert "COURSE_QUICK = 1" in "".join(o.get("text", "") for o in first.outputs)


@needs_nbgrader
def test_grading_the_untouched_student_copy_gives_zero(graded_student, student):
    report = graded_student
    assert report.score == 0 and report.auto_points == 6
    for gid in AUTO_IDS:  # every exercise's tests fail without a solution
        assert report.cell(gid).status == "error", report.cell(gid)
    for result in report.cells:  # non-exercise cells (read-only ones included) still run top to bottom
        cell = student.cells[result.index]
        if not exercise_code(cell) and "raises-exception" not in cell.metadata.get("tags", []):
            assert result.ok, (result, cell.source)
    table = hw.format_report(report)
    assert "manual" in table and re.search(r"total\s+auto-graded\s+6\s+0", table)
    # the free-text answer left as YOUR ANSWER HERE scores 0 (as in nbgrader), nothing is left to grade by hand
    assert report.exercise("fx-ex3").manual_score == 0 and report.manual_open == 0
    assert re.search(r"fx-ex3\s.*\(1\)\s+0\s+not answered", table)


@needs_nbgrader
def test_grade_command_scores_a_filled_copy(instructor, student, tmp_path, capsys):
    path = write(solved(instructor, student), tmp_path / "bob" / "hw_fixture.ipynb")
    csv_file = tmp_path / "grades.csv"
    rc = hw.main(["grade", str(path), "--instructor", str(FIXTURE), "--timeout", "30", "--csv", str(csv_file),
                  "--save", str(tmp_path / "graded")])
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"fx-ex1\s.*\s2\s+2\s+passed", out), out
    assert re.search(r"fx-ex3\s.*\(1\)\s+manual", out), out
    assert re.search(r"total\s+auto-graded\s+6\s+6", out), out
    assert "total,6,6,1" in csv_file.read_text()
    assert (tmp_path / "graded" / "hw_fixture.graded.ipynb").exists()


@needs_nbgrader
def test_hidden_tests_are_restored_when_grading(instructor, student, tmp_path):
    nb = solved(instructor, student)
    by_id(nb)["fx-ex1-sol"].source = "def output_size(n, k, p, s):\n    return n  # passes the visible test only"
    report = hw.grade(write(nb, tmp_path / "carol.ipynb"), FIXTURE, timeout=30)
    assert report.exercise("fx-ex1").score == 0 and "AssertionError" in report.exercise("fx-ex1").detail
    assert report.score == 4  # the other exercises keep their points


@pytest.mark.slow
@needs_nbgrader
def test_a_timeout_costs_only_that_exercise(instructor, student, tmp_path):
    nb = solved(instructor, student)
    by_id(nb)["fx-ex2-sol"].source = "while True:\n    pass"
    report = hw.grade(write(nb, tmp_path / "dave.ipynb"), FIXTURE, timeout=3)
    assert report.cell("fx-ex2-sol").status == "timeout"
    assert report.exercise("fx-ex2").score == 0 and "timed out" in report.exercise("fx-ex2").detail
    assert report.exercise("fx-ex1").score == 2 and report.exercise("fx-ex4").score == 1


@pytest.mark.slow
@needs_nbgrader
def test_a_dead_or_hung_kernel_costs_only_that_exercise(instructor, student, tmp_path):
    nb = solved(instructor, student)
    by_id(nb)["fx-ex1-sol"].source = "import os\nos._exit(1)"  # kills the kernel
    by_id(nb)["fx-ex2-sol"].source = ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                      "while True:\n    pass")  # ignores the interrupt
    report = hw.grade(write(nb, tmp_path / "eve.ipynb"), FIXTURE, timeout=3)
    assert report.cell("fx-ex1-sol").status == "died"
    assert report.cell("fx-ex2-sol").status == "timeout" and "restarted" in report.cell("fx-ex2-sol").message
    assert report.exercise("fx-ex4").score == 1 and report.score == 1
    last = report.cells[-1]  # uses SHAPES from an early cell: replayed into the new kernels
    assert last.ok and "[28, 32, 7]" in report.executed.cells[last.index].outputs[0]["text"]


# ----------------------------------------------------------------------------------- every course notebook (static)


@needs_course
def test_grade_ids_are_unique_across_the_course():
    owner = {}
    for path in COURSE:
        for gid in hw.grade_ids(hw.read(path)):
            assert gid not in owner, f"grade_id {gid} is in {owner.get(gid)} and {path.name}"
            owner[gid] = path.name


@needs_course
@needs_nbgrader
@pytest.mark.parametrize("name", [p.name for p in COURSE])
def test_course_student_copy(name):
    inst = hw.read(ROOT / "notebooks" / name)
    stud = hw.student_copy(inst, name)
    nbformat.validate(stud)
    # a secret line that the notebook also shows in a worked example (e.g. `kh, kw = K.shape`) is not a leak
    leaked = hw.leaked_lines(inst, stud)
    assert not leaked, f"{name}: solution/hidden-test lines in the student copy: {sorted(leaked)}"
    assert [c.cell_type for c in stud.cells] == [c.cell_type for c in _not_notes(inst.cells)]
    for mine, theirs in zip(_not_notes(inst.cells), stud.cells):
        assert theirs.metadata.get("slideshow") == mine.metadata.get("slideshow")
        if not hw.is_exercise_cell(mine):
            assert theirs.source == mine.source
            drop = {"collapsed", "scrolled", "execution"}
            assert {k: v for k, v in theirs.metadata.items() if k not in drop} == \
                   {k: v for k, v in mine.metadata.items() if k not in drop}
    exs = hw.exercises(inst)
    assert len(exs) >= 4 and sum(e.auto_points > 0 for e in exs) >= 2, f"{name}: {exs}"
    assert_tests_use_the_solutions(inst, name)


@pytest.mark.slow
@needs_nbgrader
def test_nbgrader_generate_assignment_accepts_the_instructor_notebooks(tmp_path):
    """nbgrader's own pipeline (with its gradebook) takes the notebooks as a source assignment, offline; its release
    version has the same cell sources as our student copies."""
    source = tmp_path / "course" / "source" / "homework"
    source.mkdir(parents=True)
    paths = [FIXTURE, *COURSE]
    for path in paths:
        (source / path.name).write_bytes(path.read_bytes())
    (tmp_path / "course" / "nbgrader_config.py").write_text(
        'c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = "cnn-course"\n')
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           # the gradebook runs `alembic` from the environment's bin folder (on PATH only in an activated venv)
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "homework", "--force"],
                          cwd=tmp_path / "course", env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    release = tmp_path / "course" / "release" / "homework"
    for path in paths:
        theirs = _not_notes(hw.read(release / path.name).cells)  # nbgrader keeps speaker notes; our copies do not
        ours = hw.student_copy(hw.read(source / path.name), path.name)  # the same bytes nbgrader saw
        assert [c.source for c in theirs] == [c.source for c in ours.cells], path.name
        assert [c.metadata.get("nbgrader") for c in theirs] == [c.metadata.get("nbgrader") for c in ours.cells]


# ---------------------------------------------------------------------------------- one real notebook, end to end


@pytest.fixture(scope="session")
def cheapest():
    chosen = os.environ.get("HOMEWORK_TEST_NOTEBOOK")
    if chosen:
        return next(p for p in COURSE if p.name.startswith(chosen))
    return min(COURSE, key=cost)


@pytest.mark.slow
@needs_course
@needs_nbgrader
def test_real_notebook_full_marks_and_zero(cheapest, tmp_path):
    inst = hw.read(cheapest)
    report = hw.grade(cheapest, cheapest)
    failed = [c for c in report.cells if c.grade_id and not c.ok]
    assert not failed and report.score == report.auto_points > 0, hw.format_report(report)

    stud = hw.student_copy(inst, cheapest.name)
    report = hw.grade(write(stud, tmp_path / cheapest.name), cheapest)
    assert report.score == 0, hw.format_report(report)
    for result in report.cells:
        cell = stud.cells[result.index]
        if hw.is_auto_graded(cell):  # every test fails without the solutions
            assert not result.ok, f"{cheapest.name}: {result.grade_id} passes without a solution"
        elif not exercise_code(cell) and "raises-exception" not in cell.metadata.get("tags", []):
            assert result.ok, f"{cheapest.name}: non-exercise cell {result.index} fails in the student copy: {result}"
