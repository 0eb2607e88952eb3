"""llm_calls.jsonl: one line per request (tokens, cost, latency, attempts, outcome, cache hit); never a key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfinstruct.secrets import redact


class CallLog:
    """Appends call records; flushed every few lines and on close, so a crash loses at most a few."""

    def __init__(self, path: Path | None, with_prompts: bool = False, flush_every: int = 32) -> None:
        self.path = path
        self.with_prompts = with_prompts
        self._buffer: list[str] = []
        self._flush_every = flush_every

    def write(self, record: dict[str, Any], messages: list[dict[str, str]] | None = None, reply: str | None = None) -> None:
        if self.path is None:
            return
        if self.with_prompts:
            record = {**record, "messages": messages, "reply": reply}
        self._buffer.append(redact(json.dumps(record, ensure_ascii=False)))
        if len(self._buffer) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        if self.path is None or not self._buffer:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(self._buffer) + "\n")
        self._buffer.clear()
