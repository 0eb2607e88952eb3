"""Sharded generation (shard.index/shard.count) and the merge stage's exact global filter."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from selfinstruct.seeds import load_seed_tasks
from selfinstruct.resources import bundled_dir
from tests.cli_helpers import read_json, read_lines, run_cli

MERGED_FILES = ("instructions.jsonl", "rejected.jsonl", "classify.jsonl", "instances.jsonl", "rounds.jsonl")


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards of 150 instructions each, generated as one sweep over shard.index."""
    root = tmp_path_factory.mktemp("shards")
    run = run_cli(["-m", "model=loopback", "schedule.num_instructions=150", "shard.count=2", "shard.index=0,1",
                   "pipeline.stages=[bootstrap]", f"hydra.sweep.dir={root / 'sweep'}"], cwd=root)
    assert run.returncode == 0, run.stderr
    return root / "sweep"


def _merge(cwd: Path, run_dir: Path, inputs: list[Path], *extra: str) -> None:
    listed = ",".join(str(p) for p in inputs)
    run = run_cli(["model=loopback", "pipeline.stages=[merge]", f"merge.inputs=[{listed}]",
                   f"hydra.run.dir={run_dir}", *extra], cwd=cwd)
    assert run.returncode == 0, run.stderr


def test_shards_draw_their_own_streams(shards: Path) -> None:
    first, second = (read_lines(shards / str(i) / "instructions.jsonl") for i in (0, 1))
    assert len(first) == len(second) == 150
    assert first[0]["id"] == "shard0_machine_task_0" and second[0]["id"] == "shard1_machine_task_0"
    shared = {r["instruction"] for r in first} & {r["instruction"] for r in second}
    assert len(shared) < 15  # not the same stream twice


def test_merged_set_has_no_pair_above_the_threshold_and_merging_again_is_identical(shards: Path,
                                                                                   tmp_path: Path) -> None:
    inputs = [shards / "0", shards / "1"]
    _merge(tmp_path, tmp_path / "merged", inputs)
    merged = read_lines(tmp_path / "merged" / "instructions.jsonl")
    rejected = read_lines(tmp_path / "merged" / "rejected.jsonl")
    assert len(merged) + len(rejected) == 300
    assert rejected and {r["reason"] for r in rejected} == {"rouge"}  # the shards overlapped; merge caught it
    assert [r["id"] for r in merged] == [f"machine_task_{i}" for i in range(len(merged))]
    assert [r["source"]["run"] for r in merged] == sorted(r["source"]["run"] for r in merged)  # shard order

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = [r["instruction"] for r in merged]
    seeds = [t.instruction for t in load_seed_tasks(bundled_dir("seeds") / "seed_tasks.jsonl")]
    worst = max(scorer.score(a, b)["rougeL"].fmeasure
                for a, b in itertools.chain(itertools.combinations(texts, 2), itertools.product(texts, seeds)))
    assert worst <= 0.7
    for r in rejected:  # and each rejection really had a kept (or seed) instruction above 0.7
        assert r["score"] > 0.7

    _merge(tmp_path, tmp_path / "again", inputs)
    _merge(tmp_path, tmp_path / "merged", inputs)  # rerun in place
    for name in MERGED_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes(), name
    metrics = read_json(tmp_path / "merged" / "metrics.json")["merge"]
    assert metrics["accepted"] == len(merged) and metrics["instructions"] == 300

    # a sweep directory stands for its jobs, in job order
    _merge(tmp_path, tmp_path / "from_sweep", [shards])
    for name in MERGED_FILES:
        assert (tmp_path / "from_sweep" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes(), name


def test_later_stages_run_on_the_merge(shards: Path, tmp_path: Path) -> None:
    run = run_cli(["model=loopback", "pipeline.stages=[merge,classify,instances,finetune]",
                   f"merge.inputs=[{shards / '0'},{shards / '1'}]", f"hydra.run.dir={tmp_path / 'run'}"],
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    merged = read_lines(tmp_path / "run" / "instructions.jsonl")
    assert all(isinstance(r["is_classification"], bool) for r in merged)
    assert {t["id"] for t in read_lines(tmp_path / "run" / "instances.jsonl")} == {r["id"] for r in merged}
    assert (tmp_path / "run" / "finetune" / "alpaca.json").stat().st_size > 0

    # merging again keeps what the later stages found: nothing is asked twice
    again = run_cli(["model=loopback", "pipeline.stages=[merge,classify,instances]", "cache.enabled=false",
                     f"merge.inputs=[{tmp_path / 'run'}]", f"hydra.run.dir={tmp_path / 'remerged'}"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    metrics = read_json(tmp_path / "remerged" / "metrics.json")
    assert metrics["merge"]["carried_classify_answers"] == len(merged)
    assert metrics["classify"]["requests"] == 0 and metrics["instances"]["requests"] == 0


def test_bad_merge_and_shard_settings_name_the_key(tmp_path: Path, shards: Path) -> None:
    cases = [
        (["pipeline.stages=[merge]"], "merge.inputs: list the run directories"),
        (["pipeline.stages=[merge]", f"merge.inputs=[{tmp_path / 'nope'}]"], "merge.inputs[0]="),
        (["pipeline.stages=[merge]", f"merge.inputs=[{tmp_path}]"], "has no instructions.jsonl"),
        (["pipeline.stages=[merge]", f"merge.inputs=[{shards / '0'},{shards / '0'}]"], "listed twice"),
        (["shard.count=2", "shard.index=2"], "shard.index: must be within 0..1"),
    ]
    for overrides, message in cases:
        run = run_cli(["model=loopback", *overrides, f"hydra.run.dir={tmp_path / 'bad'}"], cwd=tmp_path)
        assert run.returncode == 2, (overrides, run.stderr)
        assert message in run.stderr.strip().splitlines()[-1], run.stderr
    assert not (tmp_path / "bad" / "instructions.jsonl").exists()


def test_a_merge_rerun_keeps_the_answers_its_directory_already_has(shards: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = ["model=loopback", "pipeline.stages=[merge,classify,instances,finetune]", "cache.enabled=false",
               f"merge.inputs=[{shards / '0'},{shards / '1'}]", f"hydra.run.dir={run_dir}"]
    first = run_cli(command, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = {name: (run_dir / name).read_bytes() for name in ("instructions.jsonl", "classify.jsonl", "instances.jsonl")}
    merged = read_lines(run_dir / "instructions.jsonl")
    asked = read_json(run_dir / "metrics.json")
    assert asked["classify"]["attempts_sent"] >= len(merged) and asked["instances"]["attempts_sent"] >= len(merged)
    calls = len((run_dir / "llm_calls.jsonl").read_text().splitlines())

    again = run_cli(command, cwd=tmp_path)  # the same command on the same directory, with no cache
    assert again.returncode == 0, again.stderr
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["merge"]["kept_classify_answers"] == len(merged) and metrics["merge"]["kept_instances"] == len(merged)
    for stage in ("classify", "instances"):
        assert metrics[stage]["requests"] == 0 and metrics[stage]["attempts_sent"] == 0, metrics[stage]
    assert len((run_dir / "llm_calls.jsonl").read_text().splitlines()) == calls  # nothing new was sent
    for name, data in before.items():
        assert (run_dir / name).read_bytes() == data, name

    # the merge alone still writes the same instructions.jsonl as a merge into a new directory
    _merge(tmp_path, run_dir, [shards / "0", shards / "1"])
    _merge(tmp_path, tmp_path / "fresh", [shards / "0", shards / "1"])
    assert (run_dir / "instructions.jsonl").read_bytes() == (tmp_path / "fresh" / "instructions.jsonl").read_bytes()
    assert (run_dir / "classify.jsonl").read_bytes() == before["classify.jsonl"]  # and keeps the answers
