"""The exact ROUGE-L index against rouge-score itself: scores, decisions and top-k, bit for bit."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score.tokenizers import DefaultTokenizer

from selfinstruct.filters import rouge_index
from selfinstruct.filters.rouge import NearDuplicate
from selfinstruct.filters.rouge_index import RougeLIndex, RougeTokenizer
from tests.cli_helpers import run_cli

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SCORER = {stem: rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stem) for stem in (False, True)}

# Few distinct tokens, so that texts repeat words and share long subsequences; punctuation-only,
# non-ASCII-only and case/Unicode oddities rouge-score's tokenizer treats in its own way.
WORDS = st.sampled_from([
    "the", "a", "a", "list", "List", "Write", "poem", "cat", "cats", "running", "runs", "run", "42", "x-ray",
    "e-mail", "e", "mail", "!!", "...", "—", "ünïcode", "é", "日本語", "İstanbul", "\u212a", "ﬁle", "naïve",
    "generalization", "generalize", "\n", "\t", "",
])
ODD = st.sampled_from(["", "!!! ???", "日本語のテキスト", "— … —"])
TEXTS = st.lists(WORDS, max_size=25).map(" ".join) | ODD
FLOORS = st.sampled_from([0.0, 0.0, 0.2, 0.5, 0.7])


def expected(pool: list[str], candidate: str, threshold: float, floor: float, top_k: int, stem: bool = False):
    """(keep, max_score, most_similar) by brute force with rouge-score, under the index's contract."""
    scores = [SCORER[stem].score(other, candidate)["rougeL"].fmeasure for other in pool]
    best = max(scores, default=0.0 if floor == 0.0 else None)
    if best is not None and best < floor:
        best = None
    ranked = sorted(range(len(pool)), key=lambda i: (-scores[i], i))
    top = tuple((i, scores[i]) for i in ranked if scores[i] >= floor)[:top_k]
    keep = max(scores, default=0.0) <= threshold
    return keep, best, top, scores


def build(pool: list[str], threshold: float = 0.7, floor: float = 0.0, top_k: int = 10, ell: int = 2,
          stem: bool = False, reorder_at: int = 3, dense_min: int = 2) -> RougeLIndex:
    index = RougeLIndex(threshold=threshold, top_k=top_k, floor=floor, use_stemmer=stem, ell=ell)
    index._reorder_at = reorder_at  # re-rank tags early and often, not only from 1024 items on
    index._dense_min = dense_min  # common tags turn into dense flags early, not only from 256 items on
    index.add_all(pool)
    return index


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool=st.lists(TEXTS, max_size=30), candidate=TEXTS, floor=FLOORS,
       threshold=st.sampled_from([0.5, 0.7, 0.7, 1.0]), top_k=st.sampled_from([0, 1, 3, 10]),
       ell=st.sampled_from([1, 2, 3]), reorder_at=st.sampled_from([2, 5, 1024]),
       dense_min=st.sampled_from([1, 2, 3, 10 ** 9]))
def test_index_matches_rouge_score_exactly(pool, candidate, floor, threshold, top_k, ell, reorder_at,
                                           dense_min) -> None:
    floor = min(floor, threshold)
    index = build(pool, threshold, floor, top_k, ell, reorder_at=reorder_at, dense_min=dense_min)
    keep, best, top, scores = expected(pool, candidate, threshold, floor, top_k)
    match = index.query(candidate)
    assert index.scores(candidate) == scores  # bit for bit, not approximately
    assert match.keep is keep
    assert match.max_score == best
    assert match.most_similar == top


@settings(max_examples=120, deadline=None)
@given(pool=st.lists(TEXTS, min_size=1, max_size=12), candidate=TEXTS, floor=FLOORS)
def test_index_with_stemmer_matches_rouge_score(pool, candidate, floor) -> None:
    index = build(pool, floor=floor, stem=True)
    keep, best, top, scores = expected(pool, candidate, 0.7, floor, 10, stem=True)
    match = index.query(candidate)
    assert index.scores(candidate) == scores
    assert (match.keep, match.max_score, match.most_similar) == (keep, best, top)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), floor=FLOORS)
def test_very_long_instructions(data, floor) -> None:
    long_text = st.lists(WORDS, min_size=150, max_size=400).map(" ".join)
    pool = data.draw(st.lists(long_text | TEXTS, min_size=1, max_size=4))
    base = data.draw(st.sampled_from(pool))
    candidate = data.draw(st.sampled_from([base, base + " the cat", " ".join(base.split()[5:]), "the cat"]))
    index = build(pool, floor=floor)
    keep, best, top, _ = expected(pool, candidate, 0.7, floor, 10)
    match = index.query(candidate)
    assert (match.keep, match.max_score, match.most_similar) == (keep, best, top)


@settings(max_examples=150, deadline=None)
@given(stream=st.lists(TEXTS, max_size=40), floor=FLOORS, ell=st.sampled_from([1, 2, 3]))
def test_streaming_keeps_exactly_what_the_greedy_paper_filter_keeps(stream, floor, ell) -> None:
    index = build([], floor=floor, ell=ell, reorder_at=2)
    kept: list[str] = []
    for text, match in zip(stream, index.filter(stream)):
        keep, best, top, _ = expected(kept, text, 0.7, floor, 10)
        assert (match.keep, match.max_score, match.most_similar) == (keep, best, top)
        if keep:
            kept.append(text)
    assert [index.text(i) for i in range(len(index))] == kept


@settings(max_examples=300, deadline=None)
@given(text=st.text() | TEXTS, stem=st.booleans())
def test_tokenizer_is_rouge_scores(text: str, stem: bool) -> None:
    assert RougeTokenizer(stem).tokenize(text) == DefaultTokenizer(stem).tokenize(text)


def test_token_ids_past_the_last_code_point_fall_back_to_int_lists(monkeypatch) -> None:
    monkeypatch.setattr(rouge_index, "_MAX_CHAR", 3)  # as if the pool had a million distinct tokens
    pool = ["alpha beta gamma delta", "delta gamma beta alpha epsilon", "zeta eta theta alpha beta"]
    for floor in (0.0, 0.3):
        index = build(pool, floor=floor)
        for candidate in ("alpha beta gamma delta epsilon", "theta eta zeta", "omega"):
            keep, best, top, scores = expected(pool, candidate, 0.7, floor, 10)
            match = index.query(candidate)
            assert index.scores(candidate) == scores
            assert (match.keep, match.max_score, match.most_similar) == (keep, best, top)


def test_contract_edges() -> None:
    assert RougeLIndex().query("anything").max_score == 0.0  # empty pool, floor 0
    assert RougeLIndex(floor=0.5).query("anything").max_score is None  # nothing reaches the floor
    index = RougeLIndex(top_k=3)
    index.add_all(["one two", "three four", "five six", "seven eight"])
    match = index.query("nine ten")  # shares no token: scores 0.0, padded in pool order like a full sort
    assert match.max_score == 0.0 and match.keep
    assert match.most_similar == ((0, 0.0), (1, 0.0), (2, 0.0))
    with pytest.raises(ValueError, match="floor"):
        RougeLIndex(threshold=0.5, floor=0.6)  # decisions would no longer be exact


def _near_copy(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(rng.choice([1, 1, 2, 3, 5])):
        op, at = rng.randrange(3), rng.randrange(len(words) + 1)
        if op == 0 and at < len(words):
            words[at] = rng.choice(["the", "new", "given", "list", "story", "Python"])
        elif op == 1 and at < len(words) and len(words) > 1:
            del words[at]
        else:
            words.insert(at, rng.choice(["please", "briefly", "the", "a", "carefully"]))
    return " ".join(words)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real instruction corpora not found at {SHARED_DATA}")
def test_real_instructions_with_injected_near_duplicates() -> None:
    """A slice of the real corpora, 25% near-copies injected: same decisions and top-10 as a full scan."""
    texts = [json.loads(line)["instruction"] for line in (SHARED_DATA / "seed_tasks.jsonl").open(encoding="utf-8")]
    for path in sorted(SHARED_DATA.glob("*.json")):
        texts += [record["instruction"] for record in json.loads(path.read_text(encoding="utf-8"))[:250]]
    rng = random.Random(7)
    stream: list[str] = []
    for text in texts:
        stream.append(text)
        if rng.random() < 0.25:
            stream.append(_near_copy(rng.choice(stream), rng))
    assert len(stream) > 1500

    plain = NearDuplicate(threshold=0.7, method="plain")
    decisions, answers = [], []
    for text in stream:
        match = plain.match(text)
        decisions.append(match.keep)
        answers.append(match)
        if match.keep:
            plain.add(text)
    assert 0.1 < decisions.count(False) / len(stream) < 0.5  # the slice does exercise the filter

    for floor, ell in ((0.0, 2), (0.5, 1), (0.7, 2), (0.7, 3)):
        index = RougeLIndex(threshold=0.7, floor=floor, ell=ell)
        index._reorder_at = 64
        for text, match, reference in zip(stream, index.filter(stream), answers):
            assert match.keep is reference.keep, text
            if floor == 0.0:
                assert match == reference, text
            else:
                assert match.most_similar == tuple(p for p in reference.most_similar if p[1] >= floor), text
    # and the scores are rouge-score's own, on a sample of pairs
    for _ in range(200):
        a, b = rng.choice(stream), rng.choice(stream)
        index = RougeLIndex()
        index.add(a)
        assert index.scores(b) == [SCORER[False].score(a, b)["rougeL"].fmeasure]


def test_bootstrap_run_is_byte_identical_with_the_plain_filter(tmp_path: Path) -> None:
    outputs = {}
    for method in ("indexed", "plain"):
        run_dir = tmp_path / method
        result = run_cli(["model=loopback", "schedule.num_instructions=150", "pipeline.stages=[bootstrap]",
                          f"filters.rouge.method={method}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs[method] = [(run_dir / name).read_bytes() for name in ("instructions.jsonl", "rejected.jsonl")]
    assert outputs["indexed"] == outputs["plain"]
    rejected = [json.loads(line) for line in outputs["plain"][1].splitlines()]
    assert sum(r["reason"] == "rouge" for r in rejected) >= 5  # the similarity filter did decide things
