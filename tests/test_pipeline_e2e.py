"""The whole bootstrap stage through the real CLI, LiteLLM's HTTP path and the loopback server."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from selfinstruct.seeds import load_seed_tasks
from selfinstruct.resources import resolve_path
from tests.cli_helpers import read_json, read_lines, run_cli

SECRET = "sk-test-123-do-not-leak"
SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_tasks.jsonl"


def _real_model_args(url: str, run_dir: Path, n: int) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}"]


def test_run_reaches_the_exact_target_with_the_papers_filters(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=3)
    run_dir = tmp_path / "run1"
    result = run_cli(_real_model_args(server.url, run_dir, 100), cwd=tmp_path, env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr

    accepted = read_lines(run_dir / "instructions.jsonl")
    assert len(accepted) == 100
    assert len({r["id"] for r in accepted}) == 100
    assert set(accepted[0]) >= {"id", "instruction", "round", "max_similarity", "most_similar"}
    assert all(0 < len(r["most_similar"]) <= 10 for r in accepted)

    # checked with rouge-score itself: nothing accepted is above 0.7 against a seed or another accepted one
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    seeds = [t.instruction for t in load_seed_tasks(resolve_path("seed_tasks.jsonl", "seeds"))]
    texts = [r["instruction"] for r in accepted]
    for i, text in enumerate(texts):
        for other in seeds + texts[:i]:
            assert scorer.score(other, text)["rougeL"].fmeasure <= 0.7, (text, other)

    rejected = read_lines(run_dir / "rejected.jsonl")
    reasons = {r["reason"] for r in rejected}
    assert len(reasons) >= 3, reasons
    assert all(r["score"] > 0.7 for r in rejected if r["reason"] == "rouge")

    metrics = read_json(run_dir / "metrics.json")
    boot = metrics["bootstrap"]
    assert boot["accepted"] == 100
    assert boot["rejected"] == {reason: sum(r["reason"] == reason for r in rejected) for reason in reasons}
    assert boot["requests"] == server.stats()["by_kind"]["bootstrap"]
    assert boot["prompt_tokens"] > 0 and boot["completion_tokens"] > 0 and boot["wall_s"] > 0
    assert metrics["simulated_model"] is False
    assert (run_dir / ".hydra" / "config.yaml").exists()

    # the key is nowhere in the run directory: not in .hydra/, the log, or the outputs
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path


def test_same_seed_and_replies_give_the_same_run(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=5)
    outputs = []
    for name in ("a", "b"):
        result = run_cli(_real_model_args(server.url, tmp_path / name, 30), cwd=tmp_path,
                         env={"OPENAI_API_KEY": SECRET})
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / name / "instructions.jsonl").read_bytes())
    assert outputs[0] == outputs[1]


def test_threshold_sweep_rejects_more_at_the_lower_threshold(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli(["-m", "model=loopback", "filters.rouge.threshold=0.5,0.7", "schedule.num_instructions=60",
                      f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = sorted(p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 2
    thresholds = [read_json(j / "metrics.json") for j in jobs]
    overrides = [(j / ".hydra" / "overrides.yaml").read_text() for j in jobs]
    assert "0.5" in overrides[0] and "0.7" in overrides[1]
    low, high = (m["bootstrap"] for m in thresholds)
    assert low["accepted"] == high["accepted"] == 60
    assert low["rejected"].get("rouge", 0) > high["rejected"].get("rouge", 0)


def test_loopback_model_runs_offline_with_no_key_and_says_it_is_simulated(tmp_path: Path) -> None:
    result = run_cli(["model=loopback", "schedule.num_instructions=25", f"hydra.run.dir={tmp_path / 'r'}"],
                     cwd=tmp_path, env={"OPENAI_API_KEY": None})
    assert result.returncode == 0, result.stderr
    first_line = result.stderr.strip().splitlines()[0]
    assert "SIMULATED" in first_line
    metrics = read_json(tmp_path / "r" / "metrics.json")
    assert metrics["simulated_model"] is True and "SIMULATED" in metrics["notice"]
    assert len(read_lines(tmp_path / "r" / "instructions.jsonl")) == 25


def test_missing_key_fails_before_any_request_naming_the_variable(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    run_dir = tmp_path / "r"
    result = run_cli(_real_model_args(server.url, run_dir, 10), cwd=tmp_path, env={"OPENAI_API_KEY": None})
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "OPENAI_API_KEY" in errors[0] and "model=loopback" in errors[0]
    assert server.stats()["requests"] == 0
    assert not (run_dir / "instructions.jsonl").exists()


def test_default_model_without_key_names_the_variable(tmp_path: Path) -> None:
    result = run_cli([f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path, env={"OPENAI_API_KEY": None})
    assert result.returncode != 0
    assert "OPENAI_API_KEY" in result.stderr and "model=loopback" in result.stderr


def test_broken_seed_line_fails_with_file_and_line_and_writes_nothing(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    seeds = tmp_path / "x.jsonl"
    seeds.write_text('{"instruction": "Name a fruit you like.", "instances": [{"input": "", "output": "Apple"}]}\n'
                     '{"instruction": "Name a city.", "instances": [{"input": "", "output": "Oslo"}]}\n'
                     '{"instruction": "Name a river", "instances": [{"input": ""}]}\n')
    run_dir = tmp_path / "r"
    result = run_cli(_real_model_args(server.url, run_dir, 10) + [f"seeds.path={seeds}"], cwd=tmp_path,
                     env={"OPENAI_API_KEY": SECRET})
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"{seeds}:3:" in errors[0]
    assert server.stats()["requests"] == 0
    assert not (run_dir / "instructions.jsonl").exists() and not (run_dir / "metrics.json").exists()


def test_faulty_server_still_reaches_the_target(llm_server, tmp_path: Path) -> None:
    server = llm_server(fault_rate=0.3, slow_s=2.0, retry_after_s=0.2, seed=11)
    run_dir = tmp_path / "r"
    result = run_cli(_real_model_args(server.url, run_dir, 40) + ["model.timeout_s=1", "model.retry_base_s=0.05"],
                     cwd=tmp_path, env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert len(read_lines(run_dir / "instructions.jsonl")) == 40
    llm = read_json(run_dir / "metrics.json")["llm"]
    faults = server.stats()["faults"]
    # every 429 the server sent came back to us as a RateLimitError that was retried (or, rarely, failed)
    assert llm["retries"].get("RateLimitError", 0) + llm["failed"].get("RateLimitError", 0) == faults["429"] > 0
    assert llm["attempts_sent"] == server.stats()["requests"]


def test_rerun_on_the_same_directory_continues(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    for n in (20, 35):
        result = run_cli(["model=loopback", f"schedule.num_instructions={n}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    accepted = read_lines(run_dir / "instructions.jsonl")
    assert len(accepted) == 35
    assert len({r["id"] for r in accepted}) == 35 and len({r["instruction"] for r in accepted}) == 35


@pytest.mark.skipif(not SHARED_SEEDS.exists(), reason="../shared/data/seed_tasks.jsonl (the paper's seeds) is absent")
def test_the_papers_seed_file_works_unchanged(tmp_path: Path) -> None:
    result = run_cli(["model=loopback", "schedule.num_instructions=20", f"seeds.path={SHARED_SEEDS}",
                      f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "175 seed tasks" in result.stderr


def test_a_users_config_dir_adds_options(tmp_path: Path) -> None:
    conf = tmp_path / "myconf" / "schedule"
    conf.mkdir(parents=True)
    (conf / "tiny.yaml").write_text("num_instructions: 7\nrequests_per_round: 2\n")
    result = run_cli(["--config-dir", str(tmp_path / "myconf"), "model=loopback", "schedule=tiny",
                      f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(read_lines(tmp_path / "r" / "instructions.jsonl")) == 7


def test_every_pair_in_a_loopback_run_is_distinct(tmp_path: Path) -> None:
    result = run_cli(["model=loopback", "schedule.num_instructions=40", "filters.rouge.threshold=0.9",
                      f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    texts = [r["instruction"] for r in read_lines(tmp_path / "r" / "instructions.jsonl")]
    assert all(a != b for a, b in itertools.combinations(texts, 2))
