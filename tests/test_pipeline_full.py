"""The whole method through the real CLI and the loopback server: bootstrap -> classify -> instances -> finetune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfinstruct.simulated.synthetic import task_for
from tests.cli_helpers import read_json, read_lines, run_cli

KEY = {"OPENAI_API_KEY": "sk-test-full-pipeline"}
EXPORTS = ["prompt_completion.jsonl", "alpaca.json", "openai_chat.jsonl", "sharegpt.json"]
# finetune/ is a dataset repository: its card and LLaMA-Factory's entries (stages.finetune.dataset_card)
CARD_FILES = ["README.md", "dataset_info.json"]
DEFECTS = dict(conflict_rate=0.15, empty_output_rate=0.1, colon_rate=0.1, duplicate_rate=0.15, same_io_rate=0.05)


def _args(url: str, run_dir: Path, n: int, *extra: str) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}", *extra]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[Path, object]:
    """One default-pipeline run shared by the checks below (it is the slow part)."""
    from tests.conftest import start_llm_server

    workdir = tmp_path_factory.mktemp("full")
    server = start_llm_server(workdir, seed=2, **DEFECTS)
    request.addfinalizer(server.stop)
    run_dir = workdir / "run"
    result = run_cli(_args(server.url, run_dir, 80), cwd=workdir, env=KEY)
    assert result.returncode == 0, result.stderr
    return run_dir, server


def test_every_instruction_is_labelled_and_has_instances(full_run) -> None:
    run_dir, _ = full_run
    instructions = read_lines(run_dir / "instructions.jsonl")
    assert len(instructions) == 80
    assert all(isinstance(r["is_classification"], bool) for r in instructions)
    # the loopback server knows the truth for instructions it generated: our prompt + parser must agree
    known = [(r, task_for(r["instruction"])) for r in instructions]
    known = [(r, t) for r, t in known if t is not None]
    assert len(known) >= 60
    assert all(r["is_classification"] == t.is_classification for r, t in known)

    tasks = read_lines(run_dir / "instances.jsonl")
    assert sorted(t["id"] for t in tasks) == sorted(r["id"] for r in instructions)
    assert all(1 <= len(t["instances"]) <= 5 for t in tasks)
    # output-first: a classification task's instances carry its labels, not one label repeated
    for task in tasks:
        meta = task_for(task["instruction"])
        if task["is_classification"] and meta is not None and len(task["instances"]) > 1:
            assert len({i["output"] for i in task["instances"]}) > 1, task


def test_exports_are_readable_in_their_formats(full_run) -> None:
    run_dir, _ = full_run
    out = run_dir / "finetune"
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTS + CARD_FILES)
    alpaca = json.loads((out / "alpaca.json").read_text())
    assert isinstance(alpaca, list) and alpaca
    assert all(set(r) == {"instruction", "input", "output"} for r in alpaca)
    for line in read_lines(out / "openai_chat.jsonl"):
        messages = line["messages"]
        assert all(set(m) == {"role", "content"} for m in messages)
        assert messages[-1]["role"] == "assistant" and messages[-2]["role"] == "user"
    sharegpt = json.loads((out / "sharegpt.json").read_text())
    assert len(sharegpt) == len(alpaca) == len(read_lines(out / "prompt_completion.jsonl"))


def test_cleaning_counts_drops_by_reason(full_run) -> None:
    run_dir, _ = full_run
    finetune = read_json(run_dir / "metrics.json")["finetune"]
    drops = {**finetune["instance_drops"], **{f"task:{k}": v for k, v in finetune["task_drops"].items()}}
    assert sum(1 for v in drops.values() if v > 0) >= 3, drops


def test_finetune_alone_rewrites_only_its_exports(full_run, tmp_path: Path) -> None:
    run_dir, _ = full_run
    data_files = ["instructions.jsonl", "instances.jsonl", "rejected.jsonl", "classify.jsonl"]
    before = {name: (run_dir / name).read_bytes() for name in data_files}
    old_prompts = (run_dir / "finetune" / "prompt_completion.jsonl").read_bytes()
    result = run_cli(["pipeline.stages=[finetune]", "schedule.seed=99", f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                     env={"OPENAI_API_KEY": None})  # no LLM stage: no key needed
    assert result.returncode == 0, result.stderr
    assert {name: (run_dir / name).read_bytes() for name in data_files} == before
    assert (run_dir / "finetune" / "prompt_completion.jsonl").read_bytes() != old_prompts


def test_a_later_subset_of_stages_picks_up_an_earlier_run(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=4)
    run_dir = tmp_path / "run"
    first = run_cli(_args(server.url, run_dir, 20, "pipeline.stages=[bootstrap,classify]"), cwd=tmp_path, env=KEY)
    assert first.returncode == 0, first.stderr
    assert not (run_dir / "instances.jsonl").exists()
    requests_before = server.stats()["requests"]
    second = run_cli(_args(server.url, run_dir, 20, "pipeline.stages=[instances,finetune]"), cwd=tmp_path, env=KEY)
    assert second.returncode == 0, second.stderr
    assert len(read_lines(run_dir / "instances.jsonl")) == 20
    assert server.stats()["requests"] - requests_before == 20  # one request per task, nothing re-bootstrapped
    assert (run_dir / "finetune" / "alpaca.json").exists()


def test_instances_before_classify_says_which_stage_to_run(llm_server, tmp_path: Path) -> None:
    server = llm_server()
    run_dir = tmp_path / "run"
    assert run_cli(_args(server.url, run_dir, 10, "pipeline.stages=[bootstrap]"), cwd=tmp_path, env=KEY).returncode == 0
    result = run_cli(_args(server.url, run_dir, 10, "pipeline.stages=[instances]"), cwd=tmp_path, env=KEY)
    assert result.returncode != 0
    assert "run the classify stage first" in result.stderr
    assert not (run_dir / "instances.jsonl").exists()


def test_alpaca_recipe_writes_the_same_files(llm_server, tmp_path: Path) -> None:
    server = llm_server(seed=6)
    run_dir = tmp_path / "alpaca"
    result = run_cli(_args(server.url, run_dir, 60, "prompts=alpaca"), cwd=tmp_path, env=KEY)
    assert result.returncode == 0, result.stderr
    assert len(read_lines(run_dir / "instructions.jsonl")) == 60
    tasks = read_lines(run_dir / "instances.jsonl")
    assert len(tasks) == 60 and all(len(t["instances"]) == 1 for t in tasks)
    assert all(r["is_classification"] is None for r in read_lines(run_dir / "instructions.jsonl"))
    assert sorted(p.name for p in (run_dir / "finetune").iterdir()) == sorted(EXPORTS + CARD_FILES)
    assert server.stats()["by_kind"].get("alpaca", 0) == read_json(run_dir / "metrics.json")["bootstrap"]["requests"]
    assert set(server.stats()["by_kind"]) == {"alpaca"}  # classify and instances were skipped
    cfg = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "flowchart" in cfg  # Alpaca's keyword list came with the recipe


def test_a_reply_cut_off_before_its_first_instance_is_asked_again_with_more_tokens(llm_server, tmp_path: Path) -> None:
    from selfinstruct.simulated.synthetic import SyntheticGenerator

    server = llm_server(seed=8, truncate_rate=1.0)  # every reply cut off at the first budget
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tasks = [t for t in SyntheticGenerator(seed=3).tasks(40) if not t.is_classification][:25]
    (run_dir / "instructions.jsonl").write_text("".join(
        json.dumps({"id": f"t{i}", "instruction": t.instruction, "is_classification": False}) + "\n"
        for i, t in enumerate(tasks)))
    (run_dir / "run.json").write_text('{"invocations": []}\n')  # as if bootstrap had written it
    result = run_cli(_args(server.url, run_dir, len(tasks), "pipeline.stages=[instances]"), cwd=tmp_path, env=KEY)
    assert result.returncode == 0, result.stderr
    written = read_lines(run_dir / "instances.jsonl")
    assert len(written) == len(tasks) and all(t["instances"] for t in written)
    # single-instance replies were cut before their only instance and had to be asked again
    assert server.stats()["requests"] > len(tasks)
