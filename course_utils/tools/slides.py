"""Build the lecture decks: one reveal.js deck per course notebook, plus `slides/index.html` and a PDF handout per deck.

    python -m course_utils.tools.slides [--cdn] [--no-pdf] [--out slides] [--vendor DIR] [NOTEBOOK ...]

Each deck comes from nbconvert's reveal exporter, driven by every cell's `metadata.slideshow.slide_type`
(`slide`, `subslide`, `fragment`, `-`, `skip`, `notes`). By default the decks work offline from `file://`:
reveal.js and MathJax 2 are fetched once from the npm registry (`npm pack`) into `<out>/vendor/` (not committed,
reused when present) and the decks point at them with relative paths; nbconvert's other network references
(jQuery, require.js, mermaid, widget manager, CDN fonts) are left out of the template, and the build refuses to
write an offline deck that still names a network address. `--cdn` writes decks that load reveal.js and MathJax
from a CDN instead (for hosting; nothing is fetched at build time).

PDF handouts: each offline deck is also printed to `<out>/<deck>.pdf` by headless Chromium (`?print-pdf`, networking
off), one page per slide; the build checks the page count. `--no-pdf` skips them; without Chromium they are skipped
with a note (Debian: `apt-get install chromium`, or set CHROMIUM to the browser's path).

Sizes at 1280x720 (the tests measure them in Chromium): code at least 20 px, other text at least 24 px, figure text
at least 14 pt as the figure is drawn on the slide (set by `course_utils.plot`'s style). Code wraps at the slide's
edge instead of being cut off; an output table (the `format_table` layout: header, a rule of dashes, rows) wider
than the slide is split into several tables stacked on the slide, each repeating the row labels.

What a cell shows on its slide (the notebook itself is unchanged and stays the only copy of the code):
- tags `remove-input` (or `hide-input`): only the output; `remove-output` (or `hide-output`): only the code;
  `slide-compact`: tighter lines and a smaller figure (a cell that must stay one cell; never below the sizes above).
- an excerpt of a long code cell, two ways; the slide shows `# … N lines (full code in the notebook)` in place of
  each hidden run:
  * marker comments in the code: the lines from a `# slide: hide` line to the next `# slide: show` line (or the end
    of the cell) are left out; the marker lines themselves never show;
  * cell metadata `"slide_excerpt": "1-12, 30-41"`: only these lines (1-based, inclusive) are shown; use it where
    the code must stay verbatim (a class that is also in the package, checked by the drift test).
- An error output shows its last line only (the exception and its message); the frames stay in the notebook.
- Deck and index titles are plain text: TeX in a heading (`$F(x) = H(x) - x$`) becomes Unicode (`F(x) = H(x) − x`).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from .browser import Browser, find_chromium
from .notebooks import NOTEBOOKS, ROOT, course_notebooks, display_path

# Pinned so that every build (and CI) gets the same files. reveal.js 6 moved the notes plugin, which breaks
# nbconvert's template; MathJax 3 has a different configuration API than the one nbconvert's template uses.
REVEAL_VERSION = "5.2.1"
MATHJAX_VERSION = "2.7.7"
MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"
CDN = "https://cdn.jsdelivr.net/npm"

DEFAULT_OUT = ROOT / "slides"
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
SLIDE_BOUNDS = (8, 30)  # what a course deck should have (slides + subslides)
THEME = "white"  # reveal.js theme with bundled fonts (some themes import web fonts)
WIDTH, HEIGHT = 1280, 720  # 16:9, scaled by reveal.js to the projector
# Type sizes in slide pixels. reveal.js scales the 1280x720 slide by 1 / (1 + MARGIN) in a 1280x720 window, so each
# size is set a little above the minimum it must reach on the screen.
MARGIN = 0.04
MIN_CODE_PX, MIN_TEXT_PX, MIN_FIGURE_PT = 20, 24, 14  # as rendered at 1280x720 (the browser test measures them)
CODE_PX, TEXT_PX = 21, 26
TABLE_CHARS = 86  # monospace characters of an output line that fit the slide's width at CODE_PX


_STAMP = ".course-vendor"
# MathJax 2 ships 60 MB; the decks use the TeX input and CommonHTML output with TeX fonts only.
_MATHJAX_PRUNE = ("unpacked", "test", "docs")
_MATHJAX_FONT_DIRS = ("fonts/HTML-CSS", "jax/output/HTML-CSS/fonts", "jax/output/SVG/fonts")


# --------------------------------------------------------------------------------------------------------------
# Notebook side: slide structure and titles
# --------------------------------------------------------------------------------------------------------------


def slide_type(cell: nbformat.NotebookNode) -> str:
    """The cell's slide type as nbconvert reads it (missing metadata means `-`)."""
    return (cell.metadata.get("slideshow") or {}).get("slide_type", "-")


def count_slides(nb: nbformat.NotebookNode) -> int:
    """Slides in the deck (horizontal slides + subslides), computed as nbconvert's reveal exporter will lay it out.

    The first visible cell always opens a slide, whatever its type; after it, every `slide` and `subslide` cell
    opens one.
    """
    types = [slide_type(c) for c in nb.cells]
    visible = [i for i, t in enumerate(types) if t not in ("skip", "notes")]
    if not visible:
        return 0
    return 1 + sum(t in ("slide", "subslide") for t in types[visible[0] + 1 :])


def _plain(markdown: str, strip: bool = True) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links -> their text
    text = re.sub(r"[*_`]+", "", text)
    return " ".join(text.split()) if strip else re.sub(r"\s+", " ", text)


_TEX_SYMBOLS = {
    "times": "×", "cdot": "·", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "le": "≤",
    "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "sim": "∼", "pm": "±", "infty": "∞",
    "sum": "∑", "prod": "∏", "partial": "∂", "nabla": "∇", "in": "∈", "ldots": "…", "dots": "…", "cdots": "⋯",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "circ": "∘", "odot": "⊙", "otimes": "⊗",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "varphi": "φ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "mathbb{R}": "ℝ",
    ",": "\u2009", ";": " ", ":": " ", "quad": " ", "qquad": "  ", "!": "", "left": "", "right": "", "{": "{", "}": "}",
}
_SUPERSCRIPT = str.maketrans("0123456789+-=()nix", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣ")
_SUBSCRIPT = str.maketrans("0123456789+-=()aeijklmnopstx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚₛₜₓ")
_SCRIPT_CHARS = {True: set("0123456789+-=()nix"), False: set("0123456789+-=()aeijklmnopstx")}


def _tex_formula_to_text(tex: str) -> str:
    """One formula (without its delimiters) as Unicode text: symbols, minus signs, simple sub- and superscripts."""
    t = re.sub(r"\\(?:mathrm|text|textrm|mathbf|mathit|operatorname|boldsymbol|mathcal)\s*\{([^{}]*)\}", r"\1", tex)
    t = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\1/\2", t)
    t = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"√(\1)", t)
    t = re.sub(r"\\mathbb\{R\}", "ℝ", t)
    binary = {"times", "cdot", "to", "rightarrow", "leftarrow", "Rightarrow", "le", "leq", "ge", "geq", "ne", "neq",
              "approx", "sim", "pm", "in", "circ", "odot", "otimes"}
    t = re.sub(r"\\([A-Za-z]+|[,;:!{}])",
               lambda m: (f" {_TEX_SYMBOLS[m.group(1)]} " if m.group(1) in binary else _TEX_SYMBOLS.get(m.group(1), m.group(1))), t)

    def script(m: re.Match, table: dict) -> str:
        body = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        if body and all(ch in _SCRIPT_CHARS[table is _SUPERSCRIPT] for ch in body):
            return body.translate(table)
        return ("^" if table is _SUPERSCRIPT else "_") + (body if len(body) == 1 else f"({body})")

    t = re.sub(r"\^\s*(?:\{([^{}]*)\}|(\S))", lambda m: script(m, _SUPERSCRIPT), t)
    t = re.sub(r"_\s*(?:\{([^{}]*)\}|(\S))", lambda m: script(m, _SUBSCRIPT), t)
    t = t.replace("{", "").replace("}", "")
    t = re.sub(r"(?<=[\w)\]}\s])-(?=[\s\w(])", "−", t)  # a minus sign, not a hyphen
    t = re.sub(r"^-", "−", t)
    return " ".join(t.split())


def tex_to_text(text: str) -> str:
    """`text` with every formula (`$..$`, `$$..$$`, `\\(..\\)`) turned into plain Unicode text, for places that do
    not typeset math: the browser tab, the index page, the PDF's outline."""

    def fix(m: re.Match) -> str:
        tex = m.group(0)
        for left, right in (("$$", "$$"), ("$", "$"), ("\\\\(", "\\\\)"), ("\\(", "\\)"), ("\\\\[", "\\\\]"), ("\\[", "\\]")):
            if tex.startswith(left) and tex.endswith(right) and len(tex) >= len(left) + len(right):
                return _tex_formula_to_text(tex[len(left) : len(tex) - len(right)])
        return _tex_formula_to_text(tex)

    return "".join(piece if is_code else _MATH.sub(fix, piece) for is_code, piece in _split_code(text))


def deck_title(nb: nbformat.NotebookNode, fallback: str = "") -> str:
    """The notebook's first markdown heading, as plain text with its TeX in Unicode (the index page and the browser
    tab show it; neither typesets math)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
            if m:
                heading, pos, parts = m.group(1), 0, []
                for formula in _MATH.finditer(heading):  # markdown marks come off the text, not the formulas
                    parts += [_plain(heading[pos : formula.start()], strip=False), tex_to_text(formula.group(0))]
                    pos = formula.end()
                return " ".join("".join([*parts, _plain(heading[pos:], strip=False)]).split())
    return fallback


def deck_name(notebook: Path) -> str:
    """The file name of a notebook's deck."""
    return f"{notebook.stem}.slides.html"


# --------------------------------------------------------------------------------------------------------------
# Math in markdown cells
# --------------------------------------------------------------------------------------------------------------

# The math delimiters nbconvert's markdown parser knows, in its order, plus the single-backslash LaTeX forms
# \(..\) and \[..\], which it (like JupyterLab's markdown) reads as escaped brackets and prints as plain "(n)".
_BODY = r"(?:(?!\n[ \t]*\n).)+?"  # a formula never spans a blank line (neither JupyterLab nor nbconvert allow it)
_MATH = re.compile(
    rf"(?P<dd>(?<!\\)\$\${_BODY}(?<!\\)\$\$)"
    rf"|(?P<bb>(?<!\\)\\\\\[{_BODY}(?<!\\)\\\\\])"
    rf"|(?P<b>(?<!\\)\\\[{_BODY}(?<!\\)\\\])"
    rf"|(?P<d>(?<![$\\])\${_BODY}(?<![$\\])\$)"
    rf"|(?P<pp>(?<!\\)\\\\\({_BODY}(?<!\\)\\\\\))"
    rf"|(?P<p>(?<!\\)\\\({_BODY}(?<!\\)\\\))"
    r"|(?P<env>\\begin\{(?P<name>[a-z]*\*?)\}.*?\\end\{(?P=name)\})",
    re.S,
)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?<!\\)(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


def _split_code(markdown: str) -> list[tuple[bool, str]]:
    """The markdown as (is_code, text) pieces: fenced code blocks and inline code spans hold no math."""
    pieces: list[tuple[bool, str]] = []
    buf: list[str] = []
    fence = ""
    for line in markdown.splitlines(keepends=True):
        m = _FENCE.match(line)
        if not fence and m:
            pieces.append((False, "".join(buf)))
            buf, fence = [line], m.group(1)
        elif fence:
            buf.append(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line[m.end():].strip():
                pieces.append((True, "".join(buf)))
                buf, fence = [], ""
        else:
            buf.append(line)
    pieces.append((bool(fence), "".join(buf)))
    out: list[tuple[bool, str]] = []
    for is_code, text in pieces:
        if is_code:
            out.append((True, text))
            continue
        pos = 0
        for m in _CODE_SPAN.finditer(text):
            out += [(False, text[pos : m.start()]), (True, m.group(0))]
            pos = m.end()
        out.append((False, text[pos:]))
    return [(c, t) for c, t in out if t]


def math_spans(markdown: str) -> list[str]:
    """Every formula in a markdown cell (outside code), as written: `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`, and
    `\\begin{env}..\\end{env}`; MathJax typesets each as one element."""
    return [m.group(0) for is_code, text in _split_code(markdown) if not is_code for m in _MATH.finditer(text)]


def single_backslash_math(markdown: str) -> list[str]:
    """Formulas delimited by `\\(..\\)` or `\\[..\\]` with ONE backslash: markdown (JupyterLab's too) reads them as
    escaped brackets and shows "(n)". Write `$..$`/`$$..$$` (or double the backslash) instead."""
    return [
        m.group(0)
        for is_code, text in _split_code(markdown)
        if not is_code
        for m in _MATH.finditer(text)
        if m.group("p") or m.group("b")
    ]


def math_for_slides(markdown: str) -> str:
    """The cell's markdown as nbconvert should see it: single-backslash `\\(..\\)`/`\\[..\\]` turned into
    `$..$`/`$$..$$`, and every formula on one line, so the deck shows the formula the author meant."""

    def fix(m: re.Match) -> str:
        tex = m.group(0)
        if m.group("p"):
            tex = "$" + tex[2:-2] + "$"
        elif m.group("b"):
            tex = "$$" + tex[2:-2] + "$$"
        # JupyterLab hides formulas from the markdown parser; nbconvert does not, so a formula broken over lines
        # whose next line starts with "+ " or "1. " turns into a list. TeX reads a newline as a space anyway.
        if not re.search(r"(?<!\\)%", tex):
            tex = re.sub(r"[ \t]*\n[ \t]*", " ", tex)
        return tex

    return "".join(text if is_code else _MATH.sub(fix, text) for is_code, text in _split_code(markdown))


# --------------------------------------------------------------------------------------------------------------
# Code and output as the slide shows them: excerpts of long cells, wide tables split
# --------------------------------------------------------------------------------------------------------------

EXCERPT_KEY = "slide_excerpt"  # cell metadata: the lines a slide shows, e.g. "1-12, 30-41"
_HIDE = re.compile(r"^\s*# slide: hide\s*$")
_SHOW = re.compile(r"^\s*# slide: show\s*$")


def excerpt_lines(spec: str, n_lines: int) -> list[bool]:
    """Which of a cell's `n_lines` lines a `slide_excerpt` spec like "1-12, 30-41" shows (1-based, inclusive)."""
    shown = [False] * n_lines
    for part in str(spec).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not m:
            raise ValueError(f"{EXCERPT_KEY} {spec!r}: write 1-based line ranges such as \"1-12, 30-41\"")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= n_lines:
            raise ValueError(f"{EXCERPT_KEY} {spec!r}: lines {lo}-{hi} are not within the cell's 1-{n_lines}")
        for i in range(lo - 1, hi):
            shown[i] = True
    return shown


def slide_source(source: str, excerpt: str | None = None) -> str:
    """The code a slide shows for a cell: without the lines between `# slide: hide` and `# slide: show` (or outside
    the `excerpt` line ranges), each hidden run replaced by one comment line saying how many lines it stands for."""
    lines = source.splitlines()
    if excerpt:
        keep: list[bool | None] = list(excerpt_lines(excerpt, len(lines)))
    else:
        if not any(_HIDE.match(line) or _SHOW.match(line) for line in lines):
            return source
        keep, hiding = [], False
        for line in lines:
            if _HIDE.match(line) or _SHOW.match(line):
                hiding = bool(_HIDE.match(line))
                keep.append(None)  # a marker: never shown, not counted
            else:
                keep.append(not hiding)
    out: list[str] = []
    hidden: list[str] = []

    def flush() -> None:
        if hidden:
            code = [h for h in hidden if h.strip()]
            indent = re.match(r"\s*", code[0]).group(0) if code else ""
            n = len(hidden)
            out.append(f"{indent}# … {n} line{'s' if n != 1 else ''} (full code in the notebook)")
            hidden.clear()

    for line, shown in zip(lines, keep):
        if shown is None:
            continue
        if shown:
            flush()
            out.append(line)
        else:
            hidden.append(line)
    flush()
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


_RULE = re.compile(r"^(-{2,})((?: +-{2,})*) *$")


def _table_spans(rule: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]


def _fits_columns(line: str, spans: list[tuple[int, int]]) -> bool:
    """A table row: blank wherever the rule has a gap between columns, and no longer than the table."""
    if not line.strip() or len(line.rstrip()) > spans[-1][1] + 2:
        return False
    gaps = [(a_end, b_start) for (_, a_end), (b_start, _) in zip(spans, spans[1:])]
    return all(not line[a:b].strip() for a, b in gaps)


def split_wide_tables(text: str, width: int = TABLE_CHARS) -> str:
    """`text` with each table in the `format_table` layout (header, rule of dashes, rows) that is wider than `width`
    characters split into tables stacked one under another, each repeating the row labels (the first column and
    any text columns right after it) and at most `width` characters wide."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        rule = lines[i + 1] if i + 1 < len(lines) else ""
        if not (_RULE.match(rule) and lines[i].strip() and len(_table_spans(rule)) > 1):
            out.append(lines[i])
            i += 1
            continue
        spans = _table_spans(rule)
        j = i + 2
        while j < len(lines) and _fits_columns(lines[j], spans):
            j += 1
        header, rows = lines[i], lines[i + 2 : j]
        if max(len(x.rstrip()) for x in (header, rule, *rows)) <= width:
            out += lines[i:j]
            i = j
            continue
        cells = [[x[a:b] for a, b in spans] for x in (header, rule, *rows)]
        keys = 1
        while keys < len(spans) - 1 and all(not re.match(r"\s*[-+]?[\d.,]", row[keys]) for row in cells[2:]):
            keys += 1
        key_width = spans[keys - 1][1] - spans[0][0]
        chunks: list[list[int]] = [[]]
        used = key_width
        for c in range(keys, len(spans)):
            w = spans[c][1] - spans[c][0] + 2
            if chunks[-1] and used + w > width:
                chunks.append([])
                used = key_width
            chunks[-1].append(c)
            used += w
        for n, chunk in enumerate(chunks):
            if n:
                out.append("")
            for row in cells:
                out.append("  ".join(row[c] for c in [*range(keys), *chunk]).rstrip())
        i = j
    return "\n".join(out)


_OUTPUT_PRE = re.compile(r"<pre>(?!<span></span>)(.*?)</pre>", re.S)


def _mark_tables(page: str) -> str:
    """In output `<pre>` blocks, each table (header, rule of dashes, rows) goes into a `<span class="slide-table">`,
    which the deck's CSS never wraps; the text around it wraps at the slide's edge like any output."""

    def mark(m: re.Match) -> str:
        lines = m.group(1).split("\n")
        plain = [html.unescape(re.sub(r"<[^>]*>", "", line)) for line in lines]
        out: list[str] = []
        i = 0
        while i < len(lines):
            if i + 1 < len(lines) and plain[i].strip() and _RULE.match(plain[i + 1]) and len(_table_spans(plain[i + 1])) > 1:
                spans = _table_spans(plain[i + 1])
                j = i + 2
                while j < len(lines) and _fits_columns(plain[j], spans):
                    j += 1
                out.append('<span class="slide-table">' + "\n".join(lines[i:j]) + "</span>")
                i = j
            else:
                out.append(lines[i])
                i += 1
        return "<pre>" + "\n".join(out).replace("</span>\n", "</span>") + "</pre>"

    return _OUTPUT_PRE.sub(mark, page)


def _for_slides(nb: nbformat.NotebookNode, name: str) -> None:
    """Turn the notebook (a copy read for the deck) into what the slides show: excerpts, split tables, math fixed."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = math_for_slides(cell.source)
        elif cell.cell_type == "code":
            try:
                cell.source = slide_source(cell.source, cell.metadata.get(EXCERPT_KEY))
            except ValueError as exc:
                raise RuntimeError(f"{name}: cell {i}: {exc}") from None
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("traceback"):
                    # the slide shows what the error says (its last line); the frames stay in the notebook
                    out["traceback"] = [out["traceback"][-1]]
                elif out.get("output_type") == "stream":
                    out["text"] = split_wide_tables(out.get("text", ""))
                elif "text/plain" in out.get("data", {}):
                    out["data"]["text/plain"] = split_wide_tables(out["data"]["text/plain"])


# --------------------------------------------------------------------------------------------------------------
# Vendored reveal.js and MathJax (offline decks)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorPackage:
    name: str  # npm package name
    version: str
    folder: str  # folder under the vendor directory

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


REVEAL = VendorPackage("reveal.js", REVEAL_VERSION, "reveal.js")
MATHJAX = VendorPackage("mathjax", MATHJAX_VERSION, "mathjax")
PACKAGES = (REVEAL, MATHJAX)


def _is_vendored(vendor: Path, pkg: VendorPackage) -> bool:
    stamp = vendor / pkg.folder / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == pkg.spec


def _prune_mathjax(root: Path) -> None:
    for name in _MATHJAX_PRUNE:
        shutil.rmtree(root / name, ignore_errors=True)
    for fonts in _MATHJAX_FONT_DIRS:
        folder = root / fonts
        if folder.is_dir():
            for sub in folder.iterdir():
                if sub.is_dir() and sub.name != "TeX":
                    shutil.rmtree(sub)


def _npm_pack(spec: str, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed once to fetch reveal.js and MathJax for offline decks (Debian: apt-get install npm); "
            "or build CDN-linked decks with --cdn"
        )
    proc = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(dest), "--json", "--silent"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        said = (proc.stderr.strip() or proc.stdout.strip())[-600:]
        raise RuntimeError(f"`npm pack {spec}` failed (exit status {proc.returncode}): "
                           + (said or "npm printed nothing, which usually means the npm registry cannot be reached"))
    tarballs = sorted(dest.glob("*.tgz"))
    if not tarballs:
        filename = json.loads(proc.stdout)[0]["filename"]
        tarballs = [dest / filename]
    return tarballs[0]


def _extract(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without the extraction filters
            tar.extractall(dest)  # noqa: S202 - a registry tarball, names checked by npm


def vendor_missing_message(vendor: Path, cause: BaseException | str) -> str:
    """What is missing for offline decks, why it could not be fetched, and the three ways to get it."""
    missing = [p for p in PACKAGES if not _is_vendored(vendor, p)]
    what = " and ".join(f"{p.spec} (in {vendor / p.folder})" for p in missing)
    return (
        f"offline decks need {what}, which are not there and could not be fetched: {cause}\n"
        "Ways out:\n"
        f"  1. connect to the internet (npm must reach registry.npmjs.org) and run again: they are fetched once "
        f"(about 30 MB) into {vendor};\n"
        f"  2. copy the folder {vendor} from a machine that built the decks (its reveal.js/ and mathjax/ folders, "
        f"each with its {_STAMP} file), or point --vendor at such a folder;\n"
        "  3. build decks that load reveal.js and MathJax from a CDN instead: python3 course.py slides --cdn."
    )


def ensure_vendor(vendor: Path, *, quiet: bool = False) -> Path:
    """Make sure `vendor/` holds the pinned reveal.js and MathJax (fetching them with `npm pack` if not)."""
    vendor.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if _is_vendored(vendor, pkg):
            continue
        if not quiet:
            print(f"fetching {pkg.spec} from the npm registry into {vendor}", flush=True)
        with tempfile.TemporaryDirectory(dir=vendor, prefix=".fetch-") as tmp:
            tmp_path = Path(tmp)
            try:
                tarball = _npm_pack(pkg.spec, tmp_path)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                raise RuntimeError(vendor_missing_message(vendor, exc)) from None
            _extract(tarball, tmp_path / "x")
            unpacked = tmp_path / "x" / "package"
            if pkg is MATHJAX:
                _prune_mathjax(unpacked)
            (unpacked / _STAMP).write_text(pkg.spec + "\n")
            target = vendor / pkg.folder
            shutil.rmtree(target, ignore_errors=True)
            unpacked.rename(target)
    return vendor


# --------------------------------------------------------------------------------------------------------------
# The deck template (nbconvert's reveal template with the network references taken out)
# --------------------------------------------------------------------------------------------------------------

_CSS = """
/* course decks: code and text readable from the back row, nothing cut off (long lines wrap; a slide that is still
   too tall fails the browser test), figures that fit */
:root {
  --jp-content-font-size1: __TEXT__px;
  --jp-ui-font-size1: __TEXT__px;
  --jp-code-font-size: __CODE__px;
  --jp-code-line-height: 1.3;
  --jp-cell-prompt-width: 0px;
  --jp-content-font-family: "Source Sans Pro", Helvetica, Arial, sans-serif;
}
.reveal { font-size: __TEXT__px; }
.reveal .slides { text-align: left; }
.reveal .slides section section { max-height: __HEIGHT__px; overflow: hidden; }
/* the bottom band stays clear for the slide number (bottom left) and the arrows (bottom right) */
.reveal .slides section section { padding: 0 8px 40px; box-sizing: border-box; }
.reveal h1 { font-size: 56px; line-height: 1.15; margin-bottom: 0.45em; }
.reveal h2 { font-size: 44px; line-height: 1.2; margin-bottom: 0.45em; }
.reveal h3 { font-size: 34px; margin-bottom: 0.4em; }
.reveal h4, .reveal h5, .reveal h6 { font-size: 30px; }
.reveal h1, .reveal h2, .reveal h3, .reveal h4 { text-transform: none; }
.reveal .jp-RenderedHTMLCommon { font-size: var(--jp-content-font-size1); line-height: 1.35; overflow: visible; }
.reveal .jp-RenderedHTMLCommon p, .reveal .jp-RenderedHTMLCommon li { font-size: inherit; }
.reveal .jp-RenderedHTMLCommon small, .reveal .jp-RenderedHTMLCommon sub, .reveal .jp-RenderedHTMLCommon sup {
  font-size: inherit;
}
/* tables keep their words whole: a column is as wide as its longest word */
.reveal .jp-RenderedHTMLCommon table { font-size: __TEXT__px; table-layout: auto; margin: 0.4em 0; }
.reveal .jp-RenderedHTMLCommon th, .reveal .jp-RenderedHTMLCommon td {
  padding: 0.15em 0.45em; word-break: keep-all; overflow-wrap: normal; hyphens: none; width: auto;
}
.reveal .jp-RenderedHTMLCommon td .mjx-full-width, .reveal .jp-RenderedHTMLCommon td .MathJax_CHTML {
  width: auto !important; display: inline-block;
}
.reveal .jp-InputArea, .reveal .jp-Cell-inputWrapper, .reveal .jp-OutputArea { overflow: visible; }
.reveal .jp-RenderedHTMLCommon code, .reveal code { font-size: max(0.85em, __CODE__px); }
.reveal .jp-InputArea-editor { border: 1px solid #d0d7de; border-radius: 4px; background: #f6f8fa; }
/* code wraps at the slide's edge, between words (JupyterLab's outputs break anywhere: "2 thread / s"); a long name
   breaks only when nothing else can */
.reveal div.highlight > pre, .reveal .jp-OutputArea-output > pre, .reveal pre {
  font-size: var(--jp-code-font-size); line-height: var(--jp-code-line-height); width: 100%; box-sizing: border-box;
  white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; overflow: visible; max-height: none;
  box-shadow: none;
}
.reveal pre code { font-size: inherit; max-height: none; overflow: visible; white-space: inherit; }
/* an output table (header, rule of dashes, rows) never wraps: the builder splits one too wide for the slide */
.reveal pre .slide-table { display: block; white-space: pre; overflow-wrap: normal; }
.reveal .jp-OutputArea-output img { max-height: __IMG__px; width: auto; max-width: 100%; margin: 4px 0; }
/* reveal.js spaces blocks 20 px apart; a slide that shows a cell and its output needs the room */
.reveal pre { margin: 6px 0; }
.reveal .jp-Cell { padding: 2px 0; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
/* the slide number sits bottom left, clear of the navigation arrows (bottom right) */
.reveal .slide-number { font-size: 20px; background: rgba(0, 0, 0, 0.55); left: 8px; right: auto; bottom: 8px; }
.reveal mjx-container, .reveal .MathJax_CHTML { font-size: 105%; }
.reveal .celltag_slide-compact div.highlight > pre, .reveal .celltag_slide-compact .jp-OutputArea-output > pre {
  font-size: __CODE__px; line-height: 1.18;
}
.reveal .celltag_slide-compact.jp-RenderedHTMLCommon { font-size: __TEXT__px; line-height: 1.25; }
.reveal .celltag_slide-compact .jp-OutputArea-output img { max-height: __IMG_COMPACT__px; }
/* the PDF handout: one page per slide, nothing hidden */
html.print-pdf .reveal .slides section section { overflow: visible; }
"""
for _key, _value in {"__HEIGHT__": HEIGHT, "__IMG__": int(HEIGHT * 0.75), "__IMG_COMPACT__": int(HEIGHT * 0.55),
                     "__TEXT__": TEXT_PX, "__CODE__": CODE_PX}.items():  # fmt: skip
    _CSS = _CSS.replace(_key, str(_value))

_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}

{#- no jQuery, require.js or mermaid: the decks need none of them, and they are network references -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}

{%- block body_header -%}
<style type="text/css">
{{ resources.course_css }}
</style>
{{ super() }}
{%- endblock body_header -%}

{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
(function () {
  if (window.MathJax && MathJax.Hub && MathJax.Hub.Config) {
    // break long formulas a little inside the slide: MathJax's width estimate runs a few pixels over
    MathJax.Hub.Config({CommonHTML: {linebreaks: {automatic: true, width: "96% container"}}});
  }
  function rerenderMath() {
    // MathJax measured hidden slides at width 0; typeset the current one again now that it is visible
    if (window.MathJax && MathJax.Hub && MathJax.Hub.Queue) {
      MathJax.Hub.Queue(["Rerender", MathJax.Hub, Reveal.getCurrentSlide()]);
    }
  }
  Reveal.initialize({
    controls: true,
    progress: true,
    hash: true,
    center: true,
    slideNumber: "{{ resources.reveal.number }}",
    showSlideNumber: "all",
    transition: "{{ resources.reveal.transition }}",
    width: {{ resources.reveal.width }},
    height: {{ resources.reveal.height }},
    margin: {{ resources.course_margin }},
    pdfSeparateFragments: false,
    pdfMaxPagesPerSlide: 1,
    plugins: [RevealNotes]
  });
  Reveal.on("slidechanged", rerenderMath);
})();
</script>
{% endblock footer_js %}
"""

_TEMPLATE_NAME = "course_slides.html.j2"


def _exporter(reveal_prefix: str, mathjax_url: str):
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.SlidesExporter.reveal_url_prefix = reveal_prefix
    c.SlidesExporter.reveal_theme = THEME
    c.SlidesExporter.reveal_transition = "slide"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_width = str(WIDTH)
    c.SlidesExporter.reveal_height = str(HEIGHT)
    c.SlidesExporter.mathjax_url = mathjax_url
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output", "hide-output"}
    exporter = SlidesExporter(
        config=c,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
    )
    # the "missing alt text" warning fires for every matplotlib figure; nothing in a notebook can set it
    exporter.log.setLevel(logging.ERROR)
    return exporter


# --------------------------------------------------------------------------------------------------------------
# Network references left in a deck
# --------------------------------------------------------------------------------------------------------------

_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, ws://, //host
_LOADING_ATTRS = {"src", "href", "data", "poster", "srcset", "action"}
_CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:[a-z][a-z0-9+.-]*:)?//[^'")\s]+)""", re.I)
_JS_REMOTE = re.compile(r"""(?:import\s*(?:[^'";]*?\bfrom\s*)?|import\(\s*|src\s*=\s*)['"]((?:https?:)?//[^'"]+)""", re.I)


class _RefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self.refs += _CSS_REMOTE.findall(value)
            # a plain link (<a href>) is followed only when someone clicks it; everything else loads by itself
            if tag != "a" and name in _LOADING_ATTRS and _REMOTE.match(value):
                self.refs.append(value)

    def handle_endtag(self, tag):
        self._tag = ""

    def handle_data(self, data):
        if self._tag == "style":
            self.refs += _CSS_REMOTE.findall(data)
        elif self._tag == "script":
            self.refs += _JS_REMOTE.findall(data)


def network_references(page: str) -> list[str]:
    """Addresses that a page would load from the network by itself (scripts, styles, fonts, images, imports)."""
    parser = _RefParser()
    parser.feed(page)
    parser.close()
    return sorted(set(parser.refs))


# --------------------------------------------------------------------------------------------------------------
# Building decks and the index page
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Deck:
    notebook: Path
    html: Path
    title: str
    slides: int


def _urls(out: Path, vendor: Path, cdn: bool) -> tuple[str, str]:
    if cdn:
        reveal = f"{CDN}/{REVEAL.spec}"
        mathjax = f"{CDN}/{MATHJAX.spec}/MathJax.js?config={MATHJAX_CONFIG}"
    else:
        rel = Path(os.path.relpath(vendor.resolve(), out.resolve())).as_posix()
        reveal = f"{rel}/{REVEAL.folder}"
        mathjax = f"{rel}/{MATHJAX.folder}/MathJax.js?config={MATHJAX_CONFIG}"
    return reveal, mathjax


def build_deck(notebook: Path, out: Path, *, cdn: bool = False, vendor: Path | None = None) -> Deck:
    """Write `<out>/<notebook stem>.slides.html` and return what the index page needs about it."""
    out.mkdir(parents=True, exist_ok=True)
    vendor = vendor if vendor is not None else out / "vendor"
    if not notebook.is_file():
        raise RuntimeError(f"{notebook}: no such notebook")
    nb = nbformat.read(notebook, as_version=4)
    title = deck_title(nb, fallback=notebook.stem)
    nb.metadata.pop("widgets", None)  # widget state would pull the widget manager from a CDN
    nb.metadata["title"] = title
    _for_slides(nb, notebook.name)
    reveal, mathjax = _urls(out, vendor, cdn)
    exporter = _exporter(reveal, mathjax)
    resources = {"metadata": {"name": notebook.stem, "path": str(notebook.parent)}, "course_css": _CSS,
                 "course_margin": MARGIN}
    try:
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    except ValueError as exc:  # e.g. every cell is `skip`
        raise RuntimeError(f"{notebook.name}: {exc}") from exc
    if not cdn:
        remote = network_references(body)
        if remote:
            raise RuntimeError(f"{notebook.name}: the offline deck would load from the network: {remote}")
    target = out / deck_name(notebook)
    target.write_text(_mark_tables(body), encoding="utf-8")
    return Deck(notebook, target, title, count_slides(nb))


# --------------------------------------------------------------------------------------------------------------
# PDF handouts: headless Chromium prints `?print-pdf`, networking off
# --------------------------------------------------------------------------------------------------------------

def pdf_pages(pdf: Path) -> int:
    """Pages in a PDF that Chromium wrote (its page objects are not compressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf.read_bytes()))


# Set before any page script runs: reveal.js announces the finished print layout with a `pdf-ready` event.
_JS_LISTEN_PDF_READY = "document.addEventListener('pdf-ready', () => { window.__coursePdfReady = true; }, true);"

# Resolves once reveal.js has laid the deck out for print and MathJax (if the deck has it) has nothing left to do:
# every formula processed (not waiting to be drawn again after the print layout changed the widths), its queue empty,
# and both still true 0.3 s later; then two more frames. False after `limit` ms.
_JS_PRINT_READY = """new Promise(resolve => {
  const t0 = Date.now();
  const mathDone = () => {
    if (!window.MathJax) return true;
    const hub = MathJax.Hub;
    if (!(MathJax.isReady && hub && hub.queue && window.MathJax.ElementJax)) return false;
    if (hub.queue.pending || hub.queue.running) return false;
    const processed = MathJax.ElementJax.STATE.PROCESSED;
    return Array.from(document.querySelectorAll('script[type^="math/tex"]'))
      .every(s => s.MathJax && s.MathJax.state === processed);
  };
  let calm = 0;
  (function poll() {
    calm = window.__coursePdfReady && document.fonts.status === 'loaded' && mathDone() ? calm + 1 : 0;
    if (calm >= 4) { requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))); }
    else if (Date.now() - t0 > %d) { resolve(false); } else { setTimeout(poll, 100); }
  })();
})"""

# Formulas on the printed pages (not in the hidden speaker notes) that take no room, i.e. are not drawn: their TeX.
_JS_UNDRAWN_MATH = """Array.from(document.querySelectorAll('script[type^="math/tex"]'))
  .filter(s => s.closest('.pdf-page') && !s.closest('aside.notes, .speaker-notes'))
  .filter(s => { const out = document.getElementById(s.id + '-Frame');
                 if (!out) return true;
                 const r = document.createRange(); r.selectNodeContents(out);
                 return !(r.getBoundingClientRect().width > 0); })
  .map(s => s.textContent.slice(0, 60))"""


def print_pdf(deck: Deck, browser: Browser, *, timeout: float = 120) -> Path:
    """Print `deck` to `<deck>.pdf` next to it (one page per slide, fragments shown) and check the page count.

    The page is printed only when reveal.js has announced its print layout (`pdf-ready`) and MathJax has drawn every
    formula for it, so a busy machine makes the print slower, never wrong."""
    target = deck.html.with_name(deck.html.name.removesuffix(".slides.html") + ".pdf")
    target.unlink(missing_ok=True)
    page, session = browser.open_page()
    try:
        browser.send("Page.enable", {}, session)
        browser.send("Page.addScriptToEvaluateOnNewDocument", {"source": _JS_LISTEN_PDF_READY}, session)
        browser.send("Page.navigate", {"url": deck.html.resolve().as_uri() + "?print-pdf"}, session)
        try:
            browser.wait_event("Page.loadEventFired", session, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(f"{deck.html.name}: the deck did not load within {timeout:.0f} s") from None
        if not browser.evaluate(session, _JS_PRINT_READY % int(timeout * 1000), timeout=timeout + 10):
            raise RuntimeError(f"{deck.html.name}: reveal.js did not lay the deck out for print, or MathJax did not "
                               f"finish, within {timeout:.0f} s (open it in a browser with ?print-pdf to see why)")  # fmt: skip
        undrawn = browser.evaluate(session, _JS_UNDRAWN_MATH)
        if undrawn:
            raise RuntimeError(f"{deck.html.name}: {len(undrawn)} formula(s) not drawn in the print layout, e.g. "
                               f"{undrawn[0]!r}; print again, and if it persists, open the deck with ?print-pdf")  # fmt: skip
        pdf = browser.send("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True,
                                               "displayHeaderFooter": False}, session, timeout=timeout)  # fmt: skip
    finally:
        browser.close_page(page, session)
    target.write_bytes(base64.b64decode(pdf["data"]))
    pages = pdf_pages(target)
    if pages != deck.slides:
        raise RuntimeError(f"{target.name}: {pages} pages for {deck.slides} slides; a slide taller than the page "
                           "spilled over (make it fit: the browser test names it) or a slide is missing")
    return target


_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>
  body {{ font-family: "Source Sans Pro", Helvetica, Arial, sans-serif; max-width: 52rem; margin: 3rem auto;
         padding: 0 1.5rem; color: #222; line-height: 1.5; font-size: 1.15rem; }}
  h1 {{ font-size: 2.2rem; margin-bottom: 0.2rem; }}
  ol {{ padding-left: 0; list-style: none; counter-reset: none; }}
  li {{ display: flex; align-items: baseline; gap: 0.8rem; padding: 0.6rem 0; border-bottom: 1px solid #e3e3e3; }}
  .num {{ font-variant-numeric: tabular-nums; color: #888; min-width: 2rem; }}
  a {{ color: #1a5fb4; text-decoration: none; font-weight: 600; }}
  a:hover {{ text-decoration: underline; }}
  .meta {{ color: #777; font-size: 0.95rem; margin-left: auto; white-space: nowrap; }}
  .keys {{ color: #555; font-size: 1rem; }}
  kbd {{ border: 1px solid #bbb; border-radius: 3px; padding: 0 0.3em; background: #f5f5f5; }}
</style>
</head>
<body>
<h1>{heading}</h1>
<p class="keys">{mode}. Keys in a deck: <kbd>→</kbd>/<kbd>Space</kbd> next, <kbd>S</kbd> speaker notes,
<kbd>F</kbd> full screen, <kbd>Esc</kbd> overview, <kbd>?</kbd> all shortcuts.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


def _number(stem: str) -> str:
    m = re.match(r"(\d+)_", stem)
    return m.group(1) if m else ""


def _index_title(deck: Deck) -> str:
    """The title without a leading "01 ·" when the index shows the number anyway."""
    num = _number(deck.notebook.stem)
    if num:
        return re.sub(rf"^0*{int(num)}\s*[·.:\-–—]\s+", "", deck.title) or deck.title
    return deck.title


def write_index(decks: list[Deck], out: Path, *, cdn: bool = False) -> Path:
    """`<out>/index.html`: the decks in course order, each with its title and slide count."""
    items = "\n".join(
        f'<li><span class="num">{html.escape(_number(d.notebook.stem))}</span>'
        f'<a href="{html.escape(d.html.name)}">{html.escape(_index_title(d))}</a>'
        f'<span class="meta">{d.slides} slides</span></li>'
        for d in decks
    )
    mode = "Decks load reveal.js and MathJax from a CDN" if cdn else "These decks work offline, straight from the folder"
    page = _INDEX.format(heading="Convolutional neural networks — lecture slides", items=items, mode=mode)
    target = out / "index.html"
    target.write_text(page, encoding="utf-8")
    return target


def _indexed_decks(built: list[Deck], out: Path) -> list[Deck]:
    """Every course deck present in `out` (also from earlier builds) in course order, then any other built deck."""
    decks: list[Deck] = []
    by_html = {d.html.name: d for d in built}
    for nb_path in course_notebooks():
        name = deck_name(nb_path)
        if name in by_html:
            decks.append(by_html.pop(name))
        elif (out / name).is_file():
            nb = nbformat.read(nb_path, as_version=4)
            decks.append(Deck(nb_path, out / name, deck_title(nb, nb_path.stem), count_slides(nb)))
    decks += sorted(by_html.values(), key=lambda d: d.notebook.name)
    return decks


def build(
    notebooks: list[Path] | None = None,
    out: Path = DEFAULT_OUT,
    *,
    cdn: bool = False,
    vendor: Path | None = None,
    quiet: bool = False,
    pdf: bool = False,
) -> list[Deck]:
    """Build decks for `notebooks` (default: every course notebook) into `out`, and the index page; with `pdf`, also
    a PDF handout per offline deck (skipped with a note when Chromium is missing)."""
    notebooks = list(notebooks) if notebooks else course_notebooks()
    if not notebooks:
        raise RuntimeError(f"no notebooks to build (none given, and no NN_name.ipynb in {NOTEBOOKS})")
    out = Path(out)
    vendor = Path(vendor) if vendor is not None else out / "vendor"
    if not cdn:
        ensure_vendor(vendor, quiet=quiet)
    built = []
    for nb_path in notebooks:
        deck = build_deck(Path(nb_path), out, cdn=cdn, vendor=vendor)
        built.append(deck)
        if not quiet:
            lo, hi = SLIDE_BOUNDS
            note = "" if lo <= deck.slides <= hi else f"  (outside {lo}-{hi})"
            print(f"{display_path(deck.html)}: {deck.slides} slides — {deck.title}{note}", flush=True)
    index = write_index(_indexed_decks(built, out), out, cdn=cdn)
    if not quiet:
        print(f"index: {display_path(index)}", flush=True)
    if pdf and not cdn:
        chromium = find_chromium()
        if os.name == "nt":
            print("slides: PDF handouts skipped: printing them needs Linux or macOS (or WSL). Open a deck with "
                  "?print-pdf after its address and print it from the browser instead.", file=sys.stderr)
        elif chromium is None:
            print("slides: PDF handouts skipped: Chromium is not installed (Debian: apt-get install chromium; or set "
                  "CHROMIUM to the browser's path). Use --no-pdf to skip them without this note.", file=sys.stderr)
        else:
            with Browser(chromium) as browser:
                for deck in built:
                    handout = print_pdf(deck, browser)
                    if not quiet:
                        print(f"{display_path(handout)}: {deck.slides} pages", flush=True)
    return built


def main(argv: list[str] | None = None) -> int:
    """Run the slides CLI; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK",
                        help="notebooks to build (default: every course notebook)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: slides/)")
    parser.add_argument("--cdn", action="store_true", help="link reveal.js and MathJax from a CDN (for hosting)")
    parser.add_argument("--vendor", type=Path, default=None,
                        help="where reveal.js and MathJax are kept for offline decks (default: OUT/vendor)")
    parser.add_argument("--no-pdf", action="store_true",
                        help="skip the PDF handouts (by default each offline deck is printed by headless Chromium)")
    args = parser.parse_args(argv)
    try:
        build(args.notebooks, args.out, cdn=args.cdn, vendor=args.vendor, pdf=not args.no_pdf)
    except RuntimeError as exc:  # BrowserError too
        print(f"slides: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
