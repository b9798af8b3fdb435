#!/usr/bin/env python3
"""One entry point for the course: `python course.py <verb>`.

Every verb creates `.venv` when it is missing, installs the course into it with the pinned versions of
`constraints.txt` (again only when pyproject.toml or constraints.txt changed), and then runs inside it.

    run      execute every notebook in order, headless, and print a table (notebook, status, seconds, headline)
    test     ruff + unit tests + nbval over every notebook (what CI runs)
    lab      open JupyterLab on notebooks/
    student  write student copies of the notebooks (solutions and hidden tests removed) to build/student/
    grade    grade a returned student notebook: python course.py grade path/to/returned.ipynb
    slides   build the reveal.js decks into slides/ (add --cdn for CDN-linked decks)
    bench    training-speed benchmark: classic loop vs course loop (see benchmarks/)
    setup    only create/update .venv
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = "dev,instructor"
STAMP = VENV / ".course-installed"
VERBS = ("run", "test", "lab", "student", "grade", "slides", "bench", "setup")


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install_key() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    """Create .venv if missing and (re)install the course when its requirements changed."""
    if sys.version_info < (3, 10):  # noqa: UP036 - this file runs under whatever python3 the user has
        sys.exit(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}: install a newer Python first.")
    if not venv_python().exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    key = _install_key()
    if STAMP.exists() and STAMP.read_text().strip() == key:
        return
    print("Installing the course and its pinned dependencies into .venv (the first time takes a few minutes) ...", flush=True)
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q",
           "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[{EXTRAS}]"]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode:
        sys.exit("Installing into .venv failed (see the pip output above). Check the network, then run the command again.")
    STAMP.write_text(key + "\n")


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _run(cmd: list[str], cwd: Path = ROOT) -> int:
    return subprocess.run(cmd, cwd=cwd).returncode


def _run_module(module: str, args: list[str]) -> int:
    """Run `python -m module args` from the caller's folder, so relative paths in `args` mean what they say."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", module, *args], env=env).returncode


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
    from tools.notebooks import NOTEBOOKS, course_notebooks, execute

    inplace = "--inplace" in args
    names = [a for a in args if not a.startswith("--")]
    paths = [Path(n).resolve() for n in names] if names else course_notebooks()
    out_dir = ROOT / "build" / "executed"
    from course_utils.mode import device_name, mode_name

    print(f"Running {len(paths)} notebook(s) in {mode_name()} mode on {device_name()}")
    rows, failed = [], 0
    for path in paths:
        print(f"  {path.name} ...", flush=True)
        result = execute(path, out=path if inplace else out_dir / path.name)
        failed += not result.ok
        status = "ok" if result.ok else f"FAILED: {result.error}"
        rows.append((path.relative_to(NOTEBOOKS.parent).as_posix(), status, f"{result.seconds:.1f}", result.headline))
    from course_utils.plot import format_table

    print()
    print(format_table(rows, ["notebook", "status", "seconds", "headline"]))
    print(f"\nExecuted copies: {'in place' if inplace else out_dir}")
    return 1 if failed else 0


def cmd_lab(args: list[str]) -> int:
    return _run([sys.executable, "-m", "jupyterlab", "--notebook-dir", str(ROOT / "notebooks"), *args])


def dispatch(verb: str, args: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
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
        return _run_module("tools.homework", [verb, *args])
    if verb == "slides":
        return _run_module("tools.slides", args)
    if verb == "bench":
        return _run_module("benchmarks.train_speed", args)
    raise AssertionError(verb)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in VERBS:
        print(__doc__)
        return 0 if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help") else 2
    verb, args = sys.argv[1], sys.argv[2:]
    if not in_venv():
        ensure_venv()
        os.execv(str(venv_python()), [str(venv_python()), str(Path(__file__).resolve()), verb, *args])
    return dispatch(verb, args)


if __name__ == "__main__":
    sys.exit(main())
