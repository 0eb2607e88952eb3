"""The simulated provider's fine-tuning API, driven by LiteLLM's own functions over real HTTP.

The train stage uploads a file, creates a job and polls it through ``litellm.acreate_file`` /
``acreate_fine_tuning_job`` / ``aretrieve_fine_tuning_job`` (OpenAI SDK underneath: a multipart
upload, JSON bodies). These tests make the same calls against the loopback server, so what the
stage sees offline is what the SDK parses from a real provider: job states, the fine-tuned model
id, errors (which LiteLLM passes through as ``openai.*`` exceptions) and faults to retry.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest

from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.simulated import STAGE_HEADER, LoopbackServer, ServerOptions
from selfinstruct.simulated.cli import build_parser, options_from_args
from selfinstruct.simulated.judge import RatePrompt, rate

litellm = import_litellm()
T = TypeVar("T")
BASE = "gpt-4o-mini-2024-07-18"
RETRYABLE = (openai.RateLimitError, openai.InternalServerError)


@contextmanager
def serve(**options: Any) -> Iterator[LoopbackServer]:
    with LoopbackServer(ServerOptions(seed=3, retry_after_s=0.01, **options)) as srv:
        yield srv


def creds(url: str) -> dict[str, Any]:
    return {"custom_llm_provider": "openai", "api_base": url, "api_key": "x"}


def write_training_file(tmp_path: Path, examples: int = 4) -> tuple[Path, int]:
    """A chat-format JSONL file and the words of its message contents (what trained_tokens counts)."""
    rows = [{"messages": [{"role": "user", "content": f"Name a colour, number {i}. Ünïcode ok"},
                          {"role": "assistant", "content": "Blue is a calm colour."}]} for i in range(examples)]
    path = tmp_path / "openai_chat.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path, examples * (7 + 5)


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 30) -> T:
    """What a polling client does: retry 429 and 500 (the SDK's own retries are off in these calls)."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except RETRYABLE:
            await asyncio.sleep(0)
    return await call()


async def upload(url: str, path: Path, **extra: Any) -> Any:
    with path.open("rb") as handle:
        return await litellm.acreate_file(file=handle, purpose="fine-tune", **creds(url), **extra)


async def create_job(url: str, file_id: str, **extra: Any) -> Any:
    return await litellm.acreate_fine_tuning_job(model=BASE, training_file=file_id, hyperparameters={"n_epochs": 2},
                                                 suffix="si", **creds(url), **extra)


async def retrieve(url: str, job_id: str, **extra: Any) -> Any:
    return await litellm.aretrieve_fine_tuning_job(fine_tuning_job_id=job_id, **creds(url), **extra)


async def poll(url: str, job_id: str, **extra: Any) -> tuple[Any, list[str]]:
    """Retrieve until the job ends; the statuses seen along the way."""
    statuses: list[str] = []
    for _ in range(20):
        job = await retrying(lambda: retrieve(url, job_id, max_retries=0), **extra)
        statuses.append(job.status)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, statuses
    raise AssertionError(f"job never ended: {statuses}")


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """A raw GET (status, JSON body), errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_upload_create_poll_succeeds(tmp_path: Path) -> None:
    path, words = write_training_file(tmp_path)

    async def flow(url: str) -> tuple[Any, Any, Any, list[str], Any]:
        stored = await upload(url, path)
        created = await create_job(url, stored.id)
        job, statuses = await poll(url, created.id)
        again = await retrieve(url, created.id)
        return stored, created, job, statuses, again

    with serve() as srv:
        stored, created, job, statuses, again = asyncio.run(flow(srv.url))
        assert (stored.object, stored.purpose, stored.status, stored.bytes) == (
            "file", "fine-tune", "processed", path.stat().st_size)
        assert stored.filename == "openai_chat.jsonl" and stored.id.startswith("file-")
        assert get_json(f"{srv.url}/files/{stored.id}") == (200, stored.model_dump(exclude_none=True)
                                                            | {"status_details": None, "expires_at": None})
        with urllib.request.urlopen(f"{srv.url}/files/{stored.id}/content") as reply:
            assert reply.read() == path.read_bytes()  # the multipart upload arrived byte for byte
        assert created.id.startswith("ftjob-") and created.status == "validating_files"
        assert created.fine_tuned_model is None and created.hyperparameters.n_epochs == 2
        assert statuses == ["queued", "running", "succeeded"]
        assert job.fine_tuned_model == f"ft:{BASE}:selfinstruct-loopback:si:{created.id[6:14]}"
        assert job.trained_tokens == words * 2 and job.finished_at is not None and job.error is None
        assert again.status == "succeeded"  # a finished job stays finished
        status, events = get_json(f"{srv.url}/fine_tuning/jobs/{created.id}/events")
        assert status == 200 and events["object"] == "list" and events["has_more"] is False
        messages = [e["message"] for e in events["data"]]
        assert messages[0] == "The job has successfully completed" and messages[-1].startswith("Created")
        status, jobs = get_json(f"{srv.url}/fine_tuning/jobs")
        assert [j["id"] for j in jobs["data"]] == [created.id]
        stats = srv.stats()
    assert (stats["uploads"], stats["jobs_created"], stats["job_retrievals"], stats["jobs_cancelled"]) == (1, 1, 4, 0)


def test_failed_job_carries_the_message(tmp_path: Path) -> None:
    path, _ = write_training_file(tmp_path)
    message = "Training file has 3 examples with invalid roles"

    async def flow(url: str) -> tuple[Any, list[str]]:
        stored = await upload(url, path)
        return await poll(url, (await create_job(url, stored.id)).id)

    with serve(finetune_polls=2, finetune_fail=message) as srv:
        job, statuses = asyncio.run(flow(srv.url))
    assert statuses == ["running", "failed"]
    assert job.error.message == message and job.fine_tuned_model is None and job.trained_tokens is None


def test_cancel_stops_the_job(tmp_path: Path) -> None:
    path, _ = write_training_file(tmp_path)

    async def flow(url: str) -> tuple[Any, Any, Any]:
        stored = await upload(url, path)
        created = await create_job(url, stored.id)
        await retrieve(url, created.id)
        cancelled = await litellm.acancel_fine_tuning_job(fine_tuning_job_id=created.id, **creds(url))
        return cancelled, await retrieve(url, created.id), await retrieve(url, created.id)

    with serve() as srv:
        cancelled, after, later = asyncio.run(flow(srv.url))
        stats = srv.stats()
    assert cancelled.status == after.status == later.status == "cancelled"
    assert later.fine_tuned_model is None and stats["jobs_cancelled"] == 1


def test_unknown_ids_are_openai_errors(tmp_path: Path) -> None:
    with serve() as srv:
        with pytest.raises(openai.NotFoundError) as missing:
            asyncio.run(retrieve(srv.url, "ftjob-nope", max_retries=0))
        assert missing.value.status_code == 404
        with pytest.raises(openai.NotFoundError):
            asyncio.run(litellm.acancel_fine_tuning_job(fine_tuning_job_id="ftjob-nope", **creds(srv.url)))
        with pytest.raises(openai.BadRequestError):
            asyncio.run(create_job(srv.url, "file-nope", max_retries=0))
        status, body = get_json(f"{srv.url}/fine_tuning/jobs/ftjob-nope")
        assert status == 404 and body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] == "fine_tune_not_found" and "ftjob-nope" in body["error"]["message"]
        assert get_json(f"{srv.url}/files/file-nope")[0] == 404
        stats = srv.stats()
    assert (stats["uploads"], stats["jobs_created"], stats["job_retrievals"]) == (0, 0, 0)


def test_faulted_calls_are_retried_and_store_nothing(tmp_path: Path) -> None:
    """Faults hit uploads, creates and retrieves; a client that retries ends with one file, one job."""
    path, _ = write_training_file(tmp_path)

    async def flow(url: str) -> tuple[Any, list[str]]:
        stored = await retrying(lambda: upload(url, path, max_retries=0))
        created = await retrying(lambda: create_job(url, stored.id, max_retries=0))
        return await poll(url, created.id)

    with serve(fault_rate=0.5, faults=("429", "500"), finetune_polls=3) as srv:
        job, statuses = asyncio.run(flow(srv.url))
        stats = srv.stats()
        srv.options.fault_rate = 0.0
        files = get_json(f"{srv.url}/files")[1]["data"]
        jobs = get_json(f"{srv.url}/fine_tuning/jobs")[1]["data"]
    assert statuses == ["queued", "running", "succeeded"] and job.fine_tuned_model
    assert len(files) == 1 and len(jobs) == 1
    assert (stats["uploads"], stats["jobs_created"], stats["job_retrievals"]) == (1, 1, 3)
    assert stats["by_kind"]["fine_tuning.jobs.retrieve"] > 3  # some retrieves were faulted and retried
    assert stats["faults"]["429"] + stats["faults"]["500"] == stats["requests"] - 5


@pytest.mark.parametrize("fault", ["500", "429"])
def test_a_faulted_upload_stores_nothing(tmp_path: Path, fault: str) -> None:
    path, _ = write_training_file(tmp_path)
    with serve(fault_rate=1.0, faults=(fault,)) as srv:
        with pytest.raises(RETRYABLE):
            asyncio.run(upload(srv.url, path, max_retries=0))
        srv.options.fault_rate = 0.0
        assert get_json(f"{srv.url}/files")[1]["data"] == []
        assert srv.stats()["uploads"] == 0 and srv.stats()["faults"][fault] == 1


def test_the_sdk_retries_429_itself(tmp_path: Path) -> None:
    """With LiteLLM's default retries the SDK honours Retry-After and re-sends the whole upload."""
    path, _ = write_training_file(tmp_path)

    async def flow(url: str) -> tuple[Any, Any]:
        stored = await upload(url, path)
        created = await create_job(url, stored.id)
        for _ in range(3):
            job = await retrieve(url, created.id)
        return stored, job

    with serve(fault_rate=0.3, faults=("429",)) as srv:
        stored, job = asyncio.run(flow(srv.url))
        stats = srv.stats()
        with urllib.request.urlopen(f"{srv.url}/files/{stored.id}/content") as reply:
            content = reply.read()
    assert job.status == "succeeded" and content == path.read_bytes()
    assert stats["faults"]["429"] > 0 and (stats["uploads"], stats["jobs_created"]) == (1, 1)


TOPICS = ["photosynthesis", "compound interest", "the French Revolution", "binary search", "volcanoes",
          "sourdough bread", "the water cycle", "electric cars", "remote work", "chess openings"]
TASKS = [t.format(topic) for topic in TOPICS for t in (
    "Explain {} to a curious teenager in a short paragraph.", "Write three tips for someone learning about {}.",
    "List common mistakes people make with {}.", "Describe the history of {} in two sentences.")]


def test_the_finetuned_model_answers_better(tmp_path: Path) -> None:
    path, _ = write_training_file(tmp_path)

    async def ask(url: str, model: str, task: str) -> str:
        reply = await litellm.acompletion(model=f"openai/{model}", api_base=url, api_key="x",
                                          messages=[{"role": "user", "content": task}],
                                          extra_headers={STAGE_HEADER: "evaluate:respond"})
        return reply.choices[0].message.content

    async def flow(url: str) -> tuple[str, list[str], list[str], list[str]]:
        stored = await upload(url, path)
        job, _ = await poll(url, (await create_job(url, stored.id)).id)
        tuned = await asyncio.gather(*(ask(url, job.fine_tuned_model, t) for t in TASKS))
        base = await asyncio.gather(*(ask(url, "loopback", t) for t in TASKS))
        other = await asyncio.gather(*(ask(url, BASE, t) for t in TASKS))
        return job.fine_tuned_model, tuned, base, other

    with serve(finetune_polls=1) as srv:
        model, tuned, base, other = asyncio.run(flow(srv.url))
    assert model.startswith("ft:")
    assert other == base  # only an ft: model name changes the reply
    grade = {name: sum(rate(RatePrompt(task, "", "", answer))[0] == "A" for task, answer in zip(TASKS, answers))
             for name, answers in (("tuned", tuned), ("base", base))}
    assert len(TASKS) == 40 and grade["tuned"] > grade["base"], grade


def test_subprocess_server_takes_the_finetune_flags(tmp_path: Path, llm_server: Callable[..., Any]) -> None:
    path, words = write_training_file(tmp_path)
    handle = llm_server(finetune_polls=2)

    async def flow(url: str) -> tuple[Any, list[str]]:
        stored = await upload(url, path)
        return await poll(url, (await create_job(url, stored.id)).id)

    job, statuses = asyncio.run(flow(handle.url))
    stats = handle.stats()
    assert statuses == ["running", "succeeded"] and job.trained_tokens == words * 2
    assert (stats["uploads"], stats["jobs_created"], stats["job_retrievals"], stats["jobs_cancelled"]) == (1, 1, 2, 0)


def test_finetune_options_are_validated() -> None:
    args = ["--finetune-polls", "4", "--finetune-fail", "bad roles", "--finetune-quality-gain", "0.2"]
    options = options_from_args(build_parser().parse_args(args))
    assert (options.finetune_polls, options.finetune_fail, options.finetune_quality_gain) == (4, "bad roles", 0.2)
    assert (ServerOptions().finetune_polls, ServerOptions().finetune_fail) == (3, "")
    for bad in ({"finetune_polls": 0}, {"finetune_quality_gain": 1.5}, {"finetune_quality_gain": -0.1}):
        with pytest.raises(ValueError):
            ServerOptions(**bad)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--finetune-polls", "0"])


def test_an_upload_the_client_gave_up_on_is_not_stored(tmp_path: Path) -> None:
    """A 'timeout' fault delays before the upload runs; a client that timed out and left stores nothing."""
    path, _ = write_training_file(tmp_path)
    with serve(fault_rate=1.0, faults=("timeout",), slow_s=0.3) as srv:
        with pytest.raises(openai.APITimeoutError):
            asyncio.run(upload(srv.url, path, max_retries=0, timeout=0.1))
        srv.options.fault_rate = 0.0
        time.sleep(0.6)  # past the delay: the server has decided by now
        stored = asyncio.run(upload(srv.url, path))
        assert [f["id"] for f in get_json(f"{srv.url}/files")[1]["data"]] == [stored.id]
        assert srv.stats()["uploads"] == 1
