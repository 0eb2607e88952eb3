"""Async chat completions through LiteLLM under a concurrency bound, with usage accounting.

A failed request never crashes a run: it comes back as a Completion with ``error`` set and is
counted by kind.  Errors that would fail every request (bad key, unknown model) stop the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from selfinstruct.config import ModelConfig
from selfinstruct.errors import LLMFatalError
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.secrets import redact

log = logging.getLogger(__name__)

_FATAL_ERRORS = ("AuthenticationError", "PermissionDeniedError", "NotFoundError")


@dataclass
class Completion:
    """One request's outcome: the reply text, or the kind of error that prevented it."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Usage:
    """Running totals of everything the client sent, for metrics.json."""

    requests: int = 0
    succeeded: int = 0
    failed: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True

    def record(self, completion: Completion) -> None:
        self.requests += 1
        if completion.error:
            self.failed[completion.error] += 1
            return
        self.succeeded += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        if completion.cost_usd is None:
            self.cost_known = False
        else:
            self.cost_usd += completion.cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": dict(self.failed),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6) if self.cost_known else None,
        }


class LLMClient:
    """Sends chat requests for every stage; one instance per run."""

    def __init__(self, model: ModelConfig, api_base: str | None = None, api_key: str | None = None) -> None:
        self.model = model
        self.api_base = api_base if api_base is not None else model.api_base
        self._api_key = api_key
        self._semaphore = asyncio.Semaphore(model.max_concurrency)
        self._litellm = import_litellm()
        self.usage = Usage()
        self.usage_by_stage: dict[str, Usage] = {}

    def stage_usage(self, stage: str) -> Usage:
        return self.usage_by_stage.setdefault(stage, Usage())

    async def complete(self, messages: list[dict[str, str]], sampling: dict[str, Any], stage: str = "") -> Completion:
        """One chat completion; never raises except for errors that doom every request."""
        kwargs: dict[str, Any] = dict(self.model.extra)
        kwargs.update(
            model=self.model.name,
            messages=messages,
            timeout=self.model.timeout_s,
            num_retries=0,
            drop_params=self.model.drop_params,
            **sampling,
        )
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        async with self._semaphore:
            started = time.perf_counter()
            try:
                response = await self._litellm.acompletion(**kwargs)
            except Exception as exc:  # every provider error is data about this request
                completion = self._failed(exc, time.perf_counter() - started)
            else:
                completion = self._succeeded(response, time.perf_counter() - started)
        self.usage.record(completion)
        self.stage_usage(stage).record(completion)
        return completion

    def _failed(self, exc: Exception, latency: float) -> Completion:
        kind = type(exc).__name__
        message = redact(str(exc).splitlines()[0] if str(exc) else kind)
        if kind in _FATAL_ERRORS:
            raise LLMFatalError(f"model.name={self.model.name}: the provider refused the request: {message}")
        log.warning("request failed (%s): %s", kind, message[:300])
        return Completion(error=kind, latency_s=latency)

    def _succeeded(self, response: Any, latency: float) -> Completion:
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish_reason = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            return Completion(error="MalformedReply", latency_s=latency)
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            finish_reason=finish_reason,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=self._cost(response),
            latency_s=latency,
        )

    def _cost(self, response: Any) -> float | None:
        try:
            return float(self._litellm.completion_cost(completion_response=response))
        except Exception:  # a model missing from the price table: cost unknown, not an error
            return None
