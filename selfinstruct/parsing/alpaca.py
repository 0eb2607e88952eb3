"""Tasks from a reply to the Alpaca prompt: ``###``-separated ``N. Instruction/Input/Output`` blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from selfinstruct.parsing.instructions import collapse_whitespace

_FIELD = re.compile(r"^\s*(?:\d+\s*[.)]\s*)?(Instruction|Input|Output)\s*:", re.IGNORECASE | re.MULTILINE)
_NO_INPUT = {"<noinput>", "<no input>", "noinput", "no input", "none", "n/a", ""}


@dataclass(frozen=True)
class AlpacaTask:
    instruction: str
    input: str
    output: str


def _parse_block(block: str, first: bool) -> AlpacaTask | None:
    if first and not _FIELD.match(block.lstrip().splitlines()[0] if block.strip() else ""):
        block = "Instruction: " + block  # the prompt ended with "N. Instruction:"
    parts = _FIELD.split(block)
    fields: dict[str, str] = {}
    for name, value in zip(parts[1::2], parts[2::2]):
        fields.setdefault(name.lower(), value.strip())
    if not fields.get("instruction") or "output" not in fields:
        return None
    raw_input = fields.get("input", "")
    return AlpacaTask(
        instruction=collapse_whitespace(fields["instruction"]),
        input="" if raw_input.strip().lower() in _NO_INPUT else raw_input,
        output=fields["output"],
    )


def parse_alpaca_tasks(reply: str) -> list[AlpacaTask]:
    """Complete tasks of the reply, in order; a block without an instruction or output is skipped."""
    tasks = []
    for i, block in enumerate(reply.split("###")):
        if not block.strip():
            continue
        task = _parse_block(block, first=i == 0)
        if task is not None:
            tasks.append(task)
    return tasks
