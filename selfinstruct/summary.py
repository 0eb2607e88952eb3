"""The summary a run prints on stdout when it ends: where the data is, how much was kept, what it cost.

Logs go to stderr; stdout carries this block alone, so ``selfinstruct ... > summary.txt`` keeps it.
Every count is read from the run directory's files as they are on disk (a JSONL file's lines, a JSON
list's length), so the summary and the files cannot disagree.  It is printed for a finished, paused,
interrupted, budget-stopped or failed run alike; a summary that cannot be built never changes the
run's exit code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from selfinstruct.rundir import (
    AUDIT_FILE,
    CLASSIFY_FILE,
    EVALUATION_FILE,
    FIGURES_DIR,
    FINETUNE_DIR,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    METRICS_FILE,
    REJECTED_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
    TRAIN_FILE,
)

SIMULATED_BANNER = ("SIMULATED DATA, made by the bundled simulated model (model=loopback):",
                    "for trying the pipeline only; do not train on it or share it as real data.")

# the data files, in pipeline order, with what one record of each is
_RECORD_FILES = (
    (INSTRUCTIONS_FILE, "instructions"),
    (REJECTED_FILE, "rejected candidates"),
    (CLASSIFY_FILE, "classify answers"),
    (INSTANCES_FILE, "tasks"),
    (AUDIT_FILE, "audit verdicts"),
    (EVALUATION_FILE, "ratings"),
)
_OUTCOMES = {"done": "done", "paused": "paused", "interrupted": "interrupted", "budget": "stopped on budget",
             "error": "failed"}


def count_records(path: Path) -> int | None:
    """Records in a data file: non-blank lines of a .jsonl, items of a .json list (None: unreadable)."""
    try:
        if path.suffix == ".jsonl":
            with path.open("rb") as f:
                return sum(1 for line in f if line.strip())
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return len(data) if isinstance(data, list) else None


def _jsonl_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        yield from (line for line in f if line.strip())


def _tasks_and_instances(path: Path) -> tuple[int | None, int | None]:
    """instances.jsonl's tasks and their instances, in one pass (None where unreadable)."""
    tasks = instances = 0
    try:
        for line in _jsonl_lines(path):
            tasks += 1
            instances += len(json.loads(line).get("instances") or [])
    except (OSError, ValueError, AttributeError):
        return count_records(path), None
    return tasks, instances


def _rejected_and_reasons(path: Path) -> tuple[int | None, Counter[str] | None]:
    """rejected.jsonl's candidates and their count per reason, in one pass (None where unreadable)."""
    reasons: Counter[str] = Counter()
    try:
        for line in _jsonl_lines(path):
            reasons[str(json.loads(line).get("reason") or "unknown")] += 1
    except (OSError, ValueError, AttributeError):
        return count_records(path), None
    return sum(reasons.values()), reasons


@dataclass
class _Counts:
    """Each data file's records, read once: every figure of the summary comes from here."""

    records: dict[str, int | None] = field(default_factory=dict)  # the files that exist
    instances: int | None = None
    reasons: Counter[str] | None = None


def _count(run_dir: Path) -> _Counts:
    counts = _Counts()
    for name, _ in _RECORD_FILES:
        path = run_dir / name
        if not path.is_file():
            continue
        if name == INSTANCES_FILE:
            counts.records[name], counts.instances = _tasks_and_instances(path)
        elif name == REJECTED_FILE:
            counts.records[name], counts.reasons = _rejected_and_reasons(path)
        else:
            counts.records[name] = count_records(path)
    return counts


def _n(value: int | float | None) -> str:
    return "?" if value is None else f"{value:,}"


def _files_block(run_dir: Path, counts: _Counts) -> list[str]:
    rows: list[tuple[str, str]] = []
    for name, what in _RECORD_FILES:
        if name not in counts.records:
            continue
        text = f"{_n(counts.records[name])} {what}"
        if name == INSTANCES_FILE:
            text += f", {_n(counts.instances)} instances"
        rows.append((name, text))
    finetune = run_dir / FINETUNE_DIR
    if finetune.is_dir():
        for path in sorted(p for p in finetune.iterdir() if p.suffix in (".jsonl", ".json") and p.is_file()):
            if path.name == "dataset_info.json":
                continue
            rows.append((f"{FINETUNE_DIR}/{path.name}", f"{_n(count_records(path))} examples"))
        if (finetune / "README.md").is_file():
            rows.append((f"{FINETUNE_DIR}/README.md", "the dataset card: load_dataset(FOLDER, FORMAT)"
                         + ("; dataset_info.json for LLaMA-Factory" if (finetune / "dataset_info.json").is_file() else "")))
        if (finetune / "SIMULATED").is_file():
            rows.append((f"{FINETUNE_DIR}/SIMULATED", "marks the data as the simulated model's"))
    if (run_dir / TRAIN_FILE).is_file():
        rows.append((TRAIN_FILE, "the tuned model's record"))
    reports = [n for n in (REPORT_FILE, REPORT_HTML_FILE) if (run_dir / n).is_file()]
    figures = run_dir / FIGURES_DIR
    n_figures = len(list(figures.glob("*.png"))) if figures.is_dir() else 0
    if reports or n_figures:
        rows.append((", ".join(reports) or "report", f"{n_figures} figures in {FIGURES_DIR}/" if n_figures else ""))
    if not rows:
        return ["  (no data files yet)"]
    width = max(len(name) for name, _ in rows)
    return [f"  {name:<{width}}  {text}".rstrip() for name, text in rows]


def _table1(metrics: dict[str, Any], counts: _Counts) -> str | None:
    """Table 1 in short: instructions, the classification share, instances."""
    classify = metrics.get("classify") if isinstance(metrics.get("classify"), dict) else {}
    instructions = counts.records.get(INSTRUCTIONS_FILE)
    if instructions is None:
        return None
    parts = [f"{instructions:,} instructions"]
    labelled = classify.get("classification")
    if isinstance(labelled, int) and instructions:
        parts.append(f"{labelled:,} classification ({100 * labelled / instructions:.1f}%)")
    if counts.instances is not None:
        parts.append(f"{counts.instances:,} instances")
    finetune = metrics.get("finetune") if isinstance(metrics.get("finetune"), dict) else {}
    if isinstance(finetune.get("examples_out"), int):
        parts.append(f"{finetune['examples_out']:,} fine-tuning examples")
    return "; ".join(parts)


def _rejections(counts: _Counts) -> str | None:
    reasons = counts.reasons
    if reasons is None:
        return None
    if not reasons:
        return "none"
    return ", ".join(f"{reason} {count:,}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]))


def _llm_line(run_dir: Path, metrics: dict[str, Any]) -> str | None:
    """Requests, tokens and cost over every invocation (llm_calls.jsonl), as the report counts them."""
    from selfinstruct.report.sections import cost_per_1000_text
    from selfinstruct.report.tables import fmt_usd
    from selfinstruct.report.usage import usage_of_run
    from selfinstruct.rundir import LLM_CALLS_FILE

    if not (run_dir / LLM_CALLS_FILE).is_file() and not isinstance(metrics.get("llm"), dict):
        return None
    us = usage_of_run(run_dir, metrics, with_run_record=True)
    if us is None or us.total is None:
        return None
    total = us.total
    scope = "all invocations" if us.all_invocations else "this invocation"
    cost = fmt_usd(us.run_cost) if us.run_cost is not None else "cost unknown"
    line = (f"{total.requests:,} requests ({total.cache_hits:,} from the cache), "
            f"{total.prompt_tokens:,} prompt + {total.completion_tokens:,} completion tokens, {cost} ({scope})")
    if us.accepted:
        line += f"; per 1,000 accepted: {cost_per_1000_text(us)}"
    return line


def _wall(metrics: dict[str, Any]) -> str | None:
    wall = metrics.get("wall_s")
    if not isinstance(wall, (int, float)):
        return None
    minutes, seconds = divmod(float(wall), 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def render_summary(run_dir: Path, ended: str, *, detail: str | None = None, resume: str | None = None,
                   simulated: bool | None = None) -> str:
    """The end-of-run block for stdout. ``ended``: done, paused, interrupted, budget or error;
    ``resume`` is printed when the run is unfinished; ``simulated`` overrides metrics.json's flag."""
    try:
        metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
        if not isinstance(metrics, dict):
            metrics = {}
    except (OSError, ValueError):
        metrics = {}
    if simulated is None:
        simulated = bool(metrics.get("simulated_model"))
    status = _OUTCOMES.get(ended, ended)
    lines = []
    if simulated:
        lines += ["!" * 78, *(f"!! {line}" for line in SIMULATED_BANNER), "!" * 78]
    wall = _wall(metrics)
    head = f"selfinstruct: run {status}" + (f" in {wall}" if wall else "")
    if detail and ended != "done":
        head += f" ({detail})"
    lines.append(head)
    lines.append(f"run directory: {run_dir}")
    counts = _count(run_dir)
    lines += _files_block(run_dir, counts)
    table1 = _table1(metrics, counts)
    if table1:
        lines.append(f"Table 1: {table1}")
    rejected = _rejections(counts)
    if rejected:
        lines.append(f"rejected by reason: {rejected}")
    llm = _llm_line(run_dir, metrics)
    if llm:
        lines.append(f"LLM: {llm}")
    push = metrics.get("push") if isinstance(metrics.get("push"), dict) else {}
    if push.get("repo_id"):
        lines.append(f"pushed to the Hub: {push['repo_id']} ({'private' if push.get('private') else 'public'}, "
                     f"{len(push.get('files') or [])} files): {push.get('commit_url') or push.get('repo_url') or ''}".rstrip(": "))
    if resume and ended != "done":
        lines.append(f"resume with: {resume}")
    return "\n".join(lines)
