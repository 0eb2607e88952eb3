"""Slot values and labelled inputs for synthetic answers (see ``synthetic``).

``Vocab`` holds the slot values of one answer: the instruction's own (recovered
by ``task_slots``), else drawn once from the grammar's slots or the answer-only
words (names, weekdays, dates, amounts...) and reused, so an answer stays
consistent. Also the small text helpers the answer builders share, and
``input_for_label``: an input a classifier should put under a given label.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from selfinstruct.simulated.grammar import (
    ANSWER_WORDS,
    CATEGORY_EXAMPLES,
    DIET_TEXTS,
    GENERIC_TEXTS,
    ISSUE_TEXTS,
    LABEL_TEXTS,
    NEUTRAL_TEXTS,
    NEWS_SENTENCES,
    SLOTS,
    SyntheticTask,
)
from selfinstruct.simulated.recognition import task_slots


def _year(rng: random.Random) -> str:
    return str(rng.choice((2015, 2017, 2018, 2019, 2021, 2022, 2023)))


def _date(rng: random.Random) -> str:
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
    return f"{rng.randint(2, 28)} {rng.choice(months)} {_year(rng)}"


# Extra vocabulary for answers; each draws a fresh value per instance.
_EXTRA: dict[str, tuple[str, ...] | Callable[[random.Random], str]] = {
    **ANSWER_WORDS,  # name, weekday, time, medication, product, street: vocabulary.json
    "date": _date,
    "year": _year,
    "pct": lambda rng: str(rng.randint(12, 87)),
    "n": lambda rng: str(rng.randint(3, 9)),
    "big": lambda rng: f"{rng.randint(2, 48) * 25:,}",
    "amount": lambda rng: f"${rng.randint(3, 95) * 25:,}",
    "email": lambda rng: f"{rng.choice(('info', 'sales', 'hr', 'events', 'support'))}@"
                         f"{rng.choice(('northwind', 'bluepeak', 'greenfield', 'harbor'))}.example.com",
    "phone": lambda rng: f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
}
_FILL = re.compile(r"\{(\w+)\}")


class Vocab(dict[str, str]):
    """Slot values for one answer: the instruction's own, else drawn once and reused."""

    def __init__(self, rng: random.Random, slots: dict[str, str]) -> None:
        super().__init__(slots)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        if key[:1].isupper():
            value = self[key[0].lower() + key[1:]]
            return value[:1].upper() + value[1:]
        base = key.rstrip("0123456789")
        source = _EXTRA.get(base) or SLOTS.get(base)
        if source is None:
            raise KeyError(key)
        value = source(self.rng) if callable(source) else self.rng.choice(source)
        self[key] = value
        return value

    def fill(self, pattern: str) -> str:
        """Replace {slot} markers; anything else in braces (code) is left alone."""
        def one(match: re.Match[str]) -> str:
            try:
                return self[match.group(1)]
            except KeyError:
                return match.group(0)
        return _FILL.sub(one, pattern)

    def pick(self, bank: tuple[str, ...]) -> str:
        return self.fill(self.rng.choice(bank))

    def sample(self, bank: tuple[str, ...], k: int, ordered: bool = False) -> list[str]:
        """k distinct entries, shuffled or (ordered) in bank order, e.g. Day 1 before Day 2."""
        picked = self.rng.sample(range(len(bank)), min(k, len(bank)))
        return [self.fill(bank[i]) for i in (sorted(picked) if ordered else picked)]


def format_lines(items: list[str], style: str = "numbered") -> str:
    if style == "numbered":
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    return "\n".join(f"- {item}" for item in items)


def item_count(v: Vocab, low: int = 3, high: int = 5) -> int:
    """How many list items: the instruction's {number} when it names one, capped for brevity."""
    words = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "ten": 10}
    return min(words.get(v.get("number", ""), v.rng.randint(low, high)), 7)



def _label_key(label: str) -> str:
    return label.strip().lower()


def _pair_input(label: str, v: Vocab) -> str:
    """Two texts whose relation matches the label of a pair task."""
    first = v.fill("Remote work saves employees {n} hours of commuting a week.")
    second = {
        "yes": "Working from home cuts the weekly commute by several hours.",
        "true": "Employees who work from home spend less time commuting.",
        "entailment": "Working from home reduces commuting time.",
        "same": "Working remotely frees up hours otherwise spent commuting.",
        "no": "Office rents in the city centre rose again this year.",
        "false": "Remote workers spend more time commuting than office workers.",
        "contradiction": "Remote work does not change how long people commute.",
        "different": "Many companies now offer free lunches at the office.",
        "neutral": "Some remote workers report feeling lonely.",
    }.get(_label_key(label), "A short, unrelated remark about the weather.")
    return f"First: {first}\nSecond: {second}"


def input_for_label(task: SyntheticTask, label: str, rng: random.Random) -> str:
    """A plausible input that a classifier should put under this label."""
    v = Vocab(rng, task_slots(task.instruction))
    key = _label_key(label)
    if "pair_kind" in v or "relation" in v:
        return _pair_input(label, v)
    if "diet" in v and key in DIET_TEXTS:
        return DIET_TEXTS[key]
    if "issue" in v and key in ("yes", "no"):
        return ISSUE_TEXTS.get(v["issue"], v["issue"]) if key == "yes" else v.pick(NEUTRAL_TEXTS)
    if "topic" in v and key in ("yes", "no"):
        topic = v["topic"] if key == "yes" else v["topic2"]
        return f"{topic[:1].upper()}{topic[1:]} " + v.pick((
            "has been on everyone's mind in {place} this year.", "came up again at last night's town meeting.",
            "is the focus of a new exhibition opening on {weekday}."))
    if "noun" in v and key in CATEGORY_EXAMPLES:
        return rng.choice(CATEGORY_EXAMPLES[key])
    if key in LABEL_TEXTS:
        return v.pick(LABEL_TEXTS[key])
    if key in CATEGORY_EXAMPLES:
        return rng.choice(CATEGORY_EXAMPLES[key])
    return v.pick(GENERIC_TEXTS)



def paragraph(v: Vocab, low: int = 3, high: int = 4) -> str:
    """A short news-style passage that opens with its topic."""
    return " ".join([v.fill(NEWS_SENTENCES[0]), *v.sample(NEWS_SENTENCES[1:], v.rng.randint(low, high) - 1)])


def summary(v: Vocab) -> str:
    return v.pick((
        "{Topic} is dividing opinion in {place}: supporters expect benefits for {affected_group}, "
        "critics worry about the cost.",
        "The piece reports growing interest in {topic} in {place} and a final council report due on {date}.",
        "In short, {topic} is changing habits in {place}, but the debate is not settled.",
    ))

