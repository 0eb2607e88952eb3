"""The judge-reply parsers on replies shaped like what chat models really send to audit.txt and rate.txt."""

from __future__ import annotations

import dataclasses

import pytest

from selfinstruct.parsing import Verdict, parse_audit, parse_rating
from selfinstruct.parsing.judge import AUDIT_KEYS, REASON_MAX_CHARS

Y, N, U = True, False, None  # yes, no, unparsed


def answers(text: str) -> tuple[bool | None, bool | None, bool | None]:
    """The three verdicts of a reply, in Q1, Q2, Q3 order."""
    parsed = parse_audit(text)
    return tuple(parsed[key].answer for key in AUDIT_KEYS)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # the asked format
        ("Q1: Yes - clear task\nQ2: Yes - empty is fine\nQ3: No - wrong sum", (Y, Y, N)),
        # lowercase, dots instead of dashes
        ("Q1: yes. clear task\nQ2: no. input missing\nQ3: yes. fine", (Y, N, Y)),
        # markdown bold labels and em/en dashes
        ("**Q1:** No — not a task\n**Q2:** Yes – fine\n**Q3:** No — wrong", (N, Y, N)),
        ("**Q1: Yes** - ok\n**Q2: No** - bad\n**Q3: Yes** - ok", (Y, N, Y)),
        ("Q1: **Yes** - ok\nQ2: *No* - bad\nQ3: __Yes__ - ok", (Y, N, Y)),
        # plain numbers
        ("1. Yes, because it is clear.\n2. No, the input is unrelated.\n3. Yes, correct.", (Y, N, Y)),
        ("1) Yes\n2) Yes\n3) No", (Y, Y, N)),
        # parenthesis, colon after the verdict, dash before it
        ("Q1) No: vague\nQ2) Yes: ok\nQ3) No: wrong", (N, Y, N)),
        ("Q1 - Yes\nQ2 - No\nQ3 - Yes", (Y, N, Y)),
        ("Q1. Yes\nQ2. Yes\nQ3. Yes", (Y, Y, Y)),
        # other label words
        ("Answer 1: Yes\nAnswer 2: No\nAnswer 3: No", (Y, N, N)),
        ("Question 1: Yes - fine\nQuestion 2: Yes\nQuestion 3: No", (Y, Y, N)),
        # leading bullets
        ("- Q1: Yes - ok\n- Q2: No - bad\n- Q3: Yes - ok", (Y, N, Y)),
        ("* Q1: Yes\n* Q2: Yes\n* Q3: Yes", (Y, Y, Y)),
        ("• Q1: No\n• Q2: No\n• Q3: No", (N, N, N)),
        # lines in any order
        ("Q3: No - wrong\nQ1: Yes - ok\nQ2: Yes - ok", (Y, Y, N)),
        # chatter before and after
        ("Here is my assessment:\n\nQ1: Yes - ok\nQ2: No - bad\nQ3: Yes - ok\n\nOverall it is weak.", (Y, N, Y)),
        ("### Q1: Yes\n### Q2: No\n### Q3: Yes", (Y, N, Y)),
        # the question restated before the verdict
        ("Q1: Does the instruction describe a valid task? Yes - clear.\nQ2: Is the input appropriate? No.", (Y, N, U)),
        # the verdict on the line after its label
        ("Q1:\nYes - clear\nQ2:\nNo - bad\nQ3:\nYes", (Y, N, Y)),
        # all on one line
        ("Q1: Yes. Q2: No, input missing. Q3: Yes.", (Y, N, Y)),
        ("Q1: Yes | Q2: Yes | Q3: No", (Y, Y, N)),
        # one question missing: None, never guessed
        ("Q1: Yes - ok\nQ3: No - bad", (Y, U, N)),
        # a line with neither yes nor no
        ("Q1: Yes\nQ2: Maybe, hard to say\nQ3: Partially correct", (Y, U, U)),
        ("Q1: Not really a task\nQ2: Yes\nQ3: Yes", (U, Y, Y)),
        # a yes/no inside another question's reason is not taken
        ("Q1: No - yes, it reads like a task, but it is not one\nQ3: Yes - no errors", (N, U, Y)),
        ("Q1: Yes - the answer to Q2: no is implied", (Y, U, U)),
        ("Q1: Yes - clear, unlike what Q2: No would suggest\nQ2: Yes - fine", (Y, Y, U)),
        # a question answered twice: the first verdict wins
        ("Q1: No - vague\nQ1: Yes - on reflection", (N, U, U)),
        # the template echoed back is not an answer
        ("Q1: Yes|No - reason\nQ2: Yes/No - reason\nQ3: Yes | No", (U, U, U)),
        # words starting like yes/no are not verdicts
        ("Q1: Nope\nQ2: None needed\nQ3: Yesterday's data", (U, U, U)),
        # a sentence starting with a number is not a label
        ("3 things are wrong, yes.\n2 of them are serious, no doubt.", (U, U, U)),
        # garbage
        ("", (U, U, U)),
        ("I'm not sure.", (U, U, U)),
        ("Yes", (U, U, U)),
        ("Yes, yes and no.", (U, U, U)),
        ("Q1: ", (U, U, U)),
        ("Q4: Yes\nQ12: No", (U, U, U)),
    ],
)
def test_parse_audit_verdicts(reply: str, expected: tuple[bool | None, ...]) -> None:
    assert answers(reply) == expected


@pytest.mark.parametrize(
    ("reply", "key", "reason"),
    [
        ("Q1: Yes - clear task", "valid_instruction", "clear task"),
        ("Q2: No — the input is unrelated.", "appropriate_input", "the input is unrelated"),
        ("1. Yes, because it asks for a sum.", "valid_instruction", "because it asks for a sum"),
        ("Q3) No: the total is 12, not 15", "acceptable_output", "the total is 12, not 15"),
        ("**Q1:** Yes", "valid_instruction", ""),
        ("Q1: Yes. Q2: No, input missing. Q3: Yes.", "valid_instruction", ""),
        ("Q1: Yes. Q2: No, input missing. Q3: Yes.", "appropriate_input", "input missing"),
        ("Q1: Yes - uses snake_case names", "valid_instruction", "uses snake_case names"),
        ("Q2: nonsense", "appropriate_input", ""),
        ("Q3: No. Reason: the total is wrong.", "acceptable_output", "the total is wrong"),
    ],
)
def test_parse_audit_reasons(reply: str, key: str, reason: str) -> None:
    assert parse_audit(reply)[key].reason == reason


def test_parse_audit_always_has_the_three_keys_in_order() -> None:
    assert list(parse_audit("nothing here")) == ["valid_instruction", "appropriate_input", "acceptable_output"]
    assert parse_audit("")["acceptable_output"] == Verdict(answer=None, reason="")


def test_audit_reason_is_capped() -> None:
    reason = parse_audit("Q1: Yes - " + "word " * 100)["valid_instruction"].reason
    assert len(reason) <= REASON_MAX_CHARS
    assert reason.startswith("word word")


def test_verdict_is_frozen() -> None:
    verdict = Verdict(answer=True, reason="ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.answer = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        # the asked format and its decorations
        ("Rating: B - minor issues", "B"),
        ("Rating: A - fully correct", "A"),
        ("Rating: **B**", "B"),
        ("**Rating:** C - wrong total", "C"),
        ("**Rating: D**", "D"),
        ("rating = C", "C"),
        ("RATING: A", "A"),
        ("Rating - B", "B"),
        ("Rating: (C)", "C"),
        ('Rating: "A"', "A"),
        ("Rating: [B]", "B"),
        ("Final rating is D.", "D"),
        ("Grade: A", "A"),
        ("Score: C — misses the point", "C"),
        ("Rating: a", "A"),  # a lowercase letter alone after the label
        ("Rating: B+", "B"),
        # the label wins over any other letter in the reply
        ("A good attempt overall.\nRating: C - the math is wrong", "C"),
        ("I would give it a B.\nRating: C", "C"),
        # the label with the letter on the next line
        ("Rating:\nB - minor issues", "B"),
        # chatter before the rating line
        ("Let me check the response.\n\nRating: B - a small slip", "B"),
        # a line that starts with the lone letter
        ("B - minor issues", "B"),
        ("B – minor issues", "B"),
        ("B — minor issues", "B"),
        ("(C) relevant but wrong", "C"),
        ("C) relevant but wrong", "C"),
        ("D. Irrelevant.", "D"),
        ("A: valid and satisfying", "A"),
        ("**D**", "D"),
        ("'C' - significant errors", "C"),
        ("A", "A"),
        ("  B  ", "B"),
        ("B-", "B"),
        ("The response is weak.\nC - several errors", "C"),
        # a rating verb with the letter as its object
        ("I would give it a B.", "B"),
        ("I'd rate this response an A because it is complete.", "A"),
        ("Overall, I rate it as a C.", "C"),
        ("This answer deserves a D.", "D"),
        ("Give it an A", "A"),
    ],
)
def test_parse_rating_letter(reply: str, letter: str) -> None:
    assert parse_rating(reply)[0] == letter


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I'm not sure.",
        "A good response, but it misses the second question.",  # the article, not a rating
        "A response that is mostly right.",
        "A-level students would find this easy.",
        "A.I. models often answer like this.",
        "B's answer is better than A's.",
        "C++ would be a better choice here.",
        "Rating: a solid answer overall",  # lowercase "a" followed by a word: the article
        "Rating: X - reason",  # the template echoed back
        "Score: 7/10",
        "Rating: E",
        "The answer is good. I'd give it a try.",
        "It is a decent response with a few issues.",
        "b - minor issues",  # only an uppercase lone letter starts a line as a rating
        "ABC",
        "Between B and C, hard to say",
    ],
)
def test_parse_rating_unparsed(reply: str) -> None:
    assert parse_rating(reply) == (None, "")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Rating: B - minor issues", "minor issues"),
        ("Rating: C — the total is wrong.", "the total is wrong"),  # end punctuation is a separator too
        ("**Rating:** A – complete and correct", "complete and correct"),
        ("Rating: D\nIt answers another question.", "It answers another question"),
        ("(C) relevant but wrong", "relevant but wrong"),
        ("Rating: A", ""),
        ("Rating: B\n\nReason: one step is missing.", "one step is missing"),
        ("### B - minor issues", "minor issues"),
        ("Rating: B - " + "x" * 500, "x" * REASON_MAX_CHARS),
    ],
)
def test_parse_rating_reason(reply: str, reason: str) -> None:
    assert parse_rating(reply)[1] == reason
