"""The LLM layer through the real CLI and loopback server: retries, Retry-After, cache, budget, dry run, call log."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfinstruct.llm.budget import BudgetExhausted
from selfinstruct.llm.cache import ResponseCache, cache_key
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.llm.retry import is_retryable, retry_after_seconds
from tests.cli_helpers import read_json, read_lines, run_cli

KEY = "sk-test-llm-layer-secret"


def _args(url: str, run_dir: Path, n: int, *extra: str) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}", *extra]


def _run(args: list[str], cwd: Path):
    return run_cli(args, cwd=cwd, env={"OPENAI_API_KEY": KEY})


def test_faults_are_retried_and_retry_after_is_honoured(llm_server, tmp_path: Path) -> None:
    server = llm_server(fault_rate=0.3, retry_after_s=0.4, slow_s=2.0, seed=21, log=True)
    run_dir = tmp_path / "run"
    result = _run(_args(server.url, run_dir, 60, "model.timeout_s=1", "model.retry_base_s=0.05",
                        "pipeline.stages=[bootstrap,classify]"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(read_lines(run_dir / "instructions.jsonl")) == 60
    llm = read_json(run_dir / "metrics.json")["llm"]
    assert {"RateLimitError", "InternalServerError", "Timeout"} <= set(llm["retries"]), llm["retries"]

    # the server's own log: every retry after a 429 came no sooner than its Retry-After
    entries = server.log_lines()
    checked = 0
    for i, entry in enumerate(entries):
        if entry["status"] != 429:
            continue
        later = [e for e in entries[i + 1:] if e["prompt_sha"] == entry["prompt_sha"]]
        if later:
            assert later[0]["t"] - entry["t"] >= entry["retry_after"] - 0.005, (entry, later[0])
            checked += 1
    assert checked >= 3


def test_a_repeated_run_sends_nothing_and_gives_the_same_outputs(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=22)
    outputs = []
    for name in ("first", "second"):
        before = server.stats()["requests"]
        result = _run(_args(server.url, tmp_path / name, 40), tmp_path)  # same cwd: same outputs/.cache
        assert result.returncode == 0, result.stderr
        sent = server.stats()["requests"] - before
        files = ["instructions.jsonl", "rejected.jsonl", "instances.jsonl", "finetune/alpaca.json"]
        outputs.append(({f: (tmp_path / name / f).read_bytes() for f in files}, sent))
    (first, sent_first), (second, sent_second) = outputs
    assert sent_first > 0 and sent_second == 0
    assert first == second
    llm = read_json(tmp_path / "second" / "metrics.json")["llm"]
    assert llm["cache_hits"] == llm["requests"] > 0 and llm["attempts_sent"] == 0


def test_cache_can_be_switched_off(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=23)
    for name in ("a", "b"):
        assert _run(_args(server.url, tmp_path / name, 15, "cache.enabled=false", "pipeline.stages=[bootstrap]"),
                    tmp_path).returncode == 0
    stats = server.stats()["by_kind"]["bootstrap"]
    first = read_json(tmp_path / "a" / "metrics.json")["bootstrap"]["requests"]
    assert stats == first + read_json(tmp_path / "b" / "metrics.json")["bootstrap"]["requests"]


def test_budget_max_requests_stops_cleanly_and_keeps_what_it_had(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=24, latency_ms=50)
    run_dir = tmp_path / "run"
    result = _run(_args(server.url, run_dir, 500, "budget.max_requests=10"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.stats()["requests"] <= 10  # a cap, at any concurrency
    assert "stopped on budget" in result.stderr and "budget.max_requests=10" in result.stderr
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["stopped"]["reason"] == "budget"
    kept = read_lines(run_dir / "instructions.jsonl")
    assert 0 < len(kept) < 500 and metrics["bootstrap"]["accepted"] == len(kept)
    assert not (run_dir / "finetune").exists()  # later stages did not run


def test_budget_max_usd_with_configured_prices(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=25)
    run_dir = tmp_path / "run"
    result = _run(_args(server.url, run_dir, 500, "model.input_cost_per_token=0.00001",
                        "model.output_cost_per_token=0.00002", "budget.max_usd=0.05", "model.max_concurrency=2"), tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["stopped"]["reason"] == "budget" and "max_usd" in metrics["stopped"]["detail"]
    calls = read_lines(run_dir / "llm_calls.jsonl")
    spent = sum(c["cost_usd"] or 0 for c in calls)
    assert spent <= 0.05  # reservations: never past the cap, not even by the requests in flight
    assert spent > 0.05 - 0.03  # ... and the cap is used: no more than about one request's worst case is left
    assert metrics["spend"]["total"]["usd"] == pytest.approx(spent, abs=1e-6)


def test_dry_run_prints_a_plan_and_sends_nothing(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    result = _run(_args(server.url, tmp_path / "run", 1000, "dry_run=true", "model.input_cost_per_token=1e-7",
                        "model.output_cost_per_token=4e-7"), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in
            {"bootstrap", "classify", "instances", "finetune", "total"}}
    assert set(rows) == {"bootstrap", "classify", "instances", "finetune", "total"}
    assert int(rows["classify"][1].replace(",", "")) == 1000 and int(rows["finetune"][1]) == 0
    assert float(rows["total"][4]) > 0
    assert server.stats()["requests"] == 0
    assert not (tmp_path / "run" / "instructions.jsonl").exists()


def test_call_log_has_one_line_per_request_and_no_secrets(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=26)
    for name, extra in (("plain", []), ("prompts", ["log.prompts=true"])):
        run_dir = tmp_path / name
        assert _run(_args(server.url, run_dir, 10, "pipeline.stages=[bootstrap]", "cache.enabled=false", *extra),
                    tmp_path).returncode == 0
        calls = read_lines(run_dir / "llm_calls.jsonl")
        assert len(calls) == read_json(run_dir / "metrics.json")["bootstrap"]["requests"]
        assert {"stage", "model", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s", "attempts",
                "outcome", "cache_hit"} <= set(calls[0])
        assert ("messages" in calls[0]) is bool(extra)
        assert KEY not in (run_dir / "llm_calls.jsonl").read_text()


def test_retry_policy_by_error_kind() -> None:
    litellm = import_litellm()
    retry = [litellm.RateLimitError("slow down", "openai", "m"), litellm.InternalServerError("Connection error.", "openai", "m"),
             litellm.Timeout("timed out", "m", "openai"), litellm.ServiceUnavailableError("down", "openai", "m")]
    never = [litellm.BadRequestError("bad", "m", "openai"), litellm.AuthenticationError("key", "openai", "m"),
             litellm.ContextWindowExceededError("too long", "m", "openai"), BudgetExhausted("spent")]
    assert all(is_retryable(e) for e in retry), [type(e).__name__ for e in retry if not is_retryable(e)]
    assert not any(is_retryable(e) for e in never), [type(e).__name__ for e in never if is_retryable(e)]


def test_retry_after_header_forms() -> None:
    class Exc(Exception):
        def __init__(self, headers):
            self.litellm_response_headers = headers
    assert retry_after_seconds(Exc({"retry-after": "2.5"})) == 2.5
    assert retry_after_seconds(Exc({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # a date in the past
    assert retry_after_seconds(Exc({})) is None and retry_after_seconds(ValueError()) is None


def test_cache_roundtrip_and_keys(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    messages = [{"role": "user", "content": "hi"}]
    k0, k1 = cache_key("m", messages, {"temperature": 0}, 0), cache_key("m", messages, {"temperature": 0}, 1)
    assert k0 != k1 != cache_key("m", messages, {"temperature": 0.7}, 0) != cache_key("other", messages, {"temperature": 0}, 0)
    cache.put(k0, "m", {"text": "hello"})
    assert ResponseCache(tmp_path).get(k0) == {"text": "hello"} and cache.get(k1) is None
