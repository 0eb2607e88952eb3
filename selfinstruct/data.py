"""Task and instance records, seed loaders for both formats, and JSONL reading and appending."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonlines

from selfinstruct.errors import SeedError, SelfInstructError

log = logging.getLogger(__name__)


@dataclass
class Instance:
    input: str
    output: str


@dataclass
class Task:
    """One task in the original release's shape (seeds and, later, generated tasks)."""

    id: str
    instruction: str
    instances: list[Instance] = field(default_factory=list)
    is_classification: bool | None = None
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


def iter_json_lines(path: Path, error: type[SelfInstructError]) -> Iterator[tuple[str, Any]]:
    """(``file:line``, parsed value) of each non-blank line of a JSONL file written by someone else;
    a line that is not JSON raises ``error`` naming it (no repair: that is read_jsonl's job)."""
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None


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
    text = path.read_text(encoding="utf-8")
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
    with path.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    return "alpaca" if head.startswith("[") else "self_instruct"


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


def _dumps(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file the pipeline wrote; an absent file reads as empty.

    A crash in the middle of an append leaves a torn last line (no newline, or not JSON): it is
    cut off the file and the loss is logged, so a resumed run appends after whole records only.
    A bad line anywhere else is damage we did not make: that is an error naming the line.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    records: list[dict[str, Any]] = []
    offset = 0
    for lineno, raw in enumerate(lines, start=1):
        is_last = lineno == len(lines) or (lineno == len(lines) - 1 and lines[-1] == b"")
        complete = lineno < len(lines)  # followed by a newline
        if raw.strip():
            try:
                records.append(json.loads(raw))
            except json.JSONDecodeError:
                if is_last:
                    _drop_torn_tail(path, offset, len(data) - offset)
                    return records
                raise SelfInstructError(f"{path}:{lineno}: not valid JSON; the file is damaged") from None
            if not complete:  # a whole record whose newline never made it to disk
                with path.open("ab") as handle:
                    handle.write(b"\n")
        offset += len(raw) + 1
    return records


def _drop_torn_tail(path: Path, offset: int, size: int) -> None:
    log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted write", path, size)
    with path.open("r+b") as handle:
        handle.truncate(offset)
        handle.flush()
        os.fsync(handle.fileno())


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append whole lines and flush them to disk, so a crash never loses a finished batch."""
    records = list(records)
    if not records:
        return
    with path.open("a", encoding="utf-8") as handle:
        writer = jsonlines.Writer(handle, dumps=_dumps)
        writer.write_all(records)
        handle.flush()
        os.fsync(handle.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a file whole via a temporary file and a rename: readers see the old or the new file,
    never half of either (for files a stage rewrites: exports, metrics, reordered JSONL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path: Path, records: Iterable[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(_dumps(record) + "\n" for record in records))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def iter_instructions(tasks: Iterable[Task]) -> Iterator[str]:
    for task in tasks:
        yield task.instruction
