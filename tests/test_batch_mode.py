"""Batch mode (issue 17): model.batch=true sends each stage's independent requests (and each bootstrap
round) as one provider batch through LiteLLM's batch API, at the batch price, resumable after a kill."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

FILES = ("instructions.jsonl", "rejected.jsonl", "classify.jsonl", "instances.jsonl")
PRICES = ["model.input_cost_per_token=1e-6", "model.output_cost_per_token=2e-6"]
KEY = {"OPENAI_API_KEY": "sk-test-batch"}


def _loopback(run_dir: Path, *extra: str) -> list[str]:
    return ["model=loopback", "schedule.num_instructions=60", f"hydra.run.dir={run_dir}", "cache.enabled=false",
            "pipeline.stages=[bootstrap,classify,instances]", *PRICES, *extra]


def test_batch_mode_gives_the_live_runs_files_at_half_the_price(tmp_path: Path) -> None:
    live = run_cli(_loopback(tmp_path / "live"), cwd=tmp_path)
    batch = run_cli(_loopback(tmp_path / "batch", "model.batch=true", "model.batch_poll_s=0.05"), cwd=tmp_path)
    assert live.returncode == 0 and batch.returncode == 0, live.stderr + batch.stderr
    for name in FILES:
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "batch" / name).read_bytes(), name
    batches = read_lines(tmp_path / "batch" / "batches.jsonl")
    rounds = len(read_lines(tmp_path / "batch" / "rounds.jsonl"))
    assert [b["stage"] for b in batches][:rounds] == ["bootstrap"] * rounds  # one batch per round
    assert {"classify", "instances"} <= {b["stage"] for b in batches}
    live_cost = read_json(tmp_path / "live" / "metrics.json")["llm"]["cost_usd"]
    batch_cost = read_json(tmp_path / "batch" / "metrics.json")["llm"]["cost_usd"]
    assert abs(batch_cost - live_cost / 2) <= 1e-6  # no batch price listed for the loopback: half the live price


def test_failed_batch_lines_are_asked_again_live(tmp_path: Path) -> None:
    live = run_cli(_loopback(tmp_path / "live"), cwd=tmp_path)
    flaky = run_cli(_loopback(tmp_path / "flaky", "model.batch=true", "model.batch_poll_s=0.05",
                              "+model.loopback.options.batch_line_fail_rate=0.3"), cwd=tmp_path)
    assert live.returncode == 0 and flaky.returncode == 0, live.stderr + flaky.stderr
    assert "batch lines failed; asking them again live" in flaky.stderr
    for name in FILES:
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "flaky" / name).read_bytes(), name


def test_kill_9_while_a_batch_is_polled_five_times_creates_each_batch_once(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=3, batch_polls=40)
    reference_server = llm_server(seed=3, batch_polls=40)

    def args(url: str, run_dir: Path) -> list[str]:
        return ["model.name=openai/sim", f"model.api_base={url}", "schedule.num_instructions=40",
                f"hydra.run.dir={run_dir}", "pipeline.stages=[bootstrap,classify]", "model.batch=true",
                "model.batch_poll_s=0.05", "model.batch_poll_max_s=0.05", "cache.enabled=false"]

    reference = run_cli(args(reference_server.url, tmp_path / "a"), cwd=tmp_path, env=KEY)
    assert reference.returncode == 0, reference.stderr
    run_dir = tmp_path / "b"
    rng = random.Random(5)
    kills = 0
    for _ in range(5):
        proc = start_cli(args(server.url, run_dir), cwd=tmp_path, env=KEY)
        journal = run_dir / "batches.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:  # until a batch exists and is being polled
            if journal.exists() and journal.stat().st_size:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.2, 1.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    final = run_cli(args(server.url, run_dir), cwd=tmp_path, env=KEY)
    assert final.returncode == 0, final.stderr
    assert kills >= 4
    journal = read_lines(run_dir / "batches.jsonl")
    assert server.stats()["batches_created"] == len(journal) == len({b["digest"] for b in journal})
    assert server.stats()["batches_created"] == reference_server.stats()["batches_created"]
    for name in ("instructions.jsonl", "rejected.jsonl", "classify.jsonl"):
        assert (run_dir / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


def test_batch_mode_needs_rounds_in_the_bootstrap(tmp_path: Path) -> None:
    result = run_cli(_loopback(tmp_path / "run", "model.batch=true", "stages.bootstrap.window=8"), cwd=tmp_path)
    assert result.returncode == 2 and "needs stages.bootstrap.window=round" in result.stderr
