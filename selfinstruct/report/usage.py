"""Requests, tokens and cost, from llm_calls.jsonl (every invocation of the run) or else metrics.json
(its usage sections describe the last invocation only); and the run's wall time over its invocations
(run.json).  Pure functions over ``RunFiles``, no I/O; the report's "Requests, tokens and cost" section.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from selfinstruct.report.load import RunFiles
from selfinstruct.report.stats import _num, _total
from selfinstruct.rundir import LLM_CALLS_FILE, METRICS_FILE

CALLS_SOURCE = LLM_CALLS_FILE  # one line per request, appended by every invocation
METRICS_SOURCE = METRICS_FILE  # usage sections rewritten by each invocation: the last one only


@dataclass
class UsageRow:
    stage: str
    requests: int
    cache_hits: int
    attempts_sent: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    retries: int
    failed: int
    truncated: int
    wall_s: float | None


@dataclass
class Usage:
    """Requests, tokens and cost; over every invocation of the run when llm_calls.jsonl is there.

    ``total.cost_usd`` (and ``cost_per_1000``) is None when the cost is unknown: some paid request
    (successful, not served by the cache) has no price.
    """

    rows: list[UsageRow]
    total: UsageRow | None
    retries_by_kind: dict[str, int]
    failed_by_kind: dict[str, int]
    accepted: int | None
    cost_per_1000: float | None
    wall_s: float | None
    stopped: Any
    calls: int | None = None  # lines in llm_calls.jsonl
    outcomes: dict[str, int] = field(default_factory=dict)
    latency_p50: float | None = None
    latency_p95: float | None = None
    source: str = METRICS_SOURCE  # CALLS_SOURCE: totals over every invocation; else metrics.json's last one
    paid: int | None = None  # requests answered by the model (not by the cache), from llm_calls.jsonl
    unpriced: int = 0  # ... of which without a price: the cost is unknown when any
    invocations: int | None = None  # entries in run.json
    wall_note: str = ""  # how wall_s was obtained when the run has several invocations

    @property
    def cost_known(self) -> bool:
        """False when some request's price is missing (the cost of the recorded requests is unknown)."""
        return self.total is not None and self.total.cost_usd is not None

    @property
    def all_invocations(self) -> bool:
        return self.source == CALLS_SOURCE

    @property
    def partial(self) -> bool:
        """The numbers are metrics.json's last invocation of a run that has had several."""
        return not self.all_invocations and (self.invocations or 1) > 1

    @property
    def run_cost(self) -> float | None:
        """The whole run's cost; None when unknown (a price missing, or only the last invocation recorded)."""
        return None if self.partial or self.total is None else self.total.cost_usd


LLM_STAGES = ("bootstrap", "classify", "instances")


def _usage_row(stage: str, section: dict[str, Any], failed_key: str) -> UsageRow:
    cost = section.get("cost_usd")
    return UsageRow(
        stage=stage,
        requests=int(_num(section.get("requests"))),
        cache_hits=int(_num(section.get("cache_hits"))),
        attempts_sent=int(_num(section.get("attempts_sent"))),
        prompt_tokens=int(_num(section.get("prompt_tokens"))),
        completion_tokens=int(_num(section.get("completion_tokens"))),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
        retries=_total(section.get("retries")),
        failed=_total(section.get(failed_key)),
        truncated=int(_num(section.get("truncated_replies"))),
        wall_s=section.get("wall_s") if isinstance(section.get("wall_s"), (int, float)) else None,
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def accepted_count(files: RunFiles) -> int | None:
    boot = files.m.get("bootstrap") or {}
    if isinstance(boot.get("accepted"), int):
        return boot["accepted"]
    return len(files.instructions) if files.instructions is not None else None


def cost_per_1000(cost: float | None, accepted: int | None) -> float | None:
    if cost is None or not accepted:
        return None
    return cost / accepted * 1000


def _failure_kind(outcome: str) -> str | None:
    """'error:Timeout' -> 'Timeout' (the client's Completion.outcome of a failed request); None otherwise."""
    if outcome == "error" or outcome.startswith("error:"):
        return outcome.partition(":")[2] or "error"
    return None


@dataclass
class _CallTotals:
    """Sums over llm_calls.jsonl lines, counted the way the client's Usage counts requests."""

    requests: int = 0
    attempts: int = 0
    cache_hits: int = 0
    paid: int = 0  # successful requests the model answered (not the cache): tokens and cost count
    unpriced: int = 0  # paid requests whose cost_usd is null
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    truncated: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def add(self, call: dict[str, Any]) -> None:
        self.requests += 1
        self.attempts += int(_num(call.get("attempts")))
        retries = call.get("retries")
        if isinstance(retries, list):
            self.retries.update(str(kind) for kind in retries)
        outcome = str(call.get("outcome") or "")
        kind = _failure_kind(outcome)
        if kind is not None:
            self.failed[kind] += 1
            return
        if outcome == "not_sent":  # refused by the budget or after an interrupt: nothing was sent
            return
        self.truncated += outcome == "truncated"
        if call.get("cache_hit") is True:
            self.cache_hits += 1  # paid for by an earlier run or invocation
            return
        self.paid += 1
        self.prompt_tokens += int(_num(call.get("prompt_tokens")))
        self.completion_tokens += int(_num(call.get("completion_tokens")))
        cost = call.get("cost_usd")
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            self.cost_usd += cost
        else:
            self.unpriced += 1

    def row(self, stage: str, wall_s: float | None) -> UsageRow:
        return UsageRow(stage, self.requests, self.cache_hits, self.attempts, self.prompt_tokens,
                        self.completion_tokens, None if self.unpriced else round(self.cost_usd, 6),
                        sum(self.retries.values()), sum(self.failed.values()), self.truncated, wall_s)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def run_wall_time(files: RunFiles) -> tuple[float | None, int | None, str]:
    """Wall time of the whole run, how many invocations run.json records, and a note on how it was
    measured. One invocation (or no run.json): metrics.json's ``wall_s``; several: the sum of each
    invocation's run.json start to end (to the second), the running one up to now when the report
    stage itself is reading."""
    last = files.m.get("wall_s") if isinstance(files.m.get("wall_s"), (int, float)) else None
    invocations = files.invocations
    if not invocations or len(invocations) == 1:
        return last, len(invocations) if invocations else None, ""
    total = 0.0
    unended = 0
    for i, inv in enumerate(invocations):
        started, ended = _parse_time(inv.get("started_at")), _parse_time(inv.get("ended_at"))
        if ended is None and files.live and i == len(invocations) - 1 and inv.get("ended") == "running":
            ended = datetime.now(timezone.utc)  # this invocation, still writing its report
        if started is None or ended is None:
            unended += 1
            continue
        total += max(0.0, (ended - started).total_seconds())
    note = f"summed over {len(invocations)} invocations from run.json, to the second"
    if unended:
        note += f"; {unended} invocation(s) that recorded no end (killed) not counted"
    return total, len(invocations), note


def _usage_from_calls(files: RunFiles, calls: list[dict[str, Any]], invocations: int | None) -> Usage:
    """Totals over every line of llm_calls.jsonl, i.e. over every invocation of the run."""
    by_stage: dict[str, _CallTotals] = {}
    total = _CallTotals()
    for call in calls:
        stage = str(call.get("stage") or "unknown")
        by_stage.setdefault(stage, _CallTotals()).add(call)
        total.add(call)
    m = files.m

    def stage_wall(stage: str) -> float | None:
        # metrics.json's per-stage wall time describes the stage's last invocation only
        section = m.get(stage)
        wall = section.get("wall_s") if isinstance(section, dict) else None
        return wall if isinstance(wall, (int, float)) and (invocations or 1) == 1 else None

    rows = [t.row(stage, stage_wall(stage)) for stage, t in by_stage.items()]
    rows.sort(key=lambda r: LLM_STAGES.index(r.stage) if r.stage in LLM_STAGES else len(LLM_STAGES))
    return Usage(rows, total.row("all stages", None), dict(total.retries.most_common()),
                 dict(total.failed.most_common()), None, None, None, m.get("stopped"), source=CALLS_SOURCE,
                 paid=total.paid, unpriced=total.unpriced)


def _usage_from_metrics(files: RunFiles) -> Usage | None:
    """metrics.json's usage sections: the last invocation only (no llm_calls.jsonl to sum)."""
    m = files.m
    rows = []
    for name, section in m.items():
        if isinstance(section, dict) and "requests" in section and name != "llm":
            rows.append(_usage_row(name, section, "failed_requests"))
    rows.sort(key=lambda r: LLM_STAGES.index(r.stage) if r.stage in LLM_STAGES else len(LLM_STAGES))
    if len(files.invocations or []) > 1:
        for row in rows:
            row.wall_s = None  # the stage's last invocation only, like the rest; the total is summed
    total = None
    retries: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    if isinstance(m.get("llm"), dict):
        total = _usage_row("all stages", m["llm"], "failed")
        retries.update({str(k): int(_num(v)) for k, v in (m["llm"].get("retries") or {}).items()})
        failed.update({str(k): int(_num(v)) for k, v in (m["llm"].get("failed") or {}).items()})
    elif rows:
        costs = [r.cost_usd for r in rows]
        total = UsageRow("all stages", *(sum(getattr(r, f) for r in rows) for f in (
            "requests", "cache_hits", "attempts_sent", "prompt_tokens", "completion_tokens")),
            cost_usd=None if any(c is None for c in costs) else sum(costs),
            retries=sum(r.retries for r in rows), failed=sum(r.failed for r in rows),
            truncated=sum(r.truncated for r in rows), wall_s=None)
        for name in (r.stage for r in rows):
            retries.update({str(k): int(_num(v)) for k, v in (m[name].get("retries") or {}).items()})
            failed.update({str(k): int(_num(v)) for k, v in (m[name].get("failed_requests") or {}).items()})
    if total is None:
        return None
    return Usage(rows, total, dict(retries), dict(failed), None, None, None, m.get("stopped"),
                 source=METRICS_SOURCE)


def usage(files: RunFiles) -> Usage | None:
    """Requests, tokens and cost: over every invocation from llm_calls.jsonl when it is there, else
    metrics.json's sections (which describe the last invocation only; ``source`` says which)."""
    wall_s, invocations, wall_note = run_wall_time(files)
    if files.llm_calls is not None:
        result: Usage | None = _usage_from_calls(files, files.llm_calls, invocations)
    else:
        result = _usage_from_metrics(files)
    if result is None:
        return None
    result.invocations, result.wall_s, result.wall_note = invocations, wall_s, wall_note
    if result.total is not None:
        result.total.wall_s = wall_s
    result.accepted = accepted_count(files)
    result.cost_per_1000 = cost_per_1000(result.run_cost, result.accepted)
    if files.llm_calls is not None:
        result.calls = len(files.llm_calls)
        result.outcomes = dict(Counter(str(c.get("outcome")) for c in files.llm_calls).most_common())
        latencies = [float(c["latency_s"]) for c in files.llm_calls
                     if not c.get("cache_hit") and isinstance(c.get("latency_s"), (int, float))]
        result.latency_p50 = _percentile(latencies, 0.5)
        result.latency_p95 = _percentile(latencies, 0.95)
    return result


def per_1000_accepted(us: Usage) -> dict[str, Any] | None:
    """Tokens and dollars per 1,000 accepted instructions, per stage and in total (metrics.json's
    ``per_1000_accepted``): the figure that compares settings, providers and modes (None: nothing accepted)."""
    accepted = us.accepted
    if not accepted:
        return None

    def scaled(row: UsageRow) -> dict[str, Any]:
        return {"prompt_tokens": round(row.prompt_tokens * 1000 / accepted, 1),
                "completion_tokens": round(row.completion_tokens * 1000 / accepted, 1),
                "cost_usd": None if row.cost_usd is None or us.partial else round(row.cost_usd * 1000 / accepted, 6)}

    return {"accepted": accepted, "over": "every invocation" if us.all_invocations else "the last invocation",
            "stages": {row.stage: scaled(row) for row in us.rows},
            "total": scaled(us.total) if us.total is not None else None}


def usage_of_run(run_dir: Path, metrics: dict[str, Any], *, with_run_record: bool = False) -> Usage | None:
    """``usage`` of a run directory from its llm_calls.jsonl (every invocation) and ``metrics``, without
    loading the rest of the run: for the engine's per-1,000 figures and the end-of-run summary.
    ``with_run_record``: read run.json too (its invocations: the run's wall time, a partial record)."""
    import json

    from selfinstruct.report.load import read_jsonl_lenient
    from selfinstruct.rundir import INSTRUCTIONS_FILE, LLM_CALLS_FILE, RUN_FILE

    files = RunFiles(run_dir, metrics=metrics)
    calls_path = run_dir / LLM_CALLS_FILE
    files.llm_calls = read_jsonl_lenient(calls_path)[0] if calls_path.is_file() else None
    if with_run_record:
        try:
            files.run_record = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            files.run_record = None
    instructions = run_dir / INSTRUCTIONS_FILE
    if not isinstance((metrics.get("bootstrap") or {}).get("accepted"), int) and instructions.is_file():
        files.instructions = [{} for line in instructions.read_bytes().splitlines() if line.strip()]
    return usage(files)


def per_1000_from_run(run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """``per_1000_accepted`` of a run directory, from its llm_calls.jsonl (every invocation) and the
    accepted instructions; for the engine, at the end of every invocation."""
    result = usage_of_run(run_dir, metrics)
    return per_1000_accepted(result) if result is not None else None
