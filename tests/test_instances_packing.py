"""instances with stages.instances.pack = K: K tasks of one kind per request, sharing the demonstrations,
each answered under a "Task N:" header and read with the single-task parser, with a one-by-one
fallback; on the simulated model the instances equal the paper's one-task-per-request instances."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from selfinstruct.parsing import parse_input_first, parse_output_first
from selfinstruct.parsing.instances import split_packed_reply
from selfinstruct.simulated import STAGE_HEADER, ServerOptions
from selfinstruct.simulated.core import _Core
from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

N = 120
BASE = ["model=loopback", "schedule.seed=42", f"schedule.num_instructions={N}", "cache.enabled=false",
        "pipeline.stages=[bootstrap,classify,instances,finetune]"]
# what an instances-only rerun needs from a finished run
EARLIER = ("instructions.jsonl", "rounds.jsonl", "rejected.jsonl", "run.json", "classify.jsonl")


def _run(tmp_path: Path, name: str, *extra: str) -> Path:
    run_dir = tmp_path / name
    result = run_cli([*BASE, f"hydra.run.dir={run_dir}", *extra], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _instances(run_dir: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_lines(run_dir / "instances.jsonl")}


def _metrics(run_dir: Path) -> dict:
    return read_json(run_dir / "metrics.json")["instances"]


def _instance_calls(run_dir: Path) -> list[dict]:
    return [r for r in read_lines(run_dir / "llm_calls.jsonl") if r["stage"] == "instances"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One run per setting, shared by the tests below: K=1 (the paper's), K=4, K=4 with bad replies."""
    tmp = tmp_path_factory.mktemp("instances_packing")
    return {
        "k1": _run(tmp, "k1"),
        "k4": _run(tmp, "k4", "stages.instances.pack=4"),
        "garbage": _run(tmp, "garbage", "stages.instances.pack=4", "+model.loopback.options.packed_garbage_rate=0.3"),
    }


def test_packed_instances_equal_one_by_one_instances_for_every_task(runs) -> None:
    one, packed = _instances(runs["k1"]), _instances(runs["k4"])
    assert len(one) == N and packed == one
    # the whole file, byte for byte, in instruction order (as are the fine-tuning files built from it)
    assert (runs["k4"] / "instances.jsonl").read_bytes() == (runs["k1"] / "instances.jsonl").read_bytes()
    instructions = read_lines(runs["k4"] / "instructions.jsonl")
    assert list(packed) == [r["id"] for r in instructions]
    assert 0 < sum(r["is_classification"] for r in instructions) < N  # both kinds are packed
    for name in ("finetune/alpaca.json", "finetune/openai_chat.jsonl"):
        assert (runs["k4"] / name).read_bytes() == (runs["k1"] / name).read_bytes(), name


def test_pack_metrics_and_requests(runs) -> None:
    one, packed = _metrics(runs["k1"]), _metrics(runs["k4"])
    assert (one["pack"], one["packed_requests"], one["fallback_items"]) == (1, 0, 0)
    assert packed["pack"] == 4
    instructions = read_lines(runs["k4"] / "instructions.jsonl")
    kinds = [sum(r["is_classification"] == c for r in instructions) for c in (False, True)]
    assert packed["packed_requests"] == sum(-(-n // 4) for n in kinds)  # groups of one kind, 4 at a time
    # the simulated model leaves out of a packed reply a task whose single reply it would cut off, so a few
    # tasks are asked alone (and get exactly the single reply, cut as with K=1)
    assert 0 < packed["fallback_items"] < N // 5
    # every request: a packed one, a fallback one, or a fallback asked again with a larger max_tokens
    retries = one["requests"] - N
    assert packed["requests"] == packed["packed_requests"] + packed["fallback_items"] + retries
    assert len(_instance_calls(runs["k4"])) == packed["requests"]
    for key in ("tasks_with_instances", "tasks_without_instances", "instances", "truncated_replies"):
        assert packed[key] == one[key], key


def test_prompt_tokens_per_task_drop_by_more_than_forty_percent(runs) -> None:
    per_task = {}
    for name in ("k1", "k4"):
        from_metrics = _metrics(runs[name])["prompt_tokens"]
        assert sum(c["prompt_tokens"] for c in _instance_calls(runs[name])) == from_metrics
        per_task[name] = from_metrics / N
    print(f"instances prompt tokens per task: K=1 {per_task['k1']:.1f}, K=4 {per_task['k4']:.1f} "
          f"({1 - per_task['k4'] / per_task['k1']:.0%} fewer)")
    assert per_task["k4"] <= 0.6 * per_task["k1"]


def test_bad_packed_replies_fall_back_one_by_one_and_every_task_keeps_its_instances(runs) -> None:
    assert _instances(runs["garbage"]) == _instances(runs["k1"])
    garbage, clean = _metrics(runs["garbage"]), _metrics(runs["k4"])
    assert garbage["packed_requests"] == clean["packed_requests"]
    assert garbage["fallback_items"] > clean["fallback_items"]
    assert garbage["tasks_missing"] == 0 and garbage["tasks_without_instances"] == _metrics(runs["k1"])["tasks_without_instances"]
    assert len(_instance_calls(runs["garbage"])) == garbage["requests"]


def _copy_earlier(source: Path, run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    for name in EARLIER:
        if (source / name).exists():
            shutil.copyfile(source / name, run_dir / name)


def test_kill_9_mid_stage_and_resume_gives_the_uninterrupted_file(runs, tmp_path: Path) -> None:
    def args(run_dir: Path, *extra: str) -> list[str]:
        return [*BASE[:-1], "pipeline.stages=[instances]", "stages.instances.pack=4", f"hydra.run.dir={run_dir}",
                *extra]

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()  # separate working dirs: separate caches
    reference, killed = tmp_path / "a" / "run", tmp_path / "b" / "run"
    _copy_earlier(runs["k1"], reference)
    _copy_earlier(runs["k1"], killed)
    result = run_cli(args(reference, "cache.enabled=true"), cwd=tmp_path / "a")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (reference / "instances.jsonl").read_bytes() == (runs["k4"] / "instances.jsonl").read_bytes()

    proc = start_cli(args(killed, "cache.enabled=true", "model.loopback.latency_ms=300", "model.max_concurrency=2"),
                     cwd=tmp_path / "b")
    path = killed / "instances.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # until a few groups are written
        if path.exists() and len(path.read_bytes().splitlines()) >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    written = len(path.read_bytes().splitlines())
    assert 8 <= written < N  # killed mid-stage

    result = run_cli(args(killed, "cache.enabled=true"), cwd=tmp_path / "b")
    assert result.returncode == 0, result.stderr[-3000:]
    assert path.read_bytes() == (reference / "instances.jsonl").read_bytes()
    # the groups are those of the whole task list: only the groups with a task left are sent again
    assert _metrics(killed)["packed_requests"] < _metrics(reference)["packed_requests"]


def test_batch_mode_with_pack_gives_the_live_one_by_one_files(tmp_path: Path) -> None:
    def args(run_dir: Path, *extra: str) -> list[str]:
        return ["model=loopback", "schedule.num_instructions=60", f"hydra.run.dir={run_dir}", "cache.enabled=false",
                "pipeline.stages=[bootstrap,classify,instances]", *extra]

    live = run_cli(args(tmp_path / "live"), cwd=tmp_path)
    batch = run_cli(args(tmp_path / "batch", "stages.instances.pack=4", "model.batch=true", "model.batch_poll_s=0.05"),
                    cwd=tmp_path)
    assert live.returncode == 0 and batch.returncode == 0, live.stderr[-2000:] + batch.stderr[-2000:]
    assert (tmp_path / "live" / "instances.jsonl").read_bytes() == (tmp_path / "batch" / "instances.jsonl").read_bytes()
    batches = [b for b in read_lines(tmp_path / "batch" / "batches.jsonl") if b["stage"] == "instances"]
    assert len(batches) >= 2  # the packed requests, then the fallback ones
    metrics = _metrics(tmp_path / "batch")
    assert metrics["pack"] == 4 and metrics["packed_requests"] > 0
    assert metrics["requests"] < _metrics(tmp_path / "live")["requests"] / 2


def test_the_dry_run_plans_packed_requests(tmp_path: Path) -> None:
    rows = {}
    for k in (1, 8):
        result = run_cli(["model=loopback", "dry_run=true", "schedule.num_instructions=1000",
                          f"stages.instances.pack={k}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        rows[k] = next(line.split() for line in result.stdout.splitlines() if line.startswith("instances "))
    assert int(rows[1][1].replace(",", "")) == 1000 and int(rows[8][1].replace(",", "")) == 125
    assert int(rows[8][2].replace(",", "")) * 3 < int(rows[1][2].replace(",", ""))


@pytest.mark.parametrize(("override", "message"), [
    ("stages.instances.pack=0", "stages.instances.pack: must be a whole number of at least 1"),
    ("stages.instances.pack=true", "stages.instances.pack: must be a whole number of at least 1"),
    ("stages.instances.packed_max_tokens=0", "stages.instances.packed_max_tokens: must be null or a whole number"),
])
def test_pack_settings_are_checked(tmp_path: Path, override: str, message: str) -> None:
    result = run_cli(["model=loopback", "dry_run=true", override, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_pack_needs_a_packed_template(tmp_path: Path) -> None:
    result = run_cli(["model=loopback", "dry_run=true", "stages.instances.pack=4",
                      "stages.instances.output_first.packed_template=null", f"hydra.run.dir={tmp_path / 'run'}"],
                     cwd=tmp_path)
    assert result.returncode != 0
    assert "stages.instances.output_first.packed_template: must name a template file" in result.stderr


# --- the parser --------------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "k", "expected"), [
    ("Task 1:\nOutput: a\n\nTask 2:\nOutput: b", 2, ["Output: a", "Output: b"]),
    ("Sure! Here they are.\n**Task 1:**\nOutput: a\n### Task 2\nOutput: b\nTask #3. Restated\nOutput: c", 3,
     ["Output: a", "Output: b", "Output: c"]),
    ("Task 2:\nOutput: b\nTask 1:\nOutput: a", 2, ["Output: a", "Output: b"]),  # numbers, not order
    ("Task 1:\nOutput: a\nTask 3:\nOutput: c", 3, ["Output: a", None, "Output: c"]),  # a missing task
    ("Task 1:\nOutput: a\nTask 1:\nOutput: z\nTask 2:\nOutput: b", 2, [None, "Output: b"]),  # doubled: unclear
    ("Task 1:\n\nTask 2:\nOutput: b", 2, [None, "Output: b"]),  # a blank section
    ("Task 1:\nOutput: a\nTask 5:\nOutput: e", 2, ["Output: a", None]),  # an invented task ends the one before
    ("Task:\nOutput: a\nTask:\nOutput: b", 2, [None, None]),  # no numbers: nothing is guessed from position
    ("Task 1:\nTask: restated\nOutput: a", 1, ["Task: restated\nOutput: a"]),
    ("", 2, [None, None]),
])
def test_split_packed_reply(reply: str, k: int, expected: list[str | None]) -> None:
    assert split_packed_reply(reply, k) == expected


def test_a_cut_off_reply_drops_the_section_it_ends_in() -> None:
    reply = "Task 1:\nOutput: a\nTask 2:\nExample 1\nInput: x\nOutput: half a sent"
    assert split_packed_reply(reply, 3, truncated=True) == ["Output: a", None, None]
    assert split_packed_reply(reply, 3, truncated=False)[1] is not None


def test_each_section_is_read_by_the_single_task_parsers() -> None:
    reply = ("Task 1:\nTask: Sort the list.\nExample 1\nInput: 3 1 2\nOutput: 1 2 3\nExample 2\nInput: b a\nOutput: a b\n"
             "Task 2:\nExample 1\nInput: x\nOutput: y")
    first, second = split_packed_reply(reply, 2)
    assert [(i.input, i.output) for i in parse_input_first(first)] == [("3 1 2", "1 2 3"), ("b a", "a b")]
    assert [(i.input, i.output) for i in parse_input_first(second)] == [("x", "y")]
    labelled = split_packed_reply("Task 1:\nClass label: spam\nInput: Win now\nClass label: not spam\nInput: Hi", 1)[0]
    assert [(i.input, i.output) for i in parse_output_first(labelled)] == [("Win now", "spam"), ("Hi", "not spam")]


# --- the simulated model ---------------------------------------------------------------------

def _stage():
    from omegaconf import OmegaConf

    from selfinstruct.stages.instances import InstancesStage

    conf = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "stages" / "instances.yaml").instances
    stage = InstancesStage(conf.input_first, conf.output_first, pack=4, packed_max_tokens=4096)
    stage.input_first.load(packed=True)
    stage.output_first.load(packed=True)
    return stage


def _reply(core: _Core, messages: list[dict], sampling: dict, stage: str | None) -> str:
    body = json.dumps({"model": "loopback", "messages": messages, **sampling}).encode()
    reply = core.chat(body, {STAGE_HEADER: stage} if stage else {})
    return json.loads(reply.body)["choices"][0]["message"]["content"]


@pytest.mark.parametrize(("mode", "instructions"), [
    ("input_first", ["Write a haiku about the rain.", "Sort the given numbers in ascending order.",
                     "Translate the sentence into French.", "Give me a recipe for a quick dinner."]),
    ("output_first", ["Classify the review as positive or negative.", "Is this email spam or not spam?",
                      "Classify the sentiment of the tweet as positive, negative or neutral."]),
])
def test_the_simulated_packed_reply_gives_each_task_its_single_reply(mode: str, instructions: list[str]) -> None:
    stage = _stage()
    prompt = stage.output_first if mode == "output_first" else stage.input_first
    core = _Core(ServerOptions(seed=3, truncate_rate=0.0))
    try:
        messages, sampling = prompt.packed_request(instructions, 4096)
        packed = _reply(core, messages, sampling, f"instances:{mode}:packed")
        sections = split_packed_reply(packed, len(instructions))
        for instruction, section in zip(instructions, sections):
            single = _reply(core, *prompt.request(instruction), f"instances:{mode}")
            assert section is not None and section.strip() == single.strip()
        assert packed == _reply(core, messages, sampling, None)  # the bundled wording is recognised without the header
    finally:
        core.close()


def test_packed_garbage_makes_some_sections_unreadable_but_never_wrong() -> None:
    stage = _stage()
    core = _Core(ServerOptions(seed=1, packed_garbage_rate=0.5, truncate_rate=0.0))
    try:
        bad = 0
        for i in range(30):
            instructions = [f"Write story number {i}.", "Sort the given numbers in ascending order.",
                            f"Describe city number {i} in one paragraph.", "Translate the sentence into French."]
            messages, sampling = stage.input_first.packed_request(instructions, 4096)
            sections = split_packed_reply(_reply(core, messages, sampling, "instances:input_first:packed"), 4)
            for instruction, section in zip(instructions, sections):
                readable = section is not None and parse_input_first(section)
                if readable:
                    single = _reply(core, *stage.input_first.request(instruction), "instances:input_first")
                    assert parse_input_first(section) == parse_input_first(single)
            bad += not all(section is not None and parse_input_first(section) for section in sections)
        assert 5 < bad < 25
    finally:
        core.close()
