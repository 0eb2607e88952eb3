"""metrics.json: one section per stage plus run-level facts, rewritten atomically after each step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfinstruct.data import write_json_atomic
from selfinstruct.rundir import METRICS_FILE


class RunMetrics:
    """Stage sections survive reruns of other stages: the file is read first and updated in place."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / METRICS_FILE
        self.data: dict[str, Any] = {}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                self.data = {}

    def update(self, section: str, values: dict[str, Any]) -> None:
        self.data.setdefault(section, {}).update(values)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def write(self) -> None:
        write_json_atomic(self.path, self.data)
