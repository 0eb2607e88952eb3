"""One request per record, for stages that ask the LLM something about every instruction.

Requests stream with no barrier: as soon as one returns, the next record goes out (up to ``window``
in flight; the client caps the concurrency), so a slow reply never idles the other slots.  Answers
are handed back as they arrive, a stretch at a time (at least ``_MIN_STRETCH``, or whatever has
arrived within ``_MAX_HOLD_S``), so files are appended in arrival order; stages that write them
rewrite them in record order at the end (classify, instances), so the final files do not depend on
reply order.  Requests that failed are tried again in a later pass, so a flaky provider costs time,
not records.  In batch mode (model.batch) a pass is one provider batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Sequence

from selfinstruct.llm.client import Completion, LLMClient

log = logging.getLogger(__name__)

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

    ``handle_batch`` gets the answers as they arrive, a stretch at a time; a stage that keeps every
    reply the moment it arrives passes ``on_reply`` instead (and no ``handle_batch``).  ``window``:
    requests in flight at most (default: twice the model's concurrency, at least 64)."""
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
            await _streamed(llm, stage, pending, build, on_reply, handle_batch, failed, max(1, reach))
        pending = [record for record, _ in failed]
        if not pending or llm.stopped_reason:
            break
    return pending


async def request_packed(
    llm: LLMClient,
    stage: str,
    groups: Sequence[dict[str, Any]],
    build_packed: BuildRequest,
    build_single: BuildRequest,
    handle_single: HandleBatch,
    fallback: list[dict[str, Any]],
    order: dict[Any, int],
    what: str,
    *,
    handle_groups: HandleBatch | None = None,
    on_group_reply: OnReply | None = None,
    needed: Callable[[dict[str, Any]], bool] = lambda record: True,
) -> list[dict[str, Any]]:
    """Packed requests, one per group (``{"records": [...]}``), whose handler puts in ``fallback`` every
    record its reply did not answer; then those, and the ``needed`` records of groups whose request kept
    failing (a context-length error, say), one by one in ``order`` (record id -> position). Returns the
    records still unanswered.  ``what`` names the fallback records in the log line."""
    failed_groups = await request_per_record(llm, stage, groups, build_packed, handle_groups,
                                             on_reply=on_group_reply)
    fallback.extend(r for g in failed_groups for r in g["records"] if needed(r))
    fallback.sort(key=lambda r: order[r["id"]])
    if fallback:
        log.info("%s: %d %s; asking them one by one", stage, len(fallback), what)
    return await request_per_record(llm, stage, fallback, build_single, handle_single)


# answers handed back at once (each hand-back may append and fsync a file), unless the oldest of them
# has waited this long or nothing else is in flight
_MIN_STRETCH = 32
_MAX_HOLD_S = 1.0


async def _streamed(llm: LLMClient, stage: str, records: Sequence[dict[str, Any]], build: BuildRequest,
                    on_reply: OnReply | None, handle_batch: HandleBatch | None,
                    failed: list[tuple[dict[str, Any], Completion | None]], window: int) -> None:
    """Every record of a pass, streamed (see the module docstring): up to ``window`` requests in
    flight, answers handed to ``handle_batch`` in arrival order; failed records (and those it
    returns) go to ``failed`` for the next pass."""
    in_flight: dict[asyncio.Task[Completion], int] = {}
    arrived: list[tuple[int, Completion]] = []
    held_since: float | None = None
    loop = asyncio.get_running_loop()
    sent = 0

    def hand_back() -> None:
        nonlocal held_since
        done = []
        for i, completion in arrived:
            (done if completion.ok else failed).append((records[i], completion))
        arrived.clear()
        held_since = None
        again = (handle_batch(done) if handle_batch is not None else None) or []
        failed.extend((record, None) for record in again)

    try:
        while True:
            while sent < len(records) and len(in_flight) < window:
                if llm.stopped_reason:  # the budget is spent: keep what is done, send nothing more
                    failed.extend((record, None) for record in records[sent:])
                    sent = len(records)
                    break
                task = asyncio.ensure_future(_complete(llm, stage, build(records[sent]), records[sent], on_reply))
                in_flight[task] = sent
                sent += 1
            if arrived and (len(arrived) >= _MIN_STRETCH or not in_flight
                            or (held_since is not None and loop.time() - held_since >= _MAX_HOLD_S)):
                hand_back()
            if not in_flight:
                break
            timeout = None if held_since is None else max(0.0, _MAX_HOLD_S - (loop.time() - held_since))
            finished, _ = await asyncio.wait(in_flight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(finished, key=in_flight.__getitem__):  # the same order for the same arrivals
                i = in_flight.pop(task)
                arrived.append((i, task.result()))  # a bug in a handler surfaces here, not as a hang
                if held_since is None:
                    held_since = loop.time()
    finally:
        for task in in_flight:
            task.cancel()


def _window_of(llm: LLMClient) -> int:
    """Requests in flight at most: twice the concurrency (the client's own limit keeps the slots
    full, the rest wait their turn as tasks), at least 64."""
    limit = getattr(getattr(llm, "model", None), "max_concurrency", None)
    return max(64, 2 * int(limit)) if isinstance(limit, int) and limit > 0 else 128


async def _complete(llm: LLMClient, stage: str, request: tuple[Any, ...], record: Any,
                    on_reply: OnReply | None) -> Completion:
    messages, sampling, *mode = request
    completion = await llm.complete(messages, sampling, stage=":".join((stage, *mode)))
    if on_reply is not None and completion.ok:
        on_reply(record, completion)
    return completion
