"""Completion post-processing, as an OpenAI-style API applies it: stop strings and max_tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence


def apply_stop(text: str, stop: str | Sequence[str] | None) -> str:
    """Cut at the earliest occurrence of any stop string."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s]
    cuts = [c for c in cuts if c >= 0]
    return text[:min(cuts)] if cuts else text


def truncate_last_line(text: str, fraction: float) -> str:
    """Cut the final line mid-way, as a model hitting its token limit would.

    Trailing separator lines ('###', blank) are dropped first; a final line too
    short to cut (a one-character answer) is dropped whole.
    """
    body = text.rstrip()
    while "\n" in body and not any(ch.isalnum() for ch in body.rpartition("\n")[2]):
        body = body.rpartition("\n")[0].rstrip()
    head, sep, last = body.rpartition("\n")
    if len(last.strip()) < 2:
        return head.rstrip() if head.strip() else text
    keep = max(1, min(len(last) - 1, int(len(last) * fraction)))
    return head + sep + last[:keep].rstrip(" .!?")


def apply_max_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """Keep at most max_tokens whitespace-separated words; report if cut."""
    if max_tokens is None or max_tokens < 0:
        return text, False
    words = list(re.finditer(r"\S+", text))
    if len(words) <= max_tokens:
        return text, False
    return (text[:words[max_tokens - 1].end()] if max_tokens else ""), True
