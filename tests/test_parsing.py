"""The numbered-list parser on replies shaped like what completion and chat models really send."""

from __future__ import annotations

import pytest

from selfinstruct.parsing import clean_demo, parse_instruction_list


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # a completion model continues right after the prompt's "9."
        (" Suggest a name for a bakery.\n10. Explain why the sky is blue.\n11. List three uses of vinegar.",
         ["Suggest a name for a bakery.", "Explain why the sky is blue.", "List three uses of vinegar."]),
        # a chat model restates the number
        ("9. Suggest a name for a bakery.\n10. Explain why the sky is blue.",
         ["Suggest a name for a bakery.", "Explain why the sky is blue."]),
        # parenthesis numbering
        ("9) Suggest a name for a bakery.\n10) Explain why the sky is blue.",
         ["Suggest a name for a bakery.", "Explain why the sky is blue."]),
        # chatter before and after the list
        ("Sure! Here are some more tasks:\n9. Suggest a name for a bakery.\n10. Explain tides.\n\nLet me know if you want more!",
         ["Suggest a name for a bakery.", "Explain tides."]),
        ("Here are more tasks:\n\n9. Suggest a name for a bakery.\n10. Explain tides.",
         ["Suggest a name for a bakery.", "Explain tides."]),
        # an item that wraps onto the next line, and extra whitespace
        ("9. Given a list of numbers,\n   return the   median.\n10. Explain tides.",
         ["Given a list of numbers, return the median.", "Explain tides."]),
        # the number alone on its own line
        ("9.\nSuggest a name for a bakery.\n10.\nExplain tides.", ["Suggest a name for a bakery.", "Explain tides."]),
        # markdown emphasis and bullets
        ("- **Suggest** a name for a bakery.\n- Explain tides.", ["Suggest a name for a bakery.", "Explain tides."]),
        # quoted items
        ('9. "Suggest a name for a bakery."', ["Suggest a name for a bakery."]),
        # a blank line ends the list, as the paper's stop sequence does
        ("Explain tides.\n10. Name a planet.\n\n11. This comes after a blank line.", ["Explain tides.", "Name a planet."]),
        ("", []),
        ("\n\n   \n", []),
        ("Sure, here you go:", []),
    ],
)
def test_parse_instruction_list(reply: str, expected: list[str]) -> None:
    assert parse_instruction_list(reply) == expected


def test_defects_after_the_marker_reach_the_filters() -> None:
    # the marker is stripped once; punctuation after it is the instruction's own and is kept
    assert parse_instruction_list("10. - List three fruits.\n11. ¿Qué hora es?") == ["- List three fruits.", "¿Qué hora es?"]


def test_garbage_never_raises() -> None:
    for reply in ["{}", "}}}{{{", "1.", "1.\n2.\n3.", "\x00\x01", "9" * 5000, "-\n-\n-"]:
        assert isinstance(parse_instruction_list(reply), list)


def test_clean_demo_collapses_whitespace_and_drops_trailing_colon() -> None:
    assert clean_demo("  Translate the sentence\n into French:  ") == "Translate the sentence into French"


@pytest.mark.parametrize(
    "item",
    [
        "Compute (2**3)**2 and explain the order of operations.",
        "Explain why you should call **update()** before rendering a frame.",
        "Fill in the blank: The capital of France is _____.",
        "Explain what __init__ does in a Python class and when __del__ runs.",
        "Explain what **kwargs means in a Python function signature.",
        "Rewrite the sentence so that the **bold** word is a verb.",
    ],
)
def test_emphasis_characters_inside_an_instruction_are_its_own_text(item: str) -> None:
    # only whitespace and the list marker are removed (the paper's parser); ** and __ here are content
    assert parse_instruction_list(f"9. {item}\n10. Explain tides.") == [item, "Explain tides."]
    assert parse_instruction_list(f"- {item}") == [item]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # bold around the whole item is list formatting (a chat model's shape)
        ("9. **Write a poem about cats.**\n10. __Name three rivers in Asia.__",
         ["Write a poem about cats.", "Name three rivers in Asia."]),
        # a bold leading label keeps its text, loses its markup
        ("9. **Instruction:** Write a haiku about autumn.", ["Instruction: Write a haiku about autumn."]),
        ("9. **Write a poem about cats**.", ["Write a poem about cats."]),
        # and the rest of the item stays as written
        ("9. **Task:** Compute (2**3)**2.", ["Task: Compute (2**3)**2."]),
        ('9. **"Write a poem."**', ["Write a poem."]),
    ],
)
def test_bold_that_formats_the_list_item_is_removed(reply: str, expected: list[str]) -> None:
    assert parse_instruction_list(reply) == expected
