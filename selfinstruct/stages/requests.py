"""One request per record, for stages that ask the LLM something about every instruction.

Records are sent in batches; each batch's results are handed back in record order (so output
files do not depend on reply order) and written before the next batch starts.  Requests that
failed are tried again in a later pass, so a flaky provider costs time, not records.
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
    batch_size: int = 256,
    max_passes: int = 5,
    on_reply: OnReply | None = None,
) -> list[dict[str, Any]]:
    """Send one request per record; returns the records still unanswered after every pass.

    ``handle_batch`` gets each batch's answers in record order; a stage that keeps every reply the
    moment it arrives passes ``on_reply`` instead (and no ``handle_batch``)."""
    pending = list(records)
    if llm.batch_mode:
        batch_size = max(batch_size, len(pending), 1)
    for _ in range(max_passes):
        failed: list[tuple[dict[str, Any], Completion | None]] = []
        for start in range(0, len(pending), batch_size):
            if llm.stopped_reason:  # the budget is spent: keep what is done, send nothing more
                failed.extend((record, None) for record in pending[start:])
                break
            batch = pending[start:start + batch_size]
            if llm.batch_mode:  # one provider batch job for the whole pass (model.batch)
                requests = [build(r) for r in batch]
                completions = await llm.complete_many(
                    [(messages, sampling, ":".join((stage, *mode))) for messages, sampling, *mode in requests])
                if on_reply is not None:
                    for record, completion in zip(batch, completions):
                        if completion.ok:
                            on_reply(record, completion)
            else:
                completions = await asyncio.gather(*(_complete(llm, stage, build(r), r, on_reply) for r in batch))
            done = []
            for record, completion in zip(batch, completions):
                (done if completion.ok else failed).append((record, completion))
            again = (handle_batch(done) if handle_batch is not None else None) or []
            failed.extend((record, None) for record in again)
        pending = [record for record, _ in failed]
        if not pending or llm.stopped_reason:
            break
    return pending


async def _complete(llm: LLMClient, stage: str, request: tuple[Any, ...], record: Any,
                    on_reply: OnReply | None) -> Completion:
    messages, sampling, *mode = request
    completion = await llm.complete(messages, sampling, stage=":".join((stage, *mode)))
    if on_reply is not None and completion.ok:
        on_reply(record, completion)
    return completion
