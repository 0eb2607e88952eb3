"""The judge (issue 15): the audit stage (paper Table 2) and the evaluate stage (paper Figure 5),
run as a user runs them, through the real CLI, LiteLLM's HTTP path and the simulated servers."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

PAPER_TASKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "user_oriented_instructions.jsonl"
JUDGE = ["judge=loopback"]


def _sim(label: str, quality: float, latency_ms: int = 0, concurrency: int = 16) -> str:
    """An evaluate.models entry: a simulated model of its own with the given answer quality."""
    return (f"{{name:openai/{label},label:{label},simulated:true,max_concurrency:{concurrency},"
            f"loopback:{{enabled:true,latency_ms:{latency_ms},options:{{answer_quality:{quality}}}}}}}")


def _generated_run(tmp_path: Path, n: int, *extra: str) -> tuple[Path, list[str]]:
    run_dir = tmp_path / "run"
    return run_dir, ["model=loopback", f"schedule.num_instructions={n}", f"hydra.run.dir={run_dir}",
                     f"cache.dir={tmp_path / 'cache'}", *extra]


def test_audit_samples_200_tasks_writes_table_2_and_its_filter_drops_what_it_refused(tmp_path: Path) -> None:
    run_dir, args = _generated_run(tmp_path, 300)
    result = run_cli([*args, "pipeline.stages=[bootstrap,classify,instances,audit,finetune,report]"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    audit = read_lines(run_dir / "audit.jsonl")
    assert len(audit) == 200 and len({r["task_id"] for r in audit}) == 200  # one instance of each of 200 tasks
    for record in audit:
        assert {record["valid_instruction"], record["appropriate_input"], record["acceptable_output"]} <= {True, False}
        assert record["all_valid"] == (record["valid_instruction"] and record["appropriate_input"]
                                       and record["acceptable_output"])
        assert all(record["reasons"].values())
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Data quality audit (paper Table 2)" in report
    yes = sum(r["all_valid"] for r in audit)
    assert f"| **all three** | {yes} | {100 * yes / 200:.1f}% |" in report
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["audit"]["audited"] == 200 and metrics["finetune"]["instance_drops"]["audit"] == 0
    kept_before = metrics["finetune"]["examples_out"]

    # audit.filter=true: every kept instance judged; those refused leave the export, counted as "audit"
    refiltered = run_cli([*args, "pipeline.stages=[audit,finetune]", "stages.audit.filter=true"], cwd=tmp_path)
    assert refiltered.returncode == 0, refiltered.stderr
    audit = read_lines(run_dir / "audit.jsonl")
    refused = {(r["instruction"], r["input"], r["output"]) for r in audit if r["all_valid"] is False}
    metrics = read_json(run_dir / "metrics.json")
    assert len(audit) == metrics["audit"]["population"] > 200
    assert metrics["finetune"]["instance_drops"]["audit"] >= len(refused) > 0
    exported = {(e["instruction"], e["input"], e["output"])
                for e in json.loads((run_dir / "finetune" / "alpaca.json").read_text(encoding="utf-8"))}
    assert not exported & refused
    assert metrics["finetune"]["examples_out"] < kept_before


def test_evaluate_rates_two_simulated_models_and_the_worse_gets_fewer_a(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", *JUDGE, "pipeline.stages=[evaluate,report]", f"hydra.run.dir={run_dir}",
                      f"stages.evaluate.models=[{_sim('good', 0.9)},{_sim('poor', 0.3)}]"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_lines(run_dir / "evaluation.jsonl")
    assert len(rows) == 2 * 40 and [r["model"] for r in rows[:2]] == ["good", "poor"]
    assert all(r["rating"] in "ABCD" and r["reason"] and r["response"] for r in rows)
    a_share = {m: sum(r["rating"] == "A" for r in rows if r["model"] == m) for m in ("good", "poor")}
    assert a_share["good"] > a_share["poor"] + 8
    metrics = read_json(run_dir / "metrics.json")["evaluate"]
    assert metrics["models"]["good"]["A"] == a_share["good"] and metrics["models"]["poor"]["unanswered"] == 0
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Evaluation (paper Figure 5)" in report and "figures/evaluation.png" in report
    assert (run_dir / "figures" / "evaluation.png").stat().st_size > 10_000


@pytest.mark.skipif(not PAPER_TASKS.is_file(), reason=f"{PAPER_TASKS} is absent (the paper's 252 user-oriented tasks)")
def test_the_papers_252_user_oriented_tasks_load_unchanged_and_every_instance_is_rated(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", *JUDGE, "pipeline.stages=[evaluate]", f"hydra.run.dir={run_dir}",
                      f"stages.evaluate.path={PAPER_TASKS}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tasks = read_lines(PAPER_TASKS)
    instances = [(t["id"], i) for t in tasks for i in range(len(t["instances"]))]
    rows = read_lines(run_dir / "evaluation.jsonl")
    assert len(tasks) == 252 and [(r["task"], r["instance"]) for r in rows] == instances
    assert all(r["rating"] in "ABCD" for r in rows)
    assert read_json(run_dir / "metrics.json")["evaluate"]["tasks"] == 252


def test_a_task_file_the_run_trains_on_is_refused_with_one_line_before_anything_is_written(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", "pipeline.stages=[evaluate]", f"hydra.run.dir={run_dir}",
                      "stages.evaluate.path=seed_tasks.jsonl"], cwd=tmp_path)  # the run's own seeds
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "stages.evaluate.path: " in lines[0] and "in this run's training data" in lines[0]
    assert not run_dir.exists()


def test_a_judge_that_replies_garbage_is_counted_as_unparsed_and_the_run_finishes(tmp_path: Path) -> None:
    run_dir, args = _generated_run(tmp_path, 30)
    result = run_cli([*args, *JUDGE, "+judge.loopback.options.judge_garbage_rate=0.5",
                      "pipeline.stages=[bootstrap,classify,instances,audit,evaluate,report]", "stages.audit.sample_size=20"],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    audit = read_lines(run_dir / "audit.jsonl")
    unparsed_audit = [r for r in audit if r["valid_instruction"] is None]
    assert 0 < len(unparsed_audit) < 20 and all(r["all_valid"] is None and r["reply"] for r in unparsed_audit)
    rows = read_lines(run_dir / "evaluation.jsonl")
    unrated = [r for r in rows if r["rating"] is None]
    assert 0 < len(unrated) < 40 and all(r["reply"] for r in unrated)
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["evaluate"]["models"]["openai/selfinstruct-loopback"]["unparsed"] == len(unrated)
    assert metrics["audit"]["unparsed"]["valid_instruction"] == len(unparsed_audit)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert f"{len(unrated)} judge replies could not be parsed" in report


def _wait_for_lines(path: Path, count: int, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} never reached {count} lines (exit {proc.poll()})")


def test_kill_9_during_audit_and_evaluate_then_the_same_command_asks_nothing_twice(tmp_path: Path) -> None:
    def args(where: Path) -> list[str]:
        return ["model=loopback", "schedule.num_instructions=60", f"hydra.run.dir={where / 'run'}",
                f"cache.dir={where / 'cache'}", "judge=loopback", "judge.loopback.latency_ms=40",
                "judge.max_concurrency=2", "stages.audit.sample_size=50",
                "pipeline.stages=[bootstrap,classify,instances,audit,finetune,evaluate]",
                f"stages.evaluate.models=[{_sim('tuned', 0.8, latency_ms=40, concurrency=2)}]"]

    reference = run_cli(args(tmp_path / "a"), cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    killed = tmp_path / "b"
    proc = start_cli(args(killed), cwd=tmp_path)
    _wait_for_lines(killed / "run" / "audit.jsonl", 10, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc = start_cli(args(killed), cwd=tmp_path)
    _wait_for_lines(killed / "run" / "evaluation.jsonl", 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    final = run_cli(args(killed), cwd=tmp_path)
    assert final.returncode == 0, final.stderr

    for name in ("audit.jsonl", "evaluation_responses.jsonl", "evaluation.jsonl", "finetune/alpaca.json"):
        assert (killed / "run" / name).read_bytes() == (tmp_path / "a" / "run" / name).read_bytes(), name
    # every answered request was sent once over the three invocations (answers before a kill came from
    # the run's files, or, for a reply that arrived just before the kill, from the response cache)
    calls = read_lines(killed / "run" / "llm_calls.jsonl")
    sent = {stage: sum(1 for c in calls if c["stage"] == stage and c["outcome"] == "ok" and not c["cache_hit"])
            for stage in ("audit", "evaluate")}
    assert sent == {"audit": 50, "evaluate": 2 * 40}
    assert len(read_json(killed / "run" / "run.json")["invocations"]) == 3


def test_the_dry_run_prices_the_judge_and_the_evaluated_models_at_their_own_prices(tmp_path: Path) -> None:
    result = run_cli(["model=loopback", "dry_run=true", "judge=openai", f"hydra.run.dir={tmp_path / 'run'}",
                      "pipeline.stages=[bootstrap,classify,instances,audit,finetune,evaluate]",
                      "stages.evaluate.models=[generator,openai/gpt-4o-mini]"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0] + (" " + line.split()[1] if line.startswith("evaluate:") else ""): line
            for line in result.stdout.splitlines() if line.strip()}
    assert "judge: openai/gpt-4o" in rows["audit"] and float(rows["audit"].split()[4]) > 0
    assert float(rows["evaluate: openai/selfinstruct-loopback"].split()[5]) == 0  # the simulated generator: free
    assert float(rows["evaluate: openai/gpt-4o-mini"].split()[5]) > 0
    assert float(rows["evaluate: judge"].split()[5]) > float(rows["evaluate: openai/gpt-4o-mini"].split()[5])
    assert not (tmp_path / "run").exists()


def test_a_budget_needs_the_judges_price_and_a_missing_judge_key_fails_before_any_request(tmp_path: Path) -> None:
    run_dir, args = _generated_run(tmp_path, 20, "pipeline.stages=[bootstrap,classify,instances,audit]")
    unpriced = run_cli([*args, "budget.max_usd=1", "judge.model=openai/judge-nobody-prices"], cwd=tmp_path)
    assert unpriced.returncode == 2
    assert "judge.model=openai/judge-nobody-prices" in unpriced.stderr
    assert "judge.input_cost_per_token" in unpriced.stderr
    no_key = run_cli([*args, "judge=openai"], cwd=tmp_path, env={"OPENAI_API_KEY": None})
    assert no_key.returncode == 2 and "judge.model=openai/gpt-4o needs OPENAI_API_KEY" in no_key.stderr
    assert not (run_dir / "instructions.jsonl").exists()  # refused before the generator spent anything


def test_a_sweep_compares_jobs_by_audit_and_ratings(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli(["-m", "model=loopback", "schedule.num_instructions=40", f"hydra.sweep.dir={sweep_dir}",
                      f"cache.dir={tmp_path / 'cache'}", "stages.audit.sample_size=30",
                      "pipeline.stages=[bootstrap,classify,instances,audit,finetune,evaluate,report]",
                      "filters.rouge.threshold=0.5,0.9"], cwd=tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr
    sweep = (sweep_dir / "sweep.md").read_text(encoding="utf-8")
    header = next(line for line in sweep.splitlines() if line.startswith("| job"))
    assert "audit: all three valid" in header and "rated A" in header
    rows = [line for line in sweep.splitlines() if line.startswith("| [")]
    assert len(rows) == 2 and all(cell.strip().endswith("%") for row in rows
                                  for cell in row.split("|")[-5:-2])


def test_one_budget_covers_the_generator_and_the_judge_each_at_its_own_price(tmp_path: Path) -> None:
    def args(run_dir: Path, *extra: str) -> list[str]:
        return ["model=loopback", "schedule.num_instructions=60", f"hydra.run.dir={run_dir}", "cache.enabled=false",
                "model.input_cost_per_token=1e-6", "model.output_cost_per_token=2e-6", "judge=loopback",
                "judge.input_cost_per_token=3e-5", "judge.output_cost_per_token=6e-5", "stages.audit.sample_size=60",
                "pipeline.stages=[bootstrap,classify,instances,audit]", *extra]

    free = run_cli(args(tmp_path / "uncapped"), cwd=tmp_path)
    assert free.returncode == 0, free.stderr
    calls = read_lines(tmp_path / "uncapped" / "llm_calls.jsonl")
    generator = sum(c["cost_usd"] for c in calls if c["stage"] != "audit")
    judge = sum(c["cost_usd"] for c in calls if c["stage"] == "audit")
    assert judge > generator / 10  # the judge is priced at its own (higher) price
    cap = round(generator + judge / 2, 6)

    run_dir = tmp_path / "capped"
    capped = run_cli(args(run_dir, f"budget.max_usd={cap}"), cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    spent = sum(c["cost_usd"] or 0 for c in read_lines(run_dir / "llm_calls.jsonl"))
    assert spent <= cap
    assert read_json(run_dir / "metrics.json")["stopped"]["reason"] == "budget"
    audited = len(read_lines(tmp_path / "uncapped" / "audit.jsonl"))
    assert 0 < len(read_lines(run_dir / "audit.jsonl")) < audited
    resumed = run_cli(args(run_dir, f"budget.max_usd={2 * (generator + judge)}"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / "audit.jsonl").read_bytes() == (tmp_path / "uncapped" / "audit.jsonl").read_bytes()
