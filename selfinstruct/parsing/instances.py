"""Instances from replies to the instance prompts.

Input-first replies hold ``Example N`` blocks with ``Input:`` and ``Output:`` markers (numbered
``Input 1:``, bold ``**Input:**`` or with a colon after ``Example 1``), or a bare ``Output:`` for a
task with no input.  Output-first replies hold ``Class label: X`` lines, each followed by the
input of that label.  A chat model may restate the task first; a later ``Task:`` line is the
start of another task and ends the reply.
"""

from __future__ import annotations

import re

from selfinstruct.data import Instance

# Bold around a line's leading marker only ("**Input:** x", "**Example 1**"); never inside data (x ** 2).
_BOLD_MARKER = re.compile(r"^(\s*)(?:\*\*|__)([^*_\n:]{1,30}:?)(?:\*\*|__)(:?)")
_TASK_LINE = re.compile(r"^\s*Task\s*\d*\s*:", re.IGNORECASE)
_EXAMPLE_LINE = re.compile(r"^\s*#*\s*Example\s*\d*\s*[:.)]?\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^\s*(Input|Output)\s*\d*\s*:\s?", re.IGNORECASE)
_LABEL = re.compile(r"^\s*Class\s+label\s*\d*\s*:\s*", re.IGNORECASE)
_INPUT_PREFIX = re.compile(r"^\s*(?:Input|Text|Sentence|Review|Email|Tweet|Message|Question|Passage)\s*\d*\s*:\s?", re.IGNORECASE)
_NO_INPUT = {"<noinput>", "<no input>", "(no input)", "no input", "<empty>"}


def _task_body(reply: str) -> list[str]:
    """The reply's lines for this task: a restated first ``Task:`` line dropped, a later one ends it."""
    lines = [_BOLD_MARKER.sub(r"\1\2\3", line) for line in reply.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and _TASK_LINE.match(lines[0]):
        lines.pop(0)
    for i, line in enumerate(lines):
        if _TASK_LINE.match(line):
            return lines[:i]
    return lines


def _clean_field(lines: list[str]) -> str:
    text = "\n".join(lines).strip()
    return "" if text.lower() in _NO_INPUT else text


def _split_examples(lines: list[str]) -> list[list[str]]:
    """Blocks between ``Example N`` lines; a new ``Input:`` after an ``Output:`` also starts one."""
    blocks: list[list[str]] = [[]]
    seen_output = False
    for line in lines:
        field = _FIELD.match(line)
        starts_block = _EXAMPLE_LINE.match(line) or (field and field.group(1).lower() == "input" and seen_output)
        if starts_block:
            blocks.append([])
            seen_output = False
            if _EXAMPLE_LINE.match(line):
                continue
        if field and field.group(1).lower() == "output":
            seen_output = True
        blocks[-1].append(line)
    return [block for block in blocks if any(line.strip() for line in block)]


def _parse_example(block: list[str]) -> Instance | None:
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in block:
        field = _FIELD.match(line)
        if field:
            current = fields.setdefault(field.group(1).lower(), [])
            current.append(line[field.end():])
        elif current is not None:
            current.append(line)
    if "output" not in fields:
        return None
    return Instance(input=_clean_field(fields.get("input", [])), output=_clean_field(fields["output"]))


def parse_input_first(reply: str) -> list[Instance]:
    """Instances of an input-first reply, in order; blocks without an ``Output:`` are skipped."""
    instances = (_parse_example(block) for block in _split_examples(_task_body(reply)))
    return [instance for instance in instances if instance is not None]


def parse_output_first(reply: str) -> list[Instance]:
    """One instance per ``Class label:`` block: the label is the output, the text after it the input."""
    instances: list[Instance] = []
    label: str | None = None
    body: list[str] = []

    def close() -> None:
        if label is not None and label.strip():
            text = "\n".join(body).strip()
            text = _INPUT_PREFIX.sub("", text, count=1).strip()
            instances.append(Instance(input="" if text.lower() in _NO_INPUT else text, output=label.strip()))

    for line in _task_body(reply):
        match = _LABEL.match(line)
        if match:
            close()
            label, body = line[match.end():], []
        elif label is not None:
            body.append(line)
    close()
    return instances


# A section header of a packed reply (K tasks in one prompt): "Task 3:", "**Task 3:**", "### Task 3",
# "Task #3." or "Task 3: <the task restated>"; a header's number marks where the section before it ends.
_SECTION = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?[*_]*Task[ \t]*#?(\d{1,4})[ \t]*[*_]*[ \t]*(?:[:.)\-].*)?$",
                      re.IGNORECASE)


def split_packed_reply(reply: str, k: int, truncated: bool = False) -> list[str | None]:
    """Per task 1..k of a packed instances reply: the text under its ``Task N:`` header (up to the
    next header of any number), or None.

    A task is None when no header holds its number, when two headers do (contradictory), when its
    section is blank, or, for a reply cut off by the length limit (``truncated``), when its section
    is the one the reply ends in. Text before the first header is ignored; nothing is guessed from
    position, so a reply without numbered headers leaves every task None (the instances stage then
    asks those tasks one by one). Each section is read with the single-task parser
    (``parse_input_first`` / ``parse_output_first``)."""
    lines = reply.splitlines()
    headers = [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := _SECTION.match(line))]
    found: dict[int, str | None] = {}
    for j, (start, number) in enumerate(headers):
        if not 1 <= number <= k:
            continue
        end = headers[j + 1][0] if j + 1 < len(headers) else len(lines)
        body = "\n".join(lines[start + 1:end]).strip("\n")
        found[number] = None if number in found or not body.strip() else body
    if truncated and headers and 1 <= headers[-1][1] <= k:
        found[headers[-1][1]] = None  # the section the reply was cut off in: asked again alone
    return [found.get(n) for n in range(1, k + 1)]
