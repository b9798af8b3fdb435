"""Lecture decks (course_utils/tools/slides.py): structure, offline build, and a real browser opening every deck from file://.

The browser part drives Debian's headless Chromium over the DevTools protocol (course_utils.tools.browser, through a pipe) with its
networking off: every deck must show the expected number of slides, typeset all math (no raw `$$`/`\\(` left),
load every resource from disk (no failed or network request, no script error), and draw a title slide and a formula
slide that are not blank. Then every slide is shown at 1280x720 and must fit: nothing out of the slide or cut off in its
box, code at least 20 px, other text at least 24 px, figure text (the course style's smallest size, from the PNG's
dpi and the width it is drawn at) at least 14 pt, speaker notes on every section, the slide number clear of the
controls; each failure names the deck, the slide number, its title and the element. Set SLIDES_SCREENSHOTS=DIR to keep
the screenshots.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils.tools import slides
from course_utils.tools.browser import Browser, BrowserError
from course_utils.tools.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "slides" / "slides_fixture.ipynb"
FIXTURE_SLIDES = 7  # title, goals, formula, formula subslide, figure, code, summary
COURSE = course_notebooks()
LO, HI = slides.SLIDE_BOUNDS


def _ids(paths):
    return [p.stem for p in paths]


def expected_math(nb) -> int:
    """Formulas the deck must typeset: those in markdown cells that are not skipped (speaker notes included)."""
    return sum(len(slides.math_spans(c.source)) for c in nb.cells
               if c.cell_type == "markdown" and slides.slide_type(c) != "skip")


# ------------------------------------------------------------------------------------------------------------------
# The notebooks' slide structure (no browser)
# ------------------------------------------------------------------------------------------------------------------


def test_fixture_has_what_the_browser_test_needs():
    nb = nbformat.read(FIXTURE, as_version=4)
    types = [slides.slide_type(c) for c in nb.cells]
    assert all("slideshow" in c.metadata for c in nb.cells)
    assert {"slide", "subslide", "fragment", "-", "skip", "notes"} <= set(types)
    shown = [c for c in nb.cells if slides.slide_type(c) not in ("skip", "notes")]
    shown_md = "\n".join(c.source for c in shown if c.cell_type == "markdown")
    assert "$$" in shown_md and re.search(r"(?<!\$)\$[^$]+\$(?!\$)", shown_md)
    assert "\\\\(" in shown_md  # \\( .. \\): what JupyterLab and nbconvert read as inline math
    assert slides.single_backslash_math(shown_md)  # \( .. \): the deck builder turns it into math too
    assert expected_math(nb) == 11
    assert any(c.cell_type == "code" for c in shown)
    assert any("image/png" in o.get("data", {}) for c in shown if c.cell_type == "code" for o in c.outputs)
    assert slides.count_slides(nb) == FIXTURE_SLIDES
    assert slides.deck_title(nb) == "Slides fixture: a tiny lecture"


def test_count_slides_follows_nbconvert_rules():
    def nb_of(*types):
        cells = [nbformat.v4.new_markdown_cell("x", metadata={"slideshow": {"slide_type": t}}) for t in types]
        return nbformat.v4.new_notebook(cells=cells)

    assert slides.count_slides(nb_of("skip", "-", "fragment", "slide")) == 2  # first shown cell opens a slide
    assert slides.count_slides(nb_of("slide", "subslide", "-", "notes", "slide", "skip")) == 3
    assert slides.count_slides(nb_of("skip", "notes")) == 0
    no_meta = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")])
    assert slides.count_slides(no_meta) == 1 and slides.deck_title(no_meta) == "T"


def test_deck_title_is_plain_text():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Intro\n\n## 03 · **Padding** and `stride` ##")])
    assert slides.deck_title(nb) == "03 · Padding and stride"
    assert slides.deck_title(nbformat.v4.new_notebook(), fallback="x") == "x"


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_course_notebook_is_a_lecture_deck(path):
    nb = nbformat.read(path, as_version=4)
    missing = [i for i, c in enumerate(nb.cells) if slides.slide_type(c) not in slides.SLIDE_TYPES
               or "slide_type" not in c.metadata.get("slideshow", {})]
    assert not missing, f"cells without a valid metadata.slideshow.slide_type: {missing}"
    n = slides.count_slides(nb)
    assert LO <= n <= HI, f"{path.name}: {n} slides (slide + subslide), the course aims for {LO}-{HI}"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and slides.slide_type(first) == "slide", "the title cell opens the deck"
    assert slides.deck_title(nb), "the deck needs a markdown heading for its title"


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_course_notebook_math_uses_delimiters_jupyter_renders(path):
    nb = nbformat.read(path, as_version=4)
    bad = {i: slides.single_backslash_math(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"}
    bad = {i: found for i, found in bad.items() if found}
    assert not bad, (f"{path.name}: markdown reads \\( \\) and \\[ \\] with one backslash as plain brackets "
                     f"(JupyterLab shows '(n)'); write $..$ / $$..$$ instead. Cells: {bad}")


def test_math_spans_and_single_backslash_rewrite():
    md = ("A \\(n\\), \\\\(m\\\\), $x$, $$y$$, \\[ z \\], `$code$` and \\begin{align} a \\end{align}\n"
          "```python\nx = '$not math$'\n```\nafter $q$")
    assert slides.math_spans(md) == ["\\(n\\)", "\\\\(m\\\\)", "$x$", "$$y$$", "\\[ z \\]",
                                     "\\begin{align} a \\end{align}", "$q$"]
    assert slides.single_backslash_math(md) == ["\\(n\\)", "\\[ z \\]"]
    fixed = slides.math_for_slides(md)
    assert fixed.startswith("A $n$, \\\\(m\\\\), $x$, $$y$$, $$ z $$, `$code$`") and "'$not math$'" in fixed
    assert slides.math_spans(fixed) == ["$n$", "\\\\(m\\\\)", "$x$", "$$y$$", "$$ z $$",
                                        "\\begin{align} a \\end{align}", "$q$"]
    # a formula broken over lines goes on one line (else "+ 1" at a line start becomes a list in nbconvert);
    # a formula never spans a blank line
    assert slides.math_for_slides("size $\\lfloor n/2 \\rfloor\n+ 1$ here") == "size $\\lfloor n/2 \\rfloor + 1$ here"
    assert slides.math_spans("costs $5\n\nand $6") == []


# ------------------------------------------------------------------------------------------------------------------
# Building (no browser)
# ------------------------------------------------------------------------------------------------------------------


class _Sections(HTMLParser):
    """Leaf <section>s (reveal.js slides) and the text of speaker notes."""

    def __init__(self):
        super().__init__()
        self.stack: list[list[bool]] = []  # per open section: [has child section]
        self.leaves = 0
        self.in_notes = 0
        self.notes = ""

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            if self.stack:
                self.stack[-1][0] = True
            self.stack.append([False])
        elif tag == "aside" and ("class", "notes") in attrs:
            self.in_notes += 1

    def handle_endtag(self, tag):
        if tag == "section":
            has_child = self.stack.pop()[0]
            self.leaves += not has_child
        elif tag == "aside" and self.in_notes:
            self.in_notes -= 1

    def handle_data(self, data):
        if self.in_notes:
            self.notes += data


@pytest.fixture(scope="module")
def fixture_decks(tmp_path_factory):
    """The fixture built offline and with --cdn (the vendor folder need not exist to write a deck)."""
    base = tmp_path_factory.mktemp("decks")
    vendor = base / "shared-vendor"
    offline = slides.build_deck(FIXTURE, base / "offline", vendor=vendor)
    cdn = slides.build_deck(FIXTURE, base / "cdn", cdn=True)
    return offline, cdn


def test_offline_deck_structure_and_references(fixture_decks):
    deck, _ = fixture_decks
    page = deck.html.read_text(encoding="utf-8")
    assert deck.html.name == "slides_fixture.slides.html" and deck.slides == FIXTURE_SLIDES
    parser = _Sections()
    parser.feed(page)
    assert parser.leaves == FIXTURE_SLIDES
    assert "FIXTURE-NOTES-SENTINEL" in parser.notes  # notes cells become speaker notes ...
    assert "FIXTURE-SKIP-SENTINEL" not in page  # ... and skip cells vanish
    assert slides.network_references(page) == []
    for ref in ("../shared-vendor/reveal.js/dist/reveal.js", "../shared-vendor/reveal.js/plugin/notes/notes.js",
                "../shared-vendor/reveal.js/dist/theme/white.css", "../shared-vendor/mathjax/MathJax.js?config="):
        assert ref in page
    assert 'slideNumber: "c/t"' in page
    assert "require.js" not in page and "jquery" not in page.lower() and "mermaid.esm" not in page
    assert "<title>Slides fixture: a tiny lecture slides</title>" in page


def test_cdn_deck_links_the_pinned_cdn_copies(fixture_decks):
    _, deck = fixture_decks
    refs = slides.network_references(deck.html.read_text(encoding="utf-8"))
    assert f"{slides.CDN}/reveal.js@{slides.REVEAL_VERSION}/dist/reveal.js" in refs
    assert any(r.startswith(f"{slides.CDN}/mathjax@{slides.MATHJAX_VERSION}/MathJax.js") for r in refs)
    assert all(r.startswith(slides.CDN) for r in refs), refs


def test_network_references_finds_what_loads_by_itself():
    page = """<html><head><script src="https://cdn.example/x.js"></script><link rel=stylesheet href="//fonts.example/f.css">
    <style>@import "https://fonts.example/g.css"; .a { background: url('http://img.example/b.png') }</style>
    <script type="module">import m from 'https://cdn.example/m.mjs';</script></head>
    <body><a href="https://revealjs.com">docs</a><img src="vendor/x.png"><img src="data:image/png;base64,AA=="></body></html>"""
    assert slides.network_references(page) == sorted([
        "https://cdn.example/x.js", "//fonts.example/f.css", "https://fonts.example/g.css",
        "http://img.example/b.png", "https://cdn.example/m.mjs",
    ])


def test_index_lists_decks_in_course_order(tmp_path):
    decks = [slides.Deck(tmp_path / f"{n}.ipynb", tmp_path / f"{n}.slides.html", f"Title <{n}>", 9)
             for n in ("02_pooling", "01_convolutions", "extra")]
    order = sorted(decks[:2], key=lambda d: d.notebook.name) + decks[2:]
    page = slides.write_index(order, tmp_path).read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', page)
    assert links == [("01_convolutions.slides.html", "Title &lt;01_convolutions&gt;"),
                     ("02_pooling.slides.html", "Title &lt;02_pooling&gt;"), ("extra.slides.html", "Title &lt;extra&gt;")]
    assert "9 slides" in page and "speaker notes" in page
    numbered = slides.Deck(tmp_path / "03_pooling.ipynb", tmp_path / "03_pooling.slides.html", "03 · Pooling", 12)
    page = slides.write_index([numbered], tmp_path).read_text(encoding="utf-8")
    assert '<span class="num">03</span><a href="03_pooling.slides.html">Pooling</a>' in page
    assert slides.network_references(page) == []


def test_remove_input_and_output_tags(tmp_path):
    code = nbformat.v4.new_code_cell("print('SOURCE-SENTINEL')", metadata={"tags": ["remove-input"]})
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="OUTPUT-SENTINEL\n")]
    other = nbformat.v4.new_code_cell("x = 'CODE-ONLY-SENTINEL'", metadata={"tags": ["remove-output"]})
    other.outputs = [nbformat.v4.new_output("stream", name="stdout", text="HIDDEN-OUTPUT-SENTINEL\n")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Tags"), code, other])
    path = tmp_path / "tags.ipynb"
    nbformat.write(nb, path)
    page = slides.build_deck(path, tmp_path / "out", cdn=True).html.read_text(encoding="utf-8")
    assert "OUTPUT-SENTINEL" in page and "SOURCE-SENTINEL" not in page
    assert "CODE-ONLY-SENTINEL" in page and "HIDDEN-OUTPUT-SENTINEL" not in page


def test_vendor_is_reused_without_fetching(tmp_path, monkeypatch):
    for pkg in slides.PACKAGES:
        (tmp_path / pkg.folder).mkdir()
        (tmp_path / pkg.folder / ".course-vendor").write_text(pkg.spec + "\n")

    def no_fetch(spec, dest):
        raise AssertionError(f"fetched {spec} although it is vendored")

    monkeypatch.setattr(slides, "_npm_pack", no_fetch)
    assert slides.ensure_vendor(tmp_path, quiet=True) == tmp_path


def test_cli_reports_a_clear_error_without_notebooks(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(slides, "course_notebooks", lambda folder=tmp_path: [])
    assert slides.main(["--out", str(tmp_path / "s"), "--cdn"]) == 1
    assert "no notebooks to build" in capsys.readouterr().err
    assert slides.main(["--cdn", "--out", str(tmp_path / "s"), str(tmp_path / "nope.ipynb")]) == 1
    assert "nope.ipynb: no such notebook" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------------------
# The browser: headless Chromium over the DevTools protocol, networking off
# ------------------------------------------------------------------------------------------------------------------


def _chromium() -> str | None:
    return slides.find_chromium()


LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")


# Resolves once reveal.js is ready and MathJax has typeset everything queued so far (false after 20 s).
JS_SETTLED = """new Promise(resolve => {
  const t0 = Date.now();
  (function poll() {
    if (window.Reveal && Reveal.isReady() && window.MathJax && MathJax.isReady && MathJax.Hub) {
      MathJax.Hub.Queue(() => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))));
    } else if (Date.now() - t0 > 20000) { resolve(false); } else { setTimeout(poll, 50); }
  })();
})"""

# What the deck shows: slide counts, text MathJax left raw (outside code, like MathJax itself), math, images.
JS_INSPECT = r"""(() => {
  const root = document.querySelector('.reveal .slides');
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEXTAREA', 'PRE', 'CODE', 'ANNOTATION']);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode(node) {
    for (let e = node.parentElement; e && e !== root; e = e.parentElement) {
      if (skip.has(e.tagName) || e.classList.contains('MathJax_Preview')) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT;
  }});
  const rawTex = /\$\$|\\\(|\\\)|\\\[|\\\]|\\[A-Za-z]{2,}|(^|[^\\$])\$[^$\s][^$]*\$/;
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (rawTex.test(n.nodeValue)) raw.push(n.nodeValue.trim().slice(0, 120));
  }
  const slides = Reveal.getSlides();
  const formula = slides.find(s => s.querySelector('.MathJax_CHTML, .MathJax_Display, mjx-container'));
  return {
    total: Reveal.getTotalSlides(),
    leaves: slides.length,
    raw: raw,
    math: root.querySelectorAll('.MathJax_CHTML').length,
    mathErrors: root.querySelectorAll('.MathJax_CHTML .mjx-merror, .MathJax_CHTML merror, .MathJax_Error').length,
    brokenImages: Array.from(root.querySelectorAll('img')).filter(i => !(i.complete && i.naturalWidth > 0)).length,
    images: root.querySelectorAll('img').length,
    formula: formula ? Reveal.getIndices(formula) : null,
    title: document.title,
  };
})()"""

# Every slide, shown one after the other at 1280x720: what sticks out of the slide or out of its own box, text below
# the minimum sizes, figures whose smallest text (the course style's) is drawn below the minimum, notes per section,
# and the slide number clear of the controls. Sizes are screen pixels (reveal.js scales the slide to the window).
JS_LAYOUT = r"""(async ({minCode, minText, minFigurePt, figurePt}) => {
  Reveal.configure({transition: 'none', backgroundTransition: 'none', viewDistance: 1000});
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const viewport = document.querySelector('.reveal .slides');
  const describe = el => {
    let d = el.tagName.toLowerCase();
    if (el.classList.length) d += '.' + Array.from(el.classList).slice(0, 3).join('.');
    const text = Array.from((el.innerText || el.textContent || el.getAttribute('alt') || '').trim().replace(/\s+/g, ' '));
    return text.length ? `${d} "${text.slice(0, 70).join('')}${text.length > 70 ? '…' : ''}"` : d;
  };
  const pngDpi = src => {  // the pHYs chunk of a PNG data URI (matplotlib writes its dpi there)
    if (!src.startsWith('data:image/png;base64,')) return null;
    const bin = atob(src.slice(22, 22 + 4000));
    let i = 8;
    while (i + 8 < bin.length) {
      const len = (bin.charCodeAt(i) << 24 | bin.charCodeAt(i + 1) << 16 | bin.charCodeAt(i + 2) << 8 | bin.charCodeAt(i + 3)) >>> 0;
      const type = bin.slice(i + 4, i + 8);
      if (type === 'pHYs') {
        const d = i + 8;
        const ppu = (bin.charCodeAt(d) << 24 | bin.charCodeAt(d + 1) << 16 | bin.charCodeAt(d + 2) << 8 | bin.charCodeAt(d + 3)) >>> 0;
        return bin.charCodeAt(d + 8) === 1 ? ppu * 0.0254 : null;
      }
      if (type === 'IDAT') return null;
      i += 12 + len;
    }
    return null;
  };
  const out = [];
  const slides = Reveal.getSlides();
  for (let n = 0; n < slides.length; n++) {
    const s = slides[n];
    const idx = Reveal.getIndices(s);
    Reveal.slide(idx.h, idx.v, 1000);
    await frame();
    if (window.MathJax && MathJax.Hub) await new Promise(r => MathJax.Hub.Queue(r));
    await frame();
    const heading = s.querySelector('h1, h2, h3, h4');
    const title = Array.from(heading ? heading.textContent.replace(/¶/g, '').trim() : (s.textContent.trim().replace(/\s+/g, ' ') || '(untitled)')).slice(0, 80).join('');
    const problems = [];
    const box = viewport.getBoundingClientRect();
    const scale = box.width / 1280;
    // 1. overflow: out of the slide (the outermost element that leaves it is named), or content wider/taller than
    //    its own box, cut off or scrolled (the innermost such box is named). A typeset formula counts as one element.
    const skip = 'aside.notes, script, style, .MathJax_Preview, .MJX_Assistive_MathML';
    const inMath = el => { const m = el.parentElement && el.parentElement.closest('.MathJax_CHTML, .MathJax_Display'); return m && s.contains(m); };
    const outside = new Map(), clipped = new Map();
    for (const el of s.querySelectorAll('*')) {
      if (el.closest(skip) || inMath(el) || el.tagName === 'BR') continue;
      const r = el.getBoundingClientRect();
      if (!r.width && !r.height) continue;
      const cs = getComputedStyle(el);
      const why = [];
      if (r.right > box.right + 1) why.push(`${Math.round(r.right - box.right)} px past the right edge`);
      if (r.left < box.left - 1) why.push(`${Math.round(box.left - r.left)} px past the left edge`);
      if (r.bottom > box.bottom + 1) why.push(`${Math.round(r.bottom - box.bottom)} px below the bottom`);
      if (r.top < box.top - 1) why.push(`${Math.round(box.top - r.top)} px above the top`);
      if (why.length) outside.set(el, why.join(', '));
      const cut = [];
      if (el !== s && el.clientWidth && cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
        cut.push(`content ${el.scrollWidth - el.clientWidth} px wider than its box (cut off or scrolls)`);
      if (el !== s && el.clientHeight && cs.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1)
        cut.push(`content ${el.scrollHeight - el.clientHeight} px taller than its box (cut off or scrolls)`);
      if (el.classList.contains('slide-table') && el.scrollWidth > el.clientWidth + 1)
        cut.push(`table ${el.scrollWidth - el.clientWidth} px wider than the slide (split it, or print fewer columns)`);
      if (cut.length) clipped.set(el, cut.join(', '));
    }
    for (const [el, why] of outside) {
      if (!outside.has(el.parentElement)) problems.push(`overflow: ${describe(el)}: ${why}`);
    }
    for (const [el, why] of clipped) {
      if (!Array.from(clipped.keys()).some(o => o !== el && el.contains(o))) problems.push(`overflow: ${describe(el)}: ${why}`);
    }
    // 2. text sizes (math is left to MathJax: its indices are smaller by design), and text that the slide number or
    //    the navigation arrows cover
    const covers = [];
    const badgeEl = document.querySelector('.reveal .slide-number');
    if (badgeEl && badgeEl.getBoundingClientRect().width) covers.push(['the slide number', badgeEl.getBoundingClientRect()]);
    for (const b of document.querySelectorAll('.reveal .controls button')) {
      const r = b.getBoundingClientRect();
      if (r.width && getComputedStyle(b).visibility !== 'hidden' && getComputedStyle(b).display !== 'none') covers.push(['the navigation arrows', r]);
    }
    const covered = new Map();
    const walker = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
    const small = new Map();
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const el = t.parentElement;
      if (t.nodeValue.trim() && el && !el.closest(skip) && !covered.has(el)) {
        const range = document.createRange();
        range.selectNodeContents(t);
        for (const r of range.getClientRects()) {
          const hit = covers.find(([, c]) => r.left < c.right - 1 && c.left < r.right - 1 && r.top < c.bottom - 1 && c.top < r.bottom - 1);
          if (hit) { covered.set(el, `covered by ${hit[0]}: ${describe(el)}`); break; }
        }
      }
      if (!t.nodeValue.trim() || !el || el.closest(skip + ', .MathJax_CHTML, .MathJax_Display, .MathJax, mjx-container, .anchor-link')) continue;
      const code = !!el.closest('pre, code');
      const px = parseFloat(getComputedStyle(el).fontSize) * scale;
      const min = code ? minCode : minText;
      if (px < min - 0.05 && !small.has(el)) small.set(el, `${code ? 'code' : 'text'} at ${px.toFixed(1)} px (minimum ${min} px): ${describe(el)}`);
    }
    // 3. wrapped code and output lines break between words, never inside one
    for (const pre of s.querySelectorAll('pre')) {
      const lh = parseFloat(getComputedStyle(pre).lineHeight);
      const lines = pre.textContent.replace(/\n$/, '').split('\n').length;
      if (!lh || pre.getBoundingClientRect().height < (lines + 0.5) * lh * scale) continue;  // nothing wraps
      const texts = [];
      const tw = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
      for (let t = tw.nextNode(); t; t = tw.nextNode()) texts.push(t);
      let prev = null, prevTop = null, found = null;
      const range = document.createRange();
      let prevBlock = null;
      for (const t of texts) {
        const block = t.parentElement.closest('.slide-table') || pre;  // a table span is a block of its own
        if (block !== prevBlock) prev = null;
        prevBlock = block;
        for (let i = 0; i < t.nodeValue.length && !found; i++) {
          const ch = t.nodeValue[i];
          if (ch === '\n') { prev = null; continue; }
          range.setStart(t, i); range.setEnd(t, i + 1);
          const r = range.getClientRects()[0];
          if (!r) continue;
          if (prev !== null && r.top > prevTop + lh * scale / 2 && /\w/.test(prev) && /\w/.test(ch)) {
            const ctx = t.nodeValue.slice(Math.max(0, i - 20), i) + '|' + t.nodeValue.slice(i, i + 20);
            found = `a line breaks inside a word: "${ctx.replace(/\s+/g, ' ')}" in ${describe(pre)}`;
          }
          prev = ch; prevTop = r.top;
        }
        if (found) break;
      }
      if (found) problems.push(`overflow: ${found}`);
    }
    for (const msg of Array.from(covered.values()).slice(0, 3)) problems.push(msg);
    for (const msg of Array.from(small.values()).slice(0, 5)) problems.push(`small ${msg}`);
    if (small.size > 5) problems.push(`small: ${small.size - 5} more elements`);
    // 4. figures: the course style's smallest text as drawn on the slide
    for (const img of s.querySelectorAll('img')) {
      const r = img.getBoundingClientRect();
      const dpi = pngDpi(img.getAttribute('src') || '');
      if (!img.naturalWidth || !r.width) continue;
      if (!dpi) { problems.push(`figure without a dpi (pHYs): ${describe(img)}`); continue; }
      const pt = figurePt * dpi / 72 * (r.width / img.naturalWidth) * 0.75;  // figure pt -> png px -> screen px -> pt
      if (pt < minFigurePt - 0.05) problems.push(`small figure text: ${figurePt} pt at ${Math.round(dpi)} dpi, ${img.naturalWidth} px drawn ${Math.round(r.width)} px wide = ${pt.toFixed(1)} pt on the slide (minimum ${minFigurePt} pt): make the figure narrower or shorter`);
    }
    // 5. speaker notes on every section (the first slide of each horizontal stack)
    if (idx.v === 0) {
      const notes = Array.from(s.querySelectorAll('aside.notes')).map(a => a.textContent.trim()).join(' ');
      if (!notes) problems.push('no speaker notes on this section slide');
    }
    if (problems.length) out.push({slide: n + 1, h: idx.h, v: idx.v, title: title.slice(0, 80), problems});
  }
  // 6. the slide number and the controls do not overlap
  const num = document.querySelector('.reveal .slide-number');
  const controls = Array.from(document.querySelectorAll('.reveal .controls button')).filter(b => b.getBoundingClientRect().width);
  let badge = null;
  if (num) {
    const a = num.getBoundingClientRect();
    for (const b of controls) {
      const c = b.getBoundingClientRect();
      if (a.left < c.right && c.left < a.right && a.top < c.bottom && c.top < a.bottom) badge = `the slide number covers the ${b.className} control`;
    }
  }
  Reveal.slide(0, 0);
  return {slides: out, badge, scale: viewport.getBoundingClientRect().width / 1280};
})"""


def layout_report(deck_name: str, result: dict) -> list[str]:
    """One line per problem: deck, slide number (as the deck shows it) and title, the element and what is wrong."""
    lines = []
    for slide in result["slides"]:
        for problem in slide["problems"]:
            lines.append(f"{deck_name} slide {slide['slide']} (#/{slide['h']}/{slide['v']}) \"{slide['title']}\": {problem}")
    if result.get("badge"):
        lines.append(f"{deck_name}: {result['badge']}")
    return lines


def check_layout(b: Browser, session: str, deck_name: str) -> list[str]:
    from course_utils import plot

    args = {"minCode": slides.MIN_CODE_PX, "minText": slides.MIN_TEXT_PX, "minFigurePt": slides.MIN_FIGURE_PT,
            "figurePt": plot.smallest_font_pt()}
    return layout_report(deck_name, b.evaluate(session, f"({JS_LAYOUT})({json.dumps(args)})"))


JS_PREPARE_SHOTS = """Reveal.configure({transition: 'none', backgroundTransition: 'none', controls: false, progress: false,
  slideNumber: false}); true"""

# The bounding box of the first typeset formula on the current slide, in viewport pixels.
JS_FORMULA_BOX = """(() => {
  const m = Reveal.getCurrentSlide().querySelector('.MathJax_CHTML');
  if (!m) return null;
  const r = m.getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height};
})()"""


@pytest.fixture(scope="module")
def browser():
    binary = _chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the browser checks need it")
    with Browser(binary) as b:
        yield b


@pytest.fixture(scope="module")
def built_decks(tmp_path_factory):
    """Every course deck plus the fixture, built offline; vendor files shared with `slides/vendor` (fetched once)."""
    out = tmp_path_factory.mktemp("slides")
    vendor = slides.ensure_vendor(ROOT / "slides" / "vendor", quiet=True)
    decks = slides.build([*COURSE, FIXTURE], out, vendor=vendor, quiet=True)
    return {d.notebook.stem: d for d in decks}


def _variance(png: bytes) -> float:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    return float(pixels.std())


def _screenshot(b: Browser, session: str, name: str, clip: dict | None = None) -> bytes:
    params = {"format": "png"}
    if clip:
        params["clip"] = {**clip, "scale": 1}
    png = base64.b64decode(b.send("Page.captureScreenshot", params, session)["data"])
    keep = os.environ.get("SLIDES_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}.png").write_bytes(png)
    return png


def _failures(b: Browser, session: str) -> list[str]:
    """Failed or network requests, script errors and console errors seen by this page."""
    out = []
    urls = {}
    for ev in b.events:
        if ev.get("sessionId") != session:
            continue
        m, p = ev["method"], ev.get("params", {})
        if m == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
            if not p["request"]["url"].startswith(LOCAL_SCHEMES):
                out.append(f"network request: {p['request']['url']}")
        elif m == "Network.loadingFailed":
            out.append(f"failed load: {urls.get(p['requestId'], '?')}: {p.get('errorText')} ({p.get('type')})")
        elif m == "Network.responseReceived" and p["response"].get("status", 200) >= 400:
            out.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(f"script error: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(f"console: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif m == "Runtime.consoleAPICalled" and p["type"] == "error":
            out.append(f"console.error: {[a.get('value', a.get('description')) for a in p['args']]}")
    return out


def test_browser_reports_network_and_missing_files(browser, tmp_path):
    """The check itself: a page asking for the network or a missing file must show up as failures, quickly."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script src="https://cdn.example.com/x.js"></script>'
                    '<img src="missing.png"><img src="http://192.0.2.1/y.png"></body></html>')
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", {}, session)
        start = time.monotonic()
        browser.send("Page.navigate", {"url": page.as_uri()}, session)
        browser.wait_event("Page.loadEventFired", session, timeout=20)
        assert time.monotonic() - start < 15, "network requests should fail at once"
        failures = "\n".join(_failures(browser, session))
        assert "network request: https://cdn.example.com/x.js" in failures
        assert "network request: http://192.0.2.1/y.png" in failures
        assert re.search(r"failed load: file://\S+/missing.png: net::ERR_FILE_NOT_FOUND", failures), failures
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
        browser.events = [e for e in browser.events if e.get("sessionId") != session]


DECKS = [*COURSE, FIXTURE]


@pytest.mark.parametrize("path", DECKS, ids=_ids(DECKS))
def test_deck_renders_offline_in_chromium(path, browser, built_decks):
    deck = built_decks[path.stem]
    lo, hi = (FIXTURE_SLIDES, FIXTURE_SLIDES) if path == FIXTURE else (LO, HI)
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", {}, session)
        browser.send("Network.setCacheDisabled", {"cacheDisabled": True}, session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.send("Page.navigate", {"url": deck.html.resolve().as_uri()}, session)
        browser.wait_event("Page.loadEventFired", session)
        assert browser.evaluate(session, JS_SETTLED), "reveal.js or MathJax did not finish loading within 20 s"

        info = browser.evaluate(session, JS_INSPECT)
        assert info["leaves"] == deck.slides, f"reveal.js shows {info['leaves']} slides, the notebook says {deck.slides}"
        assert lo <= info["total"] <= hi, f"{info['total']} slides, expected {lo}-{hi}"
        assert info["title"] == f"{deck.title} slides"
        assert not info["raw"], f"math left untypeset: {info['raw']}"
        assert info["mathErrors"] == 0, "MathJax reported TeX errors"
        assert info["brokenImages"] == 0, f"{info['brokenImages']} of {info['images']} images did not load"
        math = expected_math(nbformat.read(path, as_version=4))
        assert info["math"] >= math, f"MathJax typeset {info['math']} formulas, the notebook has {math}"
        if path == FIXTURE:
            assert info["math"] == math and info["images"] == 1 and info["formula"]["h"] == 2

        # every slide fits, is readable from the back row, and every section has notes
        layout = check_layout(browser, session, deck.html.name)
        assert not layout, (f"{len(layout)} problem(s) at 1280x720 (each line: deck, slide as numbered in the deck, "
                            "title, element, what is wrong):\n" + "\n".join(layout))

        # screenshots: the title slide, and the first slide with a formula (the formula itself must be drawn)
        browser.evaluate(session, JS_PREPARE_SHOTS)
        browser.evaluate(session, "Reveal.slide(0, 0); true")
        browser.evaluate(session, JS_SETTLED)
        title = _variance(_screenshot(browser, session, f"{path.stem}-title"))
        assert title > 8, f"the title slide looks blank (pixel std {title:.1f})"
        if info["formula"] is not None:
            h, v = info["formula"]["h"], info["formula"]["v"]
            browser.evaluate(session, f"Reveal.slide({h}, {v}); true")
            browser.evaluate(session, JS_SETTLED)
            shot = _variance(_screenshot(browser, session, f"{path.stem}-formula"))
            assert shot > 8, f"the formula slide {h}/{v} looks blank (pixel std {shot:.1f})"
            box = browser.evaluate(session, JS_FORMULA_BOX)
            assert box and box["width"] > 4 and box["height"] > 4, f"formula has no size: {box}"
            ink = _variance(_screenshot(browser, session, f"{path.stem}-formula-math", box))
            assert ink > 8, f"the formula on slide {h}/{v} is not drawn (pixel std {ink:.1f})"
        elif path == FIXTURE:
            pytest.fail("the fixture has formulas, but none was typeset")

        failures = _failures(browser, session)
        assert not failures, "\n".join(failures)
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
        browser.events = [e for e in browser.events if e.get("sessionId") != session]


def test_speaker_view_opens_with_the_notes(browser, built_decks):
    """Pressing S opens reveal.js's speaker view (from file://, offline) showing the `notes` cells' text."""
    deck = built_decks[FIXTURE.stem]
    browser.send("Target.setDiscoverTargets", {"discover": True})
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    popup = None
    try:
        for domain in ("Page", "Runtime"):
            browser.send(f"{domain}.enable", {}, session)
        browser.send("Page.navigate", {"url": deck.html.resolve().as_uri()}, session)
        browser.wait_event("Page.loadEventFired", session)
        assert browser.evaluate(session, JS_SETTLED)
        key = {"key": "s", "code": "KeyS", "windowsVirtualKeyCode": 83}
        browser.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "s", **key}, session)
        browser.send("Input.dispatchKeyEvent", {"type": "keyUp", **key}, session)
        deadline = time.monotonic() + 15
        while popup is None and time.monotonic() < deadline:
            browser.send("Target.getTargets")  # a round trip: collects the events that arrived meanwhile
            popup = next((e["params"]["targetInfo"]["targetId"] for e in browser.events
                          if e["method"] == "Target.targetCreated"
                          and e["params"]["targetInfo"].get("openerId") == target), None)
            time.sleep(0.1)
        assert popup, "pressing S opened no speaker view"
        view = browser.send("Target.attachToTarget", {"targetId": popup, "flatten": True})["sessionId"]
        notes = browser.evaluate(view, """new Promise(resolve => { const t0 = Date.now(); (function poll() {
            const n = document.querySelector('.speaker-controls-notes .value');
            if ((n && n.textContent.trim()) || Date.now() - t0 > 10000) resolve(n ? n.textContent : null);
            else setTimeout(poll, 50); })(); })""")
        assert notes and "FIXTURE-NOTES-SENTINEL" in notes
    finally:
        if popup:
            browser.send("Target.closeTarget", {"targetId": popup})
        browser.send("Target.closeTarget", {"targetId": target})
        browser.send("Target.setDiscoverTargets", {"discover": False})
        browser.events.clear()


def _slide(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def announced_results_off_the_slides(cells: list[dict]) -> list[tuple[int, list[int]]]:
    """(markdown cell, result cells) where a markdown cell on a slide announces a result — it ends with a colon or
    says "below" — and every code cell that holds its output is left out of the slides (`skip`)."""
    problems = []
    for i, cell in enumerate(cells):
        text = "".join(cell["source"]).strip()
        if cell["cell_type"] != "markdown" or _slide(cell) in ("skip", "notes") or "nbgrader" in cell["metadata"]:
            continue
        if not (text.endswith(":") or re.search(r"\bbelow\b", text)):
            continue
        holders: list[int] = []
        for j in range(i + 1, len(cells)):
            nxt = cells[j]
            if nxt["cell_type"] == "markdown" and (holders or _slide(nxt) in ("slide", "subslide")):
                break
            if "nbgrader" in nxt["metadata"]:
                break
            if nxt["cell_type"] == "code" and nxt.get("outputs"):
                holders.append(j)
        if holders and all(_slide(cells[j]) == "skip" for j in holders):
            problems.append((i, holders))
    return problems


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: p.name)
def test_a_result_a_slide_announces_is_on_the_slides(path):
    cells = json.loads(path.read_text())["cells"]
    problems = announced_results_off_the_slides(cells)
    assert not problems, f"{path.name}: (announcing cell, result cells left out of the slides): {problems}"


def test_announcement_check_catches_a_skipped_result():
    md = {"cell_type": "markdown", "metadata": {"slideshow": {"slide_type": "slide"}}, "source": ["The result:"]}
    code = {"cell_type": "code", "metadata": {"slideshow": {"slide_type": "skip"}}, "source": ["print(1)"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]}  # fmt: skip
    assert announced_results_off_the_slides([md, code]) == [(0, [1])]
    code["metadata"]["slideshow"]["slide_type"] = "-"
    assert announced_results_off_the_slides([md, code]) == []


# ------------------------------------------------------------------------------------------------------------------
# Readable slides: excerpts, tables, titles, notes, figure style (no browser)
# ------------------------------------------------------------------------------------------------------------------


def test_tex_in_titles_becomes_plain_text():
    assert slides.tex_to_text("$F(x) = H(x) - x$") == "F(x) = H(x) − x"
    assert slides.tex_to_text("a $3\\times3$ kernel, $x_i^2$, $\\frac{a}{b}$") == "a 3 × 3 kernel, xᵢ², a/b"
    assert slides.tex_to_text("`$code$` stays") == "`$code$` stays"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 04 · Residual **blocks**: $F(x) = H(x) - x$")])
    assert slides.deck_title(nb) == "04 · Residual blocks: F(x) = H(x) − x"


def test_index_titles_have_no_raw_tex(tmp_path):
    decks = []
    for path in COURSE:
        nb = nbformat.read(path, as_version=4)
        decks.append(slides.Deck(path, tmp_path / slides.deck_name(path), slides.deck_title(nb), slides.count_slides(nb)))
    page = slides.write_index(decks, tmp_path).read_text(encoding="utf-8")
    titles = re.findall(r'<a href="[^"]+">([^<]+)</a>', page) + re.findall(r"<title>([^<]+)</title>", page)
    assert len(titles) == len(COURSE) + 1
    raw = [t for t in titles if re.search(r"\$|\\[A-Za-z(\[]|\^|_\{", t)]
    assert not raw, f"raw TeX in the index page's titles: {raw}"


def test_excerpt_markers_and_metadata():
    code = "class A:\n    # slide: hide\n    x = 1\n    y = 2\n    # slide: show\n    def f(self):\n        return 1\n"
    assert slides.slide_source(code) == ("class A:\n    # … 2 lines (full code in the notebook)\n    def f(self):\n"
                                         "        return 1")
    assert slides.slide_source("a\n# slide: hide\nb") == "a\n# … 1 line (full code in the notebook)"
    assert slides.slide_source("a\nb\nc\nd", "1, 4") == "a\n# … 2 lines (full code in the notebook)\nd"
    assert slides.slide_source("no markers\n") == "no markers\n"
    with pytest.raises(ValueError, match="not within the cell's 1-2"):
        slides.slide_source("a\nb", "1-3")
    with pytest.raises(ValueError, match="1-based line ranges"):
        slides.slide_source("a\nb", "first two")


def test_excerpt_on_the_slide_leaves_the_notebook_alone(tmp_path):
    source = "import math\n# slide: hide\nSECRET_SETUP = 1\n# slide: show\nprint(math.pi)"
    code = nbformat.v4.new_code_cell(source)
    meta = nbformat.v4.new_code_cell("KEEP_ME = 1\nDROP_ME = 2\nKEEP_TOO = 3", metadata={"slide_excerpt": "1, 3"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Excerpt"), code, meta])
    path = tmp_path / "excerpt.ipynb"
    nbformat.write(nb, path)
    page = slides.build_deck(path, tmp_path / "out", cdn=True).html.read_text(encoding="utf-8")
    assert "SECRET_SETUP" not in page and "slide: hide" not in page and "DROP_ME" not in page
    assert "KEEP_ME" in page and "KEEP_TOO" in page and "full code in the notebook" in page
    assert nbformat.read(path, as_version=4).cells[1].source == source


def test_wide_tables_are_split_and_marked():
    header = "name      " + "  ".join(f"column {i:02d}" for i in range(12))
    rule = "--------  " + "  ".join("-" * 9 for _ in range(12))
    row = "alpha     " + "  ".join(f"{i:>9}" for i in range(12))
    text = f"before\n{header}\n{rule}\n{row}\nafter: a long sentence that is no table row at all\n"
    out = slides.split_wide_tables(text, width=60)
    lines = out.split("\n")
    assert lines[0] == "before" and "after: a long sentence that is no table row at all" in lines
    assert max(len(line) for line in lines if not line.startswith("after")) <= 60
    assert sum(line.startswith("name") for line in lines) >= 3  # every part repeats the row labels
    assert all(f"column {i:02d}" in out for i in range(12)) and all(f"{i:>9}" in out for i in range(12))
    assert slides.split_wide_tables("a  b\n-  -\n1  2\n", width=60) == "a  b\n-  -\n1  2\n"  # narrow: unchanged
    prose = "after: a long sentence that is no table row at all"
    marked = slides._mark_tables(f"<pre>x\n{header}\n{rule}\n{row}\n{prose}</pre>")
    assert marked.startswith('<pre>x\n<span class="slide-table">name') and marked.endswith(f"</span>{prose}</pre>")


def test_error_outputs_show_their_last_line(tmp_path):
    cell = nbformat.v4.new_code_cell("boom()", metadata={"tags": ["raises-exception"]})
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                           traceback=["FRAME-SENTINEL-1", "FRAME-SENTINEL-2", "ValueError: LAST-LINE"])]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Errors"), cell])
    path = tmp_path / "errors.ipynb"
    nbformat.write(nb, path)
    page = slides.build_deck(path, tmp_path / "out", cdn=True).html.read_text(encoding="utf-8")
    assert "LAST-LINE" in page and "FRAME-SENTINEL" not in page


def _notes_after_sections(nb) -> list[tuple[str, str | None]]:
    """(section heading, text of the notes cell right after it or None) for every `slide` markdown cell."""
    out = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and slides.slide_type(cell) == "slide":
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            notes = nxt.source if nxt is not None and slides.slide_type(nxt) == "notes" else None
            out.append((cell.source.strip().splitlines()[0], notes))
    return out


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_every_section_has_speaker_notes(path):
    """Each section's slide is followed by notes: what to say, a question and its answer, minutes; the first slide's
    notes give the deck's total, which is the sum of the sections' minutes."""
    sections = _notes_after_sections(nbformat.read(path, as_version=4))
    missing = [h for h, notes in sections if not notes]
    assert not missing, f"{path.name}: sections without a notes cell right after their slide: {missing}"
    minutes = []
    for heading, notes in sections:
        m = re.search(r"\*\*Say\*\* \((\d+) min\):\s*\S.{40,}", notes)
        assert m and "**Ask the room:**" in notes and re.search(r"\*\*Expected answer:\*\*\s*\S", notes), \
            f"{path.name}: the notes of {heading!r} need 'Say (N min)', 'Ask the room' and 'Expected answer'"
        minutes.append(int(m.group(1)))
    total = re.search(r"about (\d+) minutes for the whole deck", sections[0][1])
    assert total, f"{path.name}: the first slide's notes must state the deck's total minutes"
    assert int(total.group(1)) == sum(minutes), f"{path.name}: total {total.group(1)} ≠ sum of sections {sum(minutes)}"


def test_slide_notes_tool_is_applied_and_idempotent(capsys):
    from course_utils.tools import slide_notes

    assert slide_notes.main(["--check"]) == 0, "run `python -m course_utils.tools.slide_notes` to apply the notes"
    assert "would change" not in capsys.readouterr().out


def test_slide_notes_apply_twice_changes_nothing():
    from course_utils.tools import slide_notes

    md = {"cell_type": "markdown", "metadata": {"slideshow": {"slide_type": "slide"}}, "source": ["# T\n", "text"]}
    sec = {"cell_type": "markdown", "metadata": {"slideshow": {"slide_type": "slide"}}, "source": ["## 1 · A\n", "a\n", "SPLIT here\n", "b"]}
    code = {"cell_type": "code", "metadata": {}, "source": ["x = 1\n", "y = 2\n", "z = 3"], "outputs": [], "execution_count": None}
    deck = slide_notes.Deck(
        notes=[slide_notes.Note("# T", 2, "say " * 12, "ask?", "answer."), slide_notes.Note("## 1 · A", 3, "say " * 12, "q?", "a.")],
        fits=[slide_notes.Fit("x = 1", excerpt=(("x = 1", "x = 1"), ("z = 3", "z = 3")), add_tags=("slide-compact",)),
              slide_notes.Fit("## 1 · A", split_at="SPLIT here")])  # fmt: skip
    nb = {"cells": [md, sec, code], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    once = slide_notes.apply(json.loads(json.dumps(nb)), deck, "t")
    twice = slide_notes.apply(json.loads(json.dumps(once)), deck, "t")
    assert once == twice
    kinds = [(c["cell_type"], c["metadata"].get("slideshow", {}).get("slide_type", "-")) for c in once["cells"]]
    assert kinds == [("markdown", "slide"), ("markdown", "notes"), ("markdown", "slide"), ("markdown", "notes"),
                     ("markdown", "subslide"), ("code", "-")]
    assert "about 5 minutes for the whole deck" in "".join(once["cells"][1]["source"])
    assert once["cells"][5]["metadata"] == {"slide_excerpt": "1, 3", "tags": ["slide-compact"]}
    with pytest.raises(ValueError, match="no speaker notes"):
        slide_notes.apply(nb, slide_notes.Deck(notes=[slide_notes.Note("# T", 1, "s", "q", "a")]), "t")


def test_figure_style_sets_text_large_enough_for_slides():
    from course_utils import plot

    smallest = plot.smallest_font_pt()
    # a figure up to the slide's full width (about 1215 screen px at 1280x720) keeps its smallest text at 14 pt or more
    widest_px = 1215 / (slides.MIN_FIGURE_PT / (smallest * plot.STYLE["figure.dpi"] / 72 * 0.75))
    assert widest_px >= 1264, f"with {smallest} pt text, only figures up to {widest_px:.0f} px keep 14 pt on a slide"
    assert plot.smallest_font_pt({"font.size": 10, "legend.fontsize": "small"}) < 10


FONT_SIZE = re.compile(r"\b(?:fontsize|labelsize|titlesize)\s*=\s*(\d+(?:\.\d+)?)|\bsize\s*=\s*(\d+(?:\.\d+)?)\b(?=[^\n]*(?:text|title|label|legend|annotate))")


def figure_font_sizes(code: str, below: float) -> list[str]:
    """Font sizes set in figure code that are below the style's smallest size (the slides' figure check assumes none)."""
    return [m.group(0) for m in FONT_SIZE.finditer(code) if float(m.group(1) or m.group(2)) < below]


def test_figure_font_size_scan_finds_small_sizes():
    assert figure_font_sizes('ax.legend(fontsize=8)\nax.text(0, 0, "x", fontsize=16)', 15) == ["fontsize=8"]
    assert figure_font_sizes("nn.Conv2d(3, 8, kernel_size=3)", 15) == []


@pytest.mark.parametrize("path", [*COURSE, ROOT / "course_utils" / "plot.py"], ids=lambda p: p.name)
def test_figures_use_the_course_style_sizes(path):
    """Figure text comes from the course style (`course_utils.plot.STYLE`), not from per-figure font sizes below it."""
    from course_utils import plot

    if path.suffix == ".py":
        code = path.read_text(encoding="utf-8")
    else:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    small = figure_font_sizes(code, plot.smallest_font_pt())
    assert not small, (f"{path.name}: font sizes below the course style's {plot.smallest_font_pt()} pt: {small}; "
                       "leave them out (the style sets every size once)")


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_every_notebook_applies_the_course_style_first(path):
    """The style is applied explicitly in the first code cell (importing course_utils changes no matplotlib setting)."""
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert "cu.use_style()" in first.source, f"{path.name}: call cu.use_style() in the first code cell"


# ------------------------------------------------------------------------------------------------------------------
# The layout check itself, and the PDF handouts
# ------------------------------------------------------------------------------------------------------------------


def test_layout_check_names_what_does_not_fit(browser, tmp_path):
    """A deck with a too-wide table, a too-tall slide, small text and a section without notes: each is reported with
    the deck, the slide number, its title and the element."""
    wide = "| " + " | ".join(f"heading{i}" for i in range(30)) + " |\n|" + "---|" * 30 + "\n| " + " | ".join("x" * 10 for _ in range(30)) + " |"  # fmt: skip
    cells = [
        nbformat.v4.new_markdown_cell("# Bad deck", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("notes", metadata={"slideshow": {"slide_type": "notes"}}),
        nbformat.v4.new_markdown_cell("## Too wide\n\n" + wide, metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("notes", metadata={"slideshow": {"slide_type": "notes"}}),
        nbformat.v4.new_markdown_cell("## Too tall\n\n" + "\n\n".join(f"paragraph {i}" for i in range(30)),
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("## Tiny text\n\n<span style='font-size: 12px'>TINY-SENTINEL</span>",
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("notes", metadata={"slideshow": {"slide_type": "notes"}}),
        nbformat.v4.new_markdown_cell("## Broken words\n\n<pre style='word-break: break-all'>"
                                      + " ".join(["supercalifragilistic"] * 12) + "</pre>",
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("notes", metadata={"slideshow": {"slide_type": "notes"}}),
    ]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    vendor = slides.ensure_vendor(ROOT / "slides" / "vendor", quiet=True)
    deck = slides.build_deck(path, tmp_path / "out", vendor=vendor)
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime"):
            browser.send(f"{domain}.enable", {}, session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.send("Page.navigate", {"url": deck.html.resolve().as_uri()}, session)
        browser.wait_event("Page.loadEventFired", session)
        assert browser.evaluate(session, JS_SETTLED)
        report = "\n".join(check_layout(browser, session, deck.html.name))
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
        browser.events = [e for e in browser.events if e.get("sessionId") != session]
    assert re.search(r'bad\.slides\.html slide 2 \(#/1/0\) "Too wide": overflow: .* px past the right edge', report), report
    assert re.search(r'slide 3 \(#/2/0\) "Too tall": overflow: .* px below the bottom', report), report
    assert re.search(r'slide 3 \(#/2/0\) "Too tall": no speaker notes', report), report
    assert re.search(r'slide 4 \(#/3/0\) "Tiny text": small text at 11\.\d px \(minimum 24 px\): span "TINY-SENTINEL"', report), report
    assert re.search(r'slide 5 \(#/4/0\) "Broken words": overflow: a line breaks inside a word: "[a-z ]*\|[a-z]', report), report
    assert "slide 1 " not in report and "slide number covers" not in report


def test_pdf_handout_has_a_page_per_slide(built_decks, tmp_path):
    chromium = slides.find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the PDF handout needs it")
    deck = built_decks[FIXTURE.stem]
    with Browser(chromium) as browser:
        for _ in range(3):  # printed only once reveal.js has laid the deck out: the same count every time
            pdf = slides.print_pdf(deck, browser)
            assert pdf.name == "slides_fixture.pdf" and pdf.read_bytes().startswith(b"%PDF")
            assert slides.pdf_pages(pdf) == FIXTURE_SLIDES
        short = slides.Deck(deck.notebook, deck.html, deck.title, FIXTURE_SLIDES + 1)
        with pytest.raises(RuntimeError, match=f"{FIXTURE_SLIDES} pages for {FIXTURE_SLIDES + 1} slides"):
            slides.print_pdf(short, browser)


def test_pdf_waits_for_reveal_and_says_when_it_never_comes(tmp_path):
    """A page that never lays itself out for print is an error naming the deck, after the timeout, not a 1-page PDF."""
    chromium = slides.find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the PDF handout needs it")
    page = tmp_path / "plain.slides.html"
    page.write_text("<html><body><section>no reveal.js here</section></body></html>")
    deck = slides.Deck(tmp_path / "plain.ipynb", page, "plain", 1)
    with Browser(chromium) as browser:
        start = time.monotonic()
        with pytest.raises(RuntimeError, match=r"plain\.slides\.html: reveal\.js did not lay the deck out for print, or MathJax did not finish, within 3 s"):
            slides.print_pdf(deck, browser, timeout=3)
        assert time.monotonic() - start < 30
        assert not (tmp_path / "plain.pdf").exists()
        assert browser.evaluate(browser.open_page()[1], "1 + 1") == 2  # the browser is still usable


def test_browser_errors_name_the_fix(tmp_path):
    with pytest.raises(BrowserError, match=r"could not start Chromium .*apt-get install chromium"):
        Browser(str(tmp_path / "no-such-chromium"))
    chromium = slides.find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    browser = Browser(chromium)
    browser.proc.kill()
    browser.proc.wait()
    with pytest.raises(BrowserError, match="Chromium"):
        browser.send("Browser.getVersion", timeout=10)
    browser.close()
    assert not Path(browser.profile).exists()
