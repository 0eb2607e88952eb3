"""What the LLM judge said: the audit (the paper's Table 2) and the evaluation (the paper's Figure 5).

Pure functions over audit.jsonl / evaluation.jsonl records and metrics.json's ``audit`` / ``evaluate``
sections (no I/O).  A verdict or rating the judge's reply did not carry (``null``) is counted as
*unparsed*, never guessed: the audit's shares are over the parsed verdicts, the evaluation's over every
rated line (unparsed included, so a model's bar sums to 100%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from selfinstruct.report.load import RunFiles
from selfinstruct.rundir import AUDIT_FILE, EVALUATION_FILE

QUESTIONS = ("valid_instruction", "appropriate_input", "acceptable_output")
ALL_VALID = "all_valid"
QUESTION_LABELS = {
    "valid_instruction": "instruction describes a valid task",
    "appropriate_input": "input is appropriate for the instruction",
    "acceptable_output": "output is a correct and acceptable response",
    ALL_VALID: "all three",
}
# the paper's Table 2: 200 instances audited by expert annotators
PAPER_AUDIT = {"valid_instruction": 0.92, "appropriate_input": 0.79, "acceptable_output": 0.58, ALL_VALID: 0.54}

LEVELS = ("A", "B", "C", "D")
UNPARSED = "unparsed"
RUBRIC = {
    "A": "valid and satisfying",
    "B": "acceptable with minor imperfections",
    "C": "responds to the instruction but has significant errors",
    "D": "irrelevant or invalid",
}
Z95 = 1.959963984540054


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def wilson_interval(yes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion: unlike p ± z·se it stays in [0, 1] and is honest
    for the small samples an audit has (None when there is nothing to estimate from)."""
    if n <= 0:
        return None
    p = yes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# ---------------------------------------------------------------- audit (Table 2)


@dataclass
class Verdicts:
    """One row of Table 2: how the judge answered one question over the audited instances."""

    question: str
    yes: int
    no: int
    unparsed: int

    @property
    def parsed(self) -> int:
        return self.yes + self.no

    @property
    def share(self) -> float | None:
        """Share of yes among the parsed verdicts (an unparsed one is neither yes nor no)."""
        return self.yes / self.parsed if self.parsed else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return wilson_interval(self.yes, self.parsed)

    @property
    def paper(self) -> float | None:
        return PAPER_AUDIT.get(self.question)


@dataclass
class AuditSummary:
    audited: int  # lines in audit.jsonl
    rows: list[Verdicts]  # the three questions, then all_valid
    sample_size: int | None = None  # metrics.json audit.sample_size (requested)
    population: int | None = None  # instances eligible for the audit
    seed: int | None = None
    filter: bool | None = None  # audit.filter: the finetune stage drops what the audit refused
    unanswered: int | None = None  # requests with no reply (no line in audit.jsonl)
    judge: str | None = None
    finetune_dropped: int | None = None  # metrics.json finetune.instance_drops.audit
    unparsed_replies: int = 0  # audited instances with at least one verdict the reply did not carry

    def row(self, question: str) -> Verdicts:
        return next(r for r in self.rows if r.question == question)

    @property
    def all_valid(self) -> Verdicts:
        return self.row(ALL_VALID)


def _verdict(record: dict[str, Any], key: str) -> bool | None:
    value = record.get(key)
    return value if isinstance(value, bool) else None


def _all_valid(record: dict[str, Any]) -> bool | None:
    """The record's all_valid, or derived from the three answers when an older line lacks it."""
    if ALL_VALID in record:
        return _verdict(record, ALL_VALID)
    answers = [_verdict(record, q) for q in QUESTIONS]
    if any(a is False for a in answers):
        return False
    return True if all(a is True for a in answers) else None


def _count(values: Sequence[bool | None], question: str) -> Verdicts:
    return Verdicts(question, sum(1 for v in values if v is True), sum(1 for v in values if v is False),
                    sum(1 for v in values if v is None))


def judge_name(files: RunFiles, section: str) -> str | None:
    """The judge's model: the stage's metrics section, else the run's config (judge.model null: the generator)."""
    name = (files.m.get(section) or {}).get("judge")
    if isinstance(name, str) and name:
        return name
    configured = files.cfg("judge.model")
    if isinstance(configured, str) and configured:
        return configured
    generator = files.m.get("model")
    return f"{generator} (the generator)" if isinstance(generator, str) and files.config is not None else None


def audit_summary(files: RunFiles) -> AuditSummary | None:
    """Table 2 from audit.jsonl (None without the file), with metrics.json's sample facts."""
    records = files.audit
    if records is None:
        return None
    rows = [_count([_verdict(r, q) for r in records], q) for q in QUESTIONS]
    rows.append(_count([_all_valid(r) for r in records], ALL_VALID))
    section = files.m.get("audit") if isinstance(files.m.get("audit"), dict) else {}
    seed = _int(section.get("seed"))
    if seed is None:
        seed = _int(files.cfg("stages.audit.seed"))
    flt = section.get("filter", files.cfg("stages.audit.filter"))
    drops = (files.m.get("finetune") or {}).get("instance_drops") or {}
    return AuditSummary(
        audited=len(records),
        rows=rows,
        sample_size=_int(section.get("sample_size")),
        population=_int(section.get("population")),
        seed=seed,
        filter=flt if isinstance(flt, bool) else None,
        unanswered=_int(section.get("unanswered")),
        judge=judge_name(files, "audit"),
        finetune_dropped=_int(drops.get("audit")) if isinstance(drops, dict) else None,
        unparsed_replies=sum(1 for r in records if any(_verdict(r, q) is None for q in QUESTIONS)),
    )


def audit_scope(summary: AuditSummary) -> str:
    """Which instances were audited, in words: 'one instance of each of 200 tasks sampled with seed 42,
    of the 1,234 instances the export keeps'."""
    pop, size = summary.population, summary.sample_size
    if summary.filter and pop is not None:
        return f"all {pop:,} instances the export keeps (stages.audit.filter=true)"
    if pop is not None and size is not None and size < pop:
        seed = f" sampled with seed {summary.seed}" if summary.seed is not None else " sampled at random"
        return (f"one instance of each of {summary.audited + (summary.unanswered or 0):,} tasks{seed}, "
                f"of the {pop:,} instances the export keeps")
    if pop is not None:
        return f"all {pop:,} instances"
    return f"{summary.audited:,} instances"


# ---------------------------------------------------------------- evaluation (Figure 5)


@dataclass
class ModelRatings:
    """One evaluated model's ratings: counts per level over the lines of evaluation.jsonl."""

    label: str
    counts: dict[str, int] = field(default_factory=lambda: {level: 0 for level in (*LEVELS, UNPARSED)})
    name: str | None = None  # the LiteLLM model string, from metrics.json
    unanswered: int | None = None  # responses with no reply: no line, so not in ``rated``

    @property
    def rated(self) -> int:
        return sum(self.counts.values())

    def share(self, level: str) -> float | None:
        """Share of the rated lines (unparsed ones included) at ``level`` (A-D or 'unparsed')."""
        return self.counts.get(level, 0) / self.rated if self.rated else None

    @property
    def acceptable(self) -> float | None:
        """A or B: the paper's "acceptable" line in Figure 5."""
        return (self.counts["A"] + self.counts["B"]) / self.rated if self.rated else None


@dataclass
class EvaluationSummary:
    models: list[ModelRatings]
    tasks: int | None = None
    instances: int | None = None
    judge: str | None = None

    def model(self, label: str) -> ModelRatings | None:
        return next((m for m in self.models if m.label == label), None)

    @property
    def unparsed(self) -> int:
        return sum(m.counts[UNPARSED] for m in self.models)


def evaluation_summary(files: RunFiles) -> EvaluationSummary | None:
    """Figure 5 from evaluation.jsonl (None without the file): models in their first-appearance order."""
    records = files.evaluation
    if records is None:
        return None
    models: dict[str, ModelRatings] = {}
    for record in records:
        label = str(record.get("model") or "?")
        ratings = models.setdefault(label, ModelRatings(label))
        rating = record.get("rating")
        ratings.counts[rating if rating in LEVELS else UNPARSED] += 1
    section = files.m.get("evaluate") if isinstance(files.m.get("evaluate"), dict) else {}
    facts = section.get("models") if isinstance(section.get("models"), dict) else {}
    for label, ratings in models.items():
        entry = facts.get(label) if isinstance(facts.get(label), dict) else {}
        ratings.name = entry.get("name") if isinstance(entry.get("name"), str) else None
        ratings.unanswered = _int(entry.get("unanswered"))
    return EvaluationSummary(list(models.values()), _int(section.get("tasks")), _int(section.get("instances")),
                             judge_name(files, "evaluate"))


# ---------------------------------------------------------------- files metrics expects


def missing_judge_files(files: RunFiles) -> list[str]:
    """The judge's files metrics.json says a stage wrote but the directory lacks (absent is normal
    otherwise: the audit and evaluate stages are optional)."""
    lines = []
    if isinstance(files.m.get("audit"), dict) and files.audit is None:
        lines.append(f"`{AUDIT_FILE}`: metrics.json has an audit section but the file is missing: "
                     "no data quality audit table")
    if isinstance(files.m.get("evaluate"), dict) and files.evaluation is None:
        lines.append(f"`{EVALUATION_FILE}`: metrics.json has an evaluate section but the file is missing: "
                     "no evaluation table or figure")
    return lines
