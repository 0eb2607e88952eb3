"""The budget as a promise: reservations keep the cap at any concurrency, and the spend record keeps it
over every invocation of a run (reruns, resumes, kills)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from selfinstruct.llm.budget import Budget, BudgetExhausted, SpendLedger, StopFlag


async def _spend_concurrently(budget: Budget, workers: int, attempts: int, worst: float, seed: int) -> int:
    """``workers`` tasks each try ``attempts`` requests: reserve the worst case, 'send', settle below it."""
    rng = random.Random(seed)
    sent = 0

    async def worker() -> None:
        nonlocal sent
        for _ in range(attempts):
            try:
                ticket = await budget.reserve(worst)
            except BudgetExhausted:
                return
            await asyncio.sleep(rng.random() / 1000)
            budget.settle(ticket, worst * rng.uniform(0.05, 1.0))
            sent += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return sent


@pytest.mark.parametrize("workers", [1, 8, 64])
def test_cap_holds_at_any_concurrency(tmp_path: Path, workers: int) -> None:
    budget = Budget(max_usd=1.0, ledger=SpendLedger(tmp_path / "spend.jsonl", 0))
    sent = asyncio.run(_spend_concurrently(budget, workers, 200, worst=0.03, seed=workers))
    assert budget.total_usd <= 1.0
    assert budget.exhausted_reason is not None
    # the budget is used, not just respected: waiting for in-flight settlements lets cheap replies through
    assert budget.total_usd > 1.0 - 0.03
    assert sent == budget.sent


def test_spend_record_carries_the_cap_over_invocations(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    totals = []
    for invocation in range(3):
        budget = Budget(max_usd=1.0, ledger=SpendLedger(path, invocation))
        asyncio.run(_spend_concurrently(budget, 16, 100, worst=0.03, seed=invocation))
        budget.ledger.close()
        totals.append(budget.total_usd)
    assert totals[0] <= 1.0 and totals[1] <= 1.0 and totals[2] <= 1.0
    assert SpendLedger(path, 3).earlier().usd == pytest.approx(totals[2])
    # a larger cap continues where the run stands
    budget = Budget(max_usd=1.5, ledger=SpendLedger(path, 3))
    asyncio.run(_spend_concurrently(budget, 16, 100, worst=0.03, seed=9))
    assert 1.0 < budget.total_usd <= 1.5


def test_requests_cap_counts_every_invocation(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    sent = 0
    for invocation in range(3):
        budget = Budget(max_requests=100, ledger=SpendLedger(path, invocation))
        sent += asyncio.run(_spend_concurrently(budget, 32, 100, worst=0.0, seed=invocation))
    assert sent == 100


def test_a_killed_invocations_unanswered_requests_count_at_their_reservation(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    budget = Budget(max_usd=1.0, ledger=SpendLedger(path, 0))

    async def killed() -> None:
        done = await budget.reserve(0.2)
        budget.settle(done, 0.05)
        await budget.reserve(0.2)  # sent, and the process dies before its reply
        await budget.reserve(0.3)

    asyncio.run(killed())
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"inv":0,"n":4,"reserve_u')  # a torn line: the kill came mid-write, nothing was sent
    earlier = SpendLedger(path, 1).earlier()
    assert earlier.usd == pytest.approx(0.05 + 0.2 + 0.3)
    assert earlier.requests == 3
    assert earlier.without_reply == {0: 2}
    lines = [json.loads(line) for line in path.read_text().splitlines()[:-1]]
    assert [("reserve_usd" in line) for line in lines] == [True, False, True, True]


def test_a_request_that_can_never_fit_stops_at_once(tmp_path: Path) -> None:
    budget = Budget(max_usd=0.1, ledger=SpendLedger(tmp_path / "spend.jsonl", 0))
    with pytest.raises(BudgetExhausted, match="may cost up to"):
        asyncio.run(budget.reserve(0.5))
    assert budget.sent == 0 and budget.exhausted_reason


def test_a_waiting_reservation_gives_way_to_an_interrupt(tmp_path: Path) -> None:
    budget = Budget(max_usd=1.0, ledger=SpendLedger(tmp_path / "spend.jsonl", 0))
    stop = StopFlag()

    async def scenario() -> str:
        await budget.reserve(0.8)  # in flight, never settles
        waiting = asyncio.ensure_future(budget.reserve(0.5, stop))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # it waits: the first may still settle below its worst case
        stop.set("interrupted by SIGTERM")
        try:
            await asyncio.wait_for(waiting, timeout=5)
        except BudgetExhausted as exc:
            return str(exc)
        return "sent"

    assert asyncio.run(scenario()) == "interrupted by SIGTERM"


def test_stop_flag_cuts_a_sleep_short() -> None:
    stop = StopFlag()

    async def scenario() -> bool:
        sleeper = asyncio.ensure_future(stop.sleep(3600))
        await asyncio.sleep(0.01)
        stop.set("interrupted by SIGINT")
        await asyncio.wait_for(sleeper, timeout=5)
        return True

    assert asyncio.run(scenario())
