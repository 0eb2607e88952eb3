"""The export building blocks: the paper's cleaning rules, prompt templates, format writers, config building."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonlines
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from selfinstruct.config import CONFIG_DIR
from selfinstruct.data import Instance
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.export.build import build_writers
from selfinstruct.export.cleaning import INSTANCE_REASONS, TASK_REASONS, CleaningLimits, clean_tasks
from selfinstruct.export.encoding import PromptEncoder
from selfinstruct.data import write_text_atomic
from selfinstruct.export.formats import (
    AlpacaWriter, ExportSettings, OpenAIChatWriter, PromptCompletionWriter, ShareGPTWriter,
)
from selfinstruct.export.records import Example, GeneratedTask, dedupe_examples, read_generated_tasks


def compose_cfg(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def task(*pairs: tuple[str, str], truncated: bool = False, instruction: str = "Do the thing.") -> GeneratedTask:
    return GeneratedTask("t", instruction, [Instance(i, o) for i, o in pairs], truncated)


def clean_one(t: GeneratedTask, **limits: int):
    kept, report = clean_tasks([t], CleaningLimits(**limits))
    pairs = [(i.input, i.output) for i in kept[0].instances] if kept else None
    return pairs, report


def drops(report) -> dict[str, int]:
    """Only the non-zero instance drop counts."""
    return {k: v for k, v in report.to_json()["instance_drops"].items() if v}


# --- cleaning -----------------------------------------------------------------------------------

def test_truncated_task_loses_only_its_last_instance() -> None:
    pairs = [("a", "1"), ("b", "2"), ("c", "the answer is")]
    kept, report = clean_one(task(*pairs, truncated=True))
    assert kept == [("a", "1"), ("b", "2")]
    assert drops(report) == {"truncated_last": 1}
    kept, report = clean_one(task(*pairs, truncated=False))
    assert kept == pairs and drops(report) == {}


@pytest.mark.parametrize(
    ("pair", "reason"),
    [
        (("same text", "same text"), "input_equals_output"),
        (("some input", "   "), "empty_output"),
        (("", ""), "empty_output"),  # the first rule that applies is the one counted
        (("Options:", "Options:"), "input_equals_output"),
        (("Choose one of the following:", "B"), "trailing_colon"),
        (("x", "Here are the steps: "), "trailing_colon"),
        (("y" * 21, "short"), "oversized"),
        (("short", "z" * 21), "oversized"),
    ],
)
def test_each_invalid_instance_rule_drops_it_under_its_reason(pair: tuple[str, str], reason: str) -> None:
    kept, report = clean_one(task(("good", "fine"), pair), max_field_chars=20)
    assert kept == [("good", "fine")]
    assert drops(report) == {reason: 1}


def test_a_field_at_the_size_limit_is_kept() -> None:
    kept, report = clean_one(task(("y" * 20, "z" * 20)), max_field_chars=20)
    assert kept == [("y" * 20, "z" * 20)] and drops(report) == {}


def test_exact_duplicates_within_a_task_are_removed_keeping_the_first() -> None:
    kept, report = clean_one(task(("a", "1"), ("b", "2"), ("a", "1"), ("a", "1"), ("", "3"), ("", "3")))
    assert kept == [("a", "1"), ("b", "2"), ("", "3")]
    assert drops(report) == {"duplicate": 3}


def test_one_input_with_two_outputs_drops_the_whole_task() -> None:
    conflicted = task(("x", "1"), ("y", "2"), ("x", "3"), ("x", "1"))
    fine = task(("x", "1"), instruction="Another task.")
    kept, report = clean_tasks([conflicted, fine], CleaningLimits())
    assert [t.instruction for t in kept] == ["Another task."]
    # the duplicate ("x", "1") is counted as a duplicate first; the 3 left go with the task
    assert drops(report) == {"duplicate": 1, "conflicting_outputs": 3}
    assert report.to_json()["task_drops"] == {"conflicting_outputs": 1, "no_instances": 0}
    assert (report.tasks_in, report.tasks_out, report.instances_in, report.instances_out) == (2, 1, 5, 1)


def test_an_empty_input_with_different_outputs_is_not_a_conflict() -> None:
    kept, report = clean_one(task(("", "one story"), ("", "another story")))
    assert kept == [("", "one story"), ("", "another story")]
    assert report.task_drops["conflicting_outputs"] == 0


def test_truncation_runs_before_the_conflict_check() -> None:
    # the conflicting output is the cut-off last instance: dropping it first saves the task
    kept, report = clean_one(task(("x", "1"), ("x", "2"), truncated=True))
    assert kept == [("x", "1")]
    assert drops(report) == {"truncated_last": 1}


def test_at_most_max_instances_per_task_are_kept_after_dedup() -> None:
    pairs = [("a", "1"), ("a", "1")] + [(f"in{i}", f"out{i}") for i in range(6)]
    kept, report = clean_one(task(*pairs), max_instances_per_task=5)
    assert kept == [("a", "1")] + [(f"in{i}", f"out{i}") for i in range(4)]
    assert drops(report) == {"duplicate": 1, "over_limit": 2}


def test_a_task_left_without_instances_is_dropped() -> None:
    empty_after = task(("Options:", "A"), ("q", "q"))
    empty_from_start = task()
    kept, report = clean_tasks([empty_after, empty_from_start], CleaningLimits())
    assert kept == []
    assert report.to_json()["task_drops"] == {"conflicting_outputs": 0, "no_instances": 2}
    assert drops(report) == {"trailing_colon": 1, "input_equals_output": 1}


def test_report_lists_every_reason_even_at_zero() -> None:
    _, report = clean_tasks([], CleaningLimits())
    summary = report.to_json()
    assert list(summary["instance_drops"]) == list(INSTANCE_REASONS)
    assert list(summary["task_drops"]) == list(TASK_REASONS)
    assert set(summary["instance_drops"].values()) == {0}


def test_cleaning_limits_must_be_positive() -> None:
    cfg = compose_cfg("export.cleaning.max_instances_per_task=0")
    with pytest.raises(ConfigError, match=r"^export\.cleaning\.max_instances_per_task:"):
        CleaningLimits.from_config(cfg.export.cleaning)


def test_cleaning_cap_follows_the_schedule() -> None:
    cfg = compose_cfg("schedule.max_instances_per_task=3")
    assert CleaningLimits.from_config(cfg.export.cleaning).max_instances_per_task == 3


# --- records ------------------------------------------------------------------------------------

def test_instances_file_is_read_with_fields_stripped(tmp_path: Path) -> None:
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps({"id": "a", "instruction": " Sort. ", "is_classification": None,
                                "instances": [{"input": " 2,1 ", "output": "1,2\n"}], "truncated": True}) + "\n\n"
                    + json.dumps({"id": "b", "instruction": "Nothing.", "instances": []}) + "\n", encoding="utf-8")
    tasks = read_generated_tasks(path)
    assert tasks[0] == GeneratedTask("a", "Sort.", [Instance("2,1", "1,2")], truncated=True)
    assert tasks[1] == GeneratedTask("b", "Nothing.", [], truncated=False)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"instances\.jsonl:2: not valid JSON"),
        ('{"instruction": "x", "instances": [{"input": 1, "output": "y"}]}', r"instances\.jsonl:2: instances\[0\]: 'input'"),
        ('{"instruction": "x", "instances": "many"}', r"instances\.jsonl:2: 'instances' must be a list"),
        ('["a list"]', r"instances\.jsonl:2: expected a JSON object"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "instances.jsonl"
    path.write_text('{"instruction": "ok", "instances": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SelfInstructError, match=message):
        read_generated_tasks(path)


def test_dedupe_keeps_the_first_of_each_exact_triple() -> None:
    examples = [Example("i", "", "o", from_seed=True), Example("i", "", "o"), Example("i", " ", "o"),
                Example("j", "", "o")]
    kept, dropped = dedupe_examples(examples)
    assert kept == [examples[0], examples[2], examples[3]] and kept[0].from_seed
    assert dropped == 1


# --- encoding -----------------------------------------------------------------------------------

def test_the_bundled_templates_are_valid_and_of_the_papers_size() -> None:
    templates = compose_cfg().export.templates
    encoder = PromptEncoder(list(templates.with_input), list(templates.without_input))
    assert (len(encoder.with_input), len(encoder.without_input)) == (7, 6)
    assert len({t.text for t in encoder.with_input}) == 7


@pytest.mark.parametrize(
    ("with_input", "without_input", "key", "message"),
    [
        (["{instruction}\n{input}", "{instruction} only"], ["{instruction}"], "with_input[1]", "needs an {input}"),
        (["{instruction} {input}"], ["{instruction}", "{instruction} {input}"], "without_input[1]", "must not use"),
        (["{input} {question}"], ["{instruction}"], "with_input[0]", "unknown placeholder {question}"),
        (["{instruction} {input} {"], ["{instruction}"], "with_input[0]", "not a valid template"),
        (["{instruction!r} {input}"], ["{instruction}"], "with_input[0]", "unknown placeholder"),
        (["{input}"], ["{instruction}"], "with_input[0]", "no {instruction}"),
        (["{instruction} {input}"], ["  "], "without_input[0]", "non-empty"),
    ],
)
def test_a_bad_template_is_named_by_its_key(with_input: list[str], without_input: list[str], key: str,
                                             message: str) -> None:
    with pytest.raises(ConfigError) as info:
        PromptEncoder(with_input, without_input)
    assert str(info.value).startswith(f"export.templates.{key}:")
    assert message in str(info.value)


def test_missing_templates_fail_only_for_a_format_that_needs_them() -> None:
    encoder = PromptEncoder(["{instruction}: {input}"], [])
    with pytest.raises(ConfigError, match=r"^export\.templates\.without_input: the prompt_completion format"):
        PromptCompletionWriter("finetune/p.jsonl").check(ExportSettings(encoder))
    AlpacaWriter("finetune/a.json").check(ExportSettings(encoder))


@pytest.mark.parametrize(
    ("template", "completion"),
    [
        ("{instruction}\n\n", "OUT<end>"),
        ("Task: {instruction}\nOutput:", " OUT<end>"),
        ("{instruction}", "\nOUT<end>"),
        ("{instruction} {{done}}", " OUT<end>"),
    ],
)
def test_completion_separator_follows_the_template_end(template: str, completion: str) -> None:
    encoder = PromptEncoder(["{instruction} {input}"], [template], completion_suffix="<end>")
    prompt, got = encoder.encode(Example("Say hi.", "", "OUT"), random.Random(0))
    assert prompt == template.replace("{instruction}", "Say hi.").replace("{{done}}", "{done}")
    assert got == completion


def test_braces_in_the_data_are_copied_verbatim() -> None:
    encoder = PromptEncoder(["Task: {instruction}\nInput: {input}\nOutput:"], ["{instruction}"])
    example = Example("Fill {name} in {0} and {input}.", "Hello {name}! {{", "Hello Ada! {{")
    prompt, completion = encoder.encode(example, random.Random(0))
    assert prompt == "Task: Fill {name} in {0} and {input}.\nInput: Hello {name}! {{\nOutput:"
    assert completion == " Hello Ada! {{"


# --- formats ------------------------------------------------------------------------------------

def sample_examples(n: int = 50) -> list[Example]:
    return [Example(f"Instruction number {i}: do something {i}.", f"input {i}" if i % 2 else "", f"output {i}")
            for i in range(n)]


def default_settings(system_prompt: str | None = None, seed: int = 42, suffix: str = "") -> ExportSettings:
    templates = compose_cfg().export.templates
    encoder = PromptEncoder(list(templates.with_input), list(templates.without_input), suffix)
    return ExportSettings(encoder, system_prompt, seed)


def write(writer, examples: list[Example], settings: ExportSettings, tmp_path: Path) -> Path:
    path = tmp_path / writer.path
    write_text_atomic(path, writer.render(examples, settings).text)
    return path


def test_alpaca_json_has_exactly_instruction_input_output(tmp_path: Path) -> None:
    examples = sample_examples(5)
    path = write(AlpacaWriter("finetune/alpaca.json"), examples, default_settings(), tmp_path)
    records = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == 5
    assert all(list(r) == ["instruction", "input", "output"] for r in records)
    assert [(r["instruction"], r["input"], r["output"]) for r in records] == [e.key for e in examples]


@pytest.mark.parametrize("system_prompt", [None, "You are a helpful assistant."])
def test_openai_chat_lines_are_valid_fine_tuning_records(tmp_path: Path, system_prompt: str | None) -> None:
    examples = sample_examples(6)
    path = write(OpenAIChatWriter("finetune/openai_chat.jsonl"), examples, default_settings(system_prompt), tmp_path)
    with jsonlines.open(path) as reader:
        lines = list(reader)
    assert len(lines) == 6
    for line, example in zip(lines, examples):
        assert list(line) == ["messages"]
        messages = line["messages"]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) and m["content"] for m in messages)
        roles = [m["role"] for m in messages]
        assert roles == (["system"] if system_prompt else []) + ["user", "assistant"]
        assert messages[-1]["content"] == example.output
        expected_user = f"{example.instruction}\n\n{example.input}" if example.input else example.instruction
        assert messages[-2]["content"] == expected_user


@pytest.mark.parametrize("system_prompt", [None, "Be brief."])
def test_sharegpt_json_is_a_list_of_conversations(tmp_path: Path, system_prompt: str | None) -> None:
    examples = sample_examples(4)
    path = write(ShareGPTWriter("finetune/sharegpt.json"), examples, default_settings(system_prompt), tmp_path)
    records = json.loads(path.read_text(encoding="utf-8"))
    assert len(records) == 4
    for record, example in zip(records, examples):
        turns = record["conversations"]
        assert all(set(t) == {"from", "value"} for t in turns)
        assert [t["from"] for t in turns] == (["system"] if system_prompt else []) + ["human", "gpt"]
        assert turns[-1]["value"] == example.output
        assert example.instruction in turns[-2]["value"] and example.input in turns[-2]["value"]


def template_shape(prompt: str, example: Example) -> str:
    """The template a prompt was made from: the example's text replaced by placeholders again."""
    shape = prompt.replace(example.instruction, "{instruction}")
    return shape.replace(example.input, "{input}") if example.input else shape


def test_prompt_completion_mixes_templates_and_keeps_every_field(tmp_path: Path) -> None:
    examples = sample_examples(50)
    settings = default_settings(suffix="<|endoftext|>")
    path = write(PromptCompletionWriter("finetune/prompt_completion.jsonl"), examples, settings, tmp_path)
    with jsonlines.open(path) as reader:
        lines = list(reader)
    assert len(lines) == 50
    shapes = {"with": set(), "without": set()}
    for line, example in zip(lines, examples):
        assert list(line) == ["prompt", "completion"]
        assert example.instruction in line["prompt"]
        if example.input:
            assert example.input in line["prompt"]
        assert line["completion"].strip() == example.output + "<|endoftext|>"
        shapes["with" if example.input else "without"].add(template_shape(line["prompt"], example))
    assert shapes["with"] <= {t.text for t in settings.encoder.with_input}
    assert shapes["without"] <= {t.text for t in settings.encoder.without_input}
    assert len(shapes["with"]) >= 4 and len(shapes["without"]) >= 4


def test_template_choice_is_fixed_by_the_seed() -> None:
    examples = sample_examples(30)
    writer = PromptCompletionWriter("finetune/p.jsonl")
    first = writer.render(examples, default_settings(seed=1)).text
    assert writer.render(examples, default_settings(seed=1)).text == first
    assert writer.render(examples, default_settings(seed=2)).text != first


def test_atomic_write_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "finetune" / "out.jsonl"
    write_text_atomic(path, "old\n" * 100)
    write_text_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert [p.name for p in path.parent.iterdir()] == ["out.jsonl"]


# --- building export.formats --------------------------------------------------------------------

def test_default_formats_build_into_their_writers() -> None:
    writers = build_writers(compose_cfg().export.formats)
    assert {name: type(w) for name, w in writers.items()} == {
        "prompt_completion": PromptCompletionWriter, "alpaca": AlpacaWriter,
        "openai_chat": OpenAIChatWriter, "sharegpt": ShareGPTWriter,
    }
    assert writers["alpaca"].path == "finetune/alpaca.json"


def test_formats_can_be_removed_or_narrowed() -> None:
    assert list(build_writers(compose_cfg("~export.formats.sharegpt").export.formats)) == [
        "prompt_completion", "alpaca", "openai_chat"]
    assert list(build_writers(compose_cfg("export=alpaca_only").export.formats)) == ["alpaca"]


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ({"x": {"_target_": "selfinstruct.export.formats.NoSuchWriter", "path": "finetune/x"}},
         r"^export\.formats\.x: cannot build"),
        ({"x": {"_target_": "selfinstruct.export.formats.AlpacaWriter"}}, r"^export\.formats\.x: cannot build"),
        ({"x": {"path": "finetune/x"}}, r"^export\.formats\.x: a format needs a _target_"),
        ({"x": {"_target_": "selfinstruct.export.records.Example", "instruction": "a", "input": "b", "output": "c"}},
         r"^export\.formats\.x: .* is not a FormatWriter"),
        ({"x": {"_target_": "selfinstruct.export.formats.AlpacaWriter", "path": "instances.jsonl"}},
         r"^export\.formats\.x\.path: 'instances\.jsonl' must be a file under finetune/"),
        ({"x": {"_target_": "selfinstruct.export.formats.AlpacaWriter", "path": "finetune/../metrics.json"}},
         r"^export\.formats\.x\.path:"),
        ({"a": {"_target_": "selfinstruct.export.formats.AlpacaWriter", "path": "finetune/d.json"},
          "b": {"_target_": "selfinstruct.export.formats.ShareGPTWriter", "path": "finetune/./d.json"}},
         r"^export\.formats\.b\.path: .* also written by export\.formats\.a"),
        ({"x": None}, r"^export\.formats: no format to write"),
    ],
)
def test_a_bad_format_entry_is_named_by_its_key(formats: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_writers(OmegaConf.create(formats))


def test_hugging_face_datasets_reads_every_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files load with ``datasets.load_dataset("json", ...)``, as trainers read them (offline)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed (optional check)")
    examples = sample_examples(12)
    settings = default_settings(system_prompt="Be brief.")
    writers = [AlpacaWriter("finetune/alpaca.json"), OpenAIChatWriter("finetune/openai_chat.jsonl"),
               ShareGPTWriter("finetune/sharegpt.json"), PromptCompletionWriter("finetune/prompt_completion.jsonl")]
    loaded = {}
    for writer in writers:
        path = write(writer, examples, settings, tmp_path)
        loaded[path.name] = datasets.load_dataset("json", data_files=str(path), split="train",
                                                  cache_dir=str(tmp_path / "cache"))
    assert {name: ds.num_rows for name, ds in loaded.items()} == dict.fromkeys(loaded, 12)
    assert loaded["alpaca.json"].column_names == ["instruction", "input", "output"]
    assert loaded["alpaca.json"][3] == {"instruction": examples[3].instruction, "input": examples[3].input,
                                        "output": examples[3].output}
    assert [m["role"] for m in loaded["openai_chat.jsonl"][0]["messages"]] == ["system", "user", "assistant"]
    assert loaded["sharegpt.json"][0]["conversations"][-1] == {"from": "gpt", "value": examples[0].output}
    assert loaded["prompt_completion.jsonl"].column_names == ["prompt", "completion"]
