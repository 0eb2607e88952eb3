"""Batch mode (``model.batch=true``): a set of independent requests sent as one provider batch job,
at the provider's batch price (OpenAI: half the live price), through LiteLLM's batch API.

The requests become one JSONL file (one line per request, ``custom_id`` its index), uploaded with
``litellm.acreate_file(purpose="batch")``, run with ``acreate_batch``, polled with ``aretrieve_batch``
and read back with ``afile_content``.  The batch id goes to ``RUN/batches.jsonl`` the moment the
provider returns it, keyed by a digest of the file, so a ``kill -9`` and the same command poll the
same batch: nothing is uploaded or paid for twice.  Replies go through the same path as live ones
(response cache, call log, usage, budget); lines that fail are asked again live.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from selfinstruct.data import RecordAppender, read_jsonl
from selfinstruct.errors import SelfInstructError
from selfinstruct.llm.finetune_jobs import FineTuningAPI, ProviderEndpoint, job_field

log = logging.getLogger(__name__)

FINAL = ("completed", "failed", "expired", "cancelled")
# The loopback server's stand-in for the stage header (batch lines have no headers); never sent elsewhere.
LOOPBACK_STAGE_FIELD = "x_selfinstruct_stage"
DEFAULT_BATCH_FACTOR = 0.5  # OpenAI's and Anthropic's batch discount, where LiteLLM lists no batch price


def batch_price_factor(litellm: Any, model: Any) -> float:
    """Batch price / live price: ``model.batch_price_factor`` when set, else LiteLLM's listed batch
    price for the model over its live price, else 0.5."""
    if model.batch_price_factor is not None:
        return float(model.batch_price_factor)
    info = litellm.model_cost.get(model.name.split("/", 1)[-1]) or litellm.model_cost.get(model.name) or {}
    live, batch = info.get("input_cost_per_token"), info.get("input_cost_per_token_batches")
    if live and batch:
        return float(batch) / float(live)
    return DEFAULT_BATCH_FACTOR


@dataclass
class BatchLine:
    """One request of a batch: its messages and sampling, and the stage (with mode) that asks."""

    messages: list[dict[str, str]]
    sampling: dict[str, Any]
    stage: str


class BatchJournal:
    """RUN/batches.jsonl: one line per batch created (its digest, id, stage), read back on resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known = {r["digest"]: r for r in read_jsonl(path)} if path.exists() else {}

    def find(self, digest: str) -> dict[str, Any] | None:
        return self._known.get(digest)

    def record(self, entry: dict[str, Any]) -> None:
        out = RecordAppender(self.path)
        try:
            out.append(entry)
        finally:
            out.close()
        self._known[entry["digest"]] = entry


class BatchAPI(FineTuningAPI):
    """The batch calls, retried like every other provider call."""

    async def upload_batch_file(self, name: str, data: bytes) -> str:
        created = await self._call("uploading a batch file", self._litellm.acreate_file, file=(name, data),
                                   purpose="batch")
        return str(job_field(created, "id"))

    async def create_batch(self, file_id: str, metadata: dict[str, str]) -> Any:
        return await self._call("creating a batch", self._litellm.acreate_batch, completion_window="24h",
                                endpoint="/v1/chat/completions", input_file_id=file_id, metadata=metadata)

    async def retrieve_batch(self, batch_id: str) -> Any:
        return await self._call(f"reading batch {batch_id}", self._litellm.aretrieve_batch, batch_id=batch_id)

    async def content(self, file_id: str) -> bytes:
        reply = await self._call(f"reading batch results {file_id}", self._litellm.afile_content, file_id=file_id)
        data = getattr(reply, "content", reply)
        return data if isinstance(data, bytes) else str(data).encode("utf-8")


def batch_file(lines: list[BatchLine], model_name: str, loopback: bool) -> bytes:
    """The JSONL a batch uploads: one chat request per line, ``custom_id`` its index."""
    out = []
    for i, line in enumerate(lines):
        record: dict[str, Any] = {"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions",
                                  "body": {"model": model_name.split("/", 1)[-1], "messages": line.messages,
                                           **line.sampling}}
        if loopback:
            record[LOOPBACK_STAGE_FIELD] = line.stage
        out.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    return ("\n".join(out) + "\n").encode("utf-8")


async def run_batch(api: BatchAPI, journal: BatchJournal, lines: list[BatchLine], *, model_name: str, loopback: bool,
                    stage: str, poll_s: float, poll_max_s: float, max_wait_s: float,
                    sleep: Callable[[float], Awaitable[None]], stopped: Callable[[], str | None]
                    ) -> dict[int, dict[str, Any]] | None:
    """Send ``lines`` as one batch (or pick up the batch a killed run created for the same lines) and
    return each answered line's chat.completion body by index; None when the run is stopped first."""
    data = batch_file(lines, model_name, loopback)
    digest = hashlib.sha256(data).hexdigest()
    entry = journal.find(digest)
    if entry is None:
        file_id = await api.upload_batch_file(f"selfinstruct-{stage}-{digest[:12]}.jsonl", data)
        batch = await api.create_batch(file_id, {"selfinstruct_stage": stage, "digest": digest[:16]})
        entry = {"digest": digest, "stage": stage, "batch_id": str(job_field(batch, "id")), "input_file_id": file_id,
                 "lines": len(lines)}
        journal.record(entry)  # before anything else: a kill from here on polls this batch again
        log.info("%s: batch %s created (%d requests)", stage, entry["batch_id"], len(lines))
    else:
        log.info("%s: picking up batch %s (%d requests) created by an earlier invocation", stage, entry["batch_id"],
                 len(lines))
    deadline = time.monotonic() + max_wait_s
    delay = poll_s
    while True:
        batch = await api.retrieve_batch(entry["batch_id"])
        status = str(job_field(batch, "status"))
        if status in FINAL:
            break
        if stopped():
            return None
        if time.monotonic() + delay > deadline:
            raise SelfInstructError(f"model.batch_max_wait_s: batch {entry['batch_id']} still {status} after "
                                    f"{max_wait_s:g} s; rerun the same command to go on waiting for it")
        await sleep(delay)
        delay = min(delay * 1.5, poll_max_s)
    if status != "completed":
        errors = job_field(batch, "errors")
        data_list = (errors.get("data") if isinstance(errors, dict) else getattr(errors, "data", None)) or []
        first = data_list[0] if data_list else {}
        message = first.get("message") if isinstance(first, dict) else getattr(first, "message", None)
        raise SelfInstructError(f"model.batch: batch {entry['batch_id']} {status}: {message or 'no reason given'}")
    results: dict[int, dict[str, Any]] = {}
    output = job_field(batch, "output_file_id")
    if output:
        for raw in (await api.content(str(output))).decode("utf-8").splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            response = line.get("response") or {}
            if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
                results[int(line["custom_id"])] = response["body"]
    return results


def endpoint_for(client: Any) -> ProviderEndpoint:
    """The batch API of the client's provider, at its endpoint."""
    provider = client.model.name.split("/", 1)[0] if "/" in client.model.name else "openai"
    return ProviderEndpoint(provider, client.api_base, client._api_key, "model.batch")


async def send_as_batch(client: Any, requests: list[tuple[list[dict[str, str]], dict[str, Any], str]]) -> list[Any]:
    """``LLMClient.complete_many`` in batch mode: cache hits first, the rest as one batch (budget
    reserved line by line at the batch price before the upload), failed lines asked again live."""
    from selfinstruct.llm.budget import BUDGET_ERROR, INTERRUPTED_ERROR, BudgetExhausted
    from selfinstruct.llm.usage import Completion

    keys = [client._next_key(m, s) for m, s, _ in requests]
    results: list[Any] = [None] * len(requests)
    todo: list[int] = []
    for i, ((messages, _, stage), key) in enumerate(zip(requests, keys)):
        cached = client._cache_get(key)
        if cached is not None:
            results[i] = client.account(stage, messages, Completion(**cached, cache_hit=True))
        else:
            todo.append(i)
    if not todo:
        return results
    factor = batch_price_factor(client._litellm, client.model)
    reservations: list[int] = []
    try:
        for i in todo:
            messages, sampling, _ = requests[i]
            worst = client._worst_case_cost(messages, sampling)
            reservations.append(await client.budget.reserve(None if worst is None else worst * factor, client._stop))
    except BudgetExhausted:
        for number in reservations:
            client.budget.settle(number, 0.0, sent=False)
        error = INTERRUPTED_ERROR if client.interrupted else BUDGET_ERROR
        for i in todo:
            results[i] = client.account(requests[i][2], requests[i][0], Completion(error=error))
        return results
    started = time.perf_counter()
    model = client.model
    api = BatchAPI(endpoint_for(client), max_retries=int(model.max_retries), retry_base_s=float(model.retry_base_s),
                   retry_max_s=float(model.retry_max_s), sleep=client._stop.sleep)
    lines = [BatchLine(requests[i][0], requests[i][1], requests[i][2]) for i in todo]
    try:
        bodies = await run_batch(api, client.batch_journal, lines, model_name=model.name,
                                 loopback=client._stage_header is not None, stage=requests[todo[0]][2].partition(":")[0],
                                 poll_s=float(model.batch_poll_s), poll_max_s=float(model.batch_poll_max_s),
                                 max_wait_s=float(model.batch_max_wait_s), sleep=client._stop.sleep,
                                 stopped=lambda: client.interrupted)
    except BaseException:
        for number in reservations:  # the batch's fate is unknown: its worst case stands
            client.budget.settle(number, None)
        raise
    latency = time.perf_counter() - started
    retry_live: list[int] = []
    for j, (i, number) in enumerate(zip(todo, reservations)):
        body = (bodies or {}).get(j)
        if body is None:
            client.budget.settle(number, 0.0, sent=bodies is not None)  # a failed line is not billed
            if bodies is None:
                results[i] = client.account(requests[i][2], requests[i][0], Completion(error=INTERRUPTED_ERROR))
            else:
                retry_live.append(i)
            continue
        completion = _from_body(client, body, factor, latency)
        client.budget.settle(number, completion.cost_usd)
        if completion.ok:
            client._cache_put(keys[i], completion)
        results[i] = client.account(requests[i][2], requests[i][0], completion)
    if retry_live:
        log.info("%d batch lines failed; asking them again live", len(retry_live))
        import asyncio

        live = await asyncio.gather(*(client._complete_keyed(requests[i][0], requests[i][1], requests[i][2], keys[i])
                                      for i in retry_live))
        for i, completion in zip(retry_live, live):
            results[i] = completion
    return results


def _from_body(client: Any, body: dict[str, Any], factor: float, latency: float) -> Any:
    """A batch line's chat.completion as a Completion, costed at the batch price."""
    from selfinstruct.llm.cost import cached_prompt_tokens, call_cost
    from selfinstruct.llm.usage import Completion

    response = client._litellm.ModelResponse(**body)
    usage = body.get("usage") or {}
    prompt, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cost = call_cost(client._litellm, client.model, response, prompt, completion_tokens)
    try:
        choice = body["choices"][0]
        text, finish = choice["message"].get("content") or "", choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return Completion(error="MalformedReply", latency_s=latency, attempts=1,
                          cost_usd=None if cost is None else cost * factor)
    return Completion(text=text, finish_reason=finish, prompt_tokens=prompt, completion_tokens=completion_tokens,
                      cached_prompt_tokens=cached_prompt_tokens(response),
                      cost_usd=None if cost is None else cost * factor, latency_s=latency, attempts=1)

