"""Our evaluation task set seeds/user_tasks.jsonl: well-formed, and our own work, not the paper's or our seeds'."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from selfinstruct.seeds import load_seed_tasks

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
USER_TASKS = SEEDS_DIR / "user_tasks.jsonl"
OUR_SEEDS = SEEDS_DIR / "seed_tasks.jsonl"
PAPER_TASKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "user_oriented_instructions.jsonl"
PAPER_KEYS = {"id", "motivation_app", "instruction", "instances"}


def _records(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSONL file, parsed (a line that does not parse fails the test)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _normalized(instruction: str) -> str:
    """Case- and whitespace-insensitive form, so a copy with changed spacing or capitals still counts as a copy."""
    return re.sub(r"\s+", " ", instruction).strip().casefold()


def test_every_line_is_a_task_in_the_papers_format() -> None:
    records = _records(USER_TASKS)
    assert len(records) == 40
    for index, record in enumerate(records):
        assert set(record) == PAPER_KEYS, record["id"]
        assert record["id"] == f"selfinstruct_user_task_{index}"
        assert isinstance(record["motivation_app"], str) and record["motivation_app"].strip()
        instruction = record["instruction"]
        assert len(instruction.split()) > 3 and instruction[0].isalpha() and instruction.isascii(), record["id"]
        assert len(record["instances"]) == 1, record["id"]
        for instance in record["instances"]:
            assert set(instance) == {"input", "output"}, record["id"]
            assert isinstance(instance["input"], str) and instance["output"].strip(), record["id"]


def test_ids_and_instructions_are_unique() -> None:
    records = _records(USER_TASKS)
    assert len({r["id"] for r in records}) == len(records)
    assert len({_normalized(r["instruction"]) for r in records}) == len(records)


def test_about_half_the_tasks_have_an_input() -> None:
    records = _records(USER_TASKS)
    with_input = sum(any(i["input"].strip() for i in r["instances"]) for r in records)
    assert 0.4 * len(records) <= with_input <= 0.6 * len(records)


def test_the_seed_loader_reads_the_set() -> None:
    """The evaluate stage reads task files with the same loader as seeds, so both must agree on the format."""
    tasks = load_seed_tasks(USER_TASKS)
    assert [t.instruction for t in tasks] == [r["instruction"] for r in _records(USER_TASKS)]


def test_no_instruction_is_one_of_our_seed_tasks() -> None:
    ours = {_normalized(r["instruction"]) for r in _records(USER_TASKS)}
    seeds = {_normalized(t.instruction) for t in load_seed_tasks(OUR_SEEDS)}
    assert seeds, "seeds/seed_tasks.jsonl has no tasks"
    assert not ours & seeds


@pytest.mark.skipif(not PAPER_TASKS.exists(),
                    reason="../shared/data/user_oriented_instructions.jsonl (the paper's 252 tasks) is absent")
def test_no_instruction_is_one_of_the_papers_tasks() -> None:
    ours = {_normalized(r["instruction"]) for r in _records(USER_TASKS)}
    papers = {_normalized(r["instruction"]) for r in _records(PAPER_TASKS)}
    assert len(papers) > 200
    assert not ours & papers
