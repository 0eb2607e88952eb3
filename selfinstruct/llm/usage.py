"""What one request came to (Completion), what it went through (RequestTrace), and running totals
per stage and per run (Usage) for metrics.json."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from selfinstruct.llm.budget import BUDGET_ERROR, INTERRUPTED_ERROR


@dataclass
class Completion:
    """One request's outcome: the reply text, or the kind of error that prevented it."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, those the provider's prompt cache served (cheaper)
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None
    attempts: int = 0
    cache_hit: bool = False
    # With model.deployments: the deployment that answered, and those whose attempts failed, in order.
    deployment: str | None = None
    failed_deployments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    @property
    def outcome(self) -> str:
        if self.error:
            if self.error in (BUDGET_ERROR, INTERRUPTED_ERROR):
                return "not_sent"
            return f"error:{self.error}"
        if not self.text.strip():
            return "empty"
        return "truncated" if self.truncated else "ok"


@dataclass
class RequestTrace:
    """What one request went through, kept by the caller even when the request ends in a fatal error."""

    retries: list[str]
    attempts: int = 0
    error: str | None = None


@dataclass
class Usage:
    """Running totals of one stage's (or the whole run's) traffic, for metrics.json."""

    requests: int = 0  # logical requests, cache hits included
    attempts: int = 0  # HTTP requests actually sent
    succeeded: int = 0
    cache_hits: int = 0
    not_sent: int = 0  # refused by the budget or after an interrupt
    failed: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    empty_replies: int = 0
    truncated_replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    # With model.deployments: replies and failed attempts per deployment.
    by_deployment: Counter = field(default_factory=Counter)
    failures_by_deployment: Counter = field(default_factory=Counter)

    def record(self, completion: Completion, retries: list[str]) -> None:
        self.requests += 1
        self.attempts += completion.attempts
        self.retries.update(retries)
        self.failures_by_deployment.update(completion.failed_deployments)
        if completion.deployment:
            self.by_deployment[completion.deployment] += 1
        if completion.error in (BUDGET_ERROR, INTERRUPTED_ERROR):
            self.not_sent += 1
            return
        if completion.error:
            self.failed[completion.error] += 1
            return
        self.succeeded += 1
        self.cache_hits += completion.cache_hit
        self.empty_replies += not completion.text.strip()
        self.truncated_replies += completion.truncated
        if completion.cache_hit:
            return  # a cached reply was paid for by an earlier run
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.cached_prompt_tokens += completion.cached_prompt_tokens
        if completion.cost_usd is None:
            self.cost_known = False
        else:
            self.cost_usd += completion.cost_usd

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "attempts_sent": self.attempts,
            "succeeded": self.succeeded,
            "cache_hits": self.cache_hits,
            "not_sent": self.not_sent,
            "failed": dict(self.failed),
            "retries": dict(self.retries),
            "empty_replies": self.empty_replies,
            "truncated_replies": self.truncated_replies,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6) if self.cost_known else None,
        }
        if self.by_deployment or self.failures_by_deployment:
            out["deployments"] = {"replies": dict(self.by_deployment),
                                  "failed_attempts": dict(self.failures_by_deployment)}
        return out
