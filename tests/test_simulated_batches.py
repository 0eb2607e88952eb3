"""The simulated provider's Batch API, driven by LiteLLM's own functions over real HTTP.

Batch mode uploads a JSONL file of chat requests (``litellm.acreate_file(purpose="batch")``), starts
a batch (``acreate_batch``), polls it (``aretrieve_batch``) and reads the results
(``afile_content``). These tests make the same calls against the loopback server: each line is
answered by the live chat path, so a batch result equals the live reply to the same request.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.prompts import PromptTemplate
from selfinstruct.simulated import STAGE_HEADER, LoopbackServer, ServerOptions
from selfinstruct.simulated.batches import STAGE_FIELD
from selfinstruct.simulated.cli import build_parser, options_from_args

litellm = import_litellm()
SAMPLING = {"temperature": 0, "max_tokens": 16}
DEMOS = [{"instruction": "Classify the sentiment of this movie review as positive or negative.", "is_classification": True},
         {"instruction": "Write a short poem about the sea.", "is_classification": False},
         {"instruction": "Is this email spam or not spam?", "is_classification": True},
         {"instruction": "Explain how a bicycle stays upright.", "is_classification": False}]
INSTRUCTIONS = [
    "Label each news headline as sports, politics or business.", "Summarize the plot of Hamlet in one paragraph.",
    "Decide whether the given number is prime.", "Give three tips for a job interview.",
    "Tell whether the tweet is sarcastic.", "Translate the sentence into French.",
    "Identify the language of the given text.", "Write a recipe for pancakes.",
    "Classify the animal as a mammal, bird or reptile.", "Describe your ideal weekend.",
    "Detect whether the review mentions the price.", "Compose a haiku about autumn.",
    "Rate the difficulty of the math problem as easy, medium or hard.", "List five uses of a paperclip.",
    "Is the given sentence grammatical?", "Suggest a name for a coffee shop.",
    "Determine the topic of the paragraph: science, art or history.", "Explain recursion to a child.",
    "Predict whether the customer will churn: yes or no.", "Write a thank-you note to a teacher.",
]


@contextmanager
def serve(**options: Any) -> Iterator[LoopbackServer]:
    with LoopbackServer(ServerOptions(seed=5, retry_after_s=0.01, **options)) as srv:
        yield srv


def creds(url: str) -> dict[str, Any]:
    return {"custom_llm_provider": "openai", "api_base": url, "api_key": "x", "max_retries": 0}


def classify_prompts() -> list[str]:
    template = PromptTemplate("self_instruct/classify.txt", "test")
    return [template.render(demos=DEMOS, instruction=instruction) for instruction in INSTRUCTIONS]


def request_body(prompt: str) -> dict[str, Any]:
    return {"model": "loopback", "messages": [{"role": "user", "content": prompt}], **SAMPLING}


def write_batch_file(tmp_path: Path, prompts: list[str], name: str = "batch.jsonl", **extra: Any) -> Path:
    rows = [{"custom_id": f"classify-{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": request_body(p), STAGE_FIELD: "classify", **extra} for i, p in enumerate(prompts)]
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


async def upload(url: str, path: Path) -> Any:
    with path.open("rb") as handle:
        return await litellm.acreate_file(file=handle, purpose="batch", **creds(url))


async def create(url: str, file_id: str) -> Any:
    return await litellm.acreate_batch(completion_window="24h", endpoint="/v1/chat/completions",
                                       input_file_id=file_id, metadata={"stage": "classify"}, **creds(url))


async def retrieve(url: str, batch_id: str) -> Any:
    return await litellm.aretrieve_batch(batch_id=batch_id, **creds(url))


async def poll(url: str, batch_id: str) -> tuple[Any, list[str]]:
    statuses: list[str] = []
    for _ in range(20):
        batch = await retrieve(url, batch_id)
        statuses.append(batch.status)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch, statuses
    raise AssertionError(f"batch never ended: {statuses}")


async def content(url: str, file_id: str) -> list[dict[str, Any]]:
    reply = await litellm.afile_content(file_id=file_id, **creds(url))
    return [json.loads(line) for line in reply.content.decode("utf-8").splitlines()]


async def live(url: str, prompt: str) -> str:
    reply = await litellm.acompletion(model="openai/loopback", api_base=url, api_key="x", num_retries=0,
                                      messages=[{"role": "user", "content": prompt}],
                                      extra_headers={STAGE_HEADER: "classify"}, **SAMPLING)
    return reply.choices[0].message.content


async def live_all(url: str, prompts: list[str]) -> list[str]:
    return list(await asyncio.gather(*(live(url, p) for p in prompts)))


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def run_batch(url: str, path: Path) -> tuple[Any, Any, list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    async def flow() -> tuple[Any, Any, list[str], list[dict[str, Any]], list[dict[str, Any]]]:
        stored = await upload(url, path)
        created = await create(url, stored.id)
        batch, statuses = await poll(url, created.id)
        out = await content(url, batch.output_file_id) if batch.output_file_id else []
        err = await content(url, batch.error_file_id) if batch.error_file_id else []
        return created, batch, statuses, out, err

    return asyncio.run(flow())


def test_batch_results_equal_live_replies(tmp_path: Path) -> None:
    prompts = classify_prompts()
    path = write_batch_file(tmp_path, prompts)
    with serve() as srv:
        created, batch, statuses, out, err = run_batch(srv.url, path)
        stats = srv.stats()
        # the batch object as the server sends it (LiteLLM may parse its usage into a type of its own)
        raw_status, raw = get_json(f"{srv.url}/batches/{batch.id}")
    with serve() as fresh:  # live replies from a server that never saw the batch (same seed)
        replies = asyncio.run(live_all(fresh.url, prompts))
    assert created.id.startswith("batch_") and created.object == "batch" and created.status == "validating"
    assert created.output_file_id is None and created.error_file_id is None
    assert created.endpoint == "/v1/chat/completions" and created.metadata == {"stage": "classify"}
    assert statuses == ["in_progress", "in_progress", "completed"]
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (20, 20, 0) and batch.error_file_id is None
    assert err == [] and [row["custom_id"] for row in out] == [f"classify-{i}" for i in range(20)]
    for row in out:
        assert row["error"] is None and row["response"]["status_code"] == 200
        body = row["response"]["body"]
        assert body["object"] == "chat.completion" and body["usage"]["prompt_tokens"] > 0
        assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    contents = [row["response"]["body"]["choices"][0]["message"]["content"] for row in out]
    assert contents == replies
    assert all(c.strip().lower().startswith(("yes", "no")) for c in contents)  # answered as classify
    assert raw_status == 200
    assert raw["usage"]["input_tokens"] == sum(r["response"]["body"]["usage"]["prompt_tokens"] for r in out)
    assert (stats["uploads"], stats["batches_created"], stats["batch_retrievals"], stats["batch_lines"]) == (1, 1, 3, 20)
    assert stats["by_kind"].get("classify") is None  # batch lines are not live chat requests


def test_polls_option_and_listing(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:3])
    with serve(batch_polls=1) as srv:
        created, batch, statuses, out, _ = run_batch(srv.url, path)
        again = asyncio.run(retrieve(srv.url, created.id))
        listed = asyncio.run(litellm.alist_batches(**creds(srv.url)))
        status, files = get_json(f"{srv.url}/files?purpose=batch_output")
    assert statuses == ["completed"] and len(out) == 3 and again.status == "completed"
    assert [b.id for b in listed.data] == [created.id]
    assert status == 200 and [f["id"] for f in files["data"]] == [batch.output_file_id]


def test_failed_lines_go_to_the_error_file(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts())
    with serve(batch_line_fail_rate=0.4) as srv:
        _, batch, _, out, err = run_batch(srv.url, path)
        srv.options.batch_line_fail_rate = 0.0
        retry = write_batch_file(tmp_path, [], name="retry.jsonl")
        failed = {row["custom_id"] for row in err}
        rows = [{"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                 "body": request_body(classify_prompts()[int(cid.split("-")[1])]), STAGE_FIELD: "classify"}
                for cid in sorted(failed)]
        retry.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        _, second, _, retried, _ = run_batch(srv.url, retry)
        stats = srv.stats()
    assert 0 < len(err) < 20 and len(out) + len(err) == 20
    assert (batch.request_counts.completed, batch.request_counts.failed) == (len(out), len(err))
    assert failed.isdisjoint(row["custom_id"] for row in out)
    for row in err:
        assert row["response"] is None and row["error"]["code"] == "server_error" and row["error"]["message"]
    assert second.request_counts.failed == 0 and {r["custom_id"] for r in retried} == failed
    assert stats["batch_lines"] == 20 + len(failed)


def test_the_line_failure_draw_is_deterministic(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts())
    failures = []
    for _ in range(2):
        with serve(batch_line_fail_rate=0.5) as srv:
            failures.append([row["custom_id"] for row in run_batch(srv.url, path)[4]])
    assert failures[0] == failures[1] and failures[0]


def test_whole_batch_failure(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:4])
    with serve(batch_polls=2, batch_fail="Token limit exceeded for the organization") as srv:
        _, batch, statuses, out, err = run_batch(srv.url, path)
        stats = srv.stats()
    assert statuses == ["in_progress", "failed"] and out == err == []
    assert batch.errors.data[0].message == "Token limit exceeded for the organization"
    assert batch.output_file_id is None and batch.failed_at is not None and stats["batch_lines"] == 0


def test_an_invalid_input_file_fails_validation(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:2])
    path.write_text(path.read_text() + '{"custom_id": "x", "method": "POST", "url": "/v1/embeddings", "body": {}}\n')
    with serve() as srv:
        _, batch, statuses, _, _ = run_batch(srv.url, path)
    assert statuses == ["failed"] and batch.errors.data[0].code == "invalid_url" and batch.errors.data[0].line == 3


def test_cancel(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:4])

    async def flow(url: str) -> tuple[Any, Any, Any]:
        stored = await upload(url, path)
        created = await create(url, stored.id)
        await retrieve(url, created.id)
        cancelling = await litellm.acancel_batch(batch_id=created.id, **creds(url))
        return cancelling, await retrieve(url, created.id), await retrieve(url, created.id)

    with serve() as srv:
        cancelling, cancelled, later = asyncio.run(flow(srv.url))
        stats = srv.stats()
    assert cancelling.status == "cancelling" and cancelled.status == later.status == "cancelled"
    assert later.output_file_id is None and later.cancelled_at is not None and stats["batch_lines"] == 0


def test_errors_are_openai_errors(tmp_path: Path) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:2])
    with serve(batch_polls=1) as srv:
        with pytest.raises(openai.NotFoundError):
            asyncio.run(retrieve(srv.url, "batch_nope"))
        with pytest.raises(openai.BadRequestError):
            asyncio.run(create(srv.url, "file-nope"))
        _, batch, _, _, _ = run_batch(srv.url, path)
        with pytest.raises(openai.BadRequestError):  # a completed batch cannot be cancelled
            asyncio.run(litellm.acancel_batch(batch_id=batch.id, **creds(srv.url)))
        assert srv.stats()["batches_created"] == 1


@pytest.mark.parametrize("fault", ["500", "malformed"])
def test_a_faulted_create_stores_nothing(tmp_path: Path, fault: str) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:2])
    with serve() as srv:
        stored = asyncio.run(upload(srv.url, path))
        srv.options.fault_rate, srv.options.faults = 1.0, (fault,)
        with pytest.raises(openai.InternalServerError):
            asyncio.run(create(srv.url, stored.id))
        srv.options.fault_rate = 0.0
        assert get_json(f"{srv.url}/batches")[1]["data"] == []
        stats = srv.stats()
    assert stats["batches_created"] == 0 and stats["faults"]["500"] == 1


def test_subprocess_server_takes_the_batch_flags(tmp_path: Path, llm_server: Callable[..., Any]) -> None:
    path = write_batch_file(tmp_path, classify_prompts()[:5])
    handle = llm_server(batch_polls=2, batch_line_fail_rate=1.0)
    _, batch, statuses, out, err = run_batch(handle.url, path)
    assert statuses == ["in_progress", "completed"] and out == [] and len(err) == 5
    stats = handle.stats()
    assert (stats["batches_created"], stats["batch_retrievals"], stats["batch_lines"]) == (1, 2, 5)


def test_batch_options_are_validated() -> None:
    args = ["--batch-polls", "4", "--batch-line-fail-rate", "0.25", "--batch-fail", "boom"]
    options = options_from_args(build_parser().parse_args(args))
    assert (options.batch_polls, options.batch_line_fail_rate, options.batch_fail) == (4, 0.25, "boom")
    assert (ServerOptions().batch_polls, ServerOptions().batch_line_fail_rate, ServerOptions().batch_fail) == (3, 0.0, "")
    for bad in ({"batch_polls": 0}, {"batch_polls": True}, {"batch_line_fail_rate": 1.5}):
        with pytest.raises(ValueError):
            ServerOptions(**bad)
    for bad_args in (["--batch-polls", "0"], ["--batch-line-fail-rate", "2"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad_args)
