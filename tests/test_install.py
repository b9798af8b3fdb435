"""Installing the course: the supported Pythons, pip's failures explained, the conda route's pins (test_project.py),
and the Colab/Binder route — each notebook's install lines, run against a wheel of this checkout, offline."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from course_utils.tools import online

ROOT = Path(__file__).resolve().parent.parent


def _course():
    spec = importlib.util.spec_from_file_location("course_script", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _course()
LOW, HIGH = course.python_range()
SPAN = f"{LOW[0]}.{LOW[1]} to {HIGH[0]}.{HIGH[1]}"


# ---- one supported range, stated once --------------------------------------------------------------------------


def test_supported_pythons_are_stated_once_and_agree():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert LOW < HIGH
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{LOW[0]}{LOW[1]}", "ruff must target the lowest Python"
    readme = (ROOT / "README.md").read_text()
    assert f"Python {SPAN}" in readme, f"the README must state the supported range, Python {SPAN}"
    assert not re.search(r"Python ≥ ?3\.\d|3\.\d+ or newer", readme), "the README states another range"
    advised = tuple(int(x) for x in course.ADVISED_PYTHON.split("."))
    assert LOW <= advised <= HIGH
    assert f"Python {SPAN}" in course.__doc__, "course.py's docstring states the range"
    assert f"{LOW[0]}.{LOW[1]} to {HIGH[0]}.{HIGH[1]}" in (ROOT / "constraints.txt").read_text()
    binder = re.fullmatch(r"python-(\d+)\.(\d+)\s*", (ROOT / "binder" / "runtime.txt").read_text())
    assert binder and LOW <= (int(binder[1]), int(binder[2])) <= HIGH


def test_an_unsupported_python_is_told_which_python_to_install():
    old = course.python_problem((LOW[0], LOW[1] - 1, 13))
    assert f"This is Python {LOW[0]}.{LOW[1] - 1}.13, which is too old" in old
    assert f"Python {SPAN} only" in old and f"Install Python {course.ADVISED_PYTHON}" in old
    assert f"python{course.ADVISED_PYTHON} course.py run" in old and "winget" in old and "brew" in old
    new = course.python_problem((HIGH[0], HIGH[1] + 1, 0))
    assert "newer than the course has been tested with" in new and f"Install Python {course.ADVISED_PYTHON}" in new
    assert course.python_problem((*LOW, 0)) is None and course.python_problem((*HIGH, 9)) is None


def test_course_py_stops_before_making_a_venv_on_an_unsupported_python(monkeypatch, tmp_path):
    monkeypatch.setattr(course, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(course, "python_problem", lambda version=None: "This is Python 3.10.13, which is too old")
    with pytest.raises(SystemExit, match="too old"):
        course.ensure_venv()
    assert not (tmp_path / ".venv").exists()


# ---- a failed install says what went wrong ---------------------------------------------------------------------

# What pip 23 prints with -q (copied from real runs; the network one with the index unreachable).
PIP_OUTPUT = {
    "network": (
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f60>: Failed to "
        "establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/torch/\n"
        "ERROR: Cannot install course-utils because these package versions have conflicting dependencies.\n"
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/\n"
    ),
    "python": (
        "ERROR: Ignored the following versions that require a different python version: 2.4.6 Requires-Python >=3.11\n"
        "ERROR: Could not find a version that satisfies the requirement numpy==2.4.6 (from versions: 1.26.4, 2.2.6)\n"
        "ERROR: No matching distribution found for numpy==2.4.6\n"
    ),
    "requires-python": "ERROR: Package 'course-utils' requires a different Python: 3.10.13 not in '>=3.11,<3.15'\n",
    "platform": (
        "ERROR: Cannot install torch>=2.4 because these package versions have conflicting dependencies.\n"
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/\n"
    ),
    "other": "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
}
EXPECTED = {
    "network": ("could not reach the package index", "Check the network connection"),
    "python": ("no build of numpy==2.4.6 fits Python", f"Install Python {course.ADVISED_PYTHON}"),
    "requires-python": ("no build of course-utils fits Python", f"Python {SPAN}"),
    "platform": ("no build of torch>=2.4 fits Python", "Intel Mac"),
    "other": ("pip's last error: ERROR: Could not install packages due to an OSError", "free disk space"),
}


@pytest.mark.parametrize("case", sorted(PIP_OUTPUT))
def test_a_failed_install_says_what_went_wrong(case, monkeypatch, tmp_path, capsys):
    venv = tmp_path / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text(f"version = {LOW[0]}.{LOW[1]}.7\n")
    fake_python = tmp_path / "python"  # stands in for .venv's python: `python -m pip install ...` fails like pip
    fake_python.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({PIP_OUTPUT[case]!r})\nsys.exit(1)\n")
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(course, "VENV", venv)
    monkeypatch.setattr(course, "STAMP", venv / ".course-installed")
    monkeypatch.setattr(course, "venv_python", lambda: fake_python)
    monkeypatch.setattr(course, "python_problem", lambda version=None: None)
    with pytest.raises(SystemExit) as exit_:
        course.ensure_venv()
    message = str(exit_.value.code)
    for phrase in EXPECTED[case]:
        assert phrase in message, f"{case}: {phrase!r} not in {message!r}"
    assert PIP_OUTPUT[case].splitlines()[-1] in capsys.readouterr().out, "pip's own output must still be shown"
    assert not (venv / ".course-installed").exists()


def test_a_venv_of_an_unsupported_python_is_replaced(monkeypatch, tmp_path):
    venv = tmp_path / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text(f"version = {LOW[0]}.{LOW[1] - 1}.13\n")
    monkeypatch.setattr(course, "VENV", venv)
    assert course._venv_version() == (LOW[0], LOW[1] - 1)
    assert course.python_problem(course._venv_version()) is not None  # ensure_venv removes such a .venv


# ---- the pins resolve on the lowest and highest supported Python -----------------------------------------------

LINUX = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_25_x86_64", "manylinux_2_18_x86_64",
         "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64")  # fmt: skip
LAPTOPS = {  # the wheels a student's laptop needs; CUDA-only packages are Linux's
    "macos-arm64": ("macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_13_0_arm64", "macosx_14_0_arm64",
                    "macosx_10_9_universal2", "macosx_11_0_universal2"),
    "windows-x64": ("win_amd64",),
}  # fmt: skip
LINUX_ONLY = re.compile(r"^(nvidia-|cuda-|triton)", re.I)


def _constraints_for(python: tuple[int, int, int], path: Path) -> list[str]:
    """constraints.txt with its `;` markers decided for `python` (pip would decide them for the Python running it)."""
    from packaging.markers import Marker

    env = {"python_version": f"{python[0]}.{python[1]}", "python_full_version": ".".join(map(str, python))}
    pins = []
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pin, _, marker = line.partition(";")
            if not marker or Marker(marker.strip()).evaluate(env):
                pins.append(pin.strip())
    path.write_text("\n".join(pins) + "\n")
    return pins


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in course.EXTRAS.split(","):
        reqs += project["optional-dependencies"][extra]
    return reqs


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_dry_run(args: list[str], report: Path) -> tuple[int, str, dict]:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "--report", str(report), *args]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr, json.loads(report.read_text()) if report.exists() else {}


@pytest.mark.slow
def test_pins_resolve_on_the_lowest_and_highest_supported_python(tmp_path):
    """For Python LOW.0 and HIGH.0: pip resolves the course's requirements with constraints.txt for Linux x86_64
    (dependencies included), and every pin that has platform-specific wheels (torch, numpy, matplotlib, pillow, ...)
    has one for macOS arm64 and Windows x64. Dry runs, side by side: pip fetches index pages and metadata, no
    packages. (pip decides the markers inside the packages' own metadata for the Python running it: exact for the
    pins and their wheels, approximate for dependencies that only some Pythons need.)"""
    pythons = [".".join(map(str, (*end, 0))) for end in (LOW, HIGH)]
    pins = {py: _constraints_for(tuple(map(int, py.split("."))), tmp_path / f"constraints-{py}.txt") for py in pythons}

    def linux(py: str) -> tuple[int, str, dict]:
        return _pip_dry_run(["--python-version", py, "--target", str(tmp_path / f"linux-{py}"),
                             *(a for p in LINUX for a in ("--platform", p)), "-c", str(tmp_path / f"constraints-{py}.txt"),
                             *_requirements()], tmp_path / f"linux-{py}.json")  # fmt: skip

    def laptop(job: tuple[str, str, list[str]]) -> tuple[int, str, dict]:
        name, py, wanted = job
        return _pip_dry_run(["--python-version", py, "--no-deps", "--target", str(tmp_path / f"{name}-{py}"),
                             *(a for p in LAPTOPS[name] for a in ("--platform", p)), *wanted],
                            tmp_path / f"{name}-{py}.json")  # fmt: skip

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        failed = {f"linux-x86_64, Python {py}": out for py, (rc, out, _) in zip(pythons, pool.map(linux, pythons)) if rc}
        reports = [json.loads((tmp_path / f"linux-{py}.json").read_text()) for py in pythons if not failed]
        # the pins whose Linux wheel is not pure Python need a wheel of their own on each laptop platform
        binary = {_canonical(item["metadata"]["name"]) for report in reports for item in report["install"]
                  if not item["download_info"]["url"].endswith("-none-any.whl")}  # fmt: skip
        jobs = [(name, py, [p for p in pins[py] if _canonical(p.split("==")[0]) in binary and not LINUX_ONLY.match(p)])
                for py in pythons for name in LAPTOPS if binary]  # fmt: skip
        assert not jobs or all(any(p.startswith("torch==") for p in job[2]) for job in jobs), binary
        failed |= {f"{job[0]}, Python {job[1]}": out for job, (rc, out, _) in zip(jobs, pool.map(laptop, jobs)) if rc}
    if failed and all(any(s in out for s in course.NETWORK_SIGNS) for out in failed.values()):
        pytest.skip(f"the package index is unreachable from here: {next(iter(failed.values()))[-300:]}")
    assert not failed, "\n\n".join(f"{name}:\n{out[-1500:]}" for name, out in failed.items())


# ---- Colab and Binder ------------------------------------------------------------------------------------------


def test_notebooks_and_readme_agree_with_the_declared_repository():
    assert online.main(["--check"]) == 0, "run: python -m course_utils.tools.online"
    url = online.repository_url()
    readme = (ROOT / "README.md").read_text()
    for path in online.course_notebooks():
        cell = "".join(online.run_info_cell(json.loads(path.read_text()))["source"])
        assert cell.startswith(online.install_lines(url)), f"{path.name}: the run-info cell must start with the install lines"
        assert cell.count(online.IMPORT) == 2, f"{path.name}: course_utils is imported only in the install lines"
        if path.name != "TEMPLATE.ipynb":
            assert online.colab_url(url, path) in readme
    assert online.binder_url(url) in readme


def test_install_lines_are_rewritten_in_place():
    url = "https://github.com/someone/fork"
    plain = "import torch\n\nimport course_utils as cu\nfrom course_utils import conv\n\ninfo = cu.run_info()\n"
    once = online.with_install_lines(plain, url)
    assert once.startswith(online.install_lines(url)) and once.count(online.IMPORT) == 2
    assert once.endswith("import torch\n\nfrom course_utils import conv\n\ninfo = cu.run_info()\n")
    assert online.with_install_lines(once, url) == once  # idempotent
    moved = online.with_install_lines(once, "https://github.com/other/place")
    assert "git+https://github.com/other/place" in moved and "someone/fork" not in moved
    assert moved.endswith("import torch\n\nfrom course_utils import conv\n\ninfo = cu.run_info()\n")


def test_binder_installs_the_tested_pins():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert "-c constraints.txt" in text and '-e ".[jupyter]"' in text
    assert "download.pytorch.org/whl/cpu" in text  # Binder has no GPU


@pytest.fixture(scope="module")
def course_wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, built the way pip builds it for Colab (isolated, setuptools from the index)."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "course_utils", src / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--disable-pip-version-check",
                            "-w", str(dist), str(src)], capture_output=True, text=True)  # fmt: skip
    output = built.stdout + built.stderr
    if built.returncode and any(sign in output for sign in course.NETWORK_SIGNS):
        pytest.skip(f"pip cannot fetch setuptools to build the course: {output[-300:]}")
    assert built.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if re.search(r"deprecat", line, re.I)]
    assert not warnings, "building the package warns:\n" + "\n".join(warnings)
    return next(dist.glob("course_utils-*.whl"))


@pytest.mark.slow
def test_notebook_install_lines_install_the_course_when_it_is_missing(course_wheel, tmp_path):
    """The run-info cell of notebook 01, as Colab runs it: course_utils cannot be imported, so it installs it (here
    from a wheel of this checkout through COURSE_SOURCE, offline; into a folder of its own with the dependencies
    taken from this environment), imports it and prints the run info in quick mode from the installed copy."""
    cell = "".join(online.run_info_cell(json.loads((ROOT / "notebooks" / "01_convolution.ipynb").read_text()))["source"])
    target = tmp_path / "site"
    target.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "COURSE_"))}
    env.update(COURSE_SOURCE=str(course_wheel), PIP_TARGET=str(target), PIP_NO_DEPS="1", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", COURSE_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(target), *site.getsitepackages()]))  # fmt: skip
    # -S: no .pth files, so the course installed in this environment (editable) is not importable: "missing".
    script = cell + "\nprint('imported from', cu.__file__)\n"
    run = subprocess.run([sys.executable, "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Installing the course from {course_wheel}" in run.stdout
    assert re.search(r"^mode\s+quick$", run.stdout, re.M), run.stdout
    assert f"imported from {target / 'course_utils' / '__init__.py'}" in run.stdout
    assert (target / "course_utils" / "datasets").is_dir(), "the wheel must carry the bundled mini datasets"
    again = subprocess.run([sys.executable, "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "Installing" not in again.stdout, "installed once: the second run only imports"


@pytest.mark.slow
def test_notebook_install_lines_say_when_pip_fails(tmp_path):
    cell = online.install_lines("https://github.com/OWNER/REPO")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "COURSE_"))}
    env.update(COURSE_SOURCE=str(tmp_path / "no-such-folder"), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONPATH=os.pathsep.join(site.getsitepackages()))  # fmt: skip
    run = subprocess.run([sys.executable, "-S", "-c", cell], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert "Installing the course failed; pip says:" in run.stderr and "run this cell again" in run.stderr
    assert "Traceback" not in run.stderr
