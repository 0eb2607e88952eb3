"""Parsers for the classify answer, instance replies and Alpaca task lists, on chat-shaped replies."""

from __future__ import annotations

import pytest

from selfinstruct.data import Instance
from selfinstruct.parsing import parse_alpaca_tasks, parse_input_first, parse_output_first, parse_yes_no


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("Yes", True), ("yes.", True), (" Yes, because it picks a label", True), ("YES", True),
     ("No", False), ("no - the answer is free text", False), ("No.", False), ("Answer: No", False),
     ("The task", None), ("", None), ("Nope", None), ("Yesterday", None)],
)
def test_yes_no(reply: str, expected: bool | None) -> None:
    assert parse_yes_no(reply) is expected


I = Instance


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Example 1\nInput: 3, 9, 4\nOutput: 9\nExample 2\nInput: -1, -5\nOutput: -1",
         [I("3, 9, 4", "9"), I("-1, -5", "-1")]),
        # a colon after "Example N", numbered markers, multi-line output
        ("Example 1:\nInput 1: Buy milk, call mom\nOutput 1: - Buy milk\n- Call mom\n\nExample 2:\nInput 2: Walk dog\nOutput 2: - Walk dog",
         [I("Buy milk, call mom", "- Buy milk\n- Call mom"), I("Walk dog", "- Walk dog")]),
        # markdown bold markers; code with ** inside the output survives
        ("**Example 1**\n**Input:** 2 and 3\n**Output:** 2 ** 3 = 8", [I("2 and 3", "2 ** 3 = 8")]),
        # a chat model restating the task first, and a next task after the examples
        ("Task: Find the largest number.\nExample 1\nInput: 1 2\nOutput: 2\n\nTask: Another task\nExample 1\nInput: x\nOutput: y",
         [I("1 2", "2")]),
        # no input needed: the output directly
        ("Output: Ottawa is the capital of Canada.", [I("", "Ottawa is the capital of Canada.")]),
        # Input/Output pairs without Example lines
        ("Input: a\nOutput: b\nInput: c\nOutput: d", [I("a", "b"), I("c", "d")]),
        # an empty output stays (cleaning drops it later, counted)
        ("Example 1\nInput: hello\nOutput:\nExample 2\nInput: bye\nOutput: adios", [I("hello", ""), I("bye", "adios")]),
        ("Input: <noinput>\nOutput: Hi there", [I("", "Hi there")]),
        # garbage: no Output marker, nothing parsed
        ("I am sorry, I cannot help with that.", []),
        ("", []),
    ],
)
def test_input_first(reply: str, expected: list[Instance]) -> None:
    assert parse_input_first(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Class label: Positive\nInput: Loved every minute.\nClass label: Negative\nInput: Waste of money.",
         [I("Loved every minute.", "Positive"), I("Waste of money.", "Negative")]),
        ("Class label 1: spam\nEmail: WIN A PRIZE NOW\n\nClass label 2: not spam\nEmail: Lunch at noon?",
         [I("WIN A PRIZE NOW", "spam"), I("Lunch at noon?", "not spam")]),
        ("**Class label:** True\n**Input:** Water boils at 100 C at sea level.",
         [I("Water boils at 100 C at sea level.", "True")]),
        # a task with no input: labels alone
        ("Class label: Yes\nClass label: No", [I("", "Yes"), I("", "No")]),
        ("Task: Is the sentence formal?\nClass label: formal\nInput: Dear Sir,\nwe regret.\nTask: next",
         [I("Dear Sir,\nwe regret.", "formal")]),
        ("Sure! Here you go.", []),
    ],
)
def test_output_first(reply: str, expected: list[Instance]) -> None:
    assert parse_output_first(reply) == expected


def test_alpaca_tasks_continue_after_the_prompt_and_skip_incomplete_blocks() -> None:
    reply = (" Name the capital of the country.\n4. Input:\nKenya\n4. Output:\nNairobi\n###\n"
             "5. Instruction: Tell a joke about cats.\n5. Input:\n<noinput>\n5. Output:\nWhy did the cat...\n###\n"
             "6. Instruction: Sort the list.\n6. Input:\n3 1 2\n###\n7. Instruction: Cut off her")
    tasks = parse_alpaca_tasks(reply)
    assert [(t.instruction, t.input, t.output) for t in tasks] == [
        ("Name the capital of the country.", "Kenya", "Nairobi"),
        ("Tell a joke about cats.", "", "Why did the cat..."),
    ]


def test_alpaca_restated_number_and_garbage() -> None:
    reply = "4. Instruction: Give a synonym.\n4. Input:\nquick\n4. Output:\nfast"
    assert [(t.instruction, t.output) for t in parse_alpaca_tasks(reply)] == [("Give a synonym.", "fast")]
    assert parse_alpaca_tasks("no tasks here") == []
    assert parse_alpaca_tasks("###\n###") == []
