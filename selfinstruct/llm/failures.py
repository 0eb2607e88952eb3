"""What no retry can fix: the circuit breaker for an endpoint that never answered, and the errors
that stop a run at once (a refused key, a 400, a malformed URL, a Retry-After beyond the cap)."""

from __future__ import annotations

from selfinstruct.errors import LLMFatalError
from selfinstruct.llm.retry import (FATAL_ERRORS, client_side_failure, retry_after_header, retry_after_seconds,
                                    transport_failure)
from selfinstruct.secrets import redact


class CircuitBreaker:
    """Counts consecutive attempts that got no reply at all; trips at ``limit`` while nothing ever replied.

    Once any reply has come (even an error status), the server exists: later outages are retried
    with backoff as usual, so a provider that goes down for a while does not stop the run.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.consecutive = 0
        self.ever_replied = False

    def replied(self) -> None:
        self.ever_replied = True
        self.consecutive = 0

    def failed(self) -> bool:
        """Count one attempt without a reply; True when the run should stop."""
        self.consecutive += 1
        return not self.ever_replied and self.consecutive >= self.limit


def fatal_error(exc: Exception, breaker: CircuitBreaker, max_retry_after_s: float, where: str, *,
                routed: bool = False, deployment: str | None = None) -> LLMFatalError | None:
    """The error that stops the run for this failed attempt, or None when a retry may help.

    ``where`` names the config key requests go to (``model.api_base=...``); counts the attempt on the
    breaker (a reply of any kind resets it)."""
    message = redact(" ".join(str(exc).split())[:400] or type(exc).__name__)
    kind = type(exc).__name__
    no_reply = transport_failure(exc)
    if no_reply is None:
        breaker.replied()
    elif breaker.failed():
        if routed:
            return LLMFatalError(
                f"model.deployments: no deployment replied in {breaker.consecutive} attempts "
                f"(last: {deployment}: {redact(no_reply)}); are they running and reachable?")
        return LLMFatalError(
            f"{where}: no reply from the server in {breaker.consecutive} attempts "
            f"({redact(no_reply)}); is it running and reachable? (model.breaker_attempts={breaker.limit})")
    client_side = client_side_failure(exc)
    if client_side:
        return LLMFatalError(f"{where}: the request could not be sent: {redact(client_side)}")
    if kind in FATAL_ERRORS:
        return LLMFatalError(f"{where}: the provider refused the request ({kind}): {message}")
    waited = retry_after_seconds(exc)
    if waited is not None and waited > max_retry_after_s:
        return LLMFatalError(
            f"{where}: the provider asked to wait {retry_after_header(exc)} s before retrying "
            f"(Retry-After), more than model.max_retry_after_s={max_retry_after_s:g}; try again later")
    return None
