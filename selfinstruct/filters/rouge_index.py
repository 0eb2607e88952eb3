"""An exact ROUGE-L index: the paper's near-duplicate decisions without comparing against the whole pool.

The paper keeps a new instruction only if its ROUGE-L F against every pool instruction is at most
the threshold (0.7), and records the 10 most similar pool instructions.  Scores here are
rouge-score's to the bit (``RougeScorer(["rougeL"])``): the same tokens, the exact longest common
subsequence (rapidfuzz's ``LCSseq.similarity`` on interned tokens, never its normalized score)
and the same float formula.  Nothing is approximated; work is skipped only where a bound proves
it cannot change the answer:

* Tokens are interned once as integers.  Each pool instruction is kept as a compact code string
  (one code point per token) for rapidfuzz, and indexed by *tags*, (token, occurrence) pairs, so
  that the overlap of two tag sets is the multiset overlap of the two token lists.
* LCS <= multiset overlap <= min(n, m), and F is increasing in the LCS, so with o the overlap,
  F <= 2*min(o, m)/(n + m).  A pool item reaching F >= t with a query of n tokens needs
  o >= t*n/(2 - t), o >= t*(n + m)/2 and m within [t*n/(2 - t), (2 - t)*n/t].
* ``floor == 0`` (every score exact): a full inverted index; the overlap of every pool item
  sharing a tag is counted at once (numpy; tags held by over 1/8 of the pool are kept as 0/1
  flags per item and summed, which is faster than counting their long posting lists), the items
  with the best bounds are verified first, and their k-th best score rules out every item whose
  bound is lower.
* ``floor > 0`` (scores >= floor exact): prefix filtering as in exact set-similarity joins
  (AllPairs/PPJoin, with AdaptJoin's l-prefixes).  Tags are ordered globally, rarest first (by
  document frequency, re-ranked each time the pool doubles; newer tags count as rarer in between).
  If two tag sets share at least a tags, their first l shared tags lie within the first
  ``size - a + l`` tags of each, so every pool item is indexed only under its first
  ``m - ceil(f*m/(2 - f)) + l`` tags, per length bucket, and a query reads only the posting
  lists of its own first ``n - a + l`` tags in the buckets its length allows (a computed per
  bucket), keeping the items found at least l times.  Only those are verified.

``floor`` is the lowest score reported exactly.  With ``floor=0`` the maximum and the top-k list
equal a brute-force scan of the whole pool (top-k ordered by score, then pool order, padded with
0.0-scored items as a full sort would be).  With ``floor=f > 0`` they are exact among pool items
scoring at least ``f``: the others are left out, and the maximum is ``None`` when none reaches
``f``.  The keep/reject decision is exact either way, as ``floor <= threshold`` is enforced.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import Iterable, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

__all__ = ["Match", "RougeLIndex", "RougeTokenizer", "rouge_l_f", "rouge_l_f_array"]

_RUNS = re.compile(r"[a-z0-9]+")
_VALID = re.compile(r"^[a-z0-9]+$")
_SURROGATES_START = 0xD800
_SURROGATES_SIZE = 0x800
_MAX_CHAR = 0x10FFFF
_DENSE_MIN = 256  # full index: a tag's postings turn into 0/1 flags from this many items on ...
_DENSE_SHARE = 8  # ... once it is held by more than 1/8 of the pool
_EPS = 1e-9  # slack for float rounding in the overlap bounds (they are only ever loosened by it)


def rouge_l_f(lcs: int, len_a: int, len_b: int) -> float:
    """ROUGE-L F-measure computed exactly as rouge-score does (same float operations)."""
    if len_a == 0 or len_b == 0:
        return 0.0
    precision = lcs / len_b
    recall = lcs / len_a
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l_f_array(lcs: np.ndarray, len_a: int | np.ndarray, len_b: np.ndarray) -> np.ndarray:
    """``rouge_l_f`` element-wise, with the same IEEE operations, so every value is bit-identical."""
    lcs = np.asarray(lcs, dtype=np.float64)
    len_a = np.maximum(np.asarray(len_a, dtype=np.float64), 1.0)  # an empty side has lcs 0 anyway
    len_b = np.maximum(np.asarray(len_b, dtype=np.float64), 1.0)
    precision = lcs / len_b
    recall = lcs / len_a
    total = precision + recall
    return 2 * precision * recall / np.where(total > 0.0, total, 1.0)  # lcs 0 -> 0.0


class RougeTokenizer:
    """rouge-score's DefaultTokenizer, faster: lowercase, runs of [a-z0-9], optional Porter stems.

    rouge-score lowercases, replaces every run of other characters by a space, splits, optionally
    stems tokens longer than 3 characters, and drops tokens that are not ``^[a-z0-9]+$``; that is
    the runs of ``[a-z0-9]`` in the lowercased text.  Stems are cached per token.
    """

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = use_stemmer
        self._stems: dict[str, str] = {}
        self._stemmer = None
        if use_stemmer:
            from nltk.stem import porter  # what rouge-score uses

            self._stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        runs = _RUNS.findall(text.lower())
        if self._stemmer is None:
            return runs
        stems, out = self._stems, []
        for run in runs:
            stem = stems.get(run)
            if stem is None:
                stem = str(self._stemmer.stem(run)) if len(run) > 3 else run
                stem = stem if _VALID.match(stem) else ""
                stems[run] = stem
            if stem:
                out.append(stem)
        return out


@dataclass(frozen=True)
class Match:
    """The answer for one candidate.

    ``max_score``: exact maximum ROUGE-L F against the pool (0.0 for an empty pool or when no pool
    item shares a token), or ``None`` when ``floor > 0`` and no pool item reaches the floor.
    ``most_similar``: (pool index, score) of the top-k pool items, best first, ties in pool order,
    exact for every score at or above the floor.
    """

    keep: bool
    max_score: float | None
    most_similar: tuple[tuple[int, float], ...]


def check_settings(threshold: float, floor: float, top_k: int) -> None:
    """The settings under which decisions stay exact: 0 <= floor <= threshold <= 1, top_k >= 0."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    if not 0.0 <= floor <= threshold:
        raise ValueError(f"floor must be within [0, threshold={threshold}] for exact decisions, got {floor}")
    if top_k < 0:
        raise ValueError(f"top_k must be 0 or more, got {top_k}")


def _tag_keys(ids: Sequence[int]) -> list[int]:
    """(token, occurrence) keys: the k-th repeat of token t is t + k * 2**32 (k = 0 is just t)."""
    if len(set(ids)) == len(ids):
        return list(ids)
    seen: dict[int, int] = {}
    keys = []
    for t in ids:
        k = seen.get(t)
        if k is None:
            seen[t] = 1
            keys.append(t)
        else:
            seen[t] = k + 1
            keys.append(t + (k << 32))
    return keys


def _ceil(x: float) -> int:
    """ceil, rounding values within float noise of an integer down to it (so bounds only loosen)."""
    return math.ceil(x - _EPS)


def _bucket_edges(ratio: float = 1.25) -> list[int]:
    """Length buckets [edges[b], edges[b + 1]) of geometric width."""
    edges = [0, 1]
    while edges[-1] < 1 << 31:
        edges.append(max(edges[-1] + 1, int(edges[-1] * ratio)))
    return edges


_EDGES = _bucket_edges()
_BUCKET_OF = [bisect_right(_EDGES, m) - 1 for m in range(1024)]


def _bucket(m: int) -> int:
    return _BUCKET_OF[m] if m < 1024 else bisect_right(_EDGES, m) - 1


class RougeLIndex:
    """A growing pool of instructions answering exact ROUGE-L nearest-neighbour queries.

    ``floor == 0`` keeps every tag of every pool item in the inverted index and answers with
    bounds (exact top-k all the way down).  ``floor > 0`` indexes, per length bucket, only each
    item's ``ell``-extended prefix of rarest tags, which is all a pair scoring >= floor can need.
    """

    def __init__(self, threshold: float = 0.7, top_k: int = 10, floor: float = 0.0,
                 use_stemmer: bool = False, ell: int = 3) -> None:
        check_settings(threshold, floor, top_k)
        if ell < 1:
            raise ValueError(f"ell must be at least 1, got {ell}")
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self.floor = float(floor)
        self.use_stemmer = use_stemmer
        self.ell = int(ell)
        self._prefix = self.floor > 0.0
        self._nb = len(_EDGES) if self._prefix else 1
        self._tokenizer = RougeTokenizer(use_stemmer)
        self._token_ids: dict[str, int] = {}
        self._chars: list[str | None] = []  # token id -> its code point as a 1-char str (None past U+10FFFF)
        self._tag_ids: dict[int, int] = {}
        self._tag_df: list[int] = []  # tag id -> pool items holding it
        self._rank: list[int] = []  # tag id -> position in the global order (prefix index; rarest first)
        self._postings: dict[int, array] = {}  # tag * buckets + bucket -> pool indices, ascending
        # full index: tags held by a large share of the pool (the, a, of, ...) as 0/1 per pool item,
        # which numpy adds up faster than it counts their long posting lists
        self._dense: dict[int, np.ndarray] = {}
        self._dense_min, self._dense_share = _DENSE_MIN, _DENSE_SHARE
        self._texts: list[str] = []
        self._codes: list[str | list[int]] = []  # pool index -> tokens as code points (rapidfuzz input)
        self._lengths = np.zeros(1024, dtype=np.int32)
        self._lengths_f = np.zeros(1024, dtype=np.float32)  # the same, for float32 bounds
        self._item_tags = array("i")  # every pool item's tags, in pool order (to re-index on reorder)
        self._reorder_at = 1024

    # ------------------------------------------------------------------ pool

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, index: int) -> str:
        return self._texts[index]

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def add(self, text: str) -> int:
        """Add one instruction to the pool; returns its pool index."""
        return self._add_tokens(text, self._tokenizer.tokenize(text))

    def add_all(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)

    @staticmethod
    def _code(tid: int) -> int:
        code = tid + 1  # code point 0 is never a pool token
        return code + _SURROGATES_SIZE if code >= _SURROGATES_START else code

    def _as_codes(self, ids: Sequence[int]) -> str | list[int]:
        chars = self._chars
        try:
            return "".join([chars[t] for t in ids])  # type: ignore[misc]
        except TypeError:  # a token past U+10FFFF: rapidfuzz compares int lists with str by code point
            return [self._code(t) for t in ids]

    def _add_tokens(self, text: str, tokens: list[str]) -> int:
        index = len(self._texts)
        token_ids, chars = self._token_ids, self._chars
        ids = []
        for token in tokens:
            tid = token_ids.get(token)
            if tid is None:
                tid = token_ids[token] = len(chars)
                code = self._code(tid)
                chars.append(chr(code) if code <= _MAX_CHAR else None)
            ids.append(tid)
        self._texts.append(text)
        self._codes.append(self._as_codes(ids))
        if index == len(self._lengths):
            grown = np.zeros(2 * index, dtype=np.int32)
            grown[:index] = self._lengths
            self._lengths = grown
            self._lengths_f = grown.astype(np.float32)
            for tag, flags in self._dense.items():
                self._dense[tag] = np.concatenate((flags, np.zeros(index, dtype=np.uint8)))
        self._lengths[index] = len(ids)
        self._lengths_f[index] = len(ids)
        tag_ids, tag_df, rank = self._tag_ids, self._tag_df, self._rank
        tags = []
        for key in _tag_keys(ids):
            tag = tag_ids.get(key)
            if tag is None:
                tag = tag_ids[key] = len(tag_df)
                tag_df.append(1)
                rank.append(-1 - tag)  # new tags count as the rarest until the next reorder
            else:
                tag_df[tag] += 1
            tags.append(tag)
        if self._prefix:
            self._item_tags.extend(tags)
            self._index_prefix(index, tags)
            if index + 1 >= self._reorder_at:
                self._reorder()
        else:
            postings, dense = self._postings, self._dense
            for tag in tags:
                flags = dense.get(tag)
                if flags is not None:
                    flags[index] = 1
                    continue
                posting = postings.get(tag)
                if posting is None:
                    postings[tag] = array("i", (index,))
                    continue
                posting.append(index)
                if len(posting) >= self._dense_min and len(posting) * self._dense_share > index:
                    flags = dense[tag] = np.zeros(len(self._lengths), dtype=np.uint8)
                    flags[np.frombuffer(posting, dtype=np.int32)] = 1
                    del postings[tag]
        return index

    def _stored_prefix(self, m: int) -> int:
        """How many of its rarest tags an item of m tags is indexed under (prefix index)."""
        f = self.floor
        return min(m, m - _ceil(f * m / (2.0 - f)) + self.ell)

    def _index_prefix(self, index: int, tags: list[int]) -> None:
        m = len(tags)
        if not m:
            return
        nb, bucket, postings = self._nb, _bucket(m), self._postings
        for tag in sorted(tags, key=self._rank.__getitem__)[: self._stored_prefix(m)]:
            key = tag * nb + bucket
            posting = postings.get(key)
            if posting is None:
                postings[key] = array("i", (index,))
            else:
                posting.append(index)

    def _reorder(self) -> None:
        """Re-rank tags by document frequency and rebuild the prefix index (at every doubling)."""
        size = len(self._texts)
        self._reorder_at = 2 * size
        df = np.asarray(self._tag_df, dtype=np.int64)
        n_tags = len(df)
        order = np.lexsort((np.arange(n_tags), df))
        rank = np.empty(n_tags, dtype=np.int64)
        rank[order] = np.arange(n_tags)
        self._rank = rank.tolist()
        lengths = self._lengths[:size].astype(np.int64)
        nonempty = lengths > 0
        starts = np.cumsum(lengths) - lengths
        item = np.repeat(np.arange(size, dtype=np.int64), lengths)
        flat = np.frombuffer(self._item_tags, dtype=np.int32)
        ordered = item * n_tags + rank[flat]  # sort each item's tags by rank
        del flat
        ordered.sort()
        position = np.arange(len(item)) - np.repeat(starts, lengths)
        f = self.floor
        keep = np.where(nonempty, np.minimum(lengths, lengths - np.ceil(f * lengths / (2.0 - f) - _EPS) + self.ell), 0)
        chosen = position < np.repeat(keep, lengths)
        tags = order[ordered[chosen] % n_tags]
        items = item[chosen]
        buckets = np.searchsorted(np.asarray(_EDGES), lengths[items], side="right") - 1
        keys = tags * self._nb + buckets
        by_key = np.lexsort((items, keys))
        keys, items = keys[by_key], items[by_key].astype(np.int32)
        self._postings = postings = {}
        if not len(keys):
            return
        cuts = np.flatnonzero(np.diff(keys)) + 1
        starts_k = np.concatenate(([0], cuts)).tolist()
        ends_k = np.concatenate((cuts, [len(keys)])).tolist()
        raw = items.tobytes()
        for key, start, end in zip(keys[starts_k].tolist(), starts_k, ends_k):
            posting = array("i")
            posting.frombytes(raw[4 * start: 4 * end])
            postings[key] = posting

    # ----------------------------------------------------------------- query

    def query(self, text: str) -> Match:
        """Max score, keep/reject decision and most similar pool items for ``text`` (pool unchanged)."""
        return self._query_tokens(self._tokenizer.tokenize(text))

    def check_and_add(self, text: str) -> Match:
        """The paper's greedy step: query, then add the text to the pool if it is kept."""
        tokens = self._tokenizer.tokenize(text)
        match = self._query_tokens(tokens)
        if match.keep:
            self._add_tokens(text, tokens)
        return match

    def filter(self, texts: Iterable[str]) -> list[Match]:
        """Stream ``texts`` through the filter in order, adding every kept one to the pool."""
        return [self.check_and_add(text) for text in texts]

    def scores(self, text: str) -> list[float]:
        """ROUGE-L F of ``text`` against every pool item, in pool order (brute force; for tests)."""
        n, query, _ = self._encode_query(self._tokenizer.tokenize(text))
        if not self._codes:
            return []
        lcs = process.cdist([query], self._codes, scorer=LCSseq.similarity, dtype=np.int32)[0]
        return rouge_l_f_array(lcs, n, self._lengths[: len(self._codes)]).tolist()

    def _encode_query(self, tokens: list[str]) -> tuple[int, str | list[int], list[int]]:
        """Length, code string of the known tokens (unknown ones match nothing), known tag ids."""
        ids = [tid for tid in map(self._token_ids.get, tokens) if tid is not None]
        tags = [tag for tag in map(self._tag_ids.get, _tag_keys(ids)) if tag is not None]
        return len(tokens), self._as_codes(ids), tags

    def _query_tokens(self, tokens: list[str]) -> Match:
        n, query, best = self._search(tokens)
        return self._finish(best, len(self._texts))

    def _search(self, tokens: list[str]) -> tuple[int, str | list[int], list[tuple[int, float]]]:
        """Length, codes, and the exact top-k (>= 1) pool items scoring > 0 and >= floor."""
        n, query, tags = self._encode_query(tokens)
        size = len(self._texts)
        if size == 0 or not tags:
            return n, query, []
        if self._prefix:
            return n, query, self._search_prefix(n, query, tags, size)
        return n, query, self._search_full(n, query, tags, size)

    def _finish(self, best: list[tuple[int, float]], size: int) -> Match:
        """The answer from the top items with a positive score (pads with 0.0 scores if floor == 0)."""
        k = self.top_k
        if not self._prefix and len(best) < k:  # every other pool item scores 0.0: pad in pool order
            taken = {i for i, _ in best}
            pad = []
            for i in range(size):
                if len(best) + len(pad) >= k:
                    break
                if i not in taken:
                    pad.append((i, 0.0))
            best = best + pad
        if best:
            max_score: float | None = best[0][1]
        else:
            max_score = None if self._prefix else 0.0
        keep = max_score is None or max_score <= self.threshold
        return Match(keep=keep, max_score=max_score, most_similar=tuple(best[:k]))

    def _verify(self, query: str | list[int], n: int, items: np.ndarray) -> np.ndarray:
        """Exact ROUGE-L F of the query against pool ``items``."""
        choices = itemgetter(*items.tolist())(self._codes) if len(items) > 1 else [self._codes[int(items[0])]]
        lcs = process.cdist([query], choices, scorer=LCSseq.similarity, dtype=np.float64)[0]
        precision = lcs / self._lengths[items]  # n, m >= 1 here; as rouge_l_f_array, minus the guards
        recall = lcs / n
        total = precision + recall
        return 2 * precision * recall / np.where(total > 0.0, total, 1.0)

    def _top(self, items: np.ndarray, scores: np.ndarray, cut: float) -> list[tuple[int, float]]:
        k = max(self.top_k, 1)
        if len(items) <= 64:
            pairs = [p for p in zip(items.tolist(), scores.tolist()) if p[1] >= cut and p[1] > 0.0]
            pairs.sort(key=lambda p: (-p[1], p[0]))
            return pairs[:k]
        ok = (scores >= cut) & (scores > 0.0)
        items, scores = items[ok], scores[ok]
        top = np.lexsort((items, -scores))[:k]
        return list(zip(items[top].tolist(), scores[top].tolist()))

    # ----------------------------------------------------- prefix index (floor > 0)

    def _search_prefix(self, n: int, query: str | list[int], tags: list[int], size: int) -> list[tuple[int, float]]:
        """Every pool item scoring >= floor shares >= ell of its indexed prefix with the query's prefix."""
        f, ell, nb = self.floor, self.ell, self._nb
        unknown = n - len(tags)  # query tags in no pool item: first in the order, never matched
        order = sorted(tags, key=self._rank.__getitem__)
        low = _ceil(f * n / (2.0 - f))  # F <= 2m/(n + m) and F <= 2n/(n + m) bound the length m
        high = math.floor((2.0 - f) * n / f + _EPS)
        get = self._postings.get
        groups: dict[int, list[array]] = {}
        for bucket in range(_bucket(max(low, 1)), _bucket(min(high, _EDGES[-2])) + 1):
            m_low = max(_EDGES[bucket], low)
            m_high = min(_EDGES[bucket + 1] - 1, high)
            need = max(low, _ceil(f * (n + m_low) / 2.0), 1)  # shared tags for F >= f at m >= m_low
            if need > min(n, m_high):
                continue
            e = min(ell, need)
            probe = n - need + e - unknown
            if probe <= 0:
                continue
            found = groups.setdefault(e, [])
            for tag in order[:probe]:
                posting = get(tag * nb + bucket)
                if posting:
                    found.append(posting)
        parts = [self._at_least(postings, e, size) for e, postings in groups.items() if postings]
        if not parts:
            return []
        items = np.concatenate(parts) if len(parts) > 1 else parts[0]
        m = self._lengths[items]
        items = items[(m >= low) & (m <= high)]
        if not len(items):
            return []
        return self._top(items, self._verify(query, n, items), f)

    @staticmethod
    def _at_least(postings: list[array], e: int, size: int) -> np.ndarray:
        """Pool indices found in at least ``e`` of the posting lists (each list is ascending, no repeats)."""
        if len(postings) < e:
            return np.empty(0, dtype=np.int32)
        flat = np.frombuffer(b"".join(postings), dtype=np.int32)  # one copy of all the lists
        if len(postings) == 1:
            return flat
        if size <= 16 * len(flat):  # dense: count over the whole pool
            return np.flatnonzero(np.bincount(flat, minlength=size) >= e).astype(np.int32)
        flat = np.sort(flat, kind="stable")  # a merge of sorted runs
        if e > 1:
            flat = flat[e - 1:][flat[e - 1:] == flat[: len(flat) - e + 1]]
        if len(flat) > 1:
            flat = flat[np.concatenate(([True], flat[1:] != flat[:-1]))]
        return flat

    # -------------------------------------------------------- full index (floor == 0)

    def _search_full(self, n: int, query: str | list[int], tags: list[int], size: int) -> list[tuple[int, float]]:
        """Exact top-k of the whole pool: multiset-overlap bounds decide which LCS to compute.

        LCS <= min(overlap, m), so F <= 2 * min(overlap, m) / (n + m); ``half`` is half that bound
        (the float score is within a few ulps of the real number).  The items with the best bounds
        are verified first; their k-th best score then rules out every item bounded below it.
        """
        k = max(self.top_k, 1)
        postings, dense = self._postings, self._dense
        sparse = [postings[t] for t in tags if t in postings]
        counts = np.bincount(np.frombuffer(b"".join(sparse), dtype=np.int32), minlength=size)
        common = [dense[t] for t in tags if t in dense]
        if common:  # each tag adds at most 1 per item: a uint8 sum is exact below 256 tags
            total = common[0][:size].astype(np.uint8 if len(common) < 256 else np.uint16)
            for flags in common[1:]:
                total += flags[:size]
            counts += total
        lengths = self._lengths_f[:size]
        half = counts.astype(np.float32)  # half the bound, in float32 (relative error < 1e-6): 0 iff nothing shared
        np.minimum(half, lengths, out=half)
        half /= lengths + np.float32(n)
        top = float(half.max())
        for share in (0.75, 0.5, 0.25, 0.0):  # a first batch of the best bounds, whatever their spread
            first = np.flatnonzero(half > np.float32(share * top) if share == 0.0 else half >= np.float32(share * top))
            if len(first) >= 2 * k:
                break
        if len(first) > 8 * k:
            first = first[np.argpartition(half[first], len(first) - 4 * k)[len(first) - 4 * k:]]
        scores = self._verify(query, n, first)
        tau = 0.0
        if len(scores) >= k:
            tau = float(np.partition(scores, len(scores) - k)[len(scores) - k])
        # every other item whose bound may reach tau (float32 margin), then the exact bound in float64
        cut = np.float32(tau / 2.0 * (1.0 - 1e-5))
        maybe = half >= cut if tau > 0.0 else half > 0.0
        maybe[first] = False
        rest = np.flatnonzero(maybe)
        if len(rest):
            m = self._lengths[rest]
            bound = 2.0 * np.minimum(counts[rest], m) / (n + m)
            keep = bound >= tau - _EPS
            rest, bound = rest[keep], bound[keep]
            order = np.argsort(-bound, kind="stable")
            rest, bound = rest[order], bound[order]
            found_items, found_scores = [first], [scores]
            start, batch = 0, 4 * k
            while start < len(rest) and bound[start] >= tau - _EPS:
                check = rest[start:start + batch]
                found_items.append(check)
                found_scores.append(self._verify(query, n, check))
                all_scores = np.concatenate(found_scores)
                if len(all_scores) >= k:
                    tau = max(tau, float(np.partition(all_scores, len(all_scores) - k)[len(all_scores) - k]))
                start, batch = start + batch, 4 * batch
            first, scores = np.concatenate(found_items), np.concatenate(found_scores)
        return self._top(first, scores, tau)

