"""llm_calls.jsonl: one line per request (tokens, cost, latency, attempts, outcome, cache hit); never a key.

Each line is written and flushed to the kernel before the request's caller goes on, so a kill
loses no line of a request that returned; the file is fsynced every few seconds and at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from selfinstruct.data import LineAppender
from selfinstruct.secrets import redact

SYNC_EVERY_S = 2.0


class CallLog:
    """Appends call records, one whole line per write."""

    def __init__(self, path: Path | None, with_prompts: bool = False) -> None:
        self.with_prompts = with_prompts
        self._out = LineAppender(path) if path is not None else None
        self._synced_at = time.monotonic()

    def write(self, record: dict[str, Any], messages: list[dict[str, str]] | None = None, reply: str | None = None) -> None:
        if self._out is None:
            return
        if self.with_prompts:
            record = {**record, "messages": messages, "reply": reply}
        sync = time.monotonic() - self._synced_at >= SYNC_EVERY_S
        self._out.write(redact(json.dumps(record, ensure_ascii=False)), sync=sync)
        if sync:
            self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
