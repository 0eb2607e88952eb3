"""The spending cap, kept over every invocation of a run, and a promise at any concurrency.

The rule: before an attempt is sent, its worst-case cost (prompt tokens as LiteLLM counts them,
with a margin, plus ``max_tokens``, at the model's prices) is reserved; when it returns, the
reservation is settled to the real cost.  No attempt is sent whose reservation would take what is
spent plus what is reserved past ``budget.max_usd``, so the total never exceeds the cap.

Reservations and settlements are appended to ``spend.jsonl`` in the run directory (flushed, and
fsynced when a cap is set) before the money is at risk, so the cap also holds over reruns,
resumes and requeues: an attempt reserved by an invocation that was killed before its reply is
counted at its reserved cost, and as a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUDGET_ERROR = "BudgetExhausted"  # the Completion.error of a request the budget did not allow
INTERRUPTED_ERROR = "Interrupted"  # ... and of one not sent because the run was interrupted
_WAIT_POLL_S = 0.2  # how often a reservation waiting for others to settle looks at the stop flag


class StopFlag:
    """Set once (by a signal handler) to stop sending; the reason is shown to the user.

    ``wait`` lets a sleeping retry or a waiting reservation wake up the moment it is set.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signal: object = None
        self._event: asyncio.Event | None = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        if self._event is not None:
            self._event.set()

    def wake(self) -> None:
        """Cut every sleep short from now on without stopping the run (a fatal error: the sleepers'
        next attempt raises it instead of sending)."""
        if self._event is None:
            self._event = asyncio.Event()
        self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the flag is set meanwhile."""
        if self.reason or seconds <= 0 or (self._event is not None and self._event.is_set()):
            return
        if self._event is None:
            self._event = asyncio.Event()
            if self.reason:
                self._event.set()
        try:
            await asyncio.wait_for(self._event.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass


class BudgetExhausted(Exception):
    """Raised instead of sending a request once the budget is spent."""


@dataclass
class SpendTotals:
    """What a set of invocations spent: dollars (settled, plus reserved where no reply came) and requests."""

    usd: float = 0.0
    requests: int = 0
    # requests an invocation sent and never saw a reply to (it was killed), by invocation index
    without_reply: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {"usd": round(self.usd, 6), "requests": self.requests,
                "requests_without_reply": sum(self.without_reply.values())}


class SpendLedger:
    """``spend.jsonl``: one line per reservation and one per settlement, appended as they happen."""

    def __init__(self, path: Path | None, invocation: int, sync: bool = False) -> None:
        from selfinstruct.data import LineAppender

        self.path = path
        self.invocation = invocation
        self.sync = sync
        self._out = LineAppender(path) if path is not None else None

    def earlier(self) -> SpendTotals:
        """Totals of the invocations before this one (an unsettled reservation counts at its reserved cost)."""
        totals = SpendTotals()
        if self.path is None or not self.path.exists():
            return totals
        open_reservations: dict[tuple[int, int], float] = {}
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:  # a torn last line from a kill: its reservation never completed
                continue
            key = (int(line["inv"]), int(line["n"]))
            if "reserve_usd" in line:
                open_reservations[key] = float(line["reserve_usd"] or 0.0)
                totals.requests += 1
            else:
                open_reservations.pop(key, None)
                totals.usd += float(line.get("usd") or 0.0)
                if line.get("not_sent"):
                    totals.requests -= 1
        for (invocation, _), reserved in open_reservations.items():
            totals.usd += reserved
            totals.without_reply[invocation] += 1
        return totals

    def _write(self, record: dict[str, Any], sync: bool) -> None:
        if self._out is not None:
            self._out.write(json.dumps(record, separators=(",", ":")), sync=sync)

    def reserve(self, number: int, usd: float | None) -> None:
        """Written before the attempt is sent: from here on the money is at risk."""
        self._write({"inv": self.invocation, "n": number, "reserve_usd": usd}, self.sync)

    def settle(self, number: int, usd: float | None, sent: bool = True) -> None:
        record: dict[str, Any] = {"inv": self.invocation, "n": number, "usd": usd}
        if not sent:
            record["not_sent"] = True
        self._write(record, False)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


@dataclass
class Ticket:
    """One granted reservation."""

    number: int
    reserved_usd: float


class Budget:
    """Caps on dollars and requests over every invocation of the run; reservations keep them at any concurrency."""

    def __init__(self, max_usd: float | None = None, max_requests: int | None = None,
                 ledger: SpendLedger | None = None) -> None:
        self.max_usd = max_usd
        self.max_requests = max_requests
        self.ledger = ledger or SpendLedger(None, 0)
        self.earlier = self.ledger.earlier()
        self.spent_usd = 0.0  # settled by this invocation
        self.sent = 0  # attempts sent by this invocation
        self.reserved: dict[int, float] = {}
        self.overshoot_usd = 0.0  # real costs above their reservation (a tokenizer that counted low)
        self._numbers = 0
        self._exhausted: str | None = None
        self._settled: asyncio.Condition | None = None

    # -- totals ---------------------------------------------------------------------------------

    @property
    def total_usd(self) -> float:
        return self.earlier.usd + self.spent_usd

    @property
    def total_requests(self) -> int:
        return self.earlier.requests + self.sent

    @property
    def exhausted_reason(self) -> str | None:
        """Why no more requests may be sent, or None while the budget lasts."""
        if self._exhausted:
            return self._exhausted
        if self.max_requests is not None and self.total_requests >= self.max_requests:
            self._exhausted = (f"budget.max_requests={self.max_requests} reached "
                               f"({self.total_requests} requests sent over every invocation of this run)")
        elif self.max_usd is not None and self.total_usd >= self.max_usd:
            self._exhausted = f"budget.max_usd={self.max_usd} reached (${self.total_usd:.4f} spent)"
        return self._exhausted

    def to_json(self) -> dict[str, Any]:
        """metrics.json's ``spend``: caps, earlier invocations, this one, and the total."""
        this = {"usd": round(self.spent_usd, 6), "requests": self.sent,
                "in_flight_usd": round(sum(self.reserved.values()), 6)}
        return {
            "max_usd": self.max_usd,
            "max_requests": self.max_requests,
            "earlier_invocations": self.earlier.to_json(),
            "this_invocation": this,
            "total": {"usd": round(self.total_usd + sum(self.reserved.values()), 6),
                      "requests": self.total_requests},
        }

    # -- reservations -----------------------------------------------------------------------------

    async def reserve(self, worst_usd: float | None, stop: StopFlag | None = None) -> Ticket:
        """Reserve one attempt at ``worst_usd`` (None: no dollar cap applies), waiting while other
        reservations may still settle below their worst case; raise BudgetExhausted when it cannot fit."""
        while True:
            if stop is not None and stop.reason:
                raise BudgetExhausted(stop.reason)
            reason = self.exhausted_reason
            if reason:
                raise BudgetExhausted(reason)
            in_flight_requests = len(self.reserved)
            if self.max_requests is not None and self.total_requests + 1 > self.max_requests:
                self._exhausted = self.exhausted_reason
                raise BudgetExhausted(self._exhausted or "budget.max_requests reached")
            cost = worst_usd or 0.0
            if self.max_usd is not None:
                if self.total_usd + cost > self.max_usd:
                    self._exhausted = (f"budget.max_usd={self.max_usd} reached: ${self.total_usd:.4f} spent, "
                                       f"and the next request may cost up to ${cost:.4f}")
                    raise BudgetExhausted(self._exhausted)
                if self.total_usd + sum(self.reserved.values()) + cost > self.max_usd and in_flight_requests:
                    await self._wait_for_settlement(stop)
                    continue
            break
        self._numbers += 1
        ticket = Ticket(self._numbers, cost)
        self.reserved[ticket.number] = cost
        self.sent += 1
        self.ledger.reserve(ticket.number, cost)
        return ticket

    def settle(self, ticket: Ticket, usd: float | None, sent: bool = True) -> None:
        """The attempt returned: its real cost replaces its reservation (None: unknown, the reservation stands)."""
        reserved = self.reserved.pop(ticket.number, 0.0)
        real: float | None
        if not sent:
            self.sent -= 1
            real = 0.0
        elif usd is None:  # a reply without a price: with a cap, assume the worst case
            real = reserved if self.max_usd is not None else None
        else:
            real = usd
        if real is not None and real > reserved and self.max_usd is not None:
            self.overshoot_usd += real - reserved
        self.spent_usd += real or 0.0
        self.ledger.settle(ticket.number, real, sent)
        if self._settled is not None:
            self._settled.notify_all_soon()  # type: ignore[attr-defined]

    async def _wait_for_settlement(self, stop: StopFlag | None) -> None:
        if self._settled is None:
            self._settled = _Settled()
        await self._settled.wait(_WAIT_POLL_S)


class _Settled:
    """Wakes reservations waiting for an in-flight attempt to settle (polls, so a stop is seen too)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify_all_soon(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        self._event.clear()
