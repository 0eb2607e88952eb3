"""Turn an LLM's continuation of a numbered list into clean instruction strings.

Completion models continue ``9.`` with the ninth item's text; chat models also restate the
number, number with ``9)``, open with a line of chatter or add some at the end.  The parser
takes all of these; a reply cut off by the length limit is dropped by the caller (paper).
"""

from __future__ import annotations

import re

# An item marker at the start of a line: "10.", "10)", "10:", "10 -", "- ", "* ", "• ".
_ITEM_MARKER = re.compile(r"^\s*(?:\(?\d{1,3}\s*[.):]|\d{1,3}\s+-|[-*\u2022])\s+")
_NUMBER_ONLY = re.compile(r"^\s*\d{1,3}\s*[.)]?\s*$")
_CHATTER = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|great|here (?:are|is)|below (?:are|is))\b",
    re.IGNORECASE,
)
# Markdown bold that wraps a whole item ("**Write a poem.**") or a leading label or word ("**Task:** Write
# ...", "**Suggest** a name ...") is list formatting; anywhere else ``**`` and ``__`` are the instruction's
# own text ("(2**3)**2", "call **update()** first", "fill in the _____") and are kept as written.
_WHOLE_EMPHASIS = re.compile(r"^(\*\*|__)(?=\S)((?:(?!\1).)*?[^*_\s](?:(?!\1).)*?)(?<=\S)\1$")
_LEADING_BOLD = re.compile(r"^\*\*(?=[^\s*])([^*]*?[^*_\s][^*]*?)(?<=\S)\*\*(?=[\s.,:;!?]|$)")


def collapse_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def clean_demo(instruction: str) -> str:
    """A demonstration as the paper shows it: whitespace collapsed, a trailing colon removed."""
    text = collapse_whitespace(instruction)
    return text[:-1].rstrip() if text.endswith(":") else text


def _is_chatter(line: str) -> bool:
    """A line that talks about the list instead of being an item ("Sure! Here are more tasks:")."""
    stripped = line.strip()
    return bool(_CHATTER.match(stripped)) or (stripped.endswith(":") and len(stripped.split()) <= 12)


def _clean_item(text: str) -> str:
    """The item as the model wrote it: whitespace collapsed, list-formatting bold and enclosing quotes removed."""
    text = collapse_whitespace(text)
    whole = _WHOLE_EMPHASIS.match(text)
    text = whole.group(2) if whole else _LEADING_BOLD.sub(r"\1", text, count=1)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def parse_instruction_list(reply: str) -> list[str]:
    """The instructions in a reply to a numbered-list prompt, in order.

    The text before the first item marker is the continuation of the item the prompt opened
    (unless it is chatter).  A blank line after the list has started ends it, as the paper's
    stop sequence does; lines without a marker continue the current item.
    """
    items: list[list[str]] = []
    current: list[str] | None = None
    started = False
    for line in reply.splitlines():
        if not line.strip():
            if started:
                break
            continue
        if _NUMBER_ONLY.match(line):
            current = []
            items.append(current)
            started = True
            continue
        marker = _ITEM_MARKER.match(line)
        if marker:
            current = [line[marker.end():]]
            items.append(current)
            started = True
        elif current is not None:
            current.append(line)
        elif _is_chatter(line):
            continue
        else:
            current = [line]
            items.append(current)
            started = True
    cleaned = (_clean_item(" ".join(parts)) for parts in items)
    return [text for text in cleaned if text]
