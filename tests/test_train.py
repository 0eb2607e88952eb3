"""The train stage's provider backend (issue 16), as a user runs it: the real CLI, LiteLLM's fine-tuning
calls, and the simulated provider (the loopback server, in process or as a separate process that
outlives the client's kills)."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

KEY = {"OPENAI_API_KEY": "sk-test-train"}
FREE = ["model.input_cost_per_token=0", "model.output_cost_per_token=0"]


def _external(url: str, run_dir: Path, *extra: str) -> list[str]:
    """A run whose generator and fine-tuning provider is a simulated server of the test's own."""
    return ["model.name=openai/sim", f"model.api_base={url}", "schedule.num_instructions=40",
            f"hydra.run.dir={run_dir}", "stages.train.poll_s=0.05", "stages.train.poll_max_s=0.05",
            "pipeline.stages=[bootstrap,classify,instances,finetune,train]", *extra]


def test_the_papers_loop_runs_offline_and_evaluates_base_and_tuned(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", "+experiment=paper_loop", "schedule.num_instructions=60",
                      f"hydra.run.dir={run_dir}", f"cache.dir={tmp_path / 'cache'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    train = read_json(run_dir / "train.json")
    assert train["status"] == "succeeded" and train["tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:")
    assert train["job_id"] and train["file_id"] and train["epochs"] == 2 and train["trained_tokens"] > 0
    assert train["examples"] == len(read_lines(run_dir / "finetune" / "openai_chat.jsonl"))
    rows = read_lines(run_dir / "evaluation.jsonl")
    assert {r["model"] for r in rows} == {"base", "tuned"}
    a = {m: sum(r["rating"] == "A" for r in rows if r["model"] == m) for m in ("base", "tuned")}
    assert a["tuned"] > a["base"]  # the simulated fine-tuned model answers somewhat better
    assert {"model_name"} <= set(read_lines(run_dir / "evaluation_responses.jsonl")[0])
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| tuned" in report and "| base" in report
    assert read_json(run_dir / "metrics.json")["train"]["tuned_model"] == train["tuned_model"]


def test_kill_9_while_polling_five_times_uploads_once_and_creates_one_job(llm_server, tmp_path: Path) -> None:
    reference_server = llm_server(seed=5, finetune_polls=80)
    (tmp_path / "a").mkdir()
    reference = run_cli(_external(reference_server.url, tmp_path / "a" / "run"), cwd=tmp_path / "a", env=KEY)
    assert reference.returncode == 0, reference.stderr

    server = llm_server(seed=5, finetune_polls=80)
    (tmp_path / "b").mkdir()
    run_dir = tmp_path / "b" / "run"
    rng = random.Random(16)
    kills = 0
    while kills < 5:
        proc = start_cli(_external(server.url, run_dir), cwd=tmp_path / "b", env=KEY)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # until the job is being polled
            record = read_json(run_dir / "train.json") if (run_dir / "train.json").exists() else {}
            if record.get("job_id"):
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            break  # the job finished before this kill: nothing left to interrupt
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    final = run_cli(_external(server.url, run_dir), cwd=tmp_path / "b", env=KEY)
    assert final.returncode == 0, final.stderr
    assert kills == 5
    stats = server.stats()
    assert (stats["uploads"], stats["jobs_created"]) == (1, 1)
    assert stats["job_retrievals"] >= 80
    for name in ("train.json", "finetune/openai_chat.jsonl", "instances.jsonl"):
        assert (run_dir / name).read_bytes() == (tmp_path / "a" / "run" / name).read_bytes(), name


def test_a_failed_job_ends_the_run_with_the_providers_words(llm_server, tmp_path: Path) -> None:
    server = llm_server(finetune_fail="Training file has 3 examples with invalid roles", finetune_polls=2)
    result = run_cli(_external(server.url, tmp_path / "run"), cwd=tmp_path, env=KEY)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Training file has 3 examples with invalid roles" in errors[0]
    assert "stages.train" in errors[0]
    train = read_json(tmp_path / "run" / "train.json")
    assert train["status"] == "failed" and "invalid roles" in train["error"]


def test_a_training_estimate_above_the_budget_is_refused_before_the_upload(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    result = run_cli(_external(server.url, tmp_path / "run", *FREE, "budget.max_usd=0.5",
                               "stages.train.cost_per_token=0.001"), cwd=tmp_path, env=KEY)
    assert result.returncode == 2
    assert "refused before the upload" in result.stderr and "budget.max_usd=0.5" in result.stderr
    assert server.stats()["uploads"] == 0 and server.stats()["jobs_created"] == 0
    assert (tmp_path / "run" / "finetune" / "openai_chat.jsonl").exists()  # what was made is kept


def test_wait_false_submits_and_exits_and_the_same_command_picks_the_job_up(llm_server, tmp_path: Path) -> None:
    server = llm_server(finetune_polls=3)
    args = _external(server.url, tmp_path / "run", "stages.train.wait=false")
    submitted = run_cli(args, cwd=tmp_path, env=KEY)
    assert submitted.returncode == 0, submitted.stderr
    assert "submitted" in submitted.stderr and "Resume with:" in submitted.stderr
    record = read_json(tmp_path / "run" / "train.json")
    assert record["job_id"] and record["status"] == "validating_files" and record["tuned_model"] is None
    picked_up = run_cli(_external(server.url, tmp_path / "run"), cwd=tmp_path, env=KEY)
    assert picked_up.returncode == 0, picked_up.stderr
    assert read_json(tmp_path / "run" / "train.json")["status"] == "succeeded"
    assert (server.stats()["uploads"], server.stats()["jobs_created"]) == (1, 1)


def test_the_dry_run_shows_the_training_cost(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(["model=loopback", "schedule.num_instructions=20", f"hydra.run.dir={run_dir}",
                    "pipeline.stages=[bootstrap,classify,instances,finetune]"], cwd=tmp_path).returncode == 0
    result = run_cli(["model=loopback", "dry_run=true", f"hydra.run.dir={run_dir}", "stages.train.cost_per_token=3e-6",
                      "pipeline.stages=[train]"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("train (provider)"))
    assert "tokens x 2 epochs x $3.00/1M" in row and float(row.split()[5]) > 0


def test_train_trl_on_the_run_then_evaluate_base_and_tuned_served_on_loopback(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("trl", reason="local training needs pip install 'selfinstruct[train]'")
    from selfinstruct.training.tiny import build_tiny_model

    run_dir = tmp_path / "run"
    common = ["model=loopback", "schedule.num_instructions=30", f"hydra.run.dir={run_dir}",
              f"cache.dir={tmp_path / 'cache'}"]
    made = run_cli([*common, "pipeline.stages=[bootstrap,classify,instances,finetune]"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    texts = [line for line in (run_dir / "finetune" / "openai_chat.jsonl").read_text(encoding="utf-8").splitlines()]
    base = build_tiny_model(tmp_path / "tiny", texts)
    result = run_cli([*common, "train=trl", f"stages.train.base_model={base}", "stages.train.max_steps=6",
                      "stages.train.save_steps=3", "stages.evaluate.respond.sampling.max_tokens=16",
                      "pipeline.stages=[train,evaluate,report]", "stages.evaluate.models=[base,tuned]"],
                     cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    train = read_json(run_dir / "train.json")
    assert train["backend"] == "trl" and train["status"] == "trained" and train["steps"] == 6
    assert (Path(train["tuned_model"]) / "adapter_config.json").is_file()
    assert len(read_lines(run_dir / "train" / "loss.jsonl")) == 6
    rows = read_lines(run_dir / "evaluation.jsonl")
    assert {r["model"] for r in rows} == {"base", "tuned"} and all(r["rating"] in "ABCD" for r in rows)
    assert (run_dir / "figures" / "train_loss.png").is_file()
    assert "## Fine-tuning (paper section 2.3)" in (run_dir / "report.md").read_text(encoding="utf-8")
