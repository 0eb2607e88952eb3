"""A disk cache of replies (stdlib sqlite), shared by runs, so no request is paid for twice.

Keyed by a hash of (model, messages, sampling parameters, sample index): the sample index tells
apart requests a run deliberately repeats, and a resumed or repeated run asks the same keys in
the same order, so it gets the same replies for free.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from selfinstruct.secrets import redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    reply TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any], sample_index: int) -> str:
    payload = {"model": model, "messages": messages, "sampling": sampling, "sample": sample_index}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResponseCache:
    """Replies by key; safe to share between processes (sqlite WAL with a busy timeout)."""

    def __init__(self, directory: str | Path) -> None:
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "responses.sqlite"
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, model: str, reply: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO replies (key, model, reply, created) VALUES (?, ?, ?, ?)",
            (key, model, redact(json.dumps(reply, ensure_ascii=False), key_shapes=False), time.time()),
        )

    def close(self) -> None:
        self._db.close()
