"""Crash-safe runs: kill -9 anywhere and rerun; torn lines; SIGINT; the lock; run.json; presets; shared configs."""

from __future__ import annotations

import random
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from selfinstruct.config import CONFIG_DIR
from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

KEY = {"OPENAI_API_KEY": "sk-test-crash"}
STAGES = "pipeline.stages=[bootstrap,classify,instances,finetune]"
COMPARED = ["instructions.jsonl", "rejected.jsonl", "rounds.jsonl", "classify.jsonl", "instances.jsonl",
            "finetune/prompt_completion.jsonl", "finetune/alpaca.json", "finetune/openai_chat.jsonl",
            "finetune/sharegpt.json"]


def _args(url: str, run_dir: Path, n: int, *extra: str) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}", STAGES, *extra]


def _popen(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return start_cli(args, cwd=cwd, env=KEY)


def test_kill_9_at_ten_random_moments_loses_nothing_and_duplicates_nothing(llm_server, tmp_path: Path) -> None:
    reference_server, killed_server = llm_server(seed=31, latency_ms=40), llm_server(seed=31, latency_ms=40)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()  # separate working dirs: separate caches
    started = time.perf_counter()
    reference = run_cli(_args(reference_server.url, tmp_path / "a" / "run", 300), cwd=tmp_path / "a", env=KEY)
    duration = time.perf_counter() - started
    assert reference.returncode == 0, reference.stderr

    run_dir = tmp_path / "b" / "run"
    rng = random.Random(7)
    for _ in range(10):
        proc = _popen(_args(killed_server.url, run_dir, 300), cwd=tmp_path / "b")
        time.sleep(rng.uniform(1.0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = run_cli(_args(killed_server.url, run_dir, 300), cwd=tmp_path / "b", env=KEY)
    assert final.returncode == 0, final.stderr

    accepted = read_lines(run_dir / "instructions.jsonl")  # every line valid JSON
    assert len(accepted) == 300
    assert len({r["id"] for r in accepted}) == 300 and len({r["instruction"] for r in accepted}) == 300
    for name in COMPARED:
        assert (run_dir / name).read_bytes() == (tmp_path / "a" / "run" / name).read_bytes(), name
    served, needed = killed_server.stats()["requests"], reference_server.stats()["requests"]
    assert needed <= served <= needed + 10 * 16  # at most the in-flight requests of each kill again
    # llm_calls.jsonl loses no line to a kill: only the requests in flight at each kill are missing
    logged = sum(c["attempts"] for c in read_lines(run_dir / "llm_calls.jsonl"))
    assert served - 10 * 16 <= logged <= served
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]  # no temp file outlives a kill


def test_a_torn_last_line_is_dropped_with_a_log_message(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(["model=loopback", "schedule.num_instructions=30", "pipeline.stages=[bootstrap]",
                    f"hydra.run.dir={run_dir}"], cwd=tmp_path).returncode == 0
    path = run_dir / "instructions.jsonl"
    with path.open("ab") as handle:
        handle.write(b'{"id": "machine_task_30", "instruction": "Half a rec')
    result = run_cli(["model=loopback", "schedule.num_instructions=40", "pipeline.stages=[bootstrap]",
                      f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dropped a torn last line" in result.stderr
    records = read_lines(path)
    assert len(records) == 40 and len({r["id"] for r in records}) == 40


def test_sigint_stops_sending_writes_everything_and_prints_the_resume_command(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=32, latency_ms=300)
    run_dir = tmp_path / "run"
    proc = _popen(_args(server.url, run_dir, 150, "model.max_concurrency=4"), cwd=tmp_path)
    server.wait_for_requests(8, timeout=60)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Resume with:" in stderr and f"hydra.run.dir={run_dir}" in stderr
    sent = server.stats()["requests"]
    time.sleep(1.0)
    assert server.stats()["requests"] == sent  # nothing is sent after the run ended
    record = read_json(run_dir / "run.json")
    assert record["ended"] == "interrupted"
    assert read_json(run_dir / "metrics.json")["stopped"]["reason"] == "interrupted"
    # the printed command resumes and completes the run
    command = next(line for line in stderr.splitlines() if line.strip().startswith("selfinstruct "))
    resumed = run_cli(shlex.split(command)[1:], cwd=tmp_path, env=KEY)
    assert resumed.returncode == 0, resumed.stderr
    assert len(read_lines(run_dir / "instructions.jsonl")) == 150


def test_a_second_run_on_the_same_directory_is_refused_and_a_killed_ones_lock_is_not_stale(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=33, latency_ms=300)
    run_dir = tmp_path / "run"
    first = _popen(_args(server.url, run_dir, 300, "model.max_concurrency=2"), cwd=tmp_path)
    server.wait_for_requests(1, timeout=60)
    second = run_cli(_args(server.url, run_dir, 300), cwd=tmp_path, env=KEY)
    assert second.returncode == 2
    assert "another selfinstruct run is using this directory" in second.stderr
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    third = run_cli(_args(server.url, run_dir, 20), cwd=tmp_path, env=KEY)  # the dead run's lock is gone with it
    assert third.returncode == 0, third.stderr


def test_run_json_records_versions_seeds_and_outcome(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(["model=loopback", "schedule.num_instructions=10", "pipeline.stages=[bootstrap]",
                    f"hydra.run.dir={run_dir}"], cwd=tmp_path).returncode == 0
    record = read_json(run_dir / "run.json")
    assert record["ended"] == "done" and record["selfinstruct"] and record["litellm"] and record["python"]
    assert len(record["seeds_sha256"]) == 64 and record["started_at"] <= record["ended_at"]
    assert record["invocations"][0]["command"][0] == "selfinstruct"


@pytest.mark.parametrize("preset", sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")))
def test_each_preset_composes(preset: str) -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+experiment={preset}"])
    assert cfg.schedule.num_instructions > 1000


def test_rerunning_a_shared_run_directory_gives_identical_instructions(tmp_path: Path) -> None:
    shared = tmp_path / "shared_run"
    assert run_cli(["model=loopback", "schedule.num_instructions=50", STAGES, f"hydra.run.dir={shared}"],
                   cwd=tmp_path).returncode == 0
    rerun = tmp_path / "rerun"
    result = run_cli(["--config-path", str(shared / ".hydra"), "--config-name", "config", f"hydra.run.dir={rerun}"],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (rerun / "instructions.jsonl").read_bytes() == (shared / "instructions.jsonl").read_bytes()
    assert read_json(rerun / "metrics.json")["llm"]["attempts_sent"] == 0  # all from the shared cache
