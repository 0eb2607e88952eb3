"""The classify stage's answer: Yes or No, however the model dresses it; and the packed reply
(one "N. Yes" / "N. No" line per numbered instruction) read item by item."""

from __future__ import annotations

import re

_ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_yes_no(reply: str) -> bool | None:
    """True for Yes, False for No, None when the reply holds neither ("Yes, because...", "no." count)."""
    match = _ANSWER.search(reply)
    if match is None:
        return None
    return match.group(1).lower() == "yes"


# One item line of a packed reply: an optional bullet or markdown emphasis, an optional "Task"/"#",
# the item's number, a separator (". ", ") ", ": ", " - "), then the answer.
_ITEM = re.compile(r"^[ \t]*(?:[-*][ \t]+)?[*_]*(?:task[ \t]*)?#?(\d{1,4})[*_]*[ \t]*[.):\-][*_]*[ \t]*(.*?)[ \t]*$",
                   re.IGNORECASE)
# The answer must begin with Yes or No as a whole word (after markdown emphasis): "Yes", "no.", "**Yes**",
# "Yes, it picks a label"; "Maybe", "Yes/No", "Not sure" or nothing at all leave the item unparsed.
_ITEM_ANSWER = re.compile(r"^[*_\"']*(yes|no)\b(?![/|])", re.IGNORECASE)


def parse_packed_answers(reply: str, k: int) -> list[tuple[bool, str] | None]:
    """Per item 1..k of a packed classify reply: (label, the line it was read from), or None.

    An item is None when no line holds its number, when its line does not begin with Yes or No, or
    when two lines give it different answers. Numbers outside 1..k and any other lines are ignored;
    nothing is guessed from position, so a reply that drops the numbers leaves every item None
    (the classify stage then asks those instructions one by one)."""
    found: dict[int, tuple[bool, str] | None] = {}
    for line in reply.splitlines():
        item = _ITEM.match(line)
        if item is None:
            continue
        number = int(item.group(1))
        if not 1 <= number <= k:
            continue
        answer = _ITEM_ANSWER.match(item.group(2))
        label = None if answer is None else answer.group(1).lower() == "yes"
        if number in found:
            before = found[number]
            if before is None or label is None or before[0] != label:
                found[number] = None  # contradictory or doubtful: ask this one again alone
            continue
        found[number] = None if label is None else (label, line.strip())
    return [found.get(n) for n in range(1, k + 1)]


def parse_packed_labels(reply: str, k: int) -> list[bool | None]:
    """Per item 1..k of a packed classify reply: True for Yes, False for No, None when missing or unclear."""
    return [None if answer is None else answer[0] for answer in parse_packed_answers(reply, k)]
