"""classify with stages.classify.pack = K: K instructions per request, parsed per item, with a
one-by-one fallback; labels equal the paper's one-per-request labels on the simulated model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfinstruct.parsing import parse_packed_answers, parse_packed_labels, parse_yes_no
from selfinstruct.simulated import STAGE_HEADER, ServerOptions
from selfinstruct.simulated.cli import build_parser, options_from_args
from selfinstruct.simulated.core import _Core
from selfinstruct.simulated.synthetic import describe
from tests.cli_helpers import read_json, read_lines, run_cli

N = 120
BASE = ["model=loopback", "schedule.seed=42", f"schedule.num_instructions={N}", "cache.enabled=false",
        "pipeline.stages=[bootstrap,classify]"]


def _run(tmp_path: Path, name: str, *extra: str) -> Path:
    run_dir = tmp_path / name
    result = run_cli([*BASE, f"hydra.run.dir={run_dir}", *extra], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _labels(run_dir: Path) -> dict[str, bool]:
    return {r["id"]: r["is_classification"] for r in read_lines(run_dir / "classify.jsonl")}


def _classify_calls(run_dir: Path) -> int:
    return sum(r["stage"] == "classify" for r in read_lines(run_dir / "llm_calls.jsonl"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One run per setting, shared by the tests below: K=1 (the paper's), K=10, K=10 with bad replies."""
    tmp = tmp_path_factory.mktemp("packing")
    return {
        "k1": _run(tmp, "k1"),
        "k10": _run(tmp, "k10", "stages.classify.pack=10"),
        "garbage": _run(tmp, "garbage", "stages.classify.pack=10", "+model.loopback.options.packed_garbage_rate=0.3"),
    }


def test_packed_labels_equal_one_by_one_labels_for_every_instruction(runs) -> None:
    one, packed = _labels(runs["k1"]), _labels(runs["k10"])
    assert len(one) == N and packed == one
    assert 0 < sum(one.values()) < N  # both labels occur
    instructions = read_lines(runs["k10"] / "instructions.jsonl")
    assert [r["is_classification"] for r in instructions] == [one[r["id"]] for r in instructions]
    # ... and they are the simulated model's ground truth
    assert all(r["is_classification"] == describe(r["instruction"]).is_classification for r in instructions)
    records = read_lines(runs["k10"] / "classify.jsonl")
    assert [r["id"] for r in records] == [r["id"] for r in instructions]  # one line per instruction, in order
    assert all(r["packed"] is True and r["parsed"] for r in records)
    assert all("packed" not in r for r in read_lines(runs["k1"] / "classify.jsonl"))  # K=1: the paper's shape


def test_a_packed_run_sends_about_a_tenth_of_the_requests_and_far_fewer_prompt_tokens(runs) -> None:
    assert _classify_calls(runs["k1"]) == N
    assert _classify_calls(runs["k10"]) == N // 10
    one = read_json(runs["k1"] / "metrics.json")["classify"]
    packed = read_json(runs["k10"] / "metrics.json")["classify"]
    assert (one["pack"], one["packed_requests"], one["fallback_items"]) == (1, 0, 0)
    assert (packed["pack"], packed["packed_requests"], packed["fallback_items"]) == (10, N // 10, 0)
    per_one, per_packed = one["prompt_tokens"] / N, packed["prompt_tokens"] / N
    print(f"prompt tokens per instruction: K=1 {per_one:.1f}, K=10 {per_packed:.1f} ({per_one / per_packed:.1f}x)")
    assert per_one / per_packed > 5


def test_bad_packed_replies_fall_back_one_by_one_and_keep_every_label(runs) -> None:
    labels = _labels(runs["garbage"])
    assert labels == _labels(runs["k1"])
    metrics = read_json(runs["garbage"] / "metrics.json")["classify"]
    assert metrics["fallback_items"] > 0 and metrics["packed_requests"] == N // 10
    assert metrics["unanswered"] == 0
    assert _classify_calls(runs["garbage"]) == N // 10 + metrics["fallback_items"]
    records = read_lines(runs["garbage"] / "classify.jsonl")
    assert sum(not r["packed"] for r in records) == metrics["fallback_items"]


def test_a_rerun_packs_only_what_is_unanswered(runs, tmp_path: Path) -> None:
    run_dir = tmp_path / "resume"
    source = runs["k10"]
    run_dir.mkdir()
    for name in ("instructions.jsonl", "rounds.jsonl", "rejected.jsonl", "run.json"):
        if (source / name).exists():
            (run_dir / name).write_bytes((source / name).read_bytes())
    lines = (source / "classify.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (run_dir / "classify.jsonl").write_text("".join(lines[:95]), encoding="utf-8")  # 25 left to ask
    result = run_cli([*BASE[:-1], "pipeline.stages=[classify]", "stages.classify.pack=10",
                      f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _classify_calls(run_dir) == 3  # 10 + 10 + 5
    # the same labels, in instruction order; an item's "answer" line is numbered within its new group
    def strip(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "answer"} for r in records]

    assert strip(read_lines(run_dir / "classify.jsonl")) == strip(read_lines(source / "classify.jsonl"))
    assert read_lines(run_dir / "instructions.jsonl") == read_lines(source / "instructions.jsonl")


def test_the_dry_run_plans_packed_requests(tmp_path: Path) -> None:
    rows = {}
    for k in (1, 10):
        result = run_cli(["model=loopback", "dry_run=true", "schedule.num_instructions=1000",
                          f"stages.classify.pack={k}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        rows[k] = next(line.split() for line in result.stdout.splitlines() if line.startswith("classify "))
    assert int(rows[1][1].replace(",", "")) == 1000 and int(rows[10][1].replace(",", "")) == 100
    assert int(rows[10][2].replace(",", "")) * 4 < int(rows[1][2].replace(",", ""))


@pytest.mark.parametrize("value", ["0", "1.5", "true"])
def test_pack_must_be_a_whole_number_of_at_least_one(tmp_path: Path, value: str) -> None:
    result = run_cli(["model=loopback", "dry_run=true", f"stages.classify.pack={value}",
                      f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert result.returncode != 0
    assert "stages.classify.pack: must be a whole number of at least 1" in result.stderr


# --- the parser --------------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "k", "expected"), [
    ("1. Yes\n2. No\n3. Yes", 3, [True, False, True]),
    ("1) yes\n2: NO.\n3 - Yes, it picks a label", 3, [True, False, True]),
    ("**1.** Yes\n- 2. **No**\nTask 3: yes", 3, [True, False, True]),
    ("  2. No  \n\n1. Yes\n", 2, [True, False]),  # order of lines does not matter, numbers do
    ("Sure! Here are the answers:\n1. Yes\n2. No\nHope this helps.", 2, [True, False]),
    ("1. Yes\n3. No", 3, [True, None, False]),  # a missing item
    ("1. Maybe\n2. Yes/No\n3.\n4. Not sure\n5. Noted", 5, [None] * 5),  # neither Yes nor No
    ("1. Yes\n1. No\n2. No\n2. No", 2, [None, False]),  # contradictory lines, a harmless repeat
    ("Yes\nNo", 2, [None, None]),  # no numbers: nothing is guessed from position
    ("1. Yes\n2. No\n7. Yes\n0. No", 2, [True, False]),  # numbers out of range are ignored
    ("", 3, [None, None, None]),
    ("1. Classify the review. Yes", 1, [None]),  # an echoed instruction is not an answer
])
def test_parse_packed_labels(reply: str, k: int, expected: list[bool | None]) -> None:
    assert parse_packed_labels(reply, k) == expected


def test_parse_packed_answers_keeps_the_line() -> None:
    assert parse_packed_answers("1. Yes\n 2) no ", 3) == [(True, "1. Yes"), (False, "2) no"), None]


# --- the simulated model ---------------------------------------------------------------------

PACKED = ("Decide whether each task below is a classification task. Answer Yes or No.\n\n"
          "Task: Sort the list of numbers.\nIs it classification? No\n\n"
          "Now decide the same for each numbered task below. Reply with one line per numbered task.\n\n"
          "1. Classify the review as positive or negative.\n2. Write a poem about the sea.\n"
          "3. Is this email spam or not spam?")


def _reply(core: _Core, text: str, stage: str | None) -> str:
    body = json.dumps({"model": "loopback", "messages": [{"role": "user", "content": text}]}).encode()
    reply = core.chat(body, {STAGE_HEADER: stage} if stage else {})
    return json.loads(reply.body)["choices"][0]["message"]["content"]


def test_the_simulated_packed_reply_gives_each_item_its_single_label() -> None:
    core = _Core(ServerOptions(seed=3))
    try:
        reply = _reply(core, PACKED, "classify:packed")
        single = []
        for instruction in ("Classify the review as positive or negative.", "Write a poem about the sea.",
                            "Is this email spam or not spam?"):
            text = f"Task: Sort the list of numbers.\nIs it classification? No\n\nTask: {instruction}\nIs it classification?"
            single.append(parse_yes_no(_reply(core, text, "classify")))
        assert parse_packed_labels(reply, 3) == single
        assert reply == _reply(core, PACKED, None)  # the bundled wording is recognised without the header
    finally:
        core.close()


def test_packed_garbage_rate_makes_some_replies_unreadable_but_never_wrong() -> None:
    core = _Core(ServerOptions(seed=1, packed_garbage_rate=0.5))
    try:
        bad = 0
        for i in range(60):
            prompt = PACKED + f"\n4. Write story number {i}."
            truth = [describe(line.split(". ", 1)[1]).is_classification for line in prompt.splitlines()[-4:]]
            labels = parse_packed_labels(_reply(core, prompt, "classify:packed"), 4)
            assert all(label is None or label == expected for label, expected in zip(labels, truth))
            bad += None in labels
        assert 10 < bad < 50
    finally:
        core.close()


def test_packed_garbage_rate_is_validated_and_has_a_cli_flag() -> None:
    with pytest.raises(ValueError, match="packed_garbage_rate"):
        ServerOptions(packed_garbage_rate=1.5)
    assert options_from_args(build_parser().parse_args(["--packed-garbage-rate", "0.25"])).packed_garbage_rate == 0.25
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--packed-garbage-rate", "2"])
