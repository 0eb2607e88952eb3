"""The classify stage's answer: Yes or No, however the model dresses it."""

from __future__ import annotations

import re

_ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_yes_no(reply: str) -> bool | None:
    """True for Yes, False for No, None when the reply holds neither ("Yes, because...", "no." count)."""
    match = _ANSWER.search(reply)
    if match is None:
        return None
    return match.group(1).lower() == "yes"
