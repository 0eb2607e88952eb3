"""Async chat completions through LiteLLM: concurrency, per-minute limits, retries, cache, cost, budget.

Every stage's traffic goes through one ``LLMClient``.  A request goes: response cache (a hit
costs nothing) -> budget (no new request once spent) -> rate limits -> LiteLLM with its own
retries off, under our retry loop (backoff with jitter, never sooner than Retry-After).
A failed request never crashes a run: it comes back as a Completion with ``error`` set and is
counted; errors that would fail every request (bad key, unknown model) stop the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from selfinstruct.config import ModelConfig
from selfinstruct.errors import LLMFatalError, SelfInstructError
from selfinstruct.llm.budget import BUDGET_ERROR, INTERRUPTED_ERROR, Budget, BudgetExhausted, StopFlag
from selfinstruct.llm.cache import ResponseCache, cache_key
from selfinstruct.llm.calllog import CallLog
from selfinstruct.llm.cost import cached_prompt_tokens, call_cost, price_known, worst_case_cost
from selfinstruct.llm.failures import CircuitBreaker, fatal_error
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.llm.retry import WaitHonouringRetryAfter, error_kind, is_retryable, may_have_been_billed
from selfinstruct.llm.router import ROUTER_GROUP, build_router, in_flight_limit
from selfinstruct.llm.usage import Completion, RequestTrace, Usage
from selfinstruct.secrets import redact

log = logging.getLogger(__name__)

class LLMClient:
    """Sends chat requests for every stage; one instance per run."""

    def __init__(
        self,
        model: ModelConfig,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        cache: ResponseCache | None = None,
        cache_namespace: str = "",
        stage_header: str | None = None,
        budget: Budget | None = None,
        call_log: CallLog | None = None,
        stop: Any = None,
        config_key: str = "model",
        usage: Usage | None = None,
        usage_by_stage: dict[str, Usage] | None = None,
        batch_journal: Path | None = None,
    ) -> None:
        self.model = model
        # the config key that sets this model (model, judge, stages.evaluate.models[1]), for messages
        self.config_key = config_key
        self._batch_journal_path = batch_journal
        self._batch_journal: Any = None
        self.api_base = api_base if api_base is not None else model.api_base
        self._api_key = api_key
        self._semaphore = asyncio.Semaphore(in_flight_limit(model))
        self._rpm = AsyncLimiter(model.rpm, 60) if model.rpm else None
        self._tpm = AsyncLimiter(model.tpm, 60) if model.tpm else None
        self._litellm = import_litellm()
        # several servers or keys for this model: LiteLLM's Router picks one per attempt
        self._router = build_router(self._litellm, model, api_key) if model.deployments else None
        self._cache = cache
        self._cache_model = model.name + cache_namespace
        # the simulated endpoint only: a header naming the asking stage, so it answers by stage
        self._stage_header = stage_header
        self._samples: Counter = Counter()
        self.budget = budget or Budget()
        self._call_log = call_log or CallLog(None)
        self._stop: StopFlag = stop if stop is not None else StopFlag()  # set by SIGINT/SIGTERM: send nothing new
        self._priced = price_known(self._litellm, model)
        self._breaker = CircuitBreaker(model.breaker_attempts)
        self._max_retry_after = float(model.max_retry_after_s)
        self._fatal: LLMFatalError | None = None  # set by the first error no retry can fix: nothing more is sent
        # with a Router, the first retries go straight to another deployment (failover), then back off
        failover = len(model.deployments) - 1 if self._router is not None else 0
        self._wait = WaitHonouringRetryAfter(model.retry_base_s, model.retry_max_s, immediate_retries=failover)
        # totals may be shared by the run's clients (generator, judge, evaluated models): a stage's
        # usage is then every request it sent, whichever model answered
        self.usage = usage if usage is not None else Usage()
        self.usage_by_stage: dict[str, Usage] = usage_by_stage if usage_by_stage is not None else {}

    @property
    def stopped_reason(self) -> str | None:
        """Why this client sends no more requests (an interrupt or the budget), or None."""
        return self.interrupted or self.budget.exhausted_reason

    @property
    def priced(self) -> bool:
        """Whether this model's requests have a known price (else costs are unknown, not $0)."""
        return self._priced

    @property
    def interrupted(self) -> str | None:
        return self._stop.reason

    def stage_usage(self, stage: str) -> Usage:
        return self.usage_by_stage.setdefault(stage, Usage())

    async def complete(self, messages: list[dict[str, str]], sampling: dict[str, Any], stage: str = "") -> Completion:
        """One chat completion; never raises except for errors that doom every request.

        stage names the asking stage for usage and the call log; "NAME:MODE" (instances sends
        "instances:input_first" / "instances:output_first") counts under NAME and tells a
        simulated endpoint the mode too.
        """
        return await self._complete_keyed(messages, sampling, stage, self._next_key(messages, sampling))

    def _next_key(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> str:
        """The response-cache key of this request: the same prompt asked again is the next sample."""
        base_key = cache_key(self._cache_model, messages, sampling, 0)
        sample_index = self._samples[base_key]
        self._samples[base_key] += 1
        return base_key if sample_index == 0 else cache_key(self._cache_model, messages, sampling, sample_index)

    @property
    def batch_journal(self) -> Any:
        """RUN/batches.jsonl, read once: the batches this run created (batch mode)."""
        if self._batch_journal is None:
            from selfinstruct.llm.batch import BatchJournal

            if self._batch_journal_path is None:
                raise SelfInstructError("model.batch: this client has no run directory to record its batches in")
            self._batch_journal = BatchJournal(self._batch_journal_path)
        return self._batch_journal

    @property
    def batch_mode(self) -> bool:
        return bool(getattr(self.model, "batch", False))

    async def complete_many(self, requests: list[tuple[list[dict[str, str]], dict[str, Any], str]]) -> list[Completion]:
        """Independent requests (messages, sampling, stage): at once, or with ``model.batch`` as one
        provider batch job at the batch price (see ``selfinstruct.llm.batch``); results in request order."""
        if not self.batch_mode:
            return list(await asyncio.gather(*(self.complete(m, s, stage=st) for m, s, st in requests)))
        from selfinstruct.llm.batch import send_as_batch

        return await send_as_batch(self, requests)

    async def _complete_keyed(self, messages: list[dict[str, str]], sampling: dict[str, Any], stage: str,
                              key: str) -> Completion:
        announced = stage
        stage = stage.partition(":")[0]
        retries: list[str] = []
        cached = self._cache_get(key)
        if cached is not None:
            completion = Completion(**cached, cache_hit=True)
        else:
            async with self._semaphore:
                trace = RequestTrace(retries)
                try:
                    completion = await self._send(messages, sampling, trace, announced)
                except LLMFatalError:
                    if trace.attempts:  # a request that met the fatal error was sent: it is logged too
                        self._log_call(stage, messages, Completion(error=trace.error, attempts=trace.attempts),
                                       retries)
                    raise
            if completion.ok:
                self._cache_put(key, completion)
        return self.account(stage, messages, completion, retries)

    def account(self, stage: str, messages: list[dict[str, str]], completion: Completion,
                retries: list[str] | None = None) -> Completion:
        """Count a request's outcome in the usage totals and write its call-log line (a live request's,
        or a batch line's); ``stage`` may carry ":MODE", counted under the stage."""
        stage = stage.partition(":")[0]
        for usage in (self.usage, self.stage_usage(stage)):
            usage.record(completion, retries or [])
        self._log_call(stage, messages, completion, retries or [])
        return completion

    def _log_call(self, stage: str, messages: list[dict[str, str]], completion: Completion, retries: list[str]) -> None:
        self._call_log.write(
            {"t": round(time.time(), 3), "stage": stage, "model": self.model.name,
             "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
             "cost_usd": None if completion.cache_hit else completion.cost_usd,
             "latency_s": round(completion.latency_s, 4), "attempts": completion.attempts,
             "retries": retries, "outcome": completion.outcome, "cache_hit": completion.cache_hit}
            | ({"cached_prompt_tokens": completion.cached_prompt_tokens}
               if completion.cached_prompt_tokens and not completion.cache_hit else {})
            | ({"deployment": completion.deployment, "failed_deployments": completion.failed_deployments}
               if self._router is not None else {}),
            messages, completion.text,
        )

    def close(self) -> None:
        self._call_log.close()
        self.budget.ledger.close()

    def _cache_get(self, key: str) -> dict[str, Any] | None:
        if self._cache is None:
            return None
        try:
            return self._cache.get(key)
        except Exception as exc:  # noqa: BLE001 - the cache is only a saving
            self._cache_failed(exc)
            return None

    def _cache_put(self, key: str, completion: Completion) -> None:
        if self._cache is None:
            return
        try:
            self._cache.put(key, self.model.name, self._cacheable(completion))
        except Exception as exc:  # noqa: BLE001 - a full disk under cache.dir must not stop the run
            self._cache_failed(exc)

    def _cache_failed(self, exc: Exception) -> None:
        log.warning("response cache %s failed (%s); going on without it (replies are not cached "
                    "for the rest of this run)", self._cache.path if self._cache else "", " ".join(str(exc).split()))
        self._cache = None

    @staticmethod
    def _cacheable(completion: Completion) -> dict[str, Any]:
        return {"text": completion.text, "finish_reason": completion.finish_reason,
                "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                "cost_usd": completion.cost_usd}

    def _kwargs(self, messages: list[dict[str, str]], sampling: dict[str, Any], stage: str = "") -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.model.extra)
        kwargs.update(model=self.model.name, messages=messages, timeout=self.model.timeout_s,
                      num_retries=0, drop_params=self.model.drop_params, **sampling)
        if self._router is not None:  # the deployments carry their own api_base and key
            kwargs["model"] = ROUTER_GROUP
            return kwargs
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self._stage_header and stage:
            kwargs["extra_headers"] = {**(kwargs.get("extra_headers") or {}), self._stage_header: stage}
        return kwargs

    async def _throttle(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> None:
        if self._rpm:
            await self._rpm.acquire()
        if self._tpm:
            estimate = len(json.dumps(messages)) // 4 + int(sampling.get("max_tokens") or 0)
            await self._tpm.acquire(min(max(estimate, 1), self.model.tpm or 1))

    async def _send(self, messages: list[dict[str, str]], sampling: dict[str, Any], trace: RequestTrace,
                    stage: str = "") -> Completion:
        retries = trace.retries
        kwargs = self._kwargs(messages, sampling, stage)
        started = time.perf_counter()
        attempts = 0
        failed_deployments: list[str] = []
        send = self._router.acompletion if self._router is not None else self._litellm.acompletion
        worst_usd = self._worst_case_cost(messages, sampling)

        def note_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            retries.append(error_kind(exc) if exc is not None else "unknown")

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.model.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=note_retry,
            sleep=self._stop.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self.interrupted:
                        raise BudgetExhausted(self.interrupted)
                    if self._fatal is not None:  # another request already found what dooms them all
                        raise self._fatal
                    reservation = await self.budget.reserve(worst_usd, self._stop)
                    if self._rpm or self._tpm:
                        try:
                            await self._until_stopped(self._throttle(messages, sampling))
                        except BudgetExhausted:
                            self.budget.settle(reservation, 0.0, sent=False)
                            raise
                    attempts += 1
                    try:
                        response = await send(**kwargs)
                    except Exception as exc:
                        # an error reply costs nothing; a timeout or a broken reply may have been billed
                        self.budget.settle(reservation, None if may_have_been_billed(exc) else 0.0)
                        if self._router is not None:
                            failed_deployments.append(str(getattr(exc, "failed_deployment_id", None) or "unknown"))
                        try:
                            self._check_fatal(exc, failed_deployments[-1] if failed_deployments else None)
                        except LLMFatalError as fatal:
                            trace.attempts, trace.error = attempts, error_kind(exc)
                            if self._fatal is None:
                                self._fatal = fatal
                                self._stop.wake()  # requests sleeping in a backoff give up now
                            raise self._fatal from None
                        raise
                    self._breaker.replied()
        except BudgetExhausted:  # the budget is spent or the run was interrupted: nothing was sent
            error = INTERRUPTED_ERROR if self.interrupted else BUDGET_ERROR
            completion = Completion(error=error, attempts=attempts, latency_s=time.perf_counter() - started)
        except SelfInstructError:
            raise
        except Exception as exc:  # every other provider error is data about this request
            completion = self._failed(exc, time.perf_counter() - started, attempts)
        else:
            completion = self._succeeded(response, time.perf_counter() - started, attempts)
            self.budget.settle(reservation, completion.cost_usd)  # the reply's real cost replaces its reservation
            if self._router is not None:
                completion.deployment = str((getattr(response, "_hidden_params", None) or {}).get("model_id")
                                            or "unknown")
        completion.failed_deployments = failed_deployments
        return completion

    async def _until_stopped(self, awaitable: Any) -> None:
        """Await a wait of ours (rate limits), but give up at once when the run is interrupted
        (or another request met a fatal error)."""
        task = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stop.sleep(3600 * 24))
        done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stopped.cancel()
            task.result()
            return
        if self.interrupted:
            task.cancel()
            raise BudgetExhausted(self.interrupted)
        if self._fatal is not None:
            task.cancel()
            raise self._fatal
        await task  # woken for nothing that concerns this wait

    def _where(self, deployment: str | None = None) -> str:
        """The config key and value that say where requests go, for error messages."""
        key = self.config_key
        if self._router is not None:
            return f"{key}.deployments ({deployment})" if deployment else f"{key}.deployments"
        if self.api_base and not self.model.loopback.enabled:
            return f"{key}.api_base={self.api_base}"
        return f"{key}.name={self.model.name}"

    def _check_fatal(self, exc: Exception, deployment: str | None) -> None:
        """Raise LLMFatalError for what no retry can fix: the run stops now, with the provider's words."""
        fatal = fatal_error(exc, self._breaker, self._max_retry_after, self._where(deployment),
                            routed=self._router is not None, deployment=deployment)
        if fatal is not None:
            raise fatal

    def _worst_case_cost(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> float | None:
        """What this attempt can cost at most (see cost.worst_case_cost); None when unpriced. With no
        dollar cap the prompt's tokens are bounded from its characters, not counted: the figure then only
        prices requests a kill leaves unanswered (for a later capped invocation), and it stays an upper bound."""
        if not self._priced:
            return None
        return worst_case_cost(self._litellm, self.model, messages, sampling,
                               count_tokens=self.budget.max_usd is not None)

    def _failed(self, exc: Exception, latency: float, attempts: int) -> Completion:
        kind = error_kind(exc)
        message = redact(" ".join(str(exc).split())[:300] or kind)
        log.warning("request failed after %d attempt(s) (%s): %s", attempts, kind, message)
        return Completion(error=kind, latency_s=latency, attempts=attempts)

    def _succeeded(self, response: Any, latency: float, attempts: int) -> Completion:
        """The reply as a Completion; its cost is known even when its body is malformed (it was billed)."""
        usage = getattr(response, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        # an unpriced model (price_known false): LiteLLM's table cannot price its replies either
        cost = call_cost(self._litellm, self.model, response, prompt_tokens, completion_tokens) if self._priced else None
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish_reason = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            return Completion(error="MalformedReply", latency_s=latency, attempts=attempts, cost_usd=cost)
        return Completion(
            text=text,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_prompt_tokens=cached_prompt_tokens(response),
            cost_usd=cost,
            latency_s=latency,
            attempts=attempts,
        )


def open_cache(enabled: bool, directory: str) -> ResponseCache | None:
    """The response cache, or None (disabled, or it cannot be opened: a warning, and the run goes on)."""
    if not enabled:
        return None
    try:
        return ResponseCache(Path(directory))
    except Exception as exc:  # noqa: BLE001 - sqlite3.Error or OSError: the cache is only a saving
        log.warning("response cache in %s cannot be used (%s); going on without it (cache.dir)",
                    directory, " ".join(str(exc).split()))
        return None
