"""The paper's rule filters: cheap text tests that run before the similarity filter."""

from __future__ import annotations

import re
import string
from typing import Sequence

from selfinstruct.filters.base import KEEP, REJECT, InstructionFilter, Verdict


class NonEmpty(InstructionFilter):
    """Rejects an instruction that is empty after stripping whitespace."""

    def check(self, instruction: str) -> Verdict:
        return KEEP if instruction.strip() else REJECT


class WordCount(InstructionFilter):
    """Keeps instructions of ``min_words`` to ``max_words`` words (the paper: more than 3, at most 150)."""

    def __init__(self, min_words: int = 4, max_words: int = 150) -> None:
        self.min_words = min_words
        self.max_words = max_words

    def check(self, instruction: str) -> Verdict:
        words = len(instruction.split())
        return Verdict(keep=self.min_words <= words <= self.max_words, score=float(words))


class Keywords(InstructionFilter):
    """Rejects tasks an LLM cannot act on: any listed word or phrase, whole-word, any case."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in self.words)
        self._pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE) if self.words else None

    def check(self, instruction: str) -> Verdict:
        if self._pattern is not None and self._pattern.search(instruction):
            return REJECT
        return KEEP


class Prefixes(InstructionFilter):
    """Rejects instructions starting with a listed phrase (the paper: "Write a program"), any case."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        self.prefixes = tuple(p.lower() for p in prefixes)

    def check(self, instruction: str) -> Verdict:
        return REJECT if instruction.lstrip().lower().startswith(self.prefixes) else KEEP


class FirstCharNotPunctuation(InstructionFilter):
    """Rejects an instruction whose first character is ASCII punctuation (list debris, quotes)."""

    def check(self, instruction: str) -> Verdict:
        return REJECT if instruction[:1] in set(string.punctuation) else KEEP


class FirstCharAscii(InstructionFilter):
    """Rejects an instruction whose first character is not ASCII (bullets, other scripts)."""

    def check(self, instruction: str) -> Verdict:
        return KEEP if instruction[:1].isascii() else REJECT


class ExactDuplicate(InstructionFilter):
    """Rejects an instruction identical (after whitespace and case folding) to one in the pool."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    @staticmethod
    def _key(instruction: str) -> str:
        return " ".join(instruction.lower().split())

    def check(self, instruction: str) -> Verdict:
        return REJECT if self._key(instruction) in self._seen else KEEP

    def add(self, instruction: str) -> None:
        self._seen.add(self._key(instruction))
