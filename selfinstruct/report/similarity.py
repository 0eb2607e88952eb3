"""Exact nearest-neighbour ROUGE-L: each instruction against the seeds, and against the others.

Scores are the ROUGE-L filter's to the bit: its tokens (``selfinstruct.filters.rouge.TokenInterner``,
rouge-score's), the exact longest common subsequence, and its own F-measure
(``selfinstruct.filters.rouge_index.rouge_l_f_array``, element-wise, the same float operations as
rouge-score); only the loops are batched, by rapidfuzz's ``cdist`` over interned token strings.
Every pair is compared, so the leave-one-out nearest neighbour among N instructions costs N^2 LCS
calls: exact up to ``EXACT_LIMIT`` instructions (20,000: seconds to a minute), above that estimated from
a fixed random sample of ``SAMPLE_SIZE`` instructions, each still compared with all N.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from selfinstruct.filters.rouge import TokenInterner
from selfinstruct.filters.rouge_index import rouge_l_f_array

EXACT_LIMIT = 20_000
SAMPLE_SIZE = 5_000
_CELLS_PER_CHUNK = 4_000_000


def max_rouge_l(queries: Sequence[str], pool: Sequence[str], *, leave_one_out: bool = False,
                query_index: Sequence[int] | None = None, use_stemmer: bool = False) -> list[float | None]:
    """For each query, the highest ROUGE-L F against ``pool`` (None when there is nothing to compare).

    With ``leave_one_out`` the queries are pool items (``query_index[i]`` is query i's position in
    the pool, default: queries == pool) and each is not compared with itself.
    """
    if not queries:
        return []
    interner = TokenInterner(use_stemmer)
    pool_enc = [interner.encode(t) for t in pool]
    query_enc = [interner.encode(t) for t in queries]
    if leave_one_out and query_index is None:
        query_index = range(len(queries))
    if not pool_enc or (leave_one_out and len(pool_enc) < 2):
        return [None] * len(queries)
    pool_len = np.array([len(p) for p in pool_enc], dtype=np.float64)[None, :]
    chunk = max(1, _CELLS_PER_CHUNK // len(pool_enc))
    best: list[float | None] = []
    for start in range(0, len(query_enc), chunk):
        block = query_enc[start:start + chunk]
        lcs = process.cdist(block, pool_enc, scorer=LCSseq.similarity, dtype=np.int32, workers=-1)
        query_len = np.array([len(q) for q in block], dtype=np.float64)[:, None]
        f = rouge_l_f_array(lcs, query_len, pool_len)
        if leave_one_out:
            assert query_index is not None
            f[np.arange(len(block)), np.asarray(query_index[start:start + len(block)])] = -1.0
        best.extend(float(x) for x in f.max(axis=1))
    return best


@dataclass(frozen=True)
class NeighbourScores:
    """Nearest-neighbour ROUGE-L among the instructions themselves (leave-one-out)."""

    scores: list[float]  # one per instruction (or per sampled instruction)
    exact: bool  # False: estimated from a sample
    sampled: int  # how many instructions were scored
    total: int


def nearest_neighbour_scores(texts: Sequence[str], use_stemmer: bool = False, *,
                             exact_limit: int = EXACT_LIMIT, sample_size: int = SAMPLE_SIZE) -> NeighbourScores:
    n = len(texts)
    if n < 2:
        return NeighbourScores([], True, 0, n)
    if n <= exact_limit:
        scores = max_rouge_l(texts, texts, leave_one_out=True, use_stemmer=use_stemmer)
        return NeighbourScores([s for s in scores if s is not None], True, n, n)
    picked = sorted(random.Random(0).sample(range(n), min(sample_size, n)))
    scores = max_rouge_l([texts[i] for i in picked], texts, leave_one_out=True, query_index=picked,
                         use_stemmer=use_stemmer)
    return NeighbourScores([s for s in scores if s is not None], False, len(picked), n)
