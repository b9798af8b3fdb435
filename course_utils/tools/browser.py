"""Headless Chromium driven over the DevTools protocol through a pipe (no extra package, no open port).

The slide tools use it to print PDF handouts once reveal.js says the print layout is ready, and the slide tests use it
to open every deck offline. Networking is off: no name resolves and everything not local goes to a closed port.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

# Any network request fails at once: no name resolves, and everything not local goes to a closed port.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
)  # fmt: skip

INSTALL_HINT = "install Chromium (Debian: apt-get install chromium) or set $CHROMIUM to a Chromium or Chrome binary"


def find_chromium() -> str | None:
    """The Chromium (or Chrome) to drive: $CHROMIUM if set, else the first of chromium, chromium-browser,
    google-chrome on the PATH."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class BrowserError(RuntimeError):
    """Chromium did not start, went away, or answered a command with an error."""


class Browser:
    """One headless Chromium and its DevTools protocol over `--remote-debugging-pipe`, with flat sessions (a page per
    `open_page`). Events that arrive while waiting for a reply are kept in `events`. Use as a context manager."""

    def __init__(self, binary: str | None = None, *, window: tuple[int, int] = (1280, 720), timeout: float = 60):
        if os.name == "nt":
            raise BrowserError("driving Chromium needs Linux or macOS (its DevTools pipe); on Windows use WSL, or open a "
                               "deck with ?print-pdf after its address and print it from the browser (Ctrl+P)")  # fmt: skip
        import fcntl  # POSIX only

        binary = binary or find_chromium()
        if binary is None:
            raise BrowserError(f"no Chromium found: {INSTALL_HINT}")
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""
        self.profile = tempfile.mkdtemp(prefix="course-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def _child_fds() -> None:  # Chromium reads commands on fd 3 and writes replies on fd 4
            cmd_in = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            reply_out = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(cmd_in, 3)
            os.dup2(reply_out, 4)

        flags = [*CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--window-size={window[0]},{window[1]}",
                 f"--user-data-dir={self.profile}", "about:blank"]  # fmt: skip
        try:
            self.proc = subprocess.Popen([binary, *flags], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=_child_fds,
                                         start_new_session=True)  # its own group: close() ends its helpers too
        except OSError as e:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError(f"could not start Chromium ({binary}): {e}; {INSTALL_HINT}") from None
        finally:
            os.close(to_chrome_r)
            os.close(from_chrome_w)
        try:
            self.send("Browser.getVersion")
        except BrowserError:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next message from Chromium, or None when `deadline` passes first."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_chrome], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise BrowserError(f"Chromium exited (status {self.proc.returncode})")
                continue
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed the DevTools pipe (status {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:  # fmt: skip
        """Run one protocol command (in `session` if given) and return its result."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_chrome, data) :]
        except OSError as e:
            raise BrowserError(f"{method}: Chromium is gone ({e})") from None
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            reply = self._read_message(deadline)
            if reply is None:
                raise BrowserError(f"{method}: no answer from Chromium within {wait:.0f} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        """The first `method` event of `session` (seen already or arriving within `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev["method"] == method and ev.get("sessionId") == session:
                    return ev
            seen = len(self.events)
            msg = self._read_message(deadline)
            if msg is None:
                raise TimeoutError(f"no {method} within {timeout} s")
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, session: str, expression: str, timeout: float | None = None) -> Any:
        """Evaluate `expression` in the page (awaiting a promise) and return its JSON value."""
        res = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                        session, timeout)  # fmt: skip
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"page script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return res["result"].get("value")

    def open_page(self, url: str = "about:blank") -> tuple[str, str]:
        """A new tab attached with a flat session: (target id, session id)."""
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return target, session

    def close_page(self, target: str, session: str) -> None:
        """Close a tab and forget its events."""
        self.send("Target.closeTarget", {"targetId": target})
        self.events = [e for e in self.events if e.get("sessionId") != session]

    def close(self) -> None:
        """Close the browser (politely, then by force) and remove its profile."""
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=10)
            except (BrowserError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "proc", None) is not None:
            try:  # renderer and GPU helpers outlive a killed main process and keep writing to the profile
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for fd in ("_to_chrome", "_from_chrome"):
            if getattr(self, fd, None) is not None:
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                setattr(self, fd, None)
        for _ in range(50):  # a helper may still be writing for a moment after the kill
            shutil.rmtree(self.profile, ignore_errors=True)
            if not os.path.exists(self.profile):
                break
            time.sleep(0.1)
