"""One LLM client per model of the run (generator, judge, evaluated models), all sharing what must be
shared: the budget (a cap covers every model, each at its own price), the stop flag, the response
cache, the call log and the usage totals.

Endpoints are opened up front (``open``), so a missing key of the judge or of an evaluated model
fails before the first request of the run, not after the generator has spent money.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from selfinstruct.llm.models import ModelRef
from selfinstruct.llm.usage import Usage
from selfinstruct.rundir import BATCHES_FILE, LLM_CALLS_FILE

log = logging.getLogger(__name__)


class ClientPool:
    """Builds and holds the run's clients, keyed by the config key of their model."""

    def __init__(self, cfg: DictConfig, run_dir: Path, budget: Any, stop: Any) -> None:
        from selfinstruct.llm.calllog import CallLog
        from selfinstruct.llm.client import open_cache

        self._cfg = cfg
        self._run_dir = run_dir
        self.budget = budget
        self.stop = stop
        self._stack = ExitStack()
        self._endpoints: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._cache = open_cache(cfg.cache.enabled, cfg.cache.dir)
        self._call_log = CallLog(run_dir / LLM_CALLS_FILE, with_prompts=cfg.log.prompts)
        self.usage = Usage()
        self.usage_by_stage: dict[str, Usage] = {}

    def open(self, refs: list[ModelRef]) -> None:
        """Open every endpoint the run will use (credentials checked, loopback servers started)."""
        from selfinstruct.llm.endpoint import open_endpoint

        for ref in refs:
            if ref.where not in self._endpoints:
                self._endpoints[ref.where] = self._stack.enter_context(open_endpoint(ref.config, ref.where))
        if refs:
            # LiteLLM's import (about 2 s) happens here, with the run's setup, not inside the first stage
            # that asks: a stage's wall time is then its own work (and a broken install fails before it)
            from selfinstruct.llm.litellm_import import import_litellm

            import_litellm()

    def endpoint(self, ref: ModelRef) -> Any:
        """Where ``ref``'s requests go (api_base, key): for stages that call other APIs of the provider
        (fine-tuning jobs) through the endpoint the pool opened and checked."""
        self.open([ref])
        return self._endpoints[ref.where]

    def client_at(self, ref: ModelRef, endpoint: Any) -> Any:
        """A client of ``ref`` at an endpoint the caller started (a locally served model), built once."""
        if ref.where not in self._clients:
            self._clients[ref.where] = self._build(ref, endpoint)
        return self._clients[ref.where]

    def log_cost(self, stage: str, model: str, cost: float | None, tokens: int = 0) -> None:
        """A line in llm_calls.jsonl for money spent outside a chat request (a fine-tuning job), so the
        report's totals include it."""
        import time

        self._call_log.write({"t": round(time.time(), 3), "stage": stage, "model": model, "prompt_tokens": tokens,
                              "completion_tokens": 0, "cost_usd": cost, "latency_s": 0.0, "attempts": 1,
                              "retries": [], "outcome": "ok", "cache_hit": False})

    def client(self, ref: ModelRef) -> Any:
        """The client of ``ref``'s model (built on first use; LiteLLM is imported only then)."""
        if ref.where not in self._clients:
            self.open([ref])
            self._clients[ref.where] = self._build(ref, self._endpoints[ref.where])
        return self._clients[ref.where]

    def _build(self, ref: ModelRef, endpoint: Any) -> Any:
        from selfinstruct.llm.client import LLMClient

        cfg = self._cfg
        namespace = endpoint.cache_namespace  # the endpoint keeps its own replies apart
        if cfg.shard.count > 1:  # shards sample apart even where their prompts coincide
            namespace += f"@shard{cfg.shard.index}of{cfg.shard.count}"
        return LLMClient(
            ref.config, endpoint.api_base, endpoint.api_key,
            cache=self._cache,
            cache_namespace=namespace,
            stage_header=endpoint.stage_header,
            budget=self.budget,
            call_log=self._call_log,
            stop=self.stop,
            config_key=ref.where,
            usage=self.usage,
            usage_by_stage=self.usage_by_stage,
            batch_journal=self._run_dir / BATCHES_FILE,
        )

    def stage_usage(self, stage: str) -> Usage:
        """Every request of one stage in this invocation, whichever model answered it."""
        return self.usage_by_stage.setdefault(stage, Usage())

    @property
    def used(self) -> bool:
        """Whether any client was built (some stage of this invocation sent, or meant to send, requests)."""
        return bool(self._clients)

    @property
    def priced(self) -> bool:
        """Whether every model used has a known price (else costs are unknown, not $0)."""
        return all(client.priced for client in self._clients.values())

    @property
    def stopped_reason(self) -> str | None:
        return next((c.stopped_reason for c in self._clients.values() if c.stopped_reason), None)

    def close(self) -> None:
        """Flush the call log and the spend ledger, stop the loopback servers."""
        try:
            self._call_log.close()
            self.budget.ledger.close()
        finally:
            self._stack.close()
