"""A provider's fine-tuning API through LiteLLM: upload the training file, create the job, poll it.

Every call goes through the same retry policy as chat requests (backoff with jitter, Retry-After
honoured, a bad key or an unknown model stops at once), so a 429 or a 500 while polling a job
that runs for an hour costs a retry, not the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from selfinstruct.errors import LLMFatalError, SelfInstructError
from selfinstruct.llm.retry import WaitHonouringRetryAfter, error_kind, is_retryable
from selfinstruct.secrets import redact

log = logging.getLogger(__name__)

# Job states as OpenAI names them; the last three end a job.
RUNNING_STATES = ("validating_files", "queued", "running")
FINAL_STATES = ("succeeded", "failed", "cancelled")

# Training prices (dollars per training token) OpenAI published for its fine-tunable models in 2025;
# LiteLLM's price table lists only the price of *using* a fine-tuned model.  stages.train.cost_per_token
# overrides this table, and is needed for any model not in it.
TRAINING_PRICES: dict[str, float] = {
    "gpt-4o-mini-2024-07-18": 3.0e-6,
    "gpt-4o-2024-08-06": 25.0e-6,
    "gpt-4.1-2025-04-14": 25.0e-6,
    "gpt-4.1-mini-2025-04-14": 5.0e-6,
    "gpt-4.1-nano-2025-04-14": 1.5e-6,
    "gpt-3.5-turbo-0125": 8.0e-6,
    "gpt-3.5-turbo": 8.0e-6,
}


def training_price(base_model: str, override: float | None) -> float | None:
    """Dollars per training token: ``override`` when set, else the published price, else None (unknown)."""
    if override is not None:
        return float(override)
    return TRAINING_PRICES.get(base_model.split("/", 1)[-1])


@dataclass(frozen=True)
class ProviderEndpoint:
    """Where the fine-tuning API is: LiteLLM's provider name, base URL and key (None: the provider's default)."""

    provider: str
    api_base: str | None
    api_key: str | None
    where: str  # the config key, for messages

    def kwargs(self) -> dict[str, Any]:
        # max_retries=0: the OpenAI SDK under LiteLLM would retry on its own; ours run on top, once
        out: dict[str, Any] = {"custom_llm_provider": self.provider, "max_retries": 0}
        if self.api_base:
            out["api_base"] = self.api_base
        if self.api_key:
            out["api_key"] = self.api_key
        return out


def job_field(job: Any, name: str) -> Any:
    """A field of LiteLLM's job object (a pydantic model or a dict)."""
    return job.get(name) if isinstance(job, dict) else getattr(job, name, None)


def job_error(job: Any) -> str:
    """The provider's own words for a failed job."""
    error = job_field(job, "error")
    message = (error.get("message") if isinstance(error, dict) else getattr(error, "message", None)) if error else None
    return " ".join(str(message or job_field(job, "status") or "no reason given").split())


class FineTuningAPI:
    """The four calls the train stage makes, each retried like a chat request."""

    def __init__(self, endpoint: ProviderEndpoint, *, max_retries: int = 6, retry_base_s: float = 1.0,
                 retry_max_s: float = 60.0, sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        from selfinstruct.llm.litellm_import import import_litellm

        self.endpoint = endpoint
        self._litellm = import_litellm()
        self._max_retries = max_retries
        self._wait = WaitHonouringRetryAfter(retry_base_s, retry_max_s)
        self._sleep = sleep

    async def _call(self, what: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        retrying = AsyncRetrying(stop=stop_after_attempt(self._max_retries + 1), wait=self._wait,
                                 retry=retry_if_exception(is_retryable), reraise=True,
                                 **({"sleep": self._sleep} if self._sleep is not None else {}))
        try:
            async for attempt in retrying:
                with attempt:
                    return await fn(**kwargs, **self.endpoint.kwargs())
        except Exception as exc:  # noqa: BLE001 - every provider error becomes one line naming the call
            message = redact(" ".join(str(exc).split())[:300]) or error_kind(exc)
            raise LLMFatalError(f"{self.endpoint.where}: {what} failed ({error_kind(exc)}): {message}") from None
        raise SelfInstructError(f"{self.endpoint.where}: {what} failed")  # not reached: reraise=True

    async def upload(self, path: Path) -> str:
        with path.open("rb") as handle:
            data = handle.read()
        created = await self._call("uploading the training file", self._litellm.acreate_file,
                                   file=(path.name, data), purpose="fine-tune")
        return str(job_field(created, "id"))

    async def create(self, base_model: str, file_id: str, hyperparameters: dict[str, Any], suffix: str | None,
                     seed: int | None) -> Any:
        return await self._call("creating the fine-tuning job", self._litellm.acreate_fine_tuning_job,
                                model=base_model, training_file=file_id, hyperparameters=hyperparameters,
                                suffix=suffix, seed=seed)

    async def retrieve(self, job_id: str) -> Any:
        return await self._call(f"reading fine-tuning job {job_id}", self._litellm.aretrieve_fine_tuning_job,
                                fine_tuning_job_id=job_id)

    async def cancel(self, job_id: str) -> Any:
        return await self._call(f"cancelling fine-tuning job {job_id}", self._litellm.acancel_fine_tuning_job,
                                fine_tuning_job_id=job_id)
