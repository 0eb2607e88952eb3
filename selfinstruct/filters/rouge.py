"""The paper's near-duplicate filter: reject when ROUGE-L F against any pool instruction > threshold.

Scores are rouge-score's to the bit: its own tokenizer (lowercase, runs of [a-z0-9], optional
Porter stemming), its precision/recall/F formula, and the exact longest common subsequence,
computed by rapidfuzz on interned tokens instead of rouge-score's pure-Python table.
"""

from __future__ import annotations

import heapq
from typing import Callable

from rapidfuzz.distance import LCSseq
from rouge_score.tokenizers import DefaultTokenizer

from selfinstruct.filters.base import InstructionFilter, Verdict

_SURROGATES_START = 0xD800
_SURROGATES_SIZE = 0x800


def rouge_l_f(lcs: int, len_a: int, len_b: int) -> float:
    """ROUGE-L F-measure computed exactly as rouge-score does (same float operations)."""
    if len_a == 0 or len_b == 0:
        return 0.0
    precision = lcs / len_b
    recall = lcs / len_a
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


class TokenInterner:
    """Maps rouge-score tokens to single characters, so one LCS call compares whole token lists."""

    def __init__(self, use_stemmer: bool = False) -> None:
        self._tokenize: Callable[[str], list[str]] = DefaultTokenizer(use_stemmer=use_stemmer).tokenize
        self._ids: dict[str, str] = {}

    def encode(self, text: str) -> str:
        """The text's tokens, one character per distinct token."""
        out = []
        for token in self._tokenize(text):
            char = self._ids.get(token)
            if char is None:
                code = len(self._ids)
                if code >= _SURROGATES_START:
                    code += _SURROGATES_SIZE
                char = chr(code)
                self._ids[token] = char
            out.append(char)
        return "".join(out)


def rouge_l(a: str, b: str, use_stemmer: bool = False) -> float:
    """ROUGE-L F of two texts, equal to rouge-score's (for one-off comparisons, not pools)."""
    interner = TokenInterner(use_stemmer)
    ta, tb = interner.encode(a), interner.encode(b)
    return rouge_l_f(LCSseq.similarity(ta, tb), len(ta), len(tb))


class NearDuplicate(InstructionFilter):
    """Rejects a candidate whose ROUGE-L F against any pool instruction is above ``threshold``.

    Compares against every pool instruction (exact and simple); records the ``top_k`` most
    similar pool instructions with their scores, as the original release does.
    """

    def __init__(self, threshold: float = 0.7, use_stemmer: bool = False, top_k: int = 10) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold}")
        self.threshold = threshold
        self.top_k = top_k
        self._interner = TokenInterner(use_stemmer)
        self._texts: list[str] = []
        self._encoded: list[str] = []

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, instruction: str) -> None:
        self._texts.append(instruction)
        self._encoded.append(self._interner.encode(instruction))

    def scores(self, instruction: str) -> list[float]:
        """ROUGE-L F of ``instruction`` against every pool instruction, in pool order."""
        candidate = self._interner.encode(instruction)
        n = len(candidate)
        similarity = LCSseq.similarity
        return [rouge_l_f(similarity(candidate, other), n, len(other)) for other in self._encoded]

    def check(self, instruction: str) -> Verdict:
        scores = self.scores(instruction)
        if not scores:
            return Verdict(keep=True, score=0.0)
        top = heapq.nlargest(self.top_k, range(len(scores)), key=scores.__getitem__)
        most_similar = tuple((self._texts[i], scores[i]) for i in top)
        best = scores[top[0]] if top else 0.0
        return Verdict(keep=best <= self.threshold, score=best, most_similar=most_similar)
