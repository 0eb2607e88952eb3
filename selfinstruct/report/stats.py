"""The report's numbers, computed from a run directory's files (pure functions, no I/O): Table 1,
rejections, instance cleaning, similarity and diversity; requests, tokens and cost are in ``usage``.

Word counts are whitespace-separated words (``len(text.split())``), as the paper's Table 1.
distinct-n is corpus-level (Li et al., 2016): distinct n-grams / all n-grams over all instructions,
n-grams taken within each instruction, tokens as ROUGE-L sees them (lowercased runs of [a-z0-9]).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from selfinstruct.report.load import RunFiles
from selfinstruct.report.similarity import NeighbourScores, max_rouge_l, nearest_neighbour_scores
from selfinstruct.report.verbs import verb_object
from selfinstruct.rundir import ALPACA_FILE, INSTANCES_FILE, INSTRUCTIONS_FILE, METRICS_FILE, REJECTED_FILE

NEAR_THRESHOLD = 0.5
_TOKENS = re.compile(r"[a-z0-9]+")


def words(text: str) -> int:
    return len(text.split())


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _num(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _total(value: Any) -> int:
    """A count that metrics.json stores either as a number or as {kind: count}."""
    if isinstance(value, dict):
        return int(sum(_num(v) for v in value.values()))
    return int(_num(value))


# ---------------------------------------------------------------- Table 1


@dataclass
class DataStats:
    """One column of the paper's Table 1."""

    source: str
    instructions: int
    classification: int
    non_classification: int
    unlabelled: int
    instances: int | None
    empty_input: int | None
    mean_instruction_words: float | None
    mean_input_words: float | None  # non-empty inputs only
    mean_output_words: float | None
    instruction_lengths: list[int] = field(default_factory=list, repr=False)
    input_lengths: list[int] = field(default_factory=list, repr=False)
    output_lengths: list[int] = field(default_factory=list, repr=False)


def _instance_pairs(tasks: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = []
    for task in tasks:
        for inst in task.get("instances") or []:
            if isinstance(inst, dict):
                pairs.append((str(inst.get("input") or ""), str(inst.get("output") or "")))
    return pairs


def _column(source: str, instructions: list[str], labels: list[bool | None],
            pairs: list[tuple[str, str]] | None) -> DataStats:
    instruction_lengths = [words(t) for t in instructions]
    input_lengths = [words(i) for i, _ in pairs or [] if i.strip()]
    output_lengths = [words(o) for _, o in pairs or []]
    return DataStats(
        source=source,
        instructions=len(instructions),
        classification=sum(1 for x in labels if x is True),
        non_classification=sum(1 for x in labels if x is False),
        unlabelled=sum(1 for x in labels if x is None),
        instances=len(pairs) if pairs is not None else None,
        empty_input=sum(1 for i, _ in pairs if not i.strip()) if pairs is not None else None,
        mean_instruction_words=mean(instruction_lengths),
        mean_input_words=mean(input_lengths) if pairs is not None else None,
        mean_output_words=mean(output_lengths) if pairs is not None else None,
        instruction_lengths=instruction_lengths,
        input_lengths=input_lengths,
        output_lengths=output_lengths,
    )


def labels_by_text(files: RunFiles) -> dict[str, bool | None]:
    """is_classification per instruction text (instances.jsonl fills in what instructions.jsonl lacks)."""
    labels: dict[str, bool | None] = {}
    for rec in (files.instances or []) + (files.instructions or []):
        text = rec.get("instruction")
        if isinstance(text, str) and labels.get(text) is None:
            labels[text] = rec.get("is_classification")
    return labels


def generated_stats(files: RunFiles) -> DataStats | None:
    """Table 1 over what the model generated: instructions.jsonl and instances.jsonl."""
    records = files.instructions if files.instructions is not None else files.instances
    if records is None:
        return None
    labels = labels_by_text(files)
    texts = [str(r.get("instruction", "")) for r in records]
    pairs = _instance_pairs(files.instances) if files.instances is not None else None
    source = INSTRUCTIONS_FILE if files.instructions is not None else INSTANCES_FILE
    if files.instances is not None and files.instructions is not None:
        source += f" + {INSTANCES_FILE}"
    return _column(source, texts, [labels.get(t) for t in texts], pairs)


def finetune_stats(files: RunFiles, seed_texts: Iterable[str] = ()) -> tuple[DataStats | None, int]:
    """Table 1 over the cleaned fine-tuning data (finetune/alpaca.json), seed examples left out;
    also how many seed examples were left out."""
    if files.alpaca is None:
        return None, 0
    labels = labels_by_text(files)
    seeds = set(seed_texts) - set(labels)
    machine = [r for r in files.alpaca if str(r.get("instruction", "")) not in seeds]
    texts = list(dict.fromkeys(str(r.get("instruction", "")) for r in machine))
    pairs = [(str(r.get("input") or ""), str(r.get("output") or "")) for r in machine]
    return _column(ALPACA_FILE, texts, [labels.get(t) for t in texts], pairs), len(files.alpaca) - len(machine)


# ---------------------------------------------------------------- rejections and drops


@dataclass
class ReasonRow:
    reason: str
    count: int
    share: float | None  # of all candidates (rejections) or of instances in (drops)
    share_of_group: float | None  # of all rejections / drops


@dataclass
class Rejections:
    accepted: int
    rejected: int
    candidates: int
    rows: list[ReasonRow]
    source: str
    median_score: dict[str, float] = field(default_factory=dict)  # per reason, where scores are recorded


def rejections(files: RunFiles) -> Rejections | None:
    boot = files.m.get("bootstrap") or {}
    if files.rejected is not None:
        counts = Counter(str(r.get("reason")) for r in files.rejected)
        source = REJECTED_FILE
    elif isinstance(boot.get("rejected"), dict):
        counts = Counter({str(k): int(_num(v)) for k, v in boot["rejected"].items()})
        source = METRICS_FILE
    else:
        return None
    if files.instructions is not None:
        accepted = len(files.instructions)
    else:
        accepted = int(_num(boot.get("accepted")))
    total = sum(counts.values())
    candidates = accepted + total
    rows = [ReasonRow(reason, n, share(n, candidates), share(n, total)) for reason, n in counts.most_common()]
    medians: dict[str, float] = {}
    for reason in counts:
        scores = [r["score"] for r in files.rejected or [] if r.get("reason") == reason
                  and isinstance(r.get("score"), (int, float))]
        if scores:
            medians[reason] = statistics.median(scores)
    return Rejections(accepted, total, candidates, rows, source, medians)


@dataclass
class Drops:
    instances_in: int
    instances_out: int | None
    tasks_in: int
    tasks_out: int | None
    instance_rows: list[ReasonRow]
    task_rows: list[ReasonRow]


def drops(files: RunFiles) -> Drops | None:
    fin = files.m.get("finetune")
    if not isinstance(fin, dict):
        return None
    instances_in = int(_num(fin.get("instances_in")))
    tasks_in = int(_num(fin.get("tasks_in")))

    def rows(counts: Any, whole: int) -> list[ReasonRow]:
        counts = counts if isinstance(counts, dict) else {}
        total = sum(int(_num(v)) for v in counts.values())
        ordered = sorted(counts.items(), key=lambda kv: -int(_num(kv[1])))
        return [ReasonRow(str(k), int(_num(v)), share(int(_num(v)), whole), share(int(_num(v)), total))
                for k, v in ordered]

    return Drops(instances_in, fin.get("instances_out"), tasks_in, fin.get("tasks_out"),
                 rows(fin.get("instance_drops"), instances_in), rows(fin.get("task_drops"), tasks_in))


# ---------------------------------------------------------------- similarity


@dataclass
class Similarity:
    seed_scores: list[float]  # each accepted instruction vs its most similar seed
    seeds: int
    seed_source: str
    neighbour: NeighbourScores
    use_stemmer: bool

    @property
    def mean_seed(self) -> float | None:
        return mean(self.seed_scores)

    @property
    def median_seed(self) -> float | None:
        return statistics.median(self.seed_scores) if self.seed_scores else None

    def share_seed_above(self, t: float = NEAR_THRESHOLD) -> float | None:
        return share(sum(1 for s in self.seed_scores if s > t), len(self.seed_scores))

    def share_neighbour_above(self, t: float = NEAR_THRESHOLD) -> float | None:
        return share(sum(1 for s in self.neighbour.scores if s > t), len(self.neighbour.scores))

    @property
    def mean_neighbour(self) -> float | None:
        return mean(self.neighbour.scores)


def accepted_texts(files: RunFiles) -> list[str]:
    records = files.instructions if files.instructions is not None else files.instances or []
    return [str(r.get("instruction", "")) for r in records]


def similarity(files: RunFiles, seed_texts: Sequence[str], seed_source: str) -> Similarity | None:
    texts = accepted_texts(files)
    if not texts:
        return None
    use_stemmer = bool(files.cfg("filters.rouge.use_stemmer", False))
    seed_scores = [s for s in max_rouge_l(texts, list(seed_texts), use_stemmer=use_stemmer) if s is not None]
    return Similarity(seed_scores, len(seed_texts), seed_source, nearest_neighbour_scores(texts, use_stemmer),
                      use_stemmer)


# ---------------------------------------------------------------- diversity


@dataclass
class Diversity:
    instructions: int
    with_verb: int
    with_verb_object: int
    verbs: Counter[str]
    pairs: Counter[tuple[str, str]]
    distinct: dict[int, float | None]

    def objects_of(self, verb: str, k: int = 4) -> list[tuple[str, int]]:
        return [(o, n) for (v, o), n in self.pairs.most_common() if v == verb][:k]


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = _TOKENS.findall(text.lower())
        grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return share(len(seen), total)


def diversity(texts: Sequence[str]) -> Diversity:
    verbs: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for text in texts:
        vo = verb_object(text)
        if vo.verb:
            verbs[vo.verb] += 1
            if vo.object:
                pairs[(vo.verb, vo.object)] += 1
    return Diversity(len(texts), sum(verbs.values()), sum(pairs.values()), verbs, pairs,
                     {n: distinct_n(texts, n) for n in (1, 2, 3)})
