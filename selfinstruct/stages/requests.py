"""One request per record, for stages that ask the LLM something about every instruction.

Requests go out through a sliding window with no barrier: up to ``window`` records past the first
unfinished one are in flight (the client caps the concurrency), so one slow reply never idles the
other slots.  Results are handed back in record order, a contiguous stretch at a time (so output
files do not depend on reply order).  Requests that failed are tried again in a later pass, so a
flaky provider costs time, not records.  In batch mode (model.batch) a pass is one provider batch.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Sequence

from selfinstruct.llm.client import Completion, LLMClient

# Builds (messages, sampling) for a record, or (messages, sampling, mode) for a stage whose prompts
# come in several modes: it is sent as stage "NAME:MODE" (usage still counts under NAME).
BuildRequest = Callable[[dict[str, Any]], "tuple[list[dict[str, str]], dict[str, Any]] | tuple[list[dict[str, str]], dict[str, Any], str]"]
# Handles a batch of answered records; may return records to ask again (a reply that was unusable).
HandleBatch = Callable[[list[tuple[dict[str, Any], Completion]]], "list[dict[str, Any]] | None"]
# Called with each answered record the moment its reply arrives (in reply order), for stages that keep
# every reply at once, so a killed run asks for none of them again.
OnReply = Callable[[Any, Completion], None]


async def request_per_record(
    llm: LLMClient,
    stage: str,
    records: Sequence[dict[str, Any]],
    build: BuildRequest,
    handle_batch: HandleBatch | None = None,
    *,
    window: int | None = None,
    max_passes: int = 5,
    on_reply: OnReply | None = None,
) -> list[dict[str, Any]]:
    """Send one request per record; returns the records still unanswered after every pass.

    ``handle_batch`` gets the answers in record order, a contiguous stretch at a time; a stage that
    keeps every reply the moment it arrives passes ``on_reply`` instead (and no ``handle_batch``).
    ``window``: how far past the first unfinished record requests may go (default: four times the
    model's concurrency, at least 64)."""
    pending = list(records)
    reach = window if window is not None else _window_of(llm)
    for _ in range(max_passes):
        failed: list[tuple[dict[str, Any], Completion | None]] = []
        if llm.stopped_reason:  # the budget is spent: keep what is done, send nothing more
            failed.extend((record, None) for record in pending)
        elif llm.batch_mode:  # one provider batch job for the whole pass (model.batch)
            requests = [build(r) for r in pending]
            completions = await llm.complete_many(
                [(messages, sampling, ":".join((stage, *mode))) for messages, sampling, *mode in requests])
            done = []
            for record, completion in zip(pending, completions):
                if completion.ok and on_reply is not None:
                    on_reply(record, completion)
                (done if completion.ok else failed).append((record, completion))
            again = (handle_batch(done) if handle_batch is not None else None) or []
            failed.extend((record, None) for record in again)
        else:
            await _windowed(llm, stage, pending, build, on_reply, handle_batch, failed, max(1, reach))
        pending = [record for record, _ in failed]
        if not pending or llm.stopped_reason:
            break
    return pending


# handed back at least this many records at once (each hand-back may write and fsync a file),
# or fewer when nothing else is in flight
_MIN_STRETCH = 32


async def _windowed(llm: LLMClient, stage: str, records: Sequence[dict[str, Any]], build: BuildRequest,
                    on_reply: OnReply | None, handle_batch: HandleBatch | None,
                    failed: list[tuple[dict[str, Any], Completion | None]], window: int) -> None:
    """Every record of a pass through a sliding window (see the module docstring): record i is sent
    once every record before i - window has been handed back; replies are handed to ``handle_batch``
    in record order; failed records (and those it returns) go to ``failed`` for the next pass."""
    results: dict[int, Completion] = {}
    in_flight: dict[int, asyncio.Task[Completion]] = {}
    arrived = asyncio.Event()
    end = len(records)  # lowered when the budget stops the sending
    sent = handed = 0

    async def one(i: int) -> Completion:
        try:
            return await _complete(llm, stage, build(records[i]), records[i], on_reply)
        finally:
            arrived.set()

    def hand_back(upto: int) -> None:
        nonlocal handed
        done = []
        for i in range(handed, upto):
            completion = results.pop(i)
            (done if completion.ok else failed).append((records[i], completion))
        handed = upto
        again = (handle_batch(done) if handle_batch is not None else None) or []
        failed.extend((record, None) for record in again)

    try:
        while handed < end:
            while sent < end and sent < handed + window:
                if llm.stopped_reason:  # the budget is spent: keep what is done, send nothing more
                    failed.extend((record, None) for record in records[sent:end])
                    end = sent
                    break
                in_flight[sent] = asyncio.ensure_future(one(sent))
                sent += 1
            for i in [i for i, task in in_flight.items() if task.done()]:
                results[i] = in_flight.pop(i).result()  # a bug in a handler surfaces here, not as a hang
            ready = handed
            while ready < end and ready in results:
                ready += 1
            blocked = sent < end and sent >= handed + window
            if ready > handed and (ready - handed >= _MIN_STRETCH or blocked or not in_flight or ready == end):
                hand_back(ready)
                continue
            if handed >= end:
                break
            arrived.clear()
            await arrived.wait()
    finally:
        for task in in_flight.values():
            task.cancel()


def _window_of(llm: LLMClient) -> int:
    """How far past the first unfinished record requests may go: four times the concurrency, so the
    slots stay busy behind a slow reply (at least 64)."""
    limit = getattr(getattr(llm, "model", None), "max_concurrency", None)
    return max(64, 4 * int(limit)) if isinstance(limit, int) and limit > 0 else 256


async def _complete(llm: LLMClient, stage: str, request: tuple[Any, ...], record: Any,
                    on_reply: OnReply | None) -> Completion:
    messages, sampling, *mode = request
    completion = await llm.complete(messages, sampling, stage=":".join((stage, *mode)))
    if on_reply is not None and completion.ok:
        on_reply(record, completion)
    return completion
