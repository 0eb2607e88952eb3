"""Rule filters and the near-duplicate filter, with rouge-score as the oracle for similarity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from selfinstruct.filters.build import build_filters
from selfinstruct.filters.rouge import NearDuplicate
from selfinstruct.filters.rules import (
    ExactDuplicate,
    FirstCharAscii,
    FirstCharNotPunctuation,
    Keywords,
    NonEmpty,
    Prefixes,
    WordCount,
)
from selfinstruct.errors import ConfigError

PAPER_KEYWORDS = ["image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                  "map", "maps", "draw", "plot", "go to"]


@pytest.mark.parametrize(
    ("text", "keep"),
    [("Name three rivers.", False), ("Name three long rivers.", True), ("", False),
     (" ".join(["word"] * 150), True), (" ".join(["word"] * 151), False)],
)
def test_word_count_is_more_than_three_and_at_most_150(text: str, keep: bool) -> None:
    assert WordCount(min_words=4, max_words=150).check(text).keep is keep


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("Draw a cat sitting on a mat.", False),
        ("Describe the IMAGE below in detail.", False),
        ("Go to the store and list what you see.", False),
        ("Go  to the kitchen and describe it.", False),
        ("Summarize the plot of Hamlet in two sentences.", False),
        ("Explain how a mapping between sets works.", True),  # whole words only
        ("List the files you would back up first.", False),
        ("Give a profile of a famous graphic designer.", True),
        ("Suggest a good topic for a school debate.", True),
    ],
)
def test_keywords_match_whole_words_in_any_case(text: str, keep: bool) -> None:
    assert Keywords(PAPER_KEYWORDS).check(text).keep is keep


def test_prefix_first_character_and_empty_rules() -> None:
    assert not Prefixes(["Write a program"]).check("Write a program that sorts numbers.").keep
    assert not Prefixes(["Write a program"]).check("write a program to add two numbers").keep
    assert Prefixes(["Write a program"]).check("Write a poem about programs.").keep
    assert not FirstCharNotPunctuation().check('"Quote a famous line from a movie.').keep
    assert not FirstCharNotPunctuation().check("- List three fruits you like.").keep
    assert FirstCharNotPunctuation().check("List three fruits you like.").keep
    assert not FirstCharAscii().check("¿Cómo se dice hello en inglés?").keep
    assert not FirstCharAscii().check("• List three fruits.").keep
    assert FirstCharAscii().check("List three fruits.").keep
    assert not NonEmpty().check("   ").keep


def test_exact_duplicate_learns_the_pool() -> None:
    flt = ExactDuplicate()
    flt.add("Name a   country in Europe.")
    assert not flt.check("name a country in europe.").keep
    assert flt.check("Name a country in Asia.").keep


SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
WORDS = st.sampled_from(["the", "a", "list", "Write", "poem", "cat", "cats", "running", "runs", "42",
                         "ünïcode", "!!", "...", "Cat", "x-ray", "e-mail", "é"])
TEXTS = st.lists(WORDS, max_size=25).map(" ".join)
METHODS = pytest.mark.parametrize("method", ["indexed", "plain"])


@METHODS
@settings(max_examples=150, deadline=None)
@given(pool=st.lists(TEXTS, max_size=8), candidate=TEXTS, threshold=st.sampled_from([0.0, 0.5, 0.7, 1.0]))
def test_near_duplicate_matches_rouge_score_exactly(method: str, pool: list[str], candidate: str,
                                                     threshold: float) -> None:
    flt = NearDuplicate(threshold=threshold, top_k=10, method=method)
    flt.add_all(pool)
    verdict = flt.check(candidate)
    expected = [SCORER.score(other, candidate)["rougeL"].fmeasure for other in pool]
    assert flt.scores(candidate) == expected  # bit-for-bit, not approximately
    best = max(expected, default=0.0)
    assert verdict.score == best
    assert verdict.keep is (best <= threshold)
    assert [score for _, score in verdict.most_similar] == sorted(expected, reverse=True)[:10]
    ranked = sorted(range(len(pool)), key=lambda i: (-expected[i], i))[:10]  # ties in pool order
    assert [text for text, _ in verdict.most_similar] == [pool[i] for i in ranked]


@METHODS
@settings(max_examples=60, deadline=None)
@given(pool=st.lists(TEXTS, min_size=1, max_size=5), candidate=TEXTS)
def test_near_duplicate_with_stemmer_matches_rouge_score(method: str, pool: list[str], candidate: str) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    flt = NearDuplicate(threshold=0.7, use_stemmer=True, method=method)
    flt.add_all(pool)
    expected = [scorer.score(o, candidate)["rougeL"].fmeasure for o in pool]
    assert flt.scores(candidate) == expected
    assert flt.check(candidate).score == max(expected)


@METHODS
@settings(max_examples=100, deadline=None)
@given(pool=st.lists(TEXTS, max_size=10), candidate=TEXTS, floor=st.sampled_from([0.3, 0.5, 0.7]))
def test_floor_leaves_out_only_what_scores_below_it(method: str, pool: list[str], candidate: str,
                                                    floor: float) -> None:
    flt = NearDuplicate(threshold=0.7, floor=floor, method=method)
    flt.add_all(pool)
    verdict = flt.check(candidate)
    expected = [SCORER.score(other, candidate)["rougeL"].fmeasure for other in pool]
    best = max(expected, default=0.0)
    assert verdict.keep is (best <= 0.7)  # the decision does not depend on the floor
    assert verdict.score == (best if best >= floor and pool else None)
    top = [s for s in sorted(expected, reverse=True)[:10] if s >= floor]
    assert [score for _, score in verdict.most_similar] == top


@METHODS
def test_text_without_ascii_tokens_scores_zero(method: str) -> None:
    flt = NearDuplicate(threshold=0.7, method=method)
    flt.add("!!! ???")
    flt.add("日本語のテキスト")
    verdict = flt.check("日本語のテキスト")
    assert verdict.score == 0.0 and verdict.keep


@METHODS
def test_threshold_is_strict(method: str) -> None:
    flt = NearDuplicate(threshold=0.5, method=method)
    flt.add("alpha beta gamma delta")
    # LCS 2 of 4 and 4 tokens: F = 0.5 exactly, which is kept (reject only above the threshold)
    assert flt.check("alpha beta omega sigma").keep
    assert not flt.check("alpha beta gamma sigma").keep


def test_near_duplicate_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="method"):
        NearDuplicate(method="fast")
    with pytest.raises(ValueError, match="floor"):
        NearDuplicate(threshold=0.5, floor=0.6)


def test_build_filters_names_the_bad_key() -> None:
    with pytest.raises(ConfigError, match=r"^filters\.length: cannot build"):
        build_filters({"length": {"_target_": "selfinstruct.filters.rules.WordCount", "minimum": 3}})
    with pytest.raises(ConfigError, match=r"^filters\.odd: a filter needs a _target_"):
        build_filters({"odd": {"threshold": 1}})
    with pytest.raises(ConfigError, match=r"^filters\.rouge: cannot build"):
        build_filters({"rouge": {"_target_": "selfinstruct.filters.rouge.NearDuplicate", "threshold": 7}})
    built = build_filters({"empty": {"_target_": "selfinstruct.filters.rules.NonEmpty"}, "off": None})
    assert list(built) == ["empty"]


def test_a_filter_placed_before_another_applies_there_and_bad_places_are_named() -> None:
    rule = {"_target_": "selfinstruct.filters.rules.Prefixes", "prefixes": ["Tell me"]}
    filters = {"empty": {"_target_": "selfinstruct.filters.rules.NonEmpty"},
               "rouge": {"_target_": "selfinstruct.filters.rouge.NearDuplicate", "threshold": 0.7},
               "mine": {**rule, "before": "rouge"}}
    assert list(build_filters(filters)) == ["empty", "mine", "rouge"]
    assert list(build_filters({**filters, "mine": rule})) == ["empty", "rouge", "mine"]  # no place: last
    with pytest.raises(ConfigError, match=r"^filters\.mine\.before=nope: no such filter"):
        build_filters({**filters, "mine": {**rule, "before": "nope"}})
    with pytest.raises(ConfigError, match=r"form a cycle"):
        build_filters({"a": {**rule, "before": "b"}, "b": {**rule, "before": "a"}})


def test_a_filter_that_cannot_be_imported_says_it_must_be_importable() -> None:
    with pytest.raises(ConfigError, match=r"^filters\.mine: cannot build my_filters\.Mine: .*PYTHONPATH"):
        build_filters({"mine": {"_target_": "my_filters.Mine"}})
