"""The one table renderer of the course: aligned plain text for notebooks and terminals, or GitHub markdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_cell(value: object) -> str:
    """How a table shows a value: thousands separators for numbers, 4 significant digits for floats, — for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def format_table(
    rows: Sequence[Sequence[object]],
    headers: Sequence[str],
    *,
    right: Iterable[int] | None = None,
    markdown: bool = False,
) -> str:
    """A table with aligned columns. Columns in `right` are right-aligned (default: the columns whose values are all
    numbers); `markdown=True` gives a GitHub-flavoured markdown table instead of plain text."""
    text = [[format_cell(v) for v in row] for row in rows]
    for i, row in enumerate(text):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} headers: {row}")
    if right is None:
        numeric = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
        right_set = {i for i in range(len(headers)) if rows and all(numeric(r[i]) for r in rows)}
    else:
        right_set = set(right)
    if markdown:
        rule = "|" + "|".join("---:" if i in right_set else "---" for i in range(len(headers))) + "|"
        return "\n".join(["| " + " | ".join(headers) + " |", rule, *("| " + " | ".join(r) + " |" for r in text)])
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right_set else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(list(headers)), "  ".join("-" * w for w in widths), *(line(r) for r in text)]
    return "\n".join(s.rstrip() for s in out)


def print_table(rows: Sequence[Sequence[object]], headers: Sequence[str], *, right: Iterable[int] | None = None) -> None:
    """Print `format_table(rows, headers)`."""
    print(format_table(rows, headers, right=right))
