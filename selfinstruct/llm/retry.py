"""Which errors are worth another try, and how long to wait: backoff with jitter, never under Retry-After."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any

from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

from selfinstruct.llm.budget import BudgetExhausted

# Transport failures have no status: LiteLLM reports a refused connection as InternalServerError.
_RETRYABLE_STATUS = {408, 409, 425, 429}
_NEVER_RETRY = ("BadRequestError", "ContextWindowExceededError", "AuthenticationError", "PermissionDeniedError",
                "NotFoundError", "UnprocessableEntityError", "ContentPolicyViolationError", "UnsupportedParamsError")


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and transport errors are retried; 400, auth and context-window errors are not."""
    if isinstance(exc, BudgetExhausted):
        return False
    if type(exc).__name__ in _NEVER_RETRY:
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _RETRYABLE_STATUS or status >= 500
    return True  # no HTTP status: a connection, timeout or protocol failure


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The Retry-After the server sent with this error, in seconds (delta or HTTP date)."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


class WaitHonouringRetryAfter:
    """Exponential backoff with jitter, but at least what the server asked for."""

    def __init__(self, base_s: float, max_s: float, immediate_retries: int = 0) -> None:
        self._backoff = wait_exponential_jitter(initial=base_s, max=max_s, jitter=base_s)
        # with a Router: the first retries go to another deployment at once (the failing one is
        # cooling down there), so a dead server costs no waiting while others are up
        self._immediate = immediate_retries

    def __call__(self, state: RetryCallState) -> float:
        if state.attempt_number <= self._immediate:
            return 0.0
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc)
        return max(backoff, asked) if asked is not None else backoff
