"""Drawing instructions from the synthetic grammar (see ``synthetic``).

Renders templates with seeded random slot values (``sample_task``), produces the
typical defects a chat model writes (keyword, too-short and bad-start
instructions, near-copies of a demo) and offers ``SyntheticGenerator``, a seeded
stream of clean tasks. Every draw goes through the caller's ``random.Random``,
so the same seed always yields the same text.
"""

from __future__ import annotations

import random
import re

from selfinstruct.filters.rouge import rouge_l
from selfinstruct.simulated.grammar import (
    BAD_PREFIXES,
    BAD_START_TEMPLATES,
    CLASSIFICATION_SHARE,
    CLASSIFICATION_TEMPLATES,
    FOREIGN_INSTRUCTIONS,
    INSERTIONS,
    KEYWORD_TEMPLATES,
    OTHER_TEMPLATES,
    SHORT_INSTRUCTIONS,
    SLOTS,
    SYNONYMS,
    TAIL_RATE,
    TAILS,
    SyntheticTask,
    Template,
)

TOKEN = re.compile(r"\{(\w+)\}|\[([^\]]*)\]")
ARTICLE = re.compile(r"(?:^|\s)[Aa] $")


def slot_values(name: str) -> tuple[str, ...]:
    """Values of a slot; trailing digits make an independent alias."""
    return SLOTS[name.rstrip("0123456789")]


def join_labels(labels: tuple[str, ...]) -> str:
    """Render a label list the way people write it in an instruction."""
    if len(labels) == 1:
        return labels[0]
    if len(labels) == 2:
        return f"{labels[0]} or {labels[1]}"
    return ", ".join(labels[:-1]) + f", or {labels[-1]}"


def _vowel_sound(word: str) -> bool:
    """Rough English rule: 'an' before a vowel sound ('an urgent', 'a unit')."""
    lower = word.lower()
    return lower[:1] in "aeio" or (lower[:1] == "u" and not lower.startswith(("uni", "use", "usu")))


def _fix_article(literal: str, value: str) -> str:
    """Turn a template's trailing 'a ' into 'an ' before a vowel-initial value."""
    if ARTICLE.search(literal) and _vowel_sound(value):
        return literal[:-1] + "n "
    return literal


def _render(template: Template, rng: random.Random) -> SyntheticTask:
    """Fill one template with random slot values."""
    labelset = rng.choice(template.labelsets) if template.labelsets else None
    labels = labelset.labels if labelset else template.labels

    def fill(match: re.Match[str]) -> str:
        slot, alternatives = match.group(1), match.group(2)
        if alternatives is not None:
            return rng.choice(alternatives.split("|"))
        if slot == "labels" and labelset:
            return join_labels(labelset.labels)
        if slot in ("noun", "nouns") and labelset:
            return getattr(labelset, slot)
        return rng.choice(slot_values(slot))

    out: list[str] = []
    pos = 0
    for match in TOKEN.finditer(template.pattern):
        literal, value = template.pattern[pos:match.start()], fill(match)
        out += [_fix_article(literal, value), value]
        pos = match.end()
    text = "".join(out) + template.pattern[pos:]
    tails = TAILS.get(template.family, ())
    if tails and rng.random() < TAIL_RATE:
        text = f"{text} {rng.choice(tails)}"
    return SyntheticTask(text, template.is_classification, labels, template.takes_input, template.family)


def sample_task(rng: random.Random, classification_share: float | None = None) -> SyntheticTask:
    """Draw one clean instruction; classification_share overrides the default mix."""
    share = CLASSIFICATION_SHARE if classification_share is None else classification_share
    pool = CLASSIFICATION_TEMPLATES if rng.random() < share else OTHER_TEMPLATES
    return _render(rng.choice(pool), rng)


def keyword_instruction(rng: random.Random) -> str:
    """An instruction needing a modality the paper's keyword filter rejects."""
    return _render(rng.choice(KEYWORD_TEMPLATES), rng).instruction


def short_instruction(rng: random.Random) -> str:
    """A 1-3 word instruction (the paper drops these by length)."""
    return rng.choice(SHORT_INSTRUCTIONS)


def bad_start_instruction(rng: random.Random) -> str:
    """An instruction starting with punctuation, a non-ASCII letter or 'Write a program'."""
    style = rng.randrange(3)
    if style == 0:
        return _render(rng.choice(BAD_START_TEMPLATES), rng).instruction
    if style == 1:
        return rng.choice(FOREIGN_INSTRUCTIONS)
    prefix = rng.choice(BAD_PREFIXES)
    text = sample_task(rng).instruction
    return f"{prefix}{text}\"" if prefix == "\"" else prefix + text


def _one_word_change(words: list[str], rng: random.Random) -> list[str]:
    """Swap a word for a synonym if possible, else insert an adverb."""
    candidates = [i for i, w in enumerate(words) if w.lower().strip(".,?!:;") in SYNONYMS]
    if candidates:
        i = rng.choice(candidates)
        core = words[i].strip(".,?!:;")
        swap = SYNONYMS[core.lower()]
        swap = swap.capitalize() if core[:1].isupper() else swap
        return words[:i] + [words[i].replace(core, swap, 1)] + words[i + 1:]
    i = rng.randrange(1, len(words)) if len(words) > 1 else 1
    return words[:i] + [rng.choice(INSERTIONS)] + words[i:]


def near_copy(instruction: str, rng: random.Random) -> str:
    """Change one or two words so ROUGE-L against the original stays above 0.7."""
    words = instruction.split()
    if not words:
        return instruction
    for changes in (rng.choice((1, 2)), 1):
        edited = words
        for _ in range(changes):
            edited = _one_word_change(edited, rng)
        text = " ".join(edited)
        if text != instruction and rouge_l(text, instruction) > 0.7:
            return text
    return instruction.rstrip(".") + "!"  # one-word demo: only punctuation changes



class SyntheticGenerator:
    """A seeded stream of clean synthetic tasks (handy for tests and demos)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def task(self, classification_share: float | None = None) -> SyntheticTask:
        return sample_task(self._rng, classification_share)

    def tasks(self, n: int) -> list[SyntheticTask]:
        return [self.task() for _ in range(n)]

    def instructions(self, n: int) -> list[str]:
        return [t.instruction for t in self.tasks(n)]
