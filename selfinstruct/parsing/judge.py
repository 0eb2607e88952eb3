"""Parsers for an LLM judge's replies: the three-question audit and the A-D rating.

Judges rarely follow the asked format to the letter: they bold things, number answers "1." instead
of "Q1:", use en/em dashes, add chatter before and after. These parsers accept those variants but
never guess: a verdict or rating that is not clearly stated comes back as None, so that metrics can
count it as unparsed instead of silently inflating one side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AUDIT_KEYS: tuple[str, str, str] = ("valid_instruction", "appropriate_input", "acceptable_output")
"""The audit's questions Q1, Q2, Q3, in order, as they are named in audit.jsonl."""

REASON_MAX_CHARS = 200
"""Reasons are cut to this length: they are for a human skimming audit.jsonl, not for parsing."""

_SEPARATORS = " \t\r\n,.;:!?-–—|)]>"
"""What may sit between a verdict (or a rating letter) and its reason."""


@dataclass(frozen=True)
class Verdict:
    """One audit question's outcome: True/False for Yes/No, None when the reply gave no verdict."""

    answer: bool | None
    reason: str


# ---------------------------------------------------------------- shared helpers


_EMPHASIS = re.compile(r"\*+|(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])|`+")


def _strip_markdown(text: str) -> str:
    """Drop bold/italic/code markers, which judges sprinkle around labels and verdicts.

    Underscores inside words (snake_case names in a reason) are kept.
    """
    return _EMPHASIS.sub("", text)


_REASON_LABEL = re.compile(r"^(?:reason|explanation|justification)\s*[:\-–—]\s*", re.IGNORECASE)


def _clean_reason(text: str) -> str:
    """The reason as a short single line: separators stripped from both ends, spaces collapsed."""
    reason = " ".join(text.split()).strip(_SEPARATORS).strip()
    reason = _REASON_LABEL.sub("", reason).strip(_SEPARATORS).strip()  # "Reason: ..." says nothing itself
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[:REASON_MAX_CHARS].rstrip()
    return reason


# ---------------------------------------------------------------- audit

# A question label at the start of a line: "Q1", "Question 1", "Answer 1", or a bare "1" that must be
# followed by a separator ("1.", "1)", "1:", "1 -") so that a sentence starting with a number is not a label.
_LABEL = re.compile(
    r"""^[\s>•·\-+\#]*                        # leading bullets, quote and heading markers
        (?:
            (?:q|question|answer)\s*(?P<named>[1-3])(?![0-9])\s*[.):\-–—]*
          | (?P<bare>[1-3])(?![0-9])\s*[.):\-–—]+
        )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
# The verdict right after the label, optionally after the question restated ("Does ...? Yes - ...").
_VERDICT = re.compile(r"^(?:[^\n?]{0,300}\?\s*)?(?P<verdict>yes|no)\b(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
# "Yes|No" or "Yes/No" is the template echoed back, not an answer.
_ECHO = re.compile(r"^\s*[|/]\s*(?:yes|no)\b", re.IGNORECASE)
# Several "Q1: ... Q2: ..." on one line are split so each starts its own line.
# Only after ".", ";", "," or "|", so "contradicts Q1: yes" inside a reason stays part of that reason.
_INLINE_Q = re.compile(r"(?<=[.;,|])\s+(?=(?:\*\*)?Q[1-3](?![0-9])\s*\**\s*[.):\-–—])", re.IGNORECASE)


def _audit_lines(text: str, split_inline: bool) -> list[str]:
    """The reply as markdown-free lines; with split_inline, "Q2:"/"Q3:" after a sentence end start new lines."""
    if split_inline:
        text = _INLINE_Q.sub("\n", text)
    return [_strip_markdown(line).strip() for line in text.splitlines()]


def _verdict_from(after_label: str) -> Verdict | None:
    """The verdict stated at the start of what follows a question label, or None if there is none."""
    match = _VERDICT.match(after_label.strip())
    if match is None or _ECHO.match(match.group("rest")):
        return None
    rest = _INLINE_Q.split(match.group("rest"), maxsplit=1)[0]  # not the next question's answer
    return Verdict(answer=match.group("verdict").lower() == "yes", reason=_clean_reason(rest))


def parse_audit(text: str) -> dict[str, Verdict]:
    """Parse a reply to prompts/judge/audit.txt into one Verdict per question.

    Returns {"valid_instruction": Q1, "appropriate_input": Q2, "acceptable_output": Q3}.

    Why so careful: audit metrics compare yes-rates with the paper's Table 2, so a wrongly read verdict
    is worse than a missing one. Rules:
    - a verdict counts only when it is the first word after a question label at the start of a line
      ("Q1:", "**Q1:**", "Q1)", "Q1 -", "Question 1:", "Answer 1:", "1.", "- Q1:"), or right after the
      question restated up to its "?"; a "yes" inside another question's reason is not taken;
    - several answers on one line ("Q1: Yes. Q2: No.") are read when a "Q" label follows ".", ";", ","
      or "|", but only for questions that no line of their own answers;
    - a label alone on its line may have its verdict on the next line ("Q1:\\nYes - ...");
    - lines may come in any order; when a question is answered twice the first verdict wins;
    - a question with no such line, or with neither yes nor no, gets Verdict(None, "");
      "Yes|No" (the template echoed) counts as neither; a bare "Yes" with no label answers nothing.
    The reason is the rest of the line after the verdict (up to the next inline "Q" label), without
    separators or end punctuation at either end, at most 200 chars.
    """
    found: dict[int, Verdict] = {}
    # Lines as written take precedence; inline "Q1: Yes. Q2: No." only fills what they left unanswered.
    for split_inline in (False, True):
        _collect_verdicts(_audit_lines(text, split_inline), found)
    return {key: found.get(number, Verdict(answer=None, reason="")) for number, key in enumerate(AUDIT_KEYS, 1)}


def _collect_verdicts(lines: list[str], found: dict[int, Verdict]) -> None:
    """Add to found (question number -> Verdict) the verdicts of labelled lines not answered yet."""
    for index, line in enumerate(lines):
        label = _LABEL.match(line)
        if label is None:
            continue
        number = int(label.group("named") or label.group("bare"))
        if number in found:
            continue
        after = line[label.end():]
        if not after.strip():
            after = _next_nonblank(lines, index)
        verdict = _verdict_from(after)
        if verdict is not None:
            found[number] = verdict


def _next_nonblank(lines: list[str], index: int) -> str:
    """The next non-blank line after lines[index], unless it is itself a question label ("" then)."""
    for line in lines[index + 1:]:
        if line.strip():
            return "" if _LABEL.match(line) else line
    return ""


# ---------------------------------------------------------------- rating

# 1) an explicit label: "Rating: B", "**Rating:** B", "rating = C", "Grade: A", "Score - D", "Final rating is B".
#    The letter must stand alone: uppercase and not followed by a letter/digit/apostrophe, or lowercase and
#    followed by punctuation or the end (so "Rating: a" counts but "Rating: a solid answer" does not).
_LABELLED = re.compile(
    r"\b(?i:rating|grade|score)\b\s*(?:(?i:is|of)\b|[:=\-–—])?\s*[\"'(\[]*"
    r"(?:(?P<upper>[A-D])(?![A-Za-z0-9'])|(?P<lower>[a-d])(?=\s*(?:$|[).,:;\]\"'\-–—])))",
    re.MULTILINE,
)
# 2) a line that starts with the lone letter: "B - minor issues", "(C) ...", "D", "A.", "A: ...".
# "A-level", "A.I." and "B's" are words, not ratings: a dash, dot or apostrophe must not be followed by a letter.
_LEADING = re.compile(
    r"^[\s>•·\-+#]*[(\[\"']?(?P<upper>[A-D])\s*(?:$|[):\]\"]|['.\-–—](?![A-Za-z]))", re.MULTILINE
)
# 3) a plain-words verdict: "I would give it a B", "I'd rate this response a C", "it deserves an A".
_PHRASE = re.compile(
    r"\b(?i:give|rate|grade|score)[sd]?\s+(?i:it|this|this response|the response|this answer|the answer)"
    r"\s+(?i:as\s+)?(?i:an?\s+)?[\"'(]*(?P<upper>[A-D])(?![A-Za-z0-9'])"
    r"|\b(?i:deserves?\s+an?)\s+[\"'(]*(?P<upper2>[A-D])(?![A-Za-z0-9'])",
)


def parse_rating(text: str) -> tuple[str | None, str]:
    """Parse a reply to prompts/judge/rate.txt into (letter A-D or None, reason).

    Why so careful: ratings feed the Figure 5 style A/B/C/D shares, and the article "A" is everywhere
    in English, so a letter is taken only where it clearly is the rating. In order of preference:
    1. an explicit label "Rating:"/"Grade:"/"Score:" (also "rating = C", "rating is B", bold, quotes)
       followed by a standalone letter; "Rating: a" counts, "Rating: a solid answer" does not;
    2. a line that starts with a lone uppercase letter followed by the end of the line, ")", ".",
       ":", "-", "–" or "—" ("B - minor issues", "(C) ...", "**D**", a reply that is just "A");
       "A good response, but ..." does not count (the letter is followed by a word);
    3. a plain-words verdict: "give/rate/grade/score it (as) a B", "I'd rate this response an A",
       "deserves a C". Judges write this when they ignore the format, and the letter is unambiguous
       there because it is the object of a rating verb.
    Anything else gives (None, ""). The first match of the best rule wins.
    The reason is the rest of that line after the letter (else the next non-blank line), without
    separators or end punctuation at either end, at most 200 chars.
    """
    clean = _strip_markdown(text)
    for pattern in (_LABELLED, _LEADING, _PHRASE):
        match = pattern.search(clean)
        if match is None:
            continue
        letter = next(group for group in match.groups() if group).upper()
        return letter, _reason_after(clean, match.end())
    return None, ""


def _reason_after(text: str, position: int) -> str:
    """The rest of the line after a rating letter, or the next non-blank line when that is empty."""
    rest, _, following = text[position:].partition("\n")
    reason = _clean_reason(rest)
    if reason:
        return reason
    for line in following.splitlines():
        if line.strip():
            return _clean_reason(line)
    return ""
