"""One writer per fine-tuning file format; ``export.formats.NAME._target_`` names the class.

A writer turns the final example list into the text of one file (pure: no I/O), so the stage
writes every file the same atomic way and tests can read a format without a run directory.
To add a format, subclass FormatWriter and point a new ``export.formats`` entry at it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Sequence

from selfinstruct.export.encoding import PromptEncoder
from selfinstruct.export.records import Example


@dataclass(frozen=True)
class ExportSettings:
    """What writers share, from ``export`` and ``schedule.seed``."""

    encoder: PromptEncoder
    system_prompt: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class Rendered:
    """A file's whole text and the counts that go to metrics.json."""

    text: str
    stats: dict[str, Any]


def _jsonl(records: Sequence[Any]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def _json(records: Sequence[Any]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"


def user_message(example: Example) -> str:
    """The instruction, then the input after a blank line when there is one."""
    return f"{example.instruction}\n\n{example.input}" if example.input else example.instruction


class FormatWriter:
    """Base class: ``path`` is relative to the run directory and must lie under finetune/."""

    def __init__(self, path: str) -> None:
        self.path = path

    def check(self, settings: ExportSettings) -> None:
        """Raise ConfigError when the settings cannot produce this format (called in prepare)."""

    def render(self, examples: Sequence[Example], settings: ExportSettings) -> Rendered:
        raise NotImplementedError


class AlpacaWriter(FormatWriter):
    """A JSON list of {instruction, input, output}, Stanford Alpaca's format.  With ``system_column``
    (the bundled export config sets it) and export.system_prompt set, each record has a ``system``
    column too (LLaMA-Factory's alpaca ``system`` column); without a system prompt, no extra column."""

    def __init__(self, path: str, system_column: bool = False) -> None:
        super().__init__(path)
        self.system_column = bool(system_column)

    def render(self, examples: Sequence[Example], settings: ExportSettings) -> Rendered:
        system = {"system": settings.system_prompt} if self.system_column and settings.system_prompt else {}
        records = [{"instruction": e.instruction, "input": e.input, "output": e.output, **system} for e in examples]
        return Rendered(_json(records), {"records": len(records)})


class OpenAIChatWriter(FormatWriter):
    """JSONL of {"messages": [...]}, the OpenAI fine-tuning API's chat format."""

    def render(self, examples: Sequence[Example], settings: ExportSettings) -> Rendered:
        system = [{"role": "system", "content": settings.system_prompt}] if settings.system_prompt else []
        records = [
            {"messages": [*system, {"role": "user", "content": user_message(e)},
                          {"role": "assistant", "content": e.output}]}
            for e in examples
        ]
        return Rendered(_jsonl(records), {"records": len(records)})


class ShareGPTWriter(FormatWriter):
    """A JSON list of {"conversations": [{from, value}, ...]}, read by most open-source trainers."""

    def render(self, examples: Sequence[Example], settings: ExportSettings) -> Rendered:
        system = [{"from": "system", "value": settings.system_prompt}] if settings.system_prompt else []
        records = [
            {"conversations": [*system, {"from": "human", "value": user_message(e)},
                               {"from": "gpt", "value": e.output}]}
            for e in examples
        ]
        return Rendered(_json(records), {"records": len(records)})


class PromptCompletionWriter(FormatWriter):
    """JSONL of {"prompt", "completion"}, each prompt encoded by a randomly drawn template (paper)."""

    def check(self, settings: ExportSettings) -> None:
        settings.encoder.require_templates("the prompt_completion format")

    def render(self, examples: Sequence[Example], settings: ExportSettings) -> Rendered:
        rng = random.Random(f"{settings.seed}:finetune:templates")
        records = []
        seen: set[tuple[str, str]] = set()
        for example in examples:
            prompt, completion = settings.encoder.encode(example, rng)
            if (prompt, completion) in seen:  # two examples can encode to the same text
                continue
            seen.add((prompt, completion))
            records.append({"prompt": prompt, "completion": completion})
        return Rendered(_jsonl(records), {"records": len(records)})
