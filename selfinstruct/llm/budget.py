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

    ``sleep`` lets a retry backoff or a rate-limit wait end the moment it is set (or ``wake`` is called).
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signal: object = None
        self._event: asyncio.Event | None = None

    def _woken(self) -> asyncio.Event:
        if self._event is None:  # made on first use, inside the running event loop
            self._event = asyncio.Event()
        return self._event

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._woken().set()

    def wake(self) -> None:
        """Cut every sleep short from now on without stopping the run (a fatal error: the sleepers'
        next attempt raises it instead of sending)."""
        self._woken().set()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the flag is set (or woken) meanwhile."""
        await _wait_at_most(self._woken(), seconds)


class BudgetExhausted(Exception):
    """Raised instead of sending a request once the budget is spent."""


@dataclass
class SpendTotals:
    """What a set of invocations spent: dollars (settled, plus reserved where no reply came) and requests."""

    usd: float = 0.0
    requests: int = 0
    # requests an invocation sent and never saw a reply to (it was killed), by invocation index
    without_reply: Counter = field(default_factory=Counter)
    # those reservations, (invocation, number) -> reserved dollars: a long job (fine-tuning) may settle later
    open_reservations: dict = field(default_factory=dict)

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
        for (invocation, number), reserved in open_reservations.items():
            totals.usd += reserved
            totals.without_reply[invocation] += 1
            totals.open_reservations[(invocation, number)] = reserved
        return totals

    def _write(self, record: dict[str, Any], sync: bool) -> None:
        if self._out is not None:
            self._out.write(json.dumps(record, separators=(",", ":")), sync=sync)

    def reserve(self, number: int, usd: float | None) -> None:
        """Written before the attempt is sent: from here on the money is at risk."""
        self._write({"inv": self.invocation, "n": number, "reserve_usd": usd}, self.sync)

    def settle(self, number: int, usd: float | None, sent: bool = True, invocation: int | None = None) -> None:
        record: dict[str, Any] = {"inv": self.invocation if invocation is None else invocation, "n": number,
                                  "usd": usd}
        if not sent:
            record["not_sent"] = True
        self._write(record, False)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


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
        self.reserved: dict[int, float] = {}  # reservation number -> its worst case, while in flight
        self._numbers = 0
        self._exhausted: str | None = None
        self._settled: asyncio.Event | None = None  # set whenever an attempt settles

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

    async def reserve(self, worst_usd: float | None, stop: StopFlag | None = None) -> int:
        """Reserve one attempt at ``worst_usd`` (None: no dollar cap applies) and return its number,
        waiting while other reservations may still settle below their worst case; raise
        BudgetExhausted when it cannot fit."""
        cost = worst_usd or 0.0
        while True:
            if stop is not None and stop.reason:
                raise BudgetExhausted(stop.reason)
            reason = self.exhausted_reason  # max_requests: the next attempt would cross it
            if reason:
                raise BudgetExhausted(reason)
            if self.max_usd is None:
                break
            if self.total_usd + cost > self.max_usd:
                self._exhausted = (f"budget.max_usd={self.max_usd} reached: ${self.total_usd:.4f} spent, "
                                   f"and the next request may cost up to ${cost:.4f}")
                raise BudgetExhausted(self._exhausted)
            if not self.reserved or self.total_usd + sum(self.reserved.values()) + cost <= self.max_usd:
                break
            await self._wait_for_settlement()
        self._numbers += 1
        self.reserved[self._numbers] = cost
        self.sent += 1
        self.ledger.reserve(self._numbers, cost)
        return self._numbers

    def settle(self, number: int, usd: float | None, sent: bool = True) -> None:
        """The attempt returned: its real cost replaces its reservation (None: unknown, the reservation stands)."""
        reserved = self.reserved.pop(number, 0.0)
        real: float | None
        if not sent:
            self.sent -= 1
            real = 0.0
        elif usd is None:  # a reply without a price: with a cap, assume the worst case
            real = reserved if self.max_usd is not None else None
        else:
            real = usd
        self.spent_usd += real or 0.0
        self.ledger.settle(number, real, sent)
        if self._settled is not None:
            self._settled.set()

    def settle_any(self, invocation: int, number: int, usd: float | None) -> None:
        """Settle a reservation made by this invocation or by an earlier one (a fine-tuning job reserved
        before its upload and seen to finish by a later invocation): its real cost replaces it."""
        if invocation == self.ledger.invocation:
            self.settle(number, usd)
            return
        reserved = self.earlier.open_reservations.pop((invocation, number), None)
        if reserved is None:
            return  # settled already
        real = reserved if usd is None else usd
        self.earlier.usd += real - reserved
        self.earlier.without_reply[invocation] -= 1
        self.ledger.settle(number, real, invocation=invocation)
        self._exhausted = None  # a settlement below the reservation may leave room again

    async def _wait_for_settlement(self) -> None:
        """Until some attempt settles, or a short poll passes (so the caller sees a stop)."""
        if self._settled is None:
            self._settled = asyncio.Event()
        await _wait_at_most(self._settled, _WAIT_POLL_S)
        self._settled.clear()


async def _wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` pass, whichever comes first."""
    if event.is_set() or seconds <= 0:
        return
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
