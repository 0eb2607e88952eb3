"""Money and secrets through the real CLI: a budget that holds over every invocation of a run, keys that
never leak whatever road they came by, and a refused run that leaves the live run's record alone."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

KEY = {"OPENAI_API_KEY": "sk-test-money"}
PRICES = ["model.input_cost_per_token=1e-5", "model.output_cost_per_token=3e-5"]


def _args(url: str, run_dir: Path, n: int, *extra: str) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}", "cache.enabled=false", *extra]


def _grep_tree(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle.encode() in path.read_bytes():
            found.append(path)
    return found


def test_budget_max_usd_holds_over_three_invocations_at_concurrency_32(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=41, latency_ms=20)
    run_dir = tmp_path / "run"
    args = _args(server.url, run_dir, 400, "budget.max_usd=0.3", "model.max_concurrency=32", *PRICES)
    for _ in range(3):
        result = run_cli(args, cwd=tmp_path, env=KEY)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "stopped on budget" in result.stderr
    calls = read_lines(run_dir / "llm_calls.jsonl")
    spent = sum(c["cost_usd"] or 0 for c in calls)
    assert spent <= 0.3
    assert sum(c["attempts"] for c in calls) == server.stats()["requests"]  # every request the server saw is logged
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["spend"]["total"]["usd"] <= 0.3
    assert metrics["spend"]["earlier_invocations"]["usd"] == pytest.approx(spent - metrics["spend"]["this_invocation"]["usd"], abs=1e-6)
    assert "earlier invocations" in result.stderr  # the log says what was spent before
    # raising the cap continues the same run
    more = run_cli(_args(server.url, run_dir, 400, "budget.max_usd=0.45", "model.max_concurrency=32", *PRICES),
                   cwd=tmp_path, env=KEY)
    assert more.returncode == 0, more.stderr[-2000:]
    total = sum(c["cost_usd"] or 0 for c in read_lines(run_dir / "llm_calls.jsonl"))
    assert 0.3 < total <= 0.45


def test_budget_max_requests_holds_over_invocations(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=42)
    run_dir = tmp_path / "run"
    for _ in range(3):
        result = run_cli(_args(server.url, run_dir, 400, "budget.max_requests=25", "model.max_concurrency=32"),
                         cwd=tmp_path, env=KEY)
        assert result.returncode == 0, result.stderr[-2000:]
    assert server.stats()["requests"] <= 25
    assert read_json(run_dir / "metrics.json")["spend"]["total"]["requests"] == server.stats()["requests"]


def test_unknown_price_with_a_dollar_cap_is_refused_before_any_request(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    result = run_cli(_args(server.url, tmp_path / "run", 20, "budget.max_usd=0.0001"), cwd=tmp_path, env=KEY)
    assert result.returncode == 2
    assert "model.input_cost_per_token" in result.stderr and "Traceback" not in result.stderr
    assert server.stats()["requests"] == 0
    # without a cap an unknown price is allowed, and the cost is unknown rather than $0
    ok = run_cli(_args(server.url, tmp_path / "free", 5, "pipeline.stages=[bootstrap]"), cwd=tmp_path, env=KEY)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert read_json(tmp_path / "free" / "metrics.json")["llm"]["cost_usd"] is None


@pytest.mark.parametrize("fault", ["401", "500echo"])
def test_a_key_from_api_key_env_never_leaves_the_process(llm_server, tmp_path: Path, fault: str) -> None:
    secret = "Zq9value777"
    server = llm_server(faults=fault, fault_rate=1.0)
    run_dir, cache_dir = tmp_path / "run", tmp_path / "cache"
    result = run_cli(["model.name=openai/sim", f"model.api_base={server.url}", "model.api_key_env=MY_CRED",
                      "schedule.num_instructions=5", f"hydra.run.dir={run_dir}", f"cache.dir={cache_dir}",
                      "model.max_retries=1", "model.retry_base_s=0.01", "model.retry_max_s=0.02",
                      "log.prompts=true"], cwd=tmp_path, env={"MY_CRED": secret})
    assert result.returncode == 2
    assert server.stats()["requests"] > 0  # the provider did see (and echo) the key
    assert secret not in result.stdout and secret not in result.stderr
    assert _grep_tree(run_dir, secret) == [] and _grep_tree(cache_dir, secret) == []
    assert "***" in (run_dir / "selfinstruct.log").read_text()  # the echo was there, masked


@pytest.mark.parametrize("override, key", [
    ("+model.extra.api_key=sk-abc", "model.extra.api_key"),
    ("model.api_key=sk-abc", "model.api_key"),
    ("model.api_base=http://u:sk-abc@127.0.0.1:9/v1", "model.api_base"),
])
def test_a_secret_in_the_config_is_refused_and_written_nowhere(tmp_path: Path, override: str, key: str) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", "schedule=smoke", f"hydra.run.dir={run_dir}", override], cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and key in errors[0], result.stderr
    assert "sk-abc" not in result.stdout + result.stderr
    assert _grep_tree(tmp_path, "sk-abc") == []
    assert not (run_dir / ".hydra").exists()


def test_a_secret_in_a_config_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("defaults:\n  - loopback\n  - _self_\nextra:\n  api_key: sk-fromfile123\n")
    run_dir = tmp_path / "run"
    result = run_cli(["--config-dir", str(tmp_path / "myconf"), "model=mine", "schedule=smoke",
                      f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 2
    assert "model.extra.api_key" in result.stderr and "sk-fromfile123" not in result.stderr + result.stdout
    assert not run_dir.exists() or not any(run_dir.iterdir())


def test_a_run_refused_by_the_lock_leaves_the_live_runs_record_alone(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=43, latency_ms=300)
    run_dir = tmp_path / "run"
    first = start_cli(_args(server.url, run_dir, 300, "model.max_concurrency=2"), cwd=tmp_path, env=KEY)
    try:
        assert server.wait_for_requests(1, timeout=60, process=first)
        watched = [".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml", "run.json"]
        before = {name: (run_dir / name).read_bytes() for name in watched}
        log_before = (run_dir / "selfinstruct.log").read_text()
        second = run_cli(_args(server.url, run_dir, 300, "schedule.seed=999"), cwd=tmp_path, env=KEY)
        assert second.returncode == 2
        assert "another selfinstruct run is using this directory" in second.stderr
        assert {name: (run_dir / name).read_bytes() for name in watched} == before
        assert "seed: 999" not in (run_dir / ".hydra" / "config.yaml").read_text()
        log_after = (run_dir / "selfinstruct.log").read_text()
        assert log_after.startswith(log_before) and "another selfinstruct run" not in log_after
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)


def test_requests_in_flight_at_a_kill_are_counted_in_run_json(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=44, latency_ms=20000)  # no reply comes back before the kill
    run_dir = tmp_path / "run"
    first = start_cli(_args(server.url, run_dir, 300, "model.max_concurrency=4", *PRICES), cwd=tmp_path, env=KEY)
    try:
        assert server.wait_for_requests(4, timeout=60, process=first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    served = server.stats()["requests"]
    # the four unanswered requests count against the cap: a rerun capped at four sends nothing
    again = run_cli(_args(server.url, run_dir, 300, "budget.max_requests=4", *PRICES), cwd=tmp_path, env=KEY)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "budget.max_requests=4" in again.stderr and server.stats()["requests"] == served
    invocations = read_json(run_dir / "run.json")["invocations"]
    assert invocations[0]["requests_without_reply"] == 4
    spend = read_json(run_dir / "metrics.json")["spend"]
    assert spend["earlier_invocations"]["requests_without_reply"] == 4
    assert spend["earlier_invocations"]["usd"] > 0  # counted at their worst case: they may have been billed
