"""The finetune stage on a hand-made run directory: through the real CLI with no API key, and in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonlines
import pytest
from hydra import compose, initialize_config_dir

from selfinstruct.config import CONFIG_DIR
from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.metrics import RunMetrics
from selfinstruct.resources import resolve_path
from selfinstruct.stages.base import RunContext
from selfinstruct.stages.finetune import FinetuneStage
from tests.cli_helpers import read_json, run_cli

EXPORTS = ["alpaca.json", "openai_chat.jsonl", "prompt_completion.jsonl", "sharegpt.json"]
# finetune/ as a Hugging Face dataset repository (stages.finetune.dataset_card): the card records the run's
# history (every invocation's command), so it is rewritten by every export
CARD_FILES = ["README.md", "dataset_info.json"]


def hand_made_tasks() -> list[dict[str, Any]]:
    """41 clean tasks plus one task for each kind of trouble; the expected counts are in EXPECTED."""
    tasks = []
    for i in range(40):
        instance = {"input": f"item {i}", "output": f"Item {i} is a thing."} if i % 2 == 0 else \
            {"input": "", "output": f"Number {i} is odd."}
        tasks.append({"id": f"machine_task_{i}", "instruction": f"Describe item number {i} in one sentence.",
                      "is_classification": False, "instances": [instance], "truncated": False})
    tasks += [
        {"id": "braces", "instruction": "Replace {name} in the text with a real name.", "is_classification": False,
         "instances": [{"input": "Hello {name}!", "output": "Hello Ada!"}], "truncated": False},
        {"id": "cut", "instruction": "List three fruits and their colours.", "is_classification": False,
         "instances": [{"input": "apple", "output": "red"}, {"input": "banana", "output": "yellow"},
                       {"input": "plum", "output": "The colour of a plum is"}], "truncated": True},
        {"id": "conflict", "instruction": "Is the number even?", "is_classification": True,
         "instances": [{"input": "4", "output": "Yes"}, {"input": "4", "output": "No"}], "truncated": False},
        {"id": "bad", "instruction": "Pick the best option.", "is_classification": True,
         "instances": [{"input": "Options:", "output": "A"}, {"input": "", "output": "  "}], "truncated": False},
        {"id": "copy", "instruction": "Describe item number 0 in one sentence.", "is_classification": False,
         "instances": [{"input": "item 0", "output": "Item 0 is a thing."}], "truncated": False},
    ]
    return tasks


EXPECTED = {
    "tasks_in": 45, "instances_in": 49, "tasks_out": 43, "instances_out": 44,
    "instance_drops": {"truncated_last": 1, "input_equals_output": 0, "empty_output": 1, "trailing_colon": 1,
                       "oversized": 0, "duplicate": 0, "conflicting_outputs": 2, "over_limit": 0, "audit": 0},
    "task_drops": {"conflicting_outputs": 1, "no_instances": 1},
    "duplicate_examples": 1, "examples_out": 43, "machine_examples": 43, "seed_examples": 0,
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory as the earlier stages leave it, plus a file of the user's own."""
    run = tmp_path / "run"
    run.mkdir()
    with jsonlines.open(run / "instances.jsonl", "w") as writer:
        writer.write_all(hand_made_tasks())
    (run / "instructions.jsonl").write_text('{"id": "machine_task_0", "instruction": "x", "round": 0}\n')
    (run / "rejected.jsonl").write_text('{"instruction": "y", "reason": "rouge", "score": 0.9, "round": 0}\n')
    (run / "run.json").write_text('{"invocations": []}\n')  # the earlier stages' record: a selfinstruct run
    (run / "notes.txt").write_text("mine\n")
    (run / "finetune").mkdir()
    (run / "finetune" / "my_split.jsonl").write_text("{}\n")
    return run


def snapshot(run: Path) -> dict[str, bytes]:
    """Every data file the finetune stage must leave alone (the run's records excluded: Hydra's files,
    the log, metrics.json, run.json and the lock, which every invocation updates)."""
    generated = {f"finetune/{name}" for name in EXPORTS + CARD_FILES}
    records = {"metrics.json", "run.json", ".selfinstruct.lock"}
    return {
        str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*")
        if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log" and p.name not in records
        and str(p.relative_to(run)) not in generated
    }


def finetune_cli(run: Path, *overrides: str):
    return run_cli(["pipeline.stages=[finetune]", f"hydra.run.dir={run}", *overrides], cwd=run.parent)


def read_jsonl(path: Path) -> list[Any]:
    with jsonlines.open(path) as reader:
        return list(reader)


def test_cli_exports_a_finished_run_without_an_api_key(run_dir: Path) -> None:
    before = snapshot(run_dir)
    result = finetune_cli(run_dir)
    assert result.returncode == 0, result.stderr

    out = run_dir / "finetune"
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTS + CARD_FILES + ["my_split.jsonl"])  # no temp files
    assert snapshot(run_dir) == before

    section = read_json(run_dir / "metrics.json")["finetune"]
    assert {k: section[k] for k in EXPECTED} == EXPECTED
    assert section["formats"] == {
        "prompt_completion": {"path": "finetune/prompt_completion.jsonl", "records": 43},
        "alpaca": {"path": "finetune/alpaca.json", "records": 43},
        "openai_chat": {"path": "finetune/openai_chat.jsonl", "records": 43},
        "sharegpt": {"path": "finetune/sharegpt.json", "records": 43},
    }

    alpaca = read_json(out / "alpaca.json")
    triples = {(r["instruction"], r["input"], r["output"]) for r in alpaca}
    assert len(triples) == len(alpaca) == 43
    assert ("List three fruits and their colours.", "banana", "yellow") in triples
    assert not any(r["instruction"] in {"Is the number even?", "Pick the best option."} for r in alpaca)
    assert ("Replace {name} in the text with a real name.", "Hello {name}!", "Hello Ada!") in triples

    chat = read_jsonl(out / "openai_chat.jsonl")
    assert [m["role"] for m in chat[0]["messages"]] == ["user", "assistant"]
    prompts = read_jsonl(out / "prompt_completion.jsonl")
    braces = [p for p in prompts if "Replace {name}" in p["prompt"]]
    assert len(braces) == 1 and "Hello {name}!" in braces[0]["prompt"] and braces[0]["completion"].endswith("Hello Ada!")
    assert len(read_json(out / "sharegpt.json")) == 43


def test_rerun_is_byte_identical_and_another_seed_changes_only_templates_and_order(run_dir: Path) -> None:
    assert finetune_cli(run_dir).returncode == 0
    first = {name: (run_dir / "finetune" / name).read_bytes() for name in EXPORTS}
    kept = snapshot(run_dir)

    assert finetune_cli(run_dir).returncode == 0
    assert {name: (run_dir / "finetune" / name).read_bytes() for name in EXPORTS} == first

    result = finetune_cli(run_dir, "schedule.seed=7")
    assert result.returncode == 0, result.stderr
    reseeded = {name: (run_dir / "finetune" / name).read_bytes() for name in EXPORTS}
    assert reseeded["prompt_completion.jsonl"] != first["prompt_completion.jsonl"]
    assert snapshot(run_dir) == kept  # instances.jsonl and the other files are untouched
    # the same examples, in another order
    old, new = (json.loads(data) for data in (first["alpaca.json"], reseeded["alpaca.json"]))
    assert old != new and sorted(map(json.dumps, old)) == sorted(map(json.dumps, new))
    old_pc = read_jsonl_bytes(first["prompt_completion.jsonl"])
    new_pc = read_jsonl_bytes(reseeded["prompt_completion.jsonl"])
    assert sorted(p["completion"].strip() for p in old_pc) == sorted(p["completion"].strip() for p in new_pc)


def read_jsonl_bytes(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_include_seeds_adds_the_seeds_examples(run_dir: Path) -> None:
    result = finetune_cli(run_dir, "export.include_seeds=true")
    assert result.returncode == 0, result.stderr
    seeds = load_seed_tasks(resolve_path("seed_tasks.jsonl", "seeds"))
    seed_triples = {(t.instruction, i.input, i.output) for t in seeds for i in t.instances}
    alpaca = read_json(run_dir / "finetune" / "alpaca.json")
    exported = {(r["instruction"], r["input"], r["output"]) for r in alpaca}
    section = read_json(run_dir / "metrics.json")["finetune"]
    assert section["seed_examples"] > 100
    assert len(exported & seed_triples) == section["seed_examples"]
    assert section["examples_out"] == len(alpaca) == 43 + section["seed_examples"]
    assert section["tasks_in"] == 45  # the cleaning counts are about the generated tasks only


def test_alpaca_only_and_dropping_one_format(run_dir: Path) -> None:
    assert finetune_cli(run_dir, "export=alpaca_only").returncode == 0
    assert sorted(p.name for p in (run_dir / "finetune").iterdir()) == sorted(["alpaca.json", "my_split.jsonl",
                                                                               *CARD_FILES])
    assert list(read_json(run_dir / "metrics.json")["finetune"]["formats"]) == ["alpaca"]

    assert finetune_cli(run_dir, "~export.formats.sharegpt", "export.system_prompt=Be brief.").returncode == 0
    names = sorted(p.name for p in (run_dir / "finetune").iterdir())
    assert names == sorted(["alpaca.json", "my_split.jsonl", "openai_chat.jsonl", "prompt_completion.jsonl",
                            *CARD_FILES])
    chat = read_jsonl(run_dir / "finetune" / "openai_chat.jsonl")
    assert all(line["messages"][0] == {"role": "system", "content": "Be brief."} for line in chat)


def test_missing_instances_file_says_to_run_the_instances_stage(tmp_path: Path) -> None:
    run = tmp_path / "empty_run"
    run.mkdir()
    result = finetune_cli(run)
    assert result.returncode == 2
    assert "instances.jsonl: not found" in result.stderr and "run the instances stage first" in result.stderr
    assert not (run / "finetune").exists()


def test_a_bad_template_fails_before_anything_is_written(run_dir: Path) -> None:
    result = finetune_cli(run_dir, "export.templates.with_input=['{instruction} and nothing else']")
    assert result.returncode == 2
    assert "export.templates.with_input[0]: a with-input template needs an {input} placeholder" in result.stderr
    assert not (run_dir / "finetune" / "alpaca.json").exists()


# --- in-process: the stage object itself --------------------------------------------------------

def make_ctx(run: Path, *overrides: str) -> RunContext:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["pipeline.stages=[finetune]", *overrides])
    seeds = load_seed_tasks(resolve_path(cfg.seeds.path, "seeds"))
    return RunContext(cfg=cfg, run_dir=run, seeds=seeds, metrics=RunMetrics(run))


def test_stage_needs_no_llm_and_reports_the_cleaning_counts(run_dir: Path) -> None:
    stage = FinetuneStage()
    assert (stage.name, stage.needs_llm) == ("finetune", False)
    ctx = make_ctx(run_dir, "schedule.max_instances_per_task=1")
    stage.prepare(ctx)
    asyncio.run(stage.run(ctx))
    section = ctx.metrics.data["finetune"]
    assert section["instance_drops"]["over_limit"] == 1  # "cut" keeps apple only
    assert section["examples_out"] == 42
    assert read_json(run_dir / "metrics.json")["finetune"] == section


def test_prepare_checks_the_input_only_when_finetune_runs_first(tmp_path: Path) -> None:
    with pytest.raises(SelfInstructError, match="instances.jsonl: not found"):
        FinetuneStage().prepare(make_ctx(tmp_path))
    # later in a pipeline, the instances stage will have written it by then
    FinetuneStage().prepare(make_ctx(tmp_path, "pipeline.stages=[instances,finetune]"))


def test_prepare_rejects_a_bad_format_by_its_key(run_dir: Path) -> None:
    ctx = make_ctx(run_dir, "export.formats.alpaca.path=alpaca.json")
    with pytest.raises(ConfigError, match=r"^export\.formats\.alpaca\.path:"):
        FinetuneStage().prepare(ctx)
    ctx = make_ctx(run_dir, "export.templates.without_input=[]")
    with pytest.raises(ConfigError, match=r"^export\.templates\.without_input: the prompt_completion format"):
        FinetuneStage().prepare(ctx)
    FinetuneStage().prepare(make_ctx(run_dir, "export.templates.without_input=[]", "~export.formats.prompt_completion"))
