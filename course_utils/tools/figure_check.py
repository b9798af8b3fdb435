"""Find text drawn over other text in the figures of the course's notebooks.

Runs each notebook (quick mode unless COURSE_QUICK says otherwise) with its figures kept open, then lists, per
figure, the pairs of texts whose drawn boxes overlap (`course_utils.plot.overlapping_text`): titles over axis labels,
crowded tick labels, a legend over a label. Exit status 1 when any figure has such a pair.

    python -m course_utils.tools.figure_check [NOTEBOOK ...]    (default: every course notebook)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .notebooks import course_notebooks, display_path

_KEEP_FIGURES = "%config InlineBackend.close_figures = False"
_REPORT = """
import json as _json
import matplotlib.pyplot as _plt
from course_utils import plot as _plot
_found = []
for _n in _plt.get_fignums():
    _f = _plt.figure(_n)
    _titles = [a.get_title() for a in _f.axes if a.get_title()]
    _name = _titles[0] if _titles else (_f.get_suptitle() or f"figure {_n}")
    _found.append([" ".join(_name.split())[:70], _plot.overlapping_text(_f)])
print("FIGURES " + _json.dumps(_found))
"""


def figure_overlaps(path: Path, timeout: int = 900) -> list[tuple[str, list[tuple[str, str]]]]:
    """Run the notebook at `path` and return, for every figure it leaves, (its title, overlapping text pairs)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_KEEP_FIGURES))
    nb.cells.append(nbformat.v4.new_code_cell(_REPORT))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    line = next(line for line in text.splitlines() if line.startswith("FIGURES "))
    return [(name, [tuple(p) for p in pairs]) for name, pairs in json.loads(line.removeprefix("FIGURES "))]


def main(argv: list[str] | None = None) -> int:
    """Check the notebooks' figures; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.figure_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK", help="default: every course notebook")
    args = parser.parse_args(argv)
    os.environ.setdefault("COURSE_QUICK", "1")
    bad = 0
    for path in args.notebooks or course_notebooks():
        if not path.is_file():
            print(f"{path}: no such notebook", file=sys.stderr)
            return 2
        figures = figure_overlaps(path)
        problems = [(name, pairs) for name, pairs in figures if pairs]
        print(f"{display_path(path)}: {len(figures)} figure(s), {len(problems)} with text over text", flush=True)
        for name, pairs in problems:
            bad += 1
            print(f"  {name!r}: " + "; ".join(f"{a!r} over {b!r}" for a, b in pairs))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
