"""A progress bar per stage (tqdm) when stderr is a terminal; plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("selfinstruct.progress")


LOG_EVERY_S = 5.0  # without a terminal: a log line at most this often (and one at the end)


class StageProgress:
    """Shows done/total, requests per second and spend so far for one stage (``label``: what the bar
    or log line calls it when a stage has several steps, e.g. "evaluate ratings")."""

    def __init__(self, stage: str, total: int, done: int = 0, unit: str = "task", label: str | None = None) -> None:
        self.stage = stage
        self.label = label or stage
        self.total = total
        self.done = done
        self._started = time.perf_counter()
        self._logged_at = 0.0
        self._bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, desc=self.label, unit=unit, dynamic_ncols=True, leave=True)

    def update(self, done: int, llm: Any | None = None) -> None:
        step, self.done = done - self.done, done
        usage = llm.stage_usage(self.stage) if llm is not None else None
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        rate = usage.requests / elapsed if usage else 0.0
        spend = f"${usage.cost_usd:.4f}" if usage and usage.cost_known else "$?"
        if self._bar is not None:
            self._bar.set_postfix_str(f"{rate:.1f} req/s, {spend}", refresh=False)
            self._bar.update(step)
        elif done >= self.total or time.perf_counter() - self._logged_at >= LOG_EVERY_S:
            self._logged_at = time.perf_counter()
            log.info("%s: %d/%d, %.1f req/s, spent %s", self.label, done, self.total, rate, spend)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
