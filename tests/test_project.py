"""The project's own promises: dependencies agree, CI calls the README's test command, notebooks follow the rules."""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from pathlib import Path

import pytest

import course_utils

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PACKAGE_MODULES = ["conv", "data", "mode", "models", "plot", "summary", "train", "zoo"]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject():
    project = _pyproject()["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    text = (ROOT / "environment.yml").read_text()
    pip_lines = [line.strip()[2:].strip() for line in text.split("- pip:")[1].splitlines() if line.strip().startswith("- ")]
    editable = [line for line in pip_lines if line.startswith("-e")]
    assert len(editable) == 1, "environment.yml must install this package once with -e .[extras]"
    named = re.search(r"\[(.*)\]", editable[0]).group(1).split(",")
    for extra in named:
        assert extra in extras, f"environment.yml asks for extra {extra!r} that pyproject.toml lacks"
        wanted |= {_norm(r) for r in extras[extra]}
    listed = {_norm(line) for line in pip_lines if not line.startswith("-e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject.toml: {wanted - listed}"
    py = re.search(r"python=(\d+)\.(\d+)", text)
    low = re.search(r">=(\d+)\.(\d+)", project["requires-python"])
    assert py and (int(py[1]), int(py[2])) >= (int(low[1]), int(low[2]))


def test_constraints_pin_every_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_norm(name)] = version
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in ("dev", "instructor"):
        reqs += project["optional-dependencies"][extra]
    for req in reqs:
        name = _norm(re.split(r"[<>=!~\[;]", req)[0])
        assert name in pins, f"{name} is not pinned in constraints.txt"


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"python3? course\.py test", readme)
    assert re.search(r"^python3? course\.py test\s*$", ci, re.M), ".ci/run must call the README's test command"
    for verb in ("run", "test", "lab", "student", "grade", "slides"):
        assert f"course.py {verb}" in readme


def _course_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_script", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_course_py_uses_an_active_environment_only_when_it_is_complete(monkeypatch):
    course = _course_script()
    monkeypatch.setattr(course, "in_venv", lambda: False)  # as if run by a Python outside .venv
    monkeypatch.setattr(course.sys, "prefix", "/envs/mine")  # an activated venv
    monkeypatch.setattr(course.sys, "base_prefix", "/usr")
    assert course.use_running_python("run", {}) is True  # this test's env has everything `run` imports
    assert course.use_running_python("run", {"COURSE_VENV": "1"}) is False
    assert course.use_running_python("setup", {"COURSE_VENV": "0"}) is False
    monkeypatch.setitem(course.NEEDS, "run", ("torch", "no_such_module_xyz"))
    assert course.use_running_python("run", {}) is False  # incomplete: fall back to .venv
    with pytest.raises(SystemExit, match="cannot import: no_such_module_xyz"):
        course.use_running_python("run", {"COURSE_VENV": "0"})
    monkeypatch.setattr(course.sys, "prefix", "/usr")  # a bare system Python, no conda: .venv
    monkeypatch.setitem(course.NEEDS, "run", ("torch",))
    assert course.use_running_python("run", {}) is False
    assert course.use_running_python("run", {"CONDA_PREFIX": "/opt/conda/envs/cnn"}) is True
    assert set(course.NEEDS) == set(course.VERBS)


def test_package_modules_are_typed_and_documented():
    for name in PACKAGE_MODULES:
        try:
            module = __import__(f"course_utils.{name}", fromlist=[name])
        except ModuleNotFoundError:
            continue
        assert module.__doc__, name
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert obj.__doc__, f"course_utils.{name}.{attr} needs a docstring"
            if inspect.isfunction(obj):
                assert "return" in obj.__annotations__, f"course_utils.{name}.{attr} needs a return annotation"


def _package_sources() -> dict[str, str]:
    sources = {}
    for name in PACKAGE_MODULES:
        try:
            module = __import__(f"course_utils.{name}", fromlist=[name])
        except ModuleNotFoundError:
            continue
        tree = ast.parse(inspect.getsource(module))
        text = inspect.getsource(module)
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                sources[node.name] = ast.get_source_segment(text, node)
    return sources


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_code_matches_package(path):
    """A class or function shown in a notebook under a course_utils name must be the package's code, verbatim."""
    package = _package_sources()
    for cell in _code_cells(path):
        src = "".join(cell["source"])
        try:
            tree = ast.parse("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        text = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in package:
                shown = ast.get_source_segment(text, node)
                assert shown == package[node.name], (
                    f"{path.name} shows {node.name} differently from course_utils: copy the package's code verbatim "
                    "or give the notebook's version another name"
                )


def test_drift_check_catches_a_change(tmp_path):
    package = _package_sources()
    assert "ResidualBlock" in package and "corr2d" in package
    changed = package["ResidualBlock"].replace("F.relu(out)", "out")
    assert changed != package["ResidualBlock"]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_shape(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).lstrip().startswith("# ")
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "run_info" in "".join(first_code["source"]) and "nbval-ignore-output" in _tags(first_code)
    for i, cell in enumerate(cells):
        assert "slide_type" in cell.get("metadata", {}).get("slideshow", {}), f"cell {i} has no slide_type"
    slides = sum(c["metadata"]["slideshow"]["slide_type"] in ("slide", "subslide") for c in cells)
    assert 8 <= slides <= 25, f"{slides} slides"
    assert any("headline" in _tags(c) for c in cells if c["cell_type"] == "code")
    assert any("nbval-check-output" in _tags(c) for c in cells)
    graded = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    solutions = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    auto = [c for c in graded if c["cell_type"] == "code"]
    assert len(solutions) >= 4 and len(auto) >= 2
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.get("metadata", {})]
    assert len(ids) == len(set(ids)), "grade_id must be unique"
    text = "\n".join("".join(c["source"]) for c in cells)
    assert "### BEGIN SOLUTION" in text and "### BEGIN HIDDEN TESTS" in text


# Outputs that nbval compares must not depend on the mode or the machine: committed outputs may come from a full-mode
# GPU run while CI compares them in quick mode on a CPU.
_MODE_DEPENDENT = re.compile(r"\bQUICK\b|is_quick|mode_name|get_device|perf_counter|\.seconds|EPOCHS|num_samples")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_compared_outputs_do_not_depend_on_the_mode(path):
    cells = json.loads(path.read_text())["cells"]
    for i, cell in enumerate(cells):
        if "nbval-check-output" in _tags(cell):
            hit = _MODE_DEPENDENT.search("".join(cell["source"]))
            assert hit is None, f"cell {i} is compared by nbval but uses {hit.group(0)!r}, which differs between modes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_outputs_committed_clean(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "strip widget state (tools/notebooks.py does)"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") for c in code), "run the notebook top to bottom before committing"
    for c in code:
        errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors or "raises-exception" in _tags(c), "stored outputs contain an unexpected error"


def test_version_is_exposed():
    assert course_utils.__version__ == _pyproject()["project"]["version"]
    assert sys.version_info >= (3, 10)
