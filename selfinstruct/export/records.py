"""Generated tasks as read from instances.jsonl, and the flat examples every export is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from selfinstruct.data import Instance, Task, iter_json_lines
from selfinstruct.errors import SelfInstructError


@dataclass
class GeneratedTask:
    """One line of instances.jsonl; ``truncated`` means the reply was cut off by the length limit."""

    id: str
    instruction: str
    instances: list[Instance] = field(default_factory=list)
    truncated: bool = False

    @classmethod
    def from_seed(cls, task: Task) -> "GeneratedTask":
        return cls(task.id, task.instruction.strip(),
                   [Instance(i.input.strip(), i.output.strip()) for i in task.instances])


@dataclass(frozen=True)
class Example:
    """One (instruction, input, output) triple; ``from_seed`` is bookkeeping, not part of its identity."""

    instruction: str
    input: str
    output: str
    from_seed: bool = field(default=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.instruction, self.input, self.output)


def _text(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise SelfInstructError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
    return value.strip()


def _task(record: Any, where: str) -> GeneratedTask:
    if not isinstance(record, dict):
        raise SelfInstructError(f"{where}: expected a JSON object, got {type(record).__name__}")
    raw = record.get("instances", [])
    if not isinstance(raw, list):
        raise SelfInstructError(f"{where}: 'instances' must be a list of {{input, output}}")
    instances = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise SelfInstructError(f"{where}: instances[{i}] must be an object with 'input' and 'output'")
        instances.append(Instance(_text(item, "input", f"{where}: instances[{i}]"),
                                  _text(item, "output", f"{where}: instances[{i}]")))
    return GeneratedTask(
        id=str(record.get("id", "")),
        instruction=_text(record, "instruction", where),
        instances=instances,
        truncated=bool(record.get("truncated", False)),
    )


def read_generated_tasks(path: Path) -> list[GeneratedTask]:
    """Every task of instances.jsonl, whitespace around each field stripped; bad lines name file:line."""
    return [_task(record, where) for where, record in iter_json_lines(path, SelfInstructError)]


def to_examples(tasks: Iterable[GeneratedTask], *, from_seed: bool = False) -> list[Example]:
    return [Example(t.instruction, i.input, i.output, from_seed) for t in tasks for i in t.instances]


def dedupe_examples(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """First occurrence of each exact (instruction, input, output), in order, and how many were dropped."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    dropped = 0
    for example in examples:
        if example.key in seen:
            dropped += 1
            continue
        seen.add(example.key)
        kept.append(example)
    return kept, dropped
