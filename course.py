#!/usr/bin/env python3
"""One entry point for the course: `python course.py <verb>`.

Every verb creates `.venv` when it is missing, installs the course into it with the pinned versions of
`constraints.txt` (again only when pyproject.toml or constraints.txt changed), and then runs inside it.
It needs Python 3.11 to 3.13 (pyproject.toml's requires-python; another Python is told which to install), and a
failed install says whether the network, this Python or platform, or something else was the cause.
An environment you activated yourself (conda, a venv of your own) that already has what the verb imports is used
as is instead. COURSE_VENV=1 always uses .venv; COURSE_VENV=0 always uses the running Python.

    run      execute every notebook in order, headless, with a progress line every few seconds, and print a table
             (notebook, status, seconds, the kernel's CPU seconds, headline) and the load average
    test     ruff + unit tests + nbval over every notebook (what CI runs)
    lab      open JupyterLab on your own student copies in work/ (git-ignored, never overwritten);
             --instructor opens notebooks/ (the tracked instructor version, with solutions) instead
    student  write student copies of the notebooks (solutions and hidden tests removed) to build/student/
    grade    grade a returned student notebook: python course.py grade path/to/returned.ipynb
    slides   build the reveal.js decks into slides/ (add --cdn for CDN-linked decks)
    bench    training-speed benchmark: classic loop vs course loop, with a chart in build/bench/ (add
             --out benchmarks/RESULTS.md to record it)
    reference  converged multi-seed reference experiments (see course_utils/reference_results/)
    gpu-check  on a CUDA machine, in <= 10 minutes: every notebook in full mode, the benchmark table and the GPU
             reference experiments into one small folder (--out DIR, --budget SECONDS, --data-root DIR);
             --rehearse runs it on the CPU at tiny size; --gather fetches the wheels and data a GPU machine lacks
    setup    only create/update .venv
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = "jupyter,dev,instructor"
STAMP = VENV / ".course-installed"
VERBS = ("run", "test", "lab", "student", "grade", "slides", "bench", "reference", "gpu-check", "setup")

# What each verb imports (module names). An activated environment that has all of them is used as is.
_RUN = ("torch", "torchvision", "numpy", "matplotlib", "torchsummary", "tqdm", "ipywidgets", "ipykernel",
        "nbclient", "nbformat")  # fmt: skip
NEEDS: dict[str, tuple[str, ...]] = {
    "run": _RUN,
    "test": (*_RUN, "pytest", "ruff", "nbval", "nbconvert", "nbgrader"),
    "lab": (*_RUN, "jupyterlab", "nbconvert", "nbgrader"),
    "student": (*_RUN, "nbconvert", "nbgrader"),
    "grade": (*_RUN, "nbconvert", "nbgrader"),
    "slides": (*_RUN, "nbconvert"),
    "bench": ("torch", "torchvision", "numpy", "matplotlib", "torchsummary", "tqdm"),
    "reference": ("torch", "torchvision", "numpy", "matplotlib", "torchsummary", "tqdm"),
    "gpu-check": _RUN,
    "setup": (),
}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install_key() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


# Which Python to advise installing when the running one is outside the supported range (any in the range works).
ADVISED_PYTHON = "3.13"


def python_range(pyproject: Path = ROOT / "pyproject.toml") -> tuple[tuple[int, int], tuple[int, int]]:
    """The supported Pythons as (lowest, highest) minor versions, read from pyproject.toml's `requires-python`
    (">=3.11,<3.14" -> ((3, 11), (3, 13))): the one place that states them. No tomllib: this runs on any Python."""
    line = re.search(r'^requires-python\s*=\s*"([^"]*)"', pyproject.read_text(), re.M)
    low = line and re.search(r">=\s*(\d+)\.(\d+)", line[1])
    high = line and re.search(r"<\s*(\d+)\.(\d+)", line[1])
    if not (low and high):
        raise SystemExit(f'{pyproject}: requires-python must read ">=3.X,<3.Y" (the supported Pythons).')
    return (int(low[1]), int(low[2])), (int(high[1]), int(high[2]) - 1)


def python_problem(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> str | None:
    """Why this Python cannot install the course's pinned versions, and which Python to install; None if it can."""
    low, high = python_range()
    if low <= tuple(version[:2]) <= high:
        return None
    this, span = ".".join(map(str, version)), f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
    why = "is too old" if tuple(version[:2]) < low else "is newer than the course has been tested with"
    v = ADVISED_PYTHON
    return (f"This is Python {this}, which {why}: the course's pinned versions (constraints.txt: torch, numpy, "
            f"matplotlib, ...) have wheels for Python {span} only.\n"
            f"Install Python {v} (any of {span} works) and run the command with it, e.g. `python{v} course.py run`:\n"
            f"  Linux    sudo apt install python{v} python{v}-venv (Ubuntu: the deadsnakes PPA), or: uv python install {v}\n"
            f"  macOS    brew install python@{v}, or the installer from https://www.python.org/downloads/\n"
            f"  Windows  winget install Python.Python.{v}, then: py -{v} course.py run\n"
            f"  conda    conda create -n cnn-course python={v} && conda activate cnn-course\n"
            f"No Python to install? Open the notebooks in Colab or Binder (README, 'Without installing anything').")  # fmt: skip


# What pip prints when it cannot reach the package index (requests/urllib3 errors, DNS, proxies, TLS, timeouts).
NETWORK_SIGNS = (
    "Could not fetch URL", "NewConnectionError", "Failed to establish a new connection", "Max retries exceeded",
    "Temporary failure in name resolution", "Name or service not known", "nodename nor servname",
    "getaddrinfo failed", "Network is unreachable", "No route to host", "Connection refused", "Connection reset",
    "ConnectTimeoutError", "ReadTimeoutError", "Read timed out", "ProxyError", "SSLError",
    "CERTIFICATE_VERIFY_FAILED", "HTTPSConnectionPool", "Connection aborted", "IncompleteRead",
)  # fmt: skip


def pip_failure(output: str, version: tuple[int, ...] = tuple(sys.version_info[:3]), machine: str = "") -> str:
    """A message naming what went wrong in a failed `pip install` and its fix, from pip's output: no build of a
    pinned version for this Python or platform, the network, or anything else (the last error pip printed)."""
    py = ".".join(map(str, version[:2]))
    machine = machine or f"{sys.platform} {platform.machine()}"
    low, high = python_range()
    span = f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
    version_problem = (f"Installing into .venv failed: no build of {{name}} fits Python {py} on {machine} (pip's output "
                       f"above). The pinned versions install on Python {span} on Linux (x86_64, aarch64), macOS on "
                       f"Apple silicon and Windows x64.\n"
                       f"Another Python? Install Python {ADVISED_PYTHON} and run the command with it (e.g. "
                       f"`python{ADVISED_PYTHON} course.py run`). An Intel Mac (PyTorch publishes no wheels for it) or "
                       f"another platform? Open the notebooks in Colab or Binder (README, 'Without installing anything').")  # fmt: skip
    # "requires a different Python", or "(from versions: 2.2.6, 2.3.5)": the index answered, nothing fits this Python.
    fits_not = re.search(r"Package '([^']+)' requires a different Python", output) or re.search(
        r"requirement (\S+) \(from versions: (?!none\))[^)]+\)", output)
    if fits_not:
        return version_problem.format(name=fits_not[1])
    if any(sign in output for sign in NETWORK_SIGNS):
        return ("Installing into .venv failed: pip could not reach the package index (its errors are above). Check "
                "the network connection (and HTTPS_PROXY, or PIP_INDEX_URL for a mirror), then run the command "
                "again; what was already downloaded is kept.\n"
                "Offline for good? Activate an environment that already has PyTorch and run the command again "
                "(README: 'Already have an environment').")  # fmt: skip
    # The index answered, but the pins cannot all be met here: with -q pip names only what it could not install.
    unmet = re.search(r"No matching distribution found for (\S+)", output) or re.search(
        r"Cannot install (.+?) because these package versions have conflicting dependencies", output)
    if unmet or "ResolutionImpossible" in output:
        return version_problem.format(name=unmet[1] if unmet else "a pinned version")
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
    last = f" pip's last error: {errors[-1]}" if errors else ""
    return (f"Installing into .venv failed (pip's output is above).{last}\n"
            "Fix what it names (e.g. free disk space), then run the command again; deleting .venv starts afresh.")


def _pip(cmd: list[str]) -> tuple[int, str]:
    """Run pip, showing its output as it comes and keeping a copy to explain a failure."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return proc.wait(), "".join(lines)


def _venv_version() -> tuple[int, int] | None:
    """The Python version .venv was made with (from its pyvenv.cfg), or None when there is no .venv."""
    cfg = VENV / "pyvenv.cfg"
    found = cfg.exists() and re.search(r"^version(?:_info)?\s*=\s*(\d+)\.(\d+)", cfg.read_text(), re.M)
    return (int(found[1]), int(found[2])) if found else None


def ensure_venv() -> None:
    """Create .venv if missing and (re)install the course when its requirements changed."""
    problem = python_problem()
    if problem:
        sys.exit(problem)
    made_with = _venv_version()
    if made_with and python_problem(made_with):  # e.g. left from an attempt with a Python outside the range
        print(f"Replacing {VENV}: it was made with Python {made_with[0]}.{made_with[1]}, outside the supported range.",
              flush=True)
        shutil.rmtree(VENV)
    if not venv_python().exists():
        print(f"Creating {VENV} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as error:
            shutil.rmtree(VENV, ignore_errors=True)
            v = f"{sys.version_info[0]}.{sys.version_info[1]}"
            sys.exit(f"Could not create {VENV} with this Python ({error}). Debian and Ubuntu ship venv and pip "
                     f"separately: sudo apt install python{v}-venv, then run the command again.")
    key = _install_key()
    if STAMP.exists() and STAMP.read_text().strip() == key:
        return
    print("Installing the course and its pinned dependencies into .venv (the first time takes a few minutes) ...", flush=True)
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q",
           "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[{EXTRAS}]"]  # fmt: skip
    returncode, output = _pip(cmd)
    if returncode:
        sys.exit(pip_failure(output, _venv_version() or tuple(sys.version_info[:2])))
    STAMP.write_text(key + "\n")


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def missing_modules(verb: str) -> list[str]:
    """The modules `verb` needs that the running Python cannot import."""
    import importlib.util

    return [name for name in NEEDS[verb] if importlib.util.find_spec(name) is None]


def use_running_python(verb: str, environ: dict[str, str] | None = None) -> bool:
    """Whether `verb` runs in this interpreter rather than in .venv.

    COURSE_VENV=0: always (and stop with a clear message when something is missing); COURSE_VENV=1: never;
    unset: when an environment is active (a venv or conda) and it has every module the verb imports."""
    env = os.environ if environ is None else environ
    choice = env.get("COURSE_VENV", "").strip()
    if in_venv() or verb == "setup" or choice == "1":
        return False
    if choice == "0":
        missing = missing_modules(verb)
        if missing:
            sys.exit(f"COURSE_VENV=0 runs `{verb}` in {sys.executable}, which cannot import: {', '.join(missing)}.\n"
                     f"Install them (python -m pip install -e '.[{EXTRAS}]'), or unset COURSE_VENV to use .venv.")
        return True
    active = sys.prefix != sys.base_prefix or bool(env.get("CONDA_PREFIX"))
    return active and not missing_modules(verb)


def _run(cmd: list[str], cwd: Path = ROOT) -> int:
    return subprocess.run(cmd, cwd=cwd).returncode


def _run_module(module: str, args: list[str]) -> int:
    """Run `python -m module args` from the caller's folder, so relative paths in `args` mean what they say."""
    return subprocess.run([sys.executable, "-m", module, *args]).returncode


def cmd_test(args: list[str]) -> int:
    """ruff, then the unit tests and nbval over every notebook in one pytest run."""
    py = sys.executable
    rc = _run([py, "-m", "ruff", "check", "."])
    if rc:
        print("ruff found problems (above): fix them, or run `.venv/bin/ruff check --fix .`")
        return rc
    return _run([py, "-m", "pytest", "tests", "notebooks", "--nbval-lax", "--nbval-current-env",
                 "--ignore=tests/fixtures", "-p", "no:cacheprovider", *args])  # fmt: skip


def cmd_run(args: list[str]) -> int:
    """Execute the notebooks (all, or those named) into build/executed/ — or in place with --inplace."""
    from course_utils.precision import fit_precision
    from course_utils.runtime import device_name, get_device, mode_name
    from course_utils.tools import notebooks as nbs

    inplace = "--inplace" in args
    names = [a for a in args if not a.startswith("--")]
    paths = [Path(n).resolve() for n in names] if names else nbs.course_notebooks()
    out_dir = ROOT / "build" / "executed"
    key = f"{mode_name()} mode, {device_name()}, {fit_precision(get_device())}"  # estimates come from like runs
    previous = {path.stem: nbs.previous_timing(path.stem, key) for path in paths}
    known = [p["seconds"] for p in previous.values() if p]
    print(f"Running {len(paths)} notebook(s) in {mode_name()} mode on {device_name()}, {fit_precision(get_device())}")
    if known:
        print(f"The last run here took {sum(known):.0f} s for {len(known)} of them (a line every few seconds shows progress)")
    rows, failed, failures, started = [], 0, [], time.perf_counter()
    for path in paths:
        before = previous[path.stem]
        print(f"  {path.name} ..." + (f" (last run {before['seconds']:.0f} s)" if before else ""), flush=True)
        result = nbs.execute(path, out=path if inplace else out_dir / path.name, progress=True, previous=before)
        nbs.record_timing(path.stem, key, result)
        print(f"  {path.name}: {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s "
              f"(series so far {time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        failed += not result.ok
        status = "ok" if result.ok else f"FAILED in cell {result.cell}"
        cpu = "" if result.cpu_seconds is None else f"{result.cpu_seconds:.1f}"
        rows.append((path.relative_to(nbs.NOTEBOOKS.parent).as_posix(), status, f"{result.seconds:.1f}", cpu, result.headline))
        if not result.ok:
            failures.append(f"{path.name} failed in {result.error}\n" + "\n".join(f"    {line}" for line in result.context))
    from course_utils.tables import format_table

    print()
    print(format_table(rows, ["notebook", "status", "seconds", "CPU s", "headline"]))
    if os.name == "posix":
        loads, cores = os.getloadavg(), os.cpu_count() or 1
        # the run's own kernel keeps up to `cores` threads busy; clearly more than that over the last minute (or the
        # last five, for a run that long) means other processes shared the CPU and the wall-clock seconds are inflated
        busy = loads[0] > 1.25 * cores or (time.perf_counter() - started > 300 and loads[1] > 1.25 * cores)
        print(f"Load average now (1/5/15 min): {' / '.join(f'{x:.1f}' for x in loads)} on {cores} cores"
              + (" — other processes shared the CPU: the seconds are inflated, the kernels' CPU seconds less so" if busy else ""))  # fmt: skip
    for failure in failures:
        print(f"\n{failure}")
    print(f"\nExecuted copies: {'in place' if inplace else out_dir}")
    return 1 if failed else 0


def cmd_lab(args: list[str]) -> int:
    """JupyterLab on the student copies in work/ (default) or on notebooks/ (--instructor); see tools/lab.py."""
    from course_utils.tools.lab import run_lab

    return run_lab(args)


def dispatch(verb: str, args: list[str]) -> int:
    if verb == "setup":
        print(f"Ready: {VENV}")
        return 0
    if verb == "test":
        return cmd_test(args)
    if verb == "run":
        return cmd_run(args)
    if verb == "lab":
        return cmd_lab(args)
    if verb in ("student", "grade"):
        return _run_module("course_utils.tools.homework", [verb, *args])
    if verb == "slides":
        return _run_module("course_utils.tools.slides", args)
    if verb == "bench":
        return _run_module("course_utils.tools.bench", args)
    if verb == "reference":
        return _run_module("course_utils.reference", args)
    if verb == "gpu-check":
        return _run_module("course_utils.tools.gpu_check", args)
    raise AssertionError(verb)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in VERBS:
        print(__doc__)
        return 0 if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help") else 2
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "gpu-check" and "--gather" in args:  # standard library and pip only: any python3, no .venv
        return _run([sys.executable, str(ROOT / "course_utils" / "tools" / "gather_gpu.py"), *(a for a in args if a != "--gather")])
    if use_running_python(verb):
        print(f"Using the active environment {sys.prefix} (COURSE_VENV=1 uses .venv instead)", flush=True)
        # the course is maybe not installed there: its kernels and subprocesses find course_utils through the path
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    elif not in_venv():
        ensure_venv()
        os.execv(str(venv_python()), [str(venv_python()), str(Path(__file__).resolve()), verb, *args])
    return dispatch(verb, args)


if __name__ == "__main__":
    sys.exit(main())
