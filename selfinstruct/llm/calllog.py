"""llm_calls.jsonl: one line per request (tokens, cost, latency, attempts, outcome, cache hit); never a key.

Each line is written and flushed to the kernel before the request's caller goes on, so a kill
loses no line of a request that returned; the file is fsynced every few seconds and at the end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any

from selfinstruct.secrets import redact

SYNC_EVERY_S = 2.0


class CallLog:
    """Appends call records, one whole line per write."""

    def __init__(self, path: Path | None, with_prompts: bool = False) -> None:
        self.path = path
        self.with_prompts = with_prompts
        self._handle: IO[str] | None = None
        self._synced_at = time.monotonic()

    def write(self, record: dict[str, Any], messages: list[dict[str, str]] | None = None, reply: str | None = None) -> None:
        if self.path is None:
            return
        from selfinstruct.data import reporting_disk_full

        if self.with_prompts:
            record = {**record, "messages": messages, "reply": reply}
        line = redact(json.dumps(record, ensure_ascii=False)) + "\n"
        with reporting_disk_full(self.path):
            if self._handle is None:
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write(line)
            self._handle.flush()
            if time.monotonic() - self._synced_at >= SYNC_EVERY_S:
                os.fsync(self._handle.fileno())
                self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._handle is None:
            return
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:
            pass
        self._handle.close()
        self._handle = None
