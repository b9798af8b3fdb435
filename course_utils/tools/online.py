"""Colab and Binder: the notebooks' install lines and the README's links, written from one URL.

The repository's address is declared once, as `Repository` under `[project.urls]` in pyproject.toml. This tool writes
from it (and checks, with `--check`, that nothing disagrees):

* the first lines of every notebook's run-info cell: when `course_utils` cannot be imported (Colab, Binder before its
  build, a Jupyter of your own), the cell installs the course with pip from that URL, once and quietly, and then
  imports it. `COURSE_SOURCE` (an environment variable) overrides where from: a clone's folder, a wheel, a fork;
* the README's "Without installing anything" section: an "Open in Colab" link per notebook and the Binder link.

    python -m course_utils.tools.online            # rewrite what disagrees with pyproject.toml
    python -m course_utils.tools.online --check    # exit status 1 if anything would change (a test runs this)

Run it after changing the URL, adding a notebook, or merging notebooks whose first cell was edited elsewhere; it only
touches the lines it owns.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
BRANCH = "main"  # the branch Colab and Binder open

# The install lines start with this comment and end with the second `import course_utils as cu`.
MARKER = "# the course's package: missing on Colab, Binder or a Jupyter of your own? It is installed once, quietly"
IMPORT = "import course_utils as cu"
README_START, README_END = "<!-- online: written by python -m course_utils.tools.online -->", "<!-- /online -->"


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The repository's address, from `[project.urls] Repository` in pyproject.toml (the one place it is declared)."""
    urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
    if "Repository" not in urls:
        raise SystemExit(f"{pyproject}: add `Repository = \"https://github.com/OWNER/NAME\"` under [project.urls]")
    return urls["Repository"].rstrip("/")


def install_lines(url: str) -> str:
    """The lines that import `course_utils` as `cu`, installing the course from `url` first when it is missing."""
    return f'''{MARKER}
try:
    {IMPORT}
except ModuleNotFoundError:
    import os
    import subprocess
    import sys

    source = os.environ.get("COURSE_SOURCE", "git+{url}")  # or a clone's folder
    print(f"Installing the course from {{source}} (once per session) ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], capture_output=True, text=True)
    if pip.returncode:
        raise SystemExit(f"Installing the course failed; pip says:\\n{{pip.stderr}}Check the network, run this cell again.") from None
    {IMPORT}
'''


def with_install_lines(source: str, url: str) -> str:
    """A run-info cell's source with the install lines at its top (replacing older ones, or its plain import)."""
    if MARKER in source:
        start = source.index(MARKER)
        end = source.index(f"    {IMPORT}\n", source.index("except ModuleNotFoundError:", start)) + len(IMPORT) + 5
        rest = source[:start] + source[end:]
    else:
        rest = re.sub(rf"^{re.escape(IMPORT)}\n", "", source, count=1, flags=re.M)
    rest = rest.lstrip("\n")
    return install_lines(url) + ("\n" + rest if rest else "")


def run_info_cell(nb: dict) -> dict:
    """The notebook's run-info cell: its first code cell (it calls `cu.run_info`)."""
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    if "run_info(" not in "".join(cell["source"]):
        raise SystemExit("the first code cell does not call cu.run_info: is this a course notebook?")
    return cell


def course_notebooks() -> list[Path]:
    """The course notebooks (`NN_name.ipynb`) and the template, which shows the same first cell."""
    return [*sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), NOTEBOOKS / "TEMPLATE.ipynb"]


def update_notebook(path: Path, url: str, write: bool = True) -> bool:
    """Put the install lines into the notebook's run-info cell; True if it changed (written only when `write`)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = run_info_cell(nb)
    old = "".join(cell["source"])
    new = with_install_lines(old, url)
    if new == old:
        return False
    cell["source"] = new.splitlines(keepends=True)
    if write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def colab_url(url: str, notebook: Path) -> str:
    """Colab's address for a notebook of the repository on GitHub."""
    path = urlparse(url).path.strip("/")
    return f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{notebook.name}"


def binder_url(url: str) -> str:
    """mybinder.org's address for the repository, opening JupyterLab on notebooks/."""
    path = urlparse(url).path.strip("/")
    return f"https://mybinder.org/v2/gh/{path}/{BRANCH}?urlpath=lab/tree/notebooks"


def readme_section(url: str) -> str:
    """The README's links: one "Open in Colab" per notebook and Binder for all."""
    rows = [f"| [{nb.stem}](notebooks/{nb.name}) | [Open in Colab]({colab_url(url, nb)}) |"
            for nb in course_notebooks() if nb.name != "TEMPLATE.ipynb"]  # fmt: skip
    return "\n".join([
        README_START,
        f"[Launch Binder]({binder_url(url)}) (all notebooks, CPU, quick mode)",
        "",
        "| notebook | Colab |",
        "|---|---|",
        *rows,
        README_END,
    ])  # fmt: skip


def update_readme(url: str, write: bool = True) -> bool:
    """Rewrite the README's links between the two markers; True if they changed."""
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{README} lacks the markers {README_START} ... {README_END}")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    new = text[:start] + readme_section(url) + text[end:]
    if new != text and write:
        README.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, only compare) the install lines and the README's links."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything disagrees")
    args = parser.parse_args(argv)
    url = repository_url()
    changed = [p.name for p in course_notebooks() if update_notebook(p, url, write=not args.check)]
    if update_readme(url, write=not args.check):
        changed.append(README.name)
    if "OWNER/REPO" in url:
        print(f"warning: pyproject.toml's Repository is still the placeholder {url}", file=sys.stderr)
    verb = "disagree with pyproject.toml's Repository" if args.check else "updated"
    print(f"{verb}: {', '.join(changed)}" if changed else f"all agree with {url}")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
