"""The paper's near-duplicate filter: reject when ROUGE-L F against any pool instruction > threshold.

Scores are rouge-score's to the bit: its own tokens (lowercase, runs of [a-z0-9], optional Porter
stemming), its precision/recall/F formula, and the exact longest common subsequence, computed by
rapidfuzz on interned tokens instead of rouge-score's pure-Python table.

``NearDuplicate`` answers from an exact index by default (``method="indexed"``, see
rouge_index.py); ``method="plain"`` compares against every pool instruction, as the original
scripts do, and is kept as the reference the index is tested against.  Both give the same
decisions, scores and ``most_similar`` lists.
"""

from __future__ import annotations

import heapq
from typing import Callable

from rapidfuzz.distance import LCSseq
from rouge_score.tokenizers import DefaultTokenizer

from selfinstruct.filters.base import InstructionFilter, Verdict
from selfinstruct.filters.rouge_index import Match, RougeLIndex, check_settings, rouge_l_f

__all__ = ["METHODS", "NearDuplicate", "TokenInterner", "rouge_l", "rouge_l_f"]

METHODS = ("indexed", "plain")
_SURROGATES_START = 0xD800
_SURROGATES_SIZE = 0x800


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

    The verdict's ``score`` is the maximum ROUGE-L F against the pool and ``most_similar`` the
    ``top_k`` most similar pool instructions with their scores (best first, ties in pool order), as
    the original release records them.  ``floor`` (default 0.0: everything exact, like a full
    scan) lets large pools skip what cannot matter: pool instructions scoring below it are left out
    of ``most_similar``, and ``score`` is ``None`` when none reaches it.  The keep/reject decision
    is exact either way (``floor`` may not exceed ``threshold``).
    """

    def __init__(self, threshold: float = 0.7, use_stemmer: bool = False, top_k: int = 10,
                 method: str = "indexed", floor: float = 0.0) -> None:
        check_settings(threshold, floor, top_k)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.threshold = threshold
        self.top_k = top_k
        self.floor = floor
        self.method = method
        self.use_stemmer = use_stemmer
        self._index = RougeLIndex(threshold, top_k, floor, use_stemmer) if method == "indexed" else None
        self._interner = TokenInterner(use_stemmer)
        self._texts: list[str] = []
        self._encoded: list[str] = []

    def __len__(self) -> int:
        return len(self._index) if self._index is not None else len(self._texts)

    def add(self, instruction: str) -> None:
        if self._index is not None:
            self._index.add(instruction)
        else:
            self._texts.append(instruction)
            self._encoded.append(self._interner.encode(instruction))

    def scores(self, instruction: str) -> list[float]:
        """ROUGE-L F of ``instruction`` against every pool instruction, in pool order (brute force)."""
        if self._index is not None:
            return self._index.scores(instruction)
        candidate = self._interner.encode(instruction)
        n = len(candidate)
        similarity = LCSseq.similarity
        return [rouge_l_f(similarity(candidate, other), n, len(other)) for other in self._encoded]

    def check(self, instruction: str) -> Verdict:
        if self._index is not None:
            match = self._index.query(instruction)
            texts = self._index.text
            return Verdict(keep=match.keep, score=match.max_score,
                           most_similar=tuple((texts(i), s) for i, s in match.most_similar))
        return self._check_plain(instruction)

    def match(self, instruction: str) -> Match:
        """The answer with pool indices instead of texts (both methods)."""
        if self._index is not None:
            return self._index.query(instruction)
        scores = self.scores(instruction)
        return self._rank(scores)

    def _rank(self, scores: list[float]) -> Match:
        floor = self.floor
        best = max(scores, default=0.0 if floor == 0.0 else None)
        if best is not None and best < floor:
            best = None
        ranked = heapq.nlargest(self.top_k, range(len(scores)), key=scores.__getitem__)  # ties: pool order
        top = tuple((i, scores[i]) for i in ranked if scores[i] >= floor)
        return Match(keep=best is None or best <= self.threshold, max_score=best, most_similar=top)

    def _check_plain(self, instruction: str) -> Verdict:
        match = self._rank(self.scores(instruction))
        return Verdict(keep=match.keep, score=match.max_score,
                       most_similar=tuple((self._texts[i], s) for i, s in match.most_similar))
