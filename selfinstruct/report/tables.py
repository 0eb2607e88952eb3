"""Number formatting and tables, as Markdown (report.md, sweep.md) and as aligned text (the terminal)."""

from __future__ import annotations

from typing import Any, Sequence

DASH = "–"


def fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else DASH


def fmt_float(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else DASH


def fmt_share(value: Any, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%" if isinstance(value, (int, float)) else DASH


def fmt_usd(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "unknown"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= 10 else f"${value:,.4f}"


def fmt_seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return DASH
    if 0 < value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def fmt_counts(counts: dict[str, int] | None) -> str:
    """{'429': 3, 'timeout': 1} -> '429: 3, timeout: 1' ('none' when empty)."""
    items = [(k, v) for k, v in (counts or {}).items() if v]
    return ", ".join(f"{k}: {v:,}" for k, v in items) if items else "none"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` has one of 'l'/'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(_escape(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """The same table as aligned plain text, for a terminal."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])
