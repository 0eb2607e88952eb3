"""Recovering a task's metadata from its text (see ``synthetic``).

Every template compiles to a regex, so ``task_for`` can re-match any instruction
the grammar produced and recover whether it is a classification, its labels,
whether it takes an input and its slot values, without state shared between
processes. ``recover_near_copy`` undoes ``near_copy`` edits; ``describe`` falls
back to keyword cues for instructions the grammar does not know (seed tasks).
"""

from __future__ import annotations

import re
from functools import cache

from selfinstruct.simulated.grammar import (
    BAD_START_TEMPLATES,
    INSERTIONS,
    KEYWORD_TEMPLATES,
    SHORT_INSTRUCTIONS,
    SYNONYMS,
    TAILS,
    TEMPLATES,
    YES_NO,
    SyntheticTask,
    Template,
)
from selfinstruct.simulated.sampling import ARTICLE, TOKEN, join_labels, slot_values

def _alternation(values: list[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))


def _compile(template: Template) -> re.Pattern[str]:
    """Turn a template into a regex with one named group per slot."""
    parts: list[str] = []
    pos = 0
    pattern = template.pattern.rstrip(".?!")
    sets = template.labelsets
    for m in TOKEN.finditer(pattern):
        literal = pattern[pos:m.start()]
        if ARTICLE.search(literal):
            parts.append(re.escape(literal[:-2]) + "an? ")
        else:
            parts.append(re.escape(literal))
        slot, alternatives = m.group(1), m.group(2)
        if alternatives is not None:
            values = alternatives.split("|")
        elif slot == "labels" and sets:
            values = [join_labels(s.labels) for s in sets]
        elif slot in ("noun", "nouns") and sets:
            values = [getattr(s, slot) for s in sets]
        else:
            values = list(slot_values(slot))
        group = f"(?P<{slot}>" if alternatives is None else "(?:"
        parts.append(f"{group}{_alternation(values)})")
        pos = m.end()
    parts.append(re.escape(pattern[pos:]) + r"[.?!]?")
    tails = [t.rstrip(".?!") for t in TAILS.get(template.family, ())]
    if tails:
        parts.append(f"(?: (?:{_alternation(tails)})[.?!]?)?")
    return re.compile("".join(parts), re.IGNORECASE)


@cache
def _compiled() -> tuple[tuple[Template, re.Pattern[str]], ...]:
    every = TEMPLATES + KEYWORD_TEMPLATES + BAD_START_TEMPLATES
    return tuple((t, _compile(t)) for t in every)


def _labels_for(template: Template, match: re.Match[str]) -> tuple[str, ...] | None:
    """Pick the label set consistent with the matched noun and label text."""
    if not template.labelsets:
        return template.labels
    found = match.groupdict()
    for s in template.labelsets:
        if "labels" in found and found["labels"].lower() != join_labels(s.labels).lower():
            continue
        if any(k in found and found[k].lower() != getattr(s, k).lower() for k in ("noun", "nouns")):
            continue
        return s.labels
    return None


def _match(text: str) -> tuple[Template, tuple[str, ...], dict[str, str]] | None:
    """The template, labels and slot values an instruction was rendered from."""
    candidates = [text, text.lstrip("-•*\"'.–( ").removeprefix("Optional) ").rstrip("\"'")]
    for candidate in dict.fromkeys(candidates):
        for template, regex in _compiled():
            match = regex.fullmatch(candidate)
            labels = _labels_for(template, match) if match else None
            if match and labels is not None:
                slots = {k: v for k, v in match.groupdict().items() if v is not None}
                return template, labels, slots
    return None


def task_for(instruction: str) -> SyntheticTask | None:
    """Metadata of an instruction this grammar could have produced, else None."""
    text = " ".join(instruction.split())
    if not text:
        return None
    for short in SHORT_INSTRUCTIONS:
        if text.lower() == short.lower():
            return SyntheticTask(text, False, (), False, "short")
    found = _match(text)
    if found is None:
        return None
    template, labels, _ = found
    return SyntheticTask(text, template.is_classification, labels, template.takes_input, template.family)


def task_slots(instruction: str) -> dict[str, str]:
    """Slot values (topic, prog_lang, ...) of a grammar instruction, so answers can fit it."""
    text = " ".join(instruction.split())
    found = _match(text) if text else None
    return found[2] if found else {}



# --------------------------------------------------------------------------
# Describing any instruction: the grammar, near-copies, then keyword cues.
# --------------------------------------------------------------------------

_REVERSE_SYNONYMS: dict[str, tuple[str, ...]] = {
    target: tuple(k for k, v in SYNONYMS.items() if v == target) for target in set(SYNONYMS.values())
}
_EDGE_PUNCT = ".,?!:;"


def _undo_one_edit(words: list[str]) -> list[list[str]]:
    """Every way to revert one near_copy edit: drop an inserted adverb or swap a synonym back."""
    out: list[list[str]] = []
    for i, word in enumerate(words):
        core = word.strip(_EDGE_PUNCT)
        if core.lower() in INSERTIONS and word == core:
            out.append(words[:i] + words[i + 1:])
        for original in _REVERSE_SYNONYMS.get(core.lower(), ()):
            swap = original.capitalize() if core[:1].isupper() else original
            out.append(words[:i] + [word.replace(core, swap, 1)] + words[i + 1:])
    return out


def recover_near_copy(instruction: str) -> SyntheticTask | None:
    """Metadata of the grammar instruction a near_copy (one or two edits) came from."""
    text = " ".join(instruction.split())
    if text.endswith("!") and (task := task_for(text[:-1] + ".")):
        return SyntheticTask(text, task.is_classification, task.labels, task.takes_input, task.family)
    frontier = [text.split()]
    for _ in range(2):
        frontier = [edited for words in frontier for edited in _undo_one_edit(words)]
        for words in frontier:
            task = task_for(" ".join(words))
            if task is not None:
                return SyntheticTask(text, task.is_classification, task.labels, task.takes_input, task.family)
    return None


# Keyword cues for instructions the grammar does not know (seed tasks, their near-copies).
_CLASSIFICATION_CUES = re.compile(
    r"\b(classif\w*|categor\w*|label\w*|which of|true or false|yes or no|positive or negative|"
    r"positive, negative|spam|sentiment|tag\w*|sort each|route|decide whether|determine whether|"
    r"tell whether|say whether|fact or (?:an )?opinion|formal or informal|star rating|choose (?:one|from)|"
    r"answer (?:yes|valid|with one)|reply with (?:yes|its letter)|part of speech|asking for a fact|"
    r"which (?:emotion|queue|team|category|language|continent|word does not|programming language)|"
    r"programming language used|rate the (?:difficulty|urgency|strength)|what does the person typing|intent|"
    r"judge the tone|where would an editor|would you call|detect the feeling)\b|\b(?:one of|options):",
    re.IGNORECASE)
_NOT_CLASSIFICATION_CUES = re.compile(
    r"\b(unit tests|why does|witnesses|extract every|list every|bullet points|write|compose|"
    r"explain|summari[sz]e|translate|brainstorm)\b", re.IGNORECASE)
_LABEL_LIST = re.compile(
    r"(?:^|[:(]|\b(?:as|either|one of|from|with|into|be|is it|answer|find this [\w -]+?|call this [\w -]+?))\s+"
    r"((?:[\w'/-]+(?: [\w'/-]+){0,2}, )*[\w'/-]+(?: [\w'/-]+){0,2},? or [\w'/-]+(?: [\w'/-]+){0,2})"
    r"\s*[.?!)]*(?:\s|$)", re.IGNORECASE)
_INPUT_CUES = re.compile(
    r"\b(given|following|below|this|these|passage|text|sentence|snippet|paragraph)\b", re.IGNORECASE)


def labels_in(instruction: str) -> tuple[str, ...]:
    """Labels spelled out as 'a, b, or c' in an instruction (the last such list), else ()."""
    found = _LABEL_LIST.findall(instruction)
    if not found:
        return ()
    items = re.split(r",? or |, ", found[-1])
    labels = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    return labels if len(labels) >= 2 else ()


def looks_like_classification(instruction: str) -> bool:
    """Keyword guess: asks for a label from a small fixed set."""
    if _CLASSIFICATION_CUES.search(instruction):
        return True
    return bool(labels_in(instruction)) and not _NOT_CLASSIFICATION_CUES.search(instruction)


def looks_like_it_takes_input(instruction: str) -> bool:
    """Keyword guess: refers to a text it expects to be given."""
    return bool(_INPUT_CUES.search(instruction))


def describe(instruction: str) -> SyntheticTask:
    """Best-known metadata of any instruction: grammar lookup, near-copy recovery, keyword cues."""
    text = " ".join(instruction.split())
    known = task_for(text) or recover_near_copy(text)
    if known is not None:
        return known
    classification = looks_like_classification(text)
    labels = (labels_in(text) or YES_NO) if classification else ()
    takes_input = looks_like_it_takes_input(text)
    return SyntheticTask(text, classification, labels, takes_input, "unknown")
