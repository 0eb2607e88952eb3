"""Which errors are worth another try, and how long to wait: backoff with jitter, never under Retry-After.

LiteLLM reports transport failures (connection refused, DNS, TLS) and client-side ones (a
malformed URL) as ``InternalServerError`` with status 500; ``transport_failure`` and
``client_side_failure`` look through the exception chain for what really happened.
"""

from __future__ import annotations

import socket
import ssl
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any, Iterator

from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

from selfinstruct.errors import SelfInstructError
from selfinstruct.llm.budget import BudgetExhausted

_RETRYABLE_STATUS = {408, 409, 425, 429}
_NEVER_RETRY = ("BadRequestError", "ContextWindowExceededError", "AuthenticationError", "PermissionDeniedError",
                "NotFoundError", "UnprocessableEntityError", "ContentPolicyViolationError", "UnsupportedParamsError")
# Errors that would fail every request of the run the same way: the run stops at once.
FATAL_ERRORS = ("AuthenticationError", "PermissionDeniedError", "NotFoundError", "BadRequestError",
                "ContextWindowExceededError", "UnprocessableEntityError", "UnsupportedParamsError")
# Exceptions (by class name, anywhere in the chain) meaning no reply came at all: nothing listened,
# the name did not resolve, or TLS failed before a byte of HTTP.
_NO_REPLY = {"ConnectError": "connection failed", "ConnectTimeout": "connection timed out",
             "ClientConnectorError": "connection failed", "ClientConnectorDNSError": "DNS lookup failed",
             "ClientConnectorCertificateError": "TLS certificate error", "ClientSSLError": "TLS error",
             "ConnectionRefusedError": "connection refused", "gaierror": "DNS lookup failed"}
_CLIENT_SIDE = ("InvalidURL", "UnsupportedProtocol", "InvalidUrlClientError", "LocalProtocolError")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def transport_failure(exc: BaseException) -> str | None:
    """'connection refused: [Errno 111] ...' when no reply came at all, else None."""
    found: str | None = None
    for link in _chain(exc):
        name = type(link).__name__
        if isinstance(link, (ConnectionRefusedError, socket.gaierror, ssl.SSLError)) or name in _NO_REPLY:
            kind = "TLS error" if isinstance(link, ssl.SSLError) else _NO_REPLY.get(name, "connection failed")
            detail = " ".join(str(link).split())
            found = f"{kind}: {detail}" if detail else kind  # the innermost link says most
    return found


def client_side_failure(exc: BaseException) -> str | None:
    """The message of an error no server caused (a malformed URL, a bad port), else None."""
    for link in _chain(exc):
        if type(link).__name__ in _CLIENT_SIDE or (type(link) is ValueError and "port" in str(link).lower()):
            return " ".join(str(link).split()) or type(link).__name__
    return None


def error_kind(exc: BaseException) -> str:
    """How an attempt failed, for counts and logs: transport failures are named as what they are."""
    if transport_failure(exc):
        return "ConnectionError"
    if type(exc).__name__ == "Timeout" or "timeout" in type(exc).__name__.lower():
        return "Timeout"
    return type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and transport errors are retried; 400, auth and context-window errors are not."""
    if isinstance(exc, (BudgetExhausted, SelfInstructError)):
        return False
    if type(exc).__name__ in _NEVER_RETRY:
        return False
    if client_side_failure(exc):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _RETRYABLE_STATUS or status >= 500
    return True  # no HTTP status: a connection, timeout or protocol failure


def may_have_been_billed(exc: BaseException) -> bool:
    """True unless the attempt surely cost nothing: an error reply (an HTTP status) or no connection
    at all costs nothing; a timeout or a broken exchange may have been billed."""
    kind = error_kind(exc)
    if kind == "ConnectionError":
        return False
    return kind == "Timeout" or not isinstance(getattr(exc, "status_code", None), int)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The Retry-After the server sent with this error, in seconds (delta or HTTP date)."""
    raw = retry_after_header(exc)
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


def retry_after_header(exc: BaseException | None) -> str | None:
    """The raw Retry-After header of this error's response, if any."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    return None if value is None else str(value)


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
