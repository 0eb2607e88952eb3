"""model=router: LiteLLM's Router over several loopback servers, one of them killed mid-run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from selfinstruct.config import CONFIG_DIR
from selfinstruct.errors import ConfigError, CredentialsError
from selfinstruct.llm.router import check_deployments, deployment_ids, in_flight_limit, router_model_list
from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

KEY = {"OPENAI_API_KEY": "sk-test-router"}


def _deployments(*urls: str) -> str:
    return "model.deployments=[" + ",".join(f"{{api_base:'{url}'}}" for url in urls) + "]"


def _model(overrides: list[str]):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("config", ["model=router", *overrides]).model


def test_router_survives_a_server_killed_mid_run(llm_server, tmp_path: Path) -> None:
    kept, killed = llm_server(latency_ms=30), llm_server(latency_ms=30)
    run_dir = tmp_path / "run"
    proc = start_cli(["model=router", "model.name=openai/sim", _deployments(killed.url, kept.url),
                      "schedule.num_instructions=150", "cache.enabled=false",
                      "pipeline.stages=[bootstrap,classify,instances]", f"hydra.run.dir={run_dir}"],
                     cwd=tmp_path, env=KEY)
    # well into the run, with requests in flight on both
    if not killed.wait_for_requests(40, timeout=120, process=proc):
        proc.kill()
        pytest.fail(f"the run ended or stalled before 40 requests reached the server: {proc.communicate()[1][-2000:]}")
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr[-3000:]

    assert len(read_lines(run_dir / "instructions.jsonl")) == 150
    assert {t["id"] for t in read_lines(run_dir / "instances.jsonl")} == {
        r["id"] for r in read_lines(run_dir / "instructions.jsonl")}
    calls = read_lines(run_dir / "llm_calls.jsonl")
    served = {c["deployment"] for c in calls if c["outcome"] != "not_sent"}
    assert served == {killed.url, kept.url}  # traffic on both
    failed_over = [c for c in calls if killed.url in c["failed_deployments"]]
    assert failed_over, "no request failed over from the killed server"
    assert all(c["deployment"] == kept.url and c["outcome"] != "error" for c in failed_over)
    assert not any(c["outcome"].startswith("error") for c in calls)
    # after the kill, everything is served by the survivor
    first_failover = min(c["t"] for c in failed_over)
    assert {c["deployment"] for c in calls if c["t"] > first_failover + 1.0} == {kept.url}
    llm = read_json(run_dir / "metrics.json")["llm"]
    assert llm["deployments"]["replies"][kept.url] == kept.stats()["requests"]
    assert llm["deployments"]["failed_attempts"][killed.url] == len(
        [d for c in calls for d in c["failed_deployments"]])
    assert llm["attempts_sent"] == llm["requests"] + sum(len(c["failed_deployments"]) for c in calls)


def test_cost_cache_and_budget_work_through_the_router(llm_server, tmp_path: Path) -> None:
    a, b = llm_server(), llm_server()
    common = ["model=router", "model.name=openai/sim", _deployments(a.url, b.url),
              "model.input_cost_per_token=0.000001", "model.output_cost_per_token=0.000002",
              "schedule.num_instructions=60", "pipeline.stages=[bootstrap]"]
    first = run_cli([*common, f"hydra.run.dir={tmp_path / 'first'}"], cwd=tmp_path, env=KEY)
    assert first.returncode == 0, first.stderr
    sent = a.stats()["requests"] + b.stats()["requests"]
    metrics = read_json(tmp_path / "first" / "metrics.json")["llm"]
    assert metrics["attempts_sent"] == sent and a.stats()["requests"] > 0 and b.stats()["requests"] > 0
    calls = read_lines(tmp_path / "first" / "llm_calls.jsonl")
    expected = sum(c["prompt_tokens"] * 1e-6 + c["completion_tokens"] * 2e-6 for c in calls)
    assert metrics["cost_usd"] == pytest.approx(expected) and expected > 0

    again = run_cli([*common, f"hydra.run.dir={tmp_path / 'again'}"], cwd=tmp_path, env=KEY)
    assert again.returncode == 0, again.stderr
    assert a.stats()["requests"] + b.stats()["requests"] == sent  # all from the cache
    assert read_json(tmp_path / "again" / "metrics.json")["llm"]["cache_hits"] == metrics["requests"]

    capped = run_cli([*common, "cache.enabled=false", "budget.max_requests=3", "schedule.num_instructions=500",
                      f"hydra.run.dir={tmp_path / 'capped'}"], cwd=tmp_path, env=KEY)
    assert capped.returncode == 0, capped.stderr
    assert read_json(tmp_path / "capped" / "metrics.json")["stopped"]["reason"] == "budget"
    assert a.stats()["requests"] + b.stats()["requests"] - sent <= 3 + 64  # the bound: limit + concurrency


def test_router_model_list_and_credentials(monkeypatch) -> None:
    model = _model(["model.name=openai/gpt-4o-mini",
                    "model.deployments=[{api_key_env:KEY_A,rpm:60},{api_key_env:KEY_B,id:backup,weight:2}]"])
    monkeypatch.delenv("KEY_B", raising=False)
    monkeypatch.setenv("KEY_A", "sk-a-secret")
    with pytest.raises(CredentialsError, match=r"model\.deployments\[1\]\.api_key_env names KEY_B"):
        check_deployments(model)
    monkeypatch.setenv("KEY_B", "sk-b-secret")
    check_deployments(model)
    entries = router_model_list(model)
    assert [e["model_info"]["id"] for e in entries] == ["openai/gpt-4o-mini", "backup"]
    assert entries[0]["litellm_params"] == {"model": "openai/gpt-4o-mini", "api_key": "sk-a-secret", "rpm": 60}
    assert entries[1]["litellm_params"]["weight"] == 2


def test_deployment_ids_are_unique_and_loopback_is_refused() -> None:
    model = _model(["model.name=openai/sim", "model.deployments=[{api_base:'http://h:1/v1'},{api_base:'http://h:1/v1'}]"])
    assert deployment_ids(model) == ["http://h:1/v1", "http://h:1/v1#1"]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        loopback = compose("config", ["model=loopback", "model.deployments=[{api_base:'http://h:1/v1'}]"]).model
    with pytest.raises(ConfigError, match=r"^model\.deployments"):
        check_deployments(loopback)


def test_saved_config_holds_no_deployment_key(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    run = run_cli(["model=router", "model.name=openai/sim",
                   f"model.deployments=[{{api_base:'{server.url}',api_key_env:MY_DEPLOYMENT_KEY}}]",
                   "schedule.num_instructions=10", "pipeline.stages=[bootstrap]", f"hydra.run.dir={tmp_path / 'r'}"],
                  cwd=tmp_path, env={"MY_DEPLOYMENT_KEY": "sk-deployment-secret-42"})
    assert run.returncode == 0, run.stderr
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            assert b"sk-deployment-secret-42" not in path.read_bytes(), path


def test_in_flight_requests_stay_within_the_deployments_caps() -> None:
    capped = _model(["model.max_concurrency=64",
                     "model.deployments=[{api_base:'http://a:1/v1',max_parallel_requests:8},"
                     "{api_base:'http://b:1/v1',max_parallel_requests:4}]"])
    assert in_flight_limit(capped) == 12  # beyond 12 the Router would refuse (RateLimitError)
    partly = _model(["model.max_concurrency=64",
                     "model.deployments=[{api_base:'http://a:1/v1',max_parallel_requests:8},{api_base:'http://b:1/v1'}]"])
    assert in_flight_limit(partly) == 64  # an uncapped deployment takes the rest
