"""Seed tasks from either format: the original release's JSONL (id, name, instruction, instances,
is_classification) or Alpaca's JSON list (instruction, input, output); a bad record names file:line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfinstruct.data import Instance, Task, _decode_utf8, iter_json_lines
from selfinstruct.errors import SeedError


def _require_str(record: dict[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise SeedError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise SeedError(f"{where}: '{key}' is empty")
    return value


def _parse_instances(raw: Any, where: str) -> list[Instance]:
    if not isinstance(raw, list) or not raw:
        raise SeedError(f"{where}: 'instances' must be a non-empty list of {{input, output}}")
    instances = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise SeedError(f"{where}: instances[{i}] must be an object with 'input' and 'output'")
        instances.append(
            Instance(
                input=_require_str(item, "input", f"{where}: instances[{i}]", allow_empty=True),
                output=_require_str(item, "output", f"{where}: instances[{i}]", allow_empty=True),
            )
        )
    return instances


def load_self_instruct_seeds(path: Path) -> list[Task]:
    """The original release's JSONL: id, name, instruction, instances, is_classification."""
    tasks = []
    for where, record in iter_json_lines(path, SeedError):
        if not isinstance(record, dict):
            raise SeedError(f"{where}: expected a JSON object, got {type(record).__name__}")
        is_cls = record.get("is_classification")
        if is_cls is not None and not isinstance(is_cls, bool):
            raise SeedError(f"{where}: 'is_classification' must be true or false")
        tasks.append(
            Task(
                id=str(record.get("id", f"seed_task_{len(tasks)}")),
                name=str(record.get("name", "")),
                instruction=_require_str(record, "instruction", where),
                instances=_parse_instances(record.get("instances"), where),
                is_classification=is_cls,
            )
        )
    return tasks


def _json_record_lines(text: str) -> list[int]:
    """Line number at which each top-level element of a JSON list starts (for error messages)."""
    decoder = json.JSONDecoder()
    starts: list[int] = []
    index = text.index("[") + 1
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return starts
        starts.append(text.count("\n", 0, index) + 1)
        _, index = decoder.raw_decode(text, index)


def load_alpaca_seeds(path: Path) -> list[Task]:
    """A JSON list of {instruction, input, output}; records sharing an instruction become one task."""
    text = _decode_utf8(path.read_bytes(), path, SeedError)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(records, list):
        raise SeedError(f"{path}:1: expected a JSON list of {{instruction, input, output}} records")
    lines = _json_record_lines(text)
    by_instruction: dict[str, Task] = {}
    for i, record in enumerate(records):
        where = f"{path}:{lines[i] if i < len(lines) else 1}"
        if not isinstance(record, dict):
            raise SeedError(f"{where}: expected an object with instruction, input, output")
        instruction = _require_str(record, "instruction", where)
        output_key = "output" if "output" in record else "response"
        instance = Instance(
            input=_require_str(record, "input", where, allow_empty=True) if "input" in record else "",
            output=_require_str(record, output_key, where, allow_empty=True),
        )
        task = by_instruction.get(instruction)
        if task is None:
            task = Task(id=f"seed_task_{len(by_instruction)}", instruction=instruction)
            by_instruction[instruction] = task
        task.instances.append(instance)
    return list(by_instruction.values())


def detect_seed_format(path: Path) -> str:
    """``alpaca`` for a JSON list, else ``self_instruct``; reads bytes, so the loader reports bad UTF-8 by line."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    return "alpaca" if head.startswith(b"[") else "self_instruct"


def load_seed_tasks(path: Path, fmt: str = "auto") -> list[Task]:
    """Seed tasks from either format; raises SeedError naming the file and line on bad input."""
    if not path.is_file():
        raise SeedError(f"{path}: seed file not found (seeds.path)")
    fmt = detect_seed_format(path) if fmt == "auto" else fmt
    loaders = {"self_instruct": load_self_instruct_seeds, "alpaca": load_alpaca_seeds}
    if fmt not in loaders:
        raise SeedError(f"seeds.format: unknown format '{fmt}' (auto, self_instruct, alpaca)")
    tasks = loaders[fmt](path)
    if not tasks:
        raise SeedError(f"{path}: no seed tasks in the file")
    return tasks
