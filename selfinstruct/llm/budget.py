"""The spending cap: once reached no new request is sent; the run ends cleanly with what it has."""

from __future__ import annotations

from dataclasses import dataclass


BUDGET_ERROR = "BudgetExhausted"  # the Completion.error of a request the budget did not allow
INTERRUPTED_ERROR = "Interrupted"  # ... and of one not sent because the run was interrupted


class StopFlag:
    """Set once (by a signal handler) to stop sending; the reason is shown to the user."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signal: object = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason


class BudgetExhausted(Exception):
    """Raised instead of sending a request once the budget is spent."""


@dataclass
class Budget:
    max_usd: float | None = None
    max_requests: int | None = None
    spent_usd: float = 0.0
    sent: int = 0

    @property
    def exhausted_reason(self) -> str | None:
        """Why no more requests may be sent, or None while the budget lasts."""
        if self.max_requests is not None and self.sent >= self.max_requests:
            return f"budget.max_requests={self.max_requests} reached ({self.sent} requests sent)"
        if self.max_usd is not None and self.spent_usd >= self.max_usd:
            return f"budget.max_usd={self.max_usd} reached (${self.spent_usd:.4f} spent)"
        return None

    def take_request(self) -> None:
        """Reserve one request, or raise BudgetExhausted."""
        reason = self.exhausted_reason
        if reason:
            raise BudgetExhausted(reason)
        self.sent += 1

    def spend(self, usd: float | None) -> None:
        if usd:
            self.spent_usd += usd
