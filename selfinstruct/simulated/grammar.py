"""Data model and tables of the synthetic instruction grammar (see ``synthetic``).

Loads the word lists (``vocabulary.json``) and the instruction templates
(``templates.json``) shipped beside this module, freezes them into tuples, and
defines the records the rest of the grammar passes around: ``SyntheticTask``,
``SyntheticInstance``, ``LabelSet`` and ``Template``.

Template syntax: ``{slot}`` picks from ``SLOTS[slot]`` (trailing digits are an
alias, so ``{profession2}`` is a second, independent profession);
``[a|b|c]`` picks one literal alternative; ``{labels}``, ``{noun}`` and
``{nouns}`` come from the template's label sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any


def _load(name: str) -> Any:
    return json.loads(files(__package__).joinpath(name).read_text(encoding="utf-8"))


def _frozen(value: Any) -> Any:
    """JSON lists as tuples, at every depth (the grammar's lists are immutable)."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


# The word lists, slot vocabularies, label sets and text banks: vocabulary.json beside this file.
_VOCABULARY = _load("vocabulary.json")
# The instruction templates (clean, keyword-defect and bad-start ones): templates.json beside this file.
_TEMPLATE_DATA = _load("templates.json")

WORDS: dict[str, Any] = _frozen(_VOCABULARY["word_lists"])
# Extra vocabulary for answers (names, weekdays, products, ...); see ``instance_vocab``.
ANSWER_WORDS: dict[str, tuple[str, ...]] = _frozen(_VOCABULARY["answer_words"])


@dataclass(frozen=True)
class SyntheticTask:
    """One generated instruction and what a later answer needs to know about it."""

    instruction: str
    is_classification: bool
    labels: tuple[str, ...]
    takes_input: bool
    family: str


@dataclass(frozen=True)
class SyntheticInstance:
    """One example of a task; input is '' when the task takes none."""

    input: str
    output: str


@dataclass(frozen=True)
class LabelSet:
    """A classification label space, optionally tied to the thing classified."""

    labels: tuple[str, ...]
    noun: str = ""
    nouns: str = ""


@dataclass(frozen=True)
class Template:
    """A declarative instruction pattern; see the module docstring for syntax."""

    family: str
    pattern: str
    takes_input: bool = False
    labels: tuple[str, ...] = ()
    labelsets: tuple[LabelSet, ...] = ()

    @property
    def is_classification(self) -> bool:
        return bool(self.labels or self.labelsets)


# The keyword filter of the Self-Instruct paper (plus the extra modalities its
# code also rejects). Clean instructions never contain any of them.
BANNED_KEYWORDS: tuple[str, ...] = WORDS["BANNED_KEYWORDS"]

# Share of classification tasks by default, and when a prompt asks for them.
CLASSIFICATION_SHARE = 0.22
CLASSIFICATION_BIAS = 0.8

# Slot vocabularies. None may contain a BANNED_KEYWORDS word.
SLOTS: dict[str, tuple[str, ...]] = WORDS["SLOTS"]

# Label sets for classification templates.
LABEL_SETS: dict[str, tuple[LabelSet, ...]] = {
    name: tuple(LabelSet(tuple(ls["labels"]), ls["noun"], ls["nouns"]) for ls in sets)
    for name, sets in _VOCABULARY["label_sets"].items()
}

SENTIMENT = LABEL_SETS["SENTIMENT"]
CATEGORY = LABEL_SETS["CATEGORY"]
FORM = LABEL_SETS["FORM"]
TRUTH = LABEL_SETS["TRUTH"]
DEPARTMENT = LABEL_SETS["DEPARTMENT"]
NEWS_TOPIC = LABEL_SETS["NEWS_TOPIC"]
EMOTION = LABEL_SETS["EMOTION"]
INTENT = LABEL_SETS["INTENT"]
PAIR = LABEL_SETS["PAIR"]
DIFFICULTY = LABEL_SETS["DIFFICULTY"]
SPENDING = LABEL_SETS["SPENDING"]
LABEL_LISTS: dict[str, tuple[str, ...]] = _frozen(_TEMPLATE_DATA["label_lists"])
YES_NO = LABEL_LISTS["YES_NO"]
STARS = LABEL_LISTS["STARS"]


def _group(spec: dict[str, Any]) -> tuple[Template, ...]:
    """One task idea in several phrasings (each phrasing is its own template).

    A group's ``labels`` names a list in ``LABEL_LISTS``, its ``labelsets`` a set in ``LABEL_SETS``.
    """
    labels = LABEL_LISTS[spec["labels"]] if "labels" in spec else ()
    labelsets = LABEL_SETS[spec["labelsets"]] if "labelsets" in spec else ()
    takes_input = bool(spec.get("takes_input", False))
    return tuple(Template(spec["family"], p, takes_input, labels, labelsets) for p in spec["patterns"])


TEMPLATE_GROUPS: tuple[tuple[Template, ...], ...] = tuple(_group(g) for g in _TEMPLATE_DATA["templates"])
TEMPLATES: tuple[Template, ...] = tuple(t for group in TEMPLATE_GROUPS for t in group)
CLASSIFICATION_TEMPLATES = tuple(t for t in TEMPLATES if t.is_classification)
OTHER_TEMPLATES = tuple(t for t in TEMPLATES if not t.is_classification)

# Optional constraints appended to an instruction, as chat models often do;
# they also keep same-template instructions apart under ROUGE-L.
TAIL_RATE = 0.65
TAILS: dict[str, tuple[str, ...]] = WORDS["TAILS"]

# Instructions that need a modality an LLM lacks (the paper's keyword filter).
KEYWORD_TEMPLATES: tuple[Template, ...] = _group(_TEMPLATE_DATA["keyword_templates"])

SHORT_INSTRUCTIONS: tuple[str, ...] = WORDS["SHORT_INSTRUCTIONS"]

BAD_START_TEMPLATES: tuple[Template, ...] = _group(_TEMPLATE_DATA["bad_start_templates"])

FOREIGN_INSTRUCTIONS: tuple[str, ...] = WORDS["FOREIGN_INSTRUCTIONS"]

# Prefixes a chat model sometimes leaves in front of an instruction.
BAD_PREFIXES: tuple[str, ...] = ("- ", "• ", "* ", "\"", "(Optional) ", "... ", "–  ")

# Small synonym table for near-copies: a one-word change keeps ROUGE-L high.
SYNONYMS: dict[str, str] = WORDS["_SYNONYMS"]
INSERTIONS: tuple[str, ...] = ("briefly", "carefully", "quickly", "clearly", "simply", "really")

# --- shared text banks for answers -------------------------------------------

NEWS_SENTENCES: tuple[str, ...] = WORDS["NEWS_SENTENCES"]
EXPLAIN_SENTENCES: tuple[str, ...] = WORDS["EXPLAIN_SENTENCES"]
ADVICE_SENTENCES: tuple[str, ...] = WORDS["ADVICE_SENTENCES"]
STORY_SENTENCES: tuple[str, ...] = WORDS["STORY_SENTENCES"]
POEM_LINES: tuple[str, ...] = WORDS["POEM_LINES"]
GENERIC_TEXTS: tuple[str, ...] = WORDS["GENERIC_TEXTS"]
CASUAL_FORMAL: tuple[tuple[str, str], ...] = WORDS["CASUAL_FORMAL"]
GRAMMAR_PAIRS: tuple[tuple[str, str], ...] = WORDS["GRAMMAR_PAIRS"]
TRANSLATIONS: tuple[dict[str, str], ...] = WORDS["TRANSLATIONS"]
REFUSALS: tuple[str, ...] = WORDS["REFUSALS"]
PLAN_ITEMS: tuple[str, ...] = WORDS["PLAN_ITEMS"]
IDEA_ITEMS: tuple[str, ...] = WORDS["IDEA_ITEMS"]

# --- labelled inputs for classification tasks ---------------------------------

LABEL_TEXTS: dict[str, tuple[str, ...]] = WORDS["LABEL_TEXTS"]
CATEGORY_EXAMPLES: dict[str, tuple[str, ...]] = WORDS["CATEGORY_EXAMPLES"]
ISSUE_TEXTS: dict[str, str] = WORDS["ISSUE_TEXTS"]
NEUTRAL_TEXTS: tuple[str, ...] = WORDS["NEUTRAL_TEXTS"]
DIET_TEXTS = WORDS["DIET_TEXTS"]
