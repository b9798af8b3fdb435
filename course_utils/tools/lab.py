"""`course.py lab`: JupyterLab on the students' own copies (default) or on the instructor notebooks, stopped cleanly.

* Student view (the default, `--student`): the student copies of the notebooks (solutions and hidden tests removed,
  as `course.py student` makes them) in `work/` at the repository root, which git ignores. A copy is written only
  when the folder lacks it, so a student's work is never overwritten — not by a second `lab`, not by `git pull`
  bringing new notebook versions (delete a copy to get the new version). Nothing a student does changes a tracked
  file.
* Instructor view (`--instructor`): `notebooks/`, the tracked instructor notebooks with every solution, for
  lecturers and TAs who edit them.

JupyterLab runs in its own process group and with the course's kernel spec (the `python3` kernel, plus the
out-of-order hint of `course_utils.hints`). When `course.py lab` is stopped — Ctrl-C, SIGTERM from an IDE's stop
button or `kill PID`, a closed terminal — it stops JupyterLab, which shuts its kernels down; anything of it still
running after a grace period is killed. On Linux JupyterLab also gets SIGTERM if `course.py` itself is killed hard
(SIGKILL). Run as root (containers), it passes `--allow-root` and says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from .notebooks import HINTS_EXTENSION, NOTEBOOKS, ROOT, course_notebooks

STUDENT_DIR = ROOT / "work"  # git-ignored; the students' copies live here and are never overwritten
KERNELS_DIR = ROOT / "build" / "jupyter"  # git-ignored; the course's kernel spec (JUPYTER_PATH points here first)
MARK_ENV = "COURSE_LAB_ID"  # set for JupyterLab and inherited by its kernels: finds what is left of one lab
GRACE = 15.0  # seconds JupyterLab gets to shut its kernels down before what remains is killed


def prepare_student_dir(folder: Path = STUDENT_DIR, notebooks: list[Path] | None = None) -> tuple[list[Path], list[Path]]:
    """Write the student copy of each course notebook that `folder` does not hold yet; return (written, kept)."""
    from .homework import write_student_copies

    sources = notebooks if notebooks is not None else course_notebooks()
    missing = [p for p in sources if not (folder / p.name).exists()]
    kept = [folder / p.name for p in sources if (folder / p.name).exists()]
    written = write_student_copies(missing, folder) if missing else []
    return written, kept


def write_kernel_spec(folder: Path = KERNELS_DIR, python: str = sys.executable) -> Path:
    """The course's `python3` kernel spec (this Python, with the out-of-order hint) under `folder/kernels/`."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--ext={HINTS_EXTENSION}"]
    kernel = {"argv": argv, "display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {"debugger": True}}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1) + "\n")
    return folder


def _marked_processes(mark: str) -> list[int]:
    """PIDs of live processes whose environment carries MARK_ENV=`mark` (Linux /proc; [] elsewhere)."""
    pids = []
    needle = f"{MARK_ENV}={mark}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and int(entry.name) != os.getpid():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when the parent dies, however it dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def stop(proc: subprocess.Popen, mark: str, grace: float = GRACE) -> None:
    """Stop JupyterLab (SIGTERM to its process group: it shuts its kernels down), then kill whatever is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM) if os.name == "posix" else proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            print(f"JupyterLab did not stop within {grace:.0f} s: killing it", flush=True)
            os.killpg(proc.pid, signal.SIGKILL) if os.name == "posix" else proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5.0
    while (left := _marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # a kernel JupyterLab did not shut down (it runs in a process group of its own)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_lab(args: list[str]) -> int:
    """`course.py lab [--student | --instructor] [JupyterLab options]`."""
    instructor = "--instructor" in args
    rest = [a for a in args if a not in ("--student", "--instructor")]
    if instructor:
        folder = NOTEBOOKS
        print("Instructor view: notebooks/ (tracked, with every solution; what you save there is a change to the "
              "repository). Students: `python3 course.py lab`.", flush=True)  # fmt: skip
    else:
        from .homework import HomeworkError, MissingExtra

        folder = STUDENT_DIR
        try:
            written, kept = prepare_student_dir(folder)
        except MissingExtra as exc:
            print(f"{exc}\n(`course.py lab --instructor` opens the instructor notebooks without it.)", file=sys.stderr)
            return 2
        except HomeworkError as exc:
            print(f"Could not write the student copies: {exc}", file=sys.stderr)
            return 1
        rel = folder.relative_to(ROOT)
        if written:
            print(f"Student copies written to {rel}/: {', '.join(p.name for p in written)}", flush=True)
        if kept:
            print(f"Kept your work in {rel}/ (never overwritten; delete a file there to get a fresh copy): "
                  f"{', '.join(p.name for p in kept)}", flush=True)  # fmt: skip
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK_ENV: mark})
    env["JUPYTER_PATH"] = os.pathsep.join([str(write_kernel_spec()), env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "jupyterlab", "--notebook-dir", str(folder), *rest]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in rest:
        print("Running as root: passing --allow-root to JupyterLab", flush=True)
        cmd.append("--allow-root")
    posix = os.name == "posix"
    proc = subprocess.Popen(cmd, env=env, start_new_session=posix, preexec_fn=_die_with_parent if posix else None)
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    for sig in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, sig):
            signal.signal(getattr(signal, sig), on_signal)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\nStopping JupyterLab and its kernels ...", flush=True)
        for sig in ("SIGINT", "SIGTERM", "SIGHUP"):  # a second Ctrl-C must not cut the clean-up short
            if hasattr(signal, sig):
                signal.signal(getattr(signal, sig), signal.SIG_IGN)
        stop(proc, mark)
        return 128 + (received[0] if received else signal.SIGINT)
    finally:
        if proc.poll() is None or _marked_processes(mark):
            stop(proc, mark)
