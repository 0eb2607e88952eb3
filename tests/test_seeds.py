"""Seed loading: both formats, our own bundled seeds, and one-line errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import SeedError
from selfinstruct.resources import resolve_path

SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_tasks.jsonl"


def test_our_bundled_seeds_meet_the_brief() -> None:
    tasks = load_seed_tasks(resolve_path("seed_tasks.jsonl", "seeds"))
    assert len(tasks) >= 100
    assert sum(t.is_classification for t in tasks) >= 0.15 * len(tasks)
    assert sum(any(i.input.strip() for i in t.instances) for t in tasks) >= 0.5 * len(tasks)
    assert all(t.instances for t in tasks)
    assert len({t.instruction for t in tasks}) == len(tasks)


@pytest.mark.skipif(not SHARED_SEEDS.exists(), reason="../shared/data/seed_tasks.jsonl (the paper's 175 seeds) is absent")
def test_the_papers_seed_file_loads_unchanged() -> None:
    tasks = load_seed_tasks(SHARED_SEEDS)
    assert len(tasks) == 175
    assert sum(bool(t.is_classification) for t in tasks) == 26


def test_alpaca_json_list_groups_instances_by_instruction(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([
        {"instruction": "Give a synonym for happy.", "input": "", "output": "Joyful"},
        {"instruction": "Give a synonym for happy.", "input": "", "output": "Glad"},
        {"instruction": "Add the numbers.", "input": "2 3", "output": "5"},
    ], indent=1))
    tasks = load_seed_tasks(path)
    assert [len(t.instances) for t in tasks] == [2, 1]
    assert tasks[1].instances[0].input == "2 3"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"instruction": "Name a fruit.", "instances": [{"input": "", "output": "Apple"}]}\n{oops\n',
         r":2: not valid JSON"),
        ('{"instruction": "Name a fruit.", "instances": [{"input": "", "output": "Apple"}]}\n\n'
         '{"instances": [{"input": "", "output": "x"}]}\n', r":3: 'instruction' must be a string"),
        ('{"instruction": "Name a fruit.", "instances": []}\n', r":1: 'instances' must be a non-empty list"),
        ('{"instruction": "Name a fruit.", "instances": [{"input": "", "output": 3}]}\n', r":1: instances\[0\]: 'output'"),
        ('["a list"]\n', r":1: expected a JSON list of|:1: expected an object"),
    ],
)
def test_bad_seed_lines_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text(content)
    with pytest.raises(SeedError, match=message) as err:
        load_seed_tasks(path)
    assert str(err.value).startswith(str(path) + ":")
    assert "\n" not in str(err.value)


def test_alpaca_record_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"instruction": "Name a fruit.", "input": "", "output": "Apple"},\n  {"input": "", "output": "x"}\n]\n')
    with pytest.raises(SeedError, match=rf"^{path}:3: 'instruction'"):
        load_seed_tasks(path)


def test_missing_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="seed file not found"):
        load_seed_tasks(tmp_path / "nope.jsonl")


_GOOD_LINE = '{"instruction": "Name a fruit.", "instances": [{"input": "", "output": "Apple"}]}\n'


@pytest.mark.parametrize("fmt", ["self_instruct", "alpaca"])
def test_bytes_that_are_not_utf8_name_file_line_and_column(tmp_path: Path, fmt: str) -> None:
    # a Latin-1 "é" (0xe9) on line 3, after a multi-byte UTF-8 character on the same line
    if fmt == "self_instruct":
        path = tmp_path / "seeds.jsonl"
        data = (_GOOD_LINE * 2).encode() + '{"instruction": "Nommez un fruit ç'.encode() + b"\xe9t\xe9.\", \"instances\": []}\n"
        column = len('{"instruction": "Nommez un fruit ç') + 1
    else:
        path = tmp_path / "seeds.json"
        data = ('[\n  {"instruction": "Name a fruit.", "input": "", "output": "Apple"},\n'
                '  {"instruction": "ç').encode() + b"\xe9t\xe9\", \"input\": \"\", \"output\": \"x\"}\n]\n"
        column = len('  {"instruction": "ç') + 1
    path.write_bytes(data)
    with pytest.raises(SeedError) as err:
        load_seed_tasks(path)
    assert str(err.value) == f"{path}:3: not valid UTF-8 (byte 0xe9 at column {column})"
    with pytest.raises(SeedError, match=r":3: not valid UTF-8"):
        load_seed_tasks(path, fmt)  # the same with the format named instead of detected


def test_utf8_past_the_first_read_block_is_still_found_by_line(tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_bytes((_GOOD_LINE * 200).encode() + b'{"instruction": "caf\xe9", "instances": []}\n')
    with pytest.raises(SeedError, match=rf"^{path}:201: not valid UTF-8 \(byte 0xe9 at column 21\)$"):
        load_seed_tasks(path)
