"""The bootstrap with no round barrier (issue 17): stages.bootstrap.window=W keeps up to W requests in
flight and filters replies in request order, so the files depend on the seed alone, whatever order
the replies arrive in, and a killed run resumes to the same files."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from tests.cli_helpers import read_lines, run_cli, start_cli

FILES = ("instructions.jsonl", "rejected.jsonl", "rounds.jsonl")


def _args(run_dir: Path, *extra: str) -> list[str]:
    return ["model=loopback", "schedule.num_instructions=150", f"hydra.run.dir={run_dir}", "cache.enabled=false",
            "pipeline.stages=[bootstrap]", "stages.bootstrap.window=16", *extra]


def _same(a: Path, b: Path) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_the_files_do_not_depend_on_reply_order_or_concurrency(tmp_path: Path) -> None:
    plain = run_cli(_args(tmp_path / "a"), cwd=tmp_path)
    shuffled = run_cli(_args(tmp_path / "b", "model.loopback.latency_ms=40", "model.max_concurrency=5",
                             "+model.loopback.options.latency_dist=lognormal",
                             "+model.loopback.options.latency_p99_ms=200"), cwd=tmp_path)
    assert plain.returncode == 0 and shuffled.returncode == 0, plain.stderr + shuffled.stderr
    _same(tmp_path / "a", tmp_path / "b")
    records = read_lines(tmp_path / "a" / "instructions.jsonl")
    assert len(records) == 150 and [r["request"] for r in records] == sorted(r["request"] for r in records)
    ledger = read_lines(tmp_path / "a" / "rounds.jsonl")
    assert [e["request_end"] for e in ledger] == sorted(e["request_end"] for e in ledger)
    assert all(r["round"] == next(e["round"] for e in ledger if e["request_end"] >= r["request"]) for r in records)


def test_a_run_killed_ten_times_resumes_to_the_files_of_an_uninterrupted_one(tmp_path: Path) -> None:
    slow = ["model.loopback.latency_ms=60", "model.max_concurrency=4", "schedule.requests_per_round=4"]
    started = time.perf_counter()
    reference = run_cli(_args(tmp_path / "a", *slow), cwd=tmp_path)
    duration = time.perf_counter() - started
    assert reference.returncode == 0, reference.stderr
    rng = random.Random(17)
    for _ in range(10):
        proc = start_cli(_args(tmp_path / "b", *slow), cwd=tmp_path)
        time.sleep(rng.uniform(1.5, max(2.0, duration)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = run_cli(_args(tmp_path / "b", *slow), cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    _same(tmp_path / "a", tmp_path / "b")


def test_a_run_directory_keeps_the_mode_it_started_with(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = run_cli(["model=loopback", "schedule.num_instructions=20", f"hydra.run.dir={run_dir}",
                     "pipeline.stages=[bootstrap]"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    mixed = run_cli(_args(run_dir), cwd=tmp_path)
    assert mixed.returncode == 2
    assert "stages.bootstrap.window=16: this run directory was bootstrapped in rounds" in mixed.stderr


def test_a_window_of_one_shows_each_prompt_every_earlier_acceptance(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(_args(run_dir, "stages.bootstrap.window=1", "model.max_concurrency=1",
                           "schedule.num_instructions=40", "log.prompts=true"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = read_lines(run_dir / "instructions.jsonl")
    calls = [c for c in read_lines(run_dir / "llm_calls.jsonl") if c["stage"] == "bootstrap"]
    for k, call in enumerate(calls[1:], start=1):
        prompt = call["messages"][-1]["content"]
        earlier = [r["instruction"] for r in records if r["request"] < k]
        shown = [text for text in earlier if text.rstrip(":") in prompt]
        # two machine demonstrations per prompt, drawn from every instruction accepted before it
        assert len(shown) == min(2, len(earlier)), k
