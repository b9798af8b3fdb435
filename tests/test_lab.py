"""`course.py lab`: students work on git-ignored copies, and stopping course.py stops JupyterLab and its kernels."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest

from course_utils.tools import lab
from course_utils.tools.notebooks import ROOT, course_notebooks

needs_lab = pytest.mark.skipif(
    find_spec("jupyterlab") is None or find_spec("nbgrader") is None or not sys.platform.startswith("linux"),
    reason="needs jupyterlab and nbgrader (the course environment), and Linux's /proc to list processes",
)


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _api(port: int, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "token course-test", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def test_student_copies_are_written_once_and_never_overwritten(tmp_path):
    pytest.importorskip("nbgrader")
    first = course_notebooks()[1]
    written, kept = lab.prepare_student_dir(tmp_path, [first])
    assert written == [tmp_path / first.name] and kept == []
    copy = nbformat.read(written[0], 4)
    assert "### BEGIN SOLUTION" not in json.dumps(copy.cells)  # the student copy, not the instructor's
    copy.cells[0].source = "my own notes"
    nbformat.write(copy, written[0])
    written, kept = lab.prepare_student_dir(tmp_path, [first])
    assert written == [] and kept == [tmp_path / first.name]
    assert nbformat.read(kept[0], 4).cells[0].source == "my own notes"


def test_the_student_folder_and_kernel_spec_are_git_ignored():
    for folder in (lab.STUDENT_DIR, lab.KERNELS_DIR):
        probe = folder.relative_to(ROOT) / "probe.ipynb"
        assert subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT).returncode == 0, probe


@needs_lab
def test_lab_stops_with_course_py_and_leaves_no_process_and_no_diff(tmp_path):
    before = _git_status()
    port = _free_port()
    env = dict(os.environ, COURSE_VENV="0", PYTHONPATH=str(ROOT), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "course.py"), "lab", "--no-browser", f"--port={port}",
                             "--ServerApp.port_retries=0", "--IdentityProvider.token=course-test"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                _api(port, "/api/status")
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 180 s"
                time.sleep(1)
        notebook = course_notebooks()[0].name  # a student copy in work/: the kernel runs there
        session = _api(port, "/api/sessions", {"path": notebook, "type": "notebook", "kernel": {"name": "python3"}})
        assert session["kernel"]["id"]
        deadline = time.monotonic() + 60
        while not (kernels := [p for p in _descendants(proc.pid) if "ipykernel" in _cmdline(p)]):
            assert time.monotonic() < deadline, "no kernel process appeared"
            time.sleep(0.5)
        assert f"--ext={lab.HINTS_EXTENSION}" in _cmdline(kernels[0])  # the course's kernel spec: the hint is on
        spawned = _descendants(proc.pid)
        assert len(spawned) >= 2  # JupyterLab and the kernel
        proc.send_signal(signal.SIGTERM)  # what an IDE's stop button or `kill PID` does
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Stopping JupyterLab and its kernels" in out, out
    deadline = time.monotonic() + 10
    while (left := [p for p in spawned if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [(p, _cmdline(p)) for p in left]
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the port is free again
    assert _git_status() == before  # nothing a lab session does shows up in git
