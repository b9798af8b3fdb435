"""The project's own promises: dependencies agree, CI calls the README's test command, notebooks follow the rules."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
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
PACKAGE = ROOT / "course_utils"
# Every module of the package, found on disk: a renamed or new module joins every check below automatically.
PACKAGE_MODULES = sorted(m.name for m in pkgutil.walk_packages(course_utils.__path__, "course_utils."))
TOOLS = "course_utils.tools"  # the command-line tools: checked like the rest, but notebooks never show their code


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
    course = _course_script()
    assert named == course.EXTRAS.split(","), "environment.yml must install the extras course.py installs"
    for extra in named:
        assert extra in extras, f"environment.yml asks for extra {extra!r} that pyproject.toml lacks"
        wanted |= {_norm(r) for r in extras[extra]}
    listed = {_norm(line) for line in pip_lines if not line.startswith("-")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject.toml: {wanted - listed}"
    # the tested versions, not just any that meet the lower bounds: pip is held to constraints.txt
    assert "-c constraints.txt" in pip_lines, "environment.yml's pip section must use -c constraints.txt"
    assert pip_lines[0] == "-c constraints.txt", "the constraints come first, before any requirement"
    py = re.search(r"python=(\d+)\.(\d+)", text)
    low, high = course.python_range()
    assert py and low <= (int(py[1]), int(py[2])) <= high, f"environment.yml's Python is outside {low}-{high}"


def test_constraints_pin_every_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_norm(name)] = version
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in _course_script().EXTRAS.split(","):
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


def test_every_module_is_found_and_imports():
    assert len(PACKAGE_MODULES) >= 20, PACKAGE_MODULES
    for required in ("course_utils.runtime", "course_utils.train", "course_utils.models.registry",
                     "course_utils.data.specs", "course_utils.classic", "course_utils.tables", "course_utils.banner"):  # fmt: skip
        assert required in PACKAGE_MODULES
    for name in PACKAGE_MODULES:
        importlib.import_module(name)  # an import error fails here instead of dropping the module from the checks


@pytest.mark.parametrize("name", PACKAGE_MODULES)
def test_package_modules_are_typed_and_documented(name):
    module = importlib.import_module(name)
    assert module.__doc__, name
    for attr, obj in vars(module).items():
        if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__, f"{name}.{attr} needs a docstring"
        if inspect.isfunction(obj):
            assert "return" in obj.__annotations__, f"{name}.{attr} needs a return annotation"


def _package_sources(modules: list[str] = PACKAGE_MODULES) -> dict[str, str]:
    """Top-level class and function sources of the package (not of its command-line tools), by name."""
    sources: dict[str, str] = {}
    for name in modules:
        if name.startswith(TOOLS):
            continue
        text = inspect.getsource(importlib.import_module(name))
        for node in ast.parse(text).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                assert node.name not in sources or node.name.startswith("_"), f"{node.name} is defined twice"
                sources[node.name] = ast.get_source_segment(text, node)
    return sources


def _imports(path: Path) -> set[str]:
    """The course_utils modules that the file at `path` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("course_utils")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if not base.startswith("course_utils"):
                continue
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else base)  # fmt: skip
    return found


def _import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = _imports(path) - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (as a list of modules), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_package_imports_have_no_cycle():
    graph = _import_graph()
    assert _cycle(graph) is None, "import cycle: " + " -> ".join(_cycle(graph) or [])
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check itself finds one


def test_package_layers():
    """runtime imports nothing from the package; nothing below the top imports the banner, tools or the package root."""
    graph = _import_graph()
    assert graph["course_utils.runtime"] == set()
    for module, imported in graph.items():
        if module != "course_utils" and not module.startswith(TOOLS):
            assert "course_utils" not in imported, f"{module} imports the package root (import the module it needs)"
            assert not any(m.startswith(TOOLS) for m in imported), f"{module} imports the command-line tools"
        if module not in ("course_utils", "course_utils.banner"):
            assert "course_utils.banner" not in imported or module.startswith(TOOLS), module


def test_nothing_patches_the_import_path():
    folders = [ROOT / d for d in ("course_utils", "tests", "notebooks", "benchmarks")] + [ROOT / "course.py"]
    hits = subprocess.run(["grep", "-rln", "sys" + ".path", *map(str, folders)], capture_output=True, text=True).stdout
    assert hits.strip() == "", f"the import path is patched in: {hits}"


def test_fit_reads_at_a_glance():
    from course_utils import train

    node = next(n for n in ast.parse(inspect.getsource(train)).body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body  # without the docstring
    assert body[-1].end_lineno - body[0].lineno + 1 <= 60
    step = next(n for n in ast.parse(inspect.getsource(train)).body if isinstance(n, ast.FunctionDef) and n.name == "train_epoch")
    assert "loss.backward()" in ast.get_source_segment(inspect.getsource(train), step)


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _drift(name: str, cells: list[dict], package: dict[str, str]) -> list[str]:
    """Classes and functions a notebook shows under a package name whose code differs from the package's."""
    problems = []
    for cell in cells:
        text = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in package:
                if ast.get_source_segment(text, node) != package[node.name]:
                    problems.append(f"{name} shows {node.name} differently from course_utils: copy the package's "
                                    "code verbatim or give the notebook's version another name")  # fmt: skip
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_code_matches_package(path):
    """A class or function shown in a notebook under a course_utils name must be the package's code, verbatim."""
    assert _drift(path.name, _code_cells(path), _package_sources()) == []


def test_drift_check_catches_a_change():
    """The drift check fails on a notebook whose copy of a package class differs by one line (and passes on the
    notebook as committed)."""
    path = ROOT / "notebooks" / "04_residual_blocks.ipynb"
    package = _package_sources()
    cells = _code_cells(path)
    assert _drift(path.name, cells, package) == []
    shown = next(c for c in cells if "class ResidualBlock(" in "".join(c["source"]))
    changed = [dict(c, source="".join(c["source"]).replace("return F.relu(out)", "return out")) if c is shown else c
               for c in cells]  # fmt: skip
    assert "".join(changed[cells.index(shown)]["source"]) != "".join(shown["source"])
    problems = _drift(path.name, changed, package)
    assert problems and "ResidualBlock" in problems[0]


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
    assert 8 <= slides <= 30, f"{slides} slides (a 90-minute lecture holds about 30)"
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
    assert "widgets" not in nb.get("metadata", {}), "strip widget state (course_utils/tools/notebooks.py does)"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") for c in code), "run the notebook top to bottom before committing"
    for c in code:
        errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors or "raises-exception" in _tags(c), "stored outputs contain an unexpected error"


def test_version_is_exposed():
    assert course_utils.__version__ == _pyproject()["project"]["version"]
    assert sys.version_info >= (3, 10)


# Absolute paths of the machine that ran a notebook: its checkout, home, temporary, system or environment folders.
_MACHINE_PATH = re.compile(
    r"(?<![\w.<>~-])(?:/(?:work|root|home|Users|tmp|var|private|usr|opt|srv|mnt|builds?)/|[A-Za-z]:\\\\)"
    r"|(?<!<)site-packages"
)


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts += [out.get("text", ""), "\n".join(out.get("traceback", [])), out.get("evalue", "")]
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_outputs_hold_no_machine_paths(path):
    cells = json.loads(path.read_text())["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            hit = _MACHINE_PATH.search(_output_text(cell)) or (str(ROOT) in _output_text(cell) and str(ROOT))
            assert not hit, f"cell {i} output holds a path of the machine that ran it: {hit}"


def test_notebook_cleaner_rewrites_machine_paths():
    import nbformat

    from course_utils.tools.notebooks import clean

    site = Path(inspect.getfile(json)).parent / "site-packages" / "torch" / "nn" / "functional.py"
    trace = [f"File \x1b[0;32m{ROOT}/course_utils/models/resnet.py:42\x1b[0m, in \x1b[0;36mforward\x1b[0m",
             f"File {site}:7", f"File {Path.home()}/notes.py:1", "/tmp/tmpab12cd/x.py"]  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1/0")])
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="E", evalue=f"bad {ROOT}/notebooks/x", traceback=trace),
                           nbformat.v4.new_output("stream", name="stderr", text=f"warning in {site}\n")]  # fmt: skip
    cleaned = json.loads(nbformat.writes(clean(nb)))["cells"][0]
    text = _output_text(cleaned)
    assert "course_utils/models/resnet.py:42" in text and "<site-packages>/torch/nn/functional.py" in text
    assert not _MACHINE_PATH.search(text) and str(ROOT) not in text and str(Path.home()) not in text, text


def test_template_shows_the_required_shape():
    """notebooks/TEMPLATE.ipynb is not a course notebook, but it holds every rule a new notebook must follow."""
    path = ROOT / "notebooks" / "TEMPLATE.ipynb"
    assert path not in NOTEBOOKS
    cells = json.loads(path.read_text())["cells"]
    kinds = [(c["cell_type"], c["metadata"]["slideshow"]["slide_type"], _tags(c)) for c in cells]
    assert kinds[0][:2] == ("markdown", "slide") and "".join(cells[0]["source"]).startswith("# ")
    assert kinds[1][0] == "code" and "run_info" in "".join(cells[1]["source"]) and "nbval-ignore-output" in kinds[1][2]
    tags = [t for _, _, ts in kinds for t in ts]
    for tag in ("headline", "nbval-check-output", "raises-exception"):
        assert tag in tags, tag
    assert any(k[1] == "notes" for k in kinds), "speaker notes"
    meta = [c["metadata"].get("nbgrader", {}) for c in cells]
    assert any(m.get("solution") for m in meta) and any(m.get("grade") and m.get("points") for m in meta)
    text = "\n".join("".join(c["source"]) for c in cells)
    assert "### BEGIN SOLUTION" in text and "### BEGIN HIDDEN TESTS" in text
    assert cells[-1]["metadata"]["slideshow"]["slide_type"] == "skip" and "References" in "".join(cells[-1]["source"])
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code"), "run it before committing"
