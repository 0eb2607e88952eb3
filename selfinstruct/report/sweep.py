"""A multirun directory (``outputs/multirun/DATE/TIME/``): one row per job in sweep.md, and a figure."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from selfinstruct.data import write_text_atomic
from selfinstruct.report import figures
from selfinstruct.report.load import is_run_dir
from selfinstruct.report.run import RunReport
from selfinstruct.report.stats import NEAR_THRESHOLD
from selfinstruct.report.tables import fmt_float, fmt_int, fmt_share, fmt_usd, md_table, text_table
from selfinstruct.report.usage import cost_per_1000
from selfinstruct.rundir import FIGURES_DIR, HYDRA_DIR, LOG_FILE, REPORT_FILE, RUN_FILE, SWEEP_FILE

log = logging.getLogger(__name__)

FIG_SWEEP = "sweep.png"


def job_dirs(path: Path) -> list[Path]:
    """Hydra's numbered job directories under a sweep directory, in job order."""
    if not path.is_dir():
        return []
    # a job refused before it started has only its log (selfinstruct writes .hydra/ once a job runs)
    jobs = [p for p in path.iterdir() if p.is_dir() and p.name.isdigit()
            and any((p / marker).exists() for marker in (HYDRA_DIR, RUN_FILE, LOG_FILE))]
    return sorted(jobs, key=lambda p: int(p.name))


def is_sweep_dir(path: Path) -> bool:
    return bool(job_dirs(path))


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class SweepRow:
    job: str
    overrides: list[str]
    accepted: int | None
    rejected: int | None
    rejection_share: float | None
    instances: int | None
    examples: int | None
    cost_usd: float | None  # None: unknown (a price is missing, or no usage record)
    cost_per_1000: float | None
    tokens_per_1000: float | None  # prompt + completion tokens per 1,000 accepted, every invocation
    mean_seed_rouge: float | None
    neighbour_above: float | None
    status: str
    report: RunReport
    audit_all_valid: float | None = None  # share of audited instances valid on all three questions
    ratings: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # label: (A, A or B)


def sweep_row(job: str, report: RunReport) -> SweepRow:
    """The job's numbers, as its metrics.json holds them (counted from its files where metrics lack them)."""
    m = report.files.m
    boot = m.get("bootstrap") or {}
    accepted = _num(boot.get("accepted"))
    if accepted is None and report.generated is not None:
        accepted = report.generated.instructions
    rejected = _num(boot.get("rejected_total"))
    if rejected is None and report.rejections is not None:
        rejected = report.rejections.rejected
    candidates = (accepted or 0) + (rejected or 0)
    inst = m.get("instances") or {}
    instances = _num(inst.get("instances"))
    if instances is None and report.generated is not None:
        instances = report.generated.instances
    # over every invocation of the job (llm_calls.jsonl), else metrics.json's; None: unknown
    cost = report.usage.run_cost if report.usage else None
    fin = m.get("finetune") or {}
    stopped = m.get("stopped")
    if report.files.metrics is None:
        status = "no metrics.json"
    elif isinstance(stopped, dict) and stopped.get("reason"):
        status = f"stopped: {stopped['reason']}"
    elif boot.get("target") is not None and accepted is not None and accepted < boot["target"]:
        status = f"incomplete ({int(accepted)}/{boot['target']})"
    else:
        status = "done"
    sim = report.similarity
    return SweepRow(
        job=job,
        overrides=list(report.files.overrides or []),
        accepted=int(accepted) if accepted is not None else None,
        rejected=int(rejected) if rejected is not None else None,
        rejection_share=(rejected / candidates) if rejected is not None and candidates else None,
        instances=int(instances) if instances is not None else None,
        examples=int(fin["examples_out"]) if isinstance(fin.get("examples_out"), int) else None,
        cost_usd=cost,
        cost_per_1000=cost_per_1000(cost, int(accepted) if accepted is not None else None),
        tokens_per_1000=_tokens_per_1000(report, accepted),
        mean_seed_rouge=sim.mean_seed if sim else None,
        neighbour_above=sim.share_neighbour_above() if sim else None,
        status=status,
        report=report,
        audit_all_valid=report.audit.all_valid.share if report.audit else None,
        ratings={m.label: (m.share("A"), m.acceptable) for m in report.evaluation.models} if report.evaluation else {},
    )


def split_overrides(rows: list[SweepRow]) -> tuple[list[str], dict[str, list[str]]]:
    """The overrides every job shares, and each job's own (the swept values)."""
    if len(rows) < 2:
        return [], {r.job: r.overrides for r in rows}
    common = [o for o in rows[0].overrides if all(o in r.overrides for r in rows[1:])]
    return common, {r.job: [o for o in r.overrides if o not in common] for r in rows}


# the columns every sweep has; the judge's columns (``judge_headers``) go before "status" when a job has them
HEADERS = ["job", "overrides", "accepted", "rejection share", "instances", "fine-tuning examples",
           "tokens / 1,000 accepted", "cost / 1,000 accepted", "mean nearest-seed ROUGE-L",
           f"nearest neighbour > {NEAR_THRESHOLD}", "status"]
ALIGN = "llrrrrrrrrl"


def _tokens_per_1000(report: RunReport, accepted: float | None) -> float | None:
    total = report.usage.total if report.usage is not None else None
    if total is None or not accepted or (report.usage is not None and report.usage.partial):
        return None
    return (total.prompt_tokens + total.completion_tokens) * 1000 / accepted


def rated_labels(rows: list[SweepRow]) -> list[str]:
    """Every evaluated model's label over the jobs, in first-appearance order."""
    return list(dict.fromkeys(label for r in rows for label in r.ratings))


def judge_headers(rows: list[SweepRow], markdown: bool = True) -> list[str]:
    """The audit column (when a job was audited) and the evaluation columns (when one was evaluated):
    'rated A' and 'rated A or B', per model label when the jobs evaluated several models."""
    headers = []
    if any(r.report.audit is not None for r in rows):
        headers.append("audit: all three valid" if markdown else "audit ok")
    labels = rated_labels(rows)
    suffix = (lambda label: f" ({label})") if len(labels) > 1 else (lambda label: "")
    for label in labels:
        headers += [f"rated A{suffix(label)}", f"rated A or B{suffix(label)}" if markdown else f"A+B{suffix(label)}"]
    return headers


def _judge_cells(row: SweepRow, rows: list[SweepRow]) -> list[str]:
    cells = [fmt_share(row.audit_all_valid)] if any(r.report.audit is not None for r in rows) else []
    for label in rated_labels(rows):
        a, ab = row.ratings.get(label, (None, None))
        cells += [fmt_share(a), fmt_share(ab)]
    return cells


def _with_judge(cells: list[str], row: SweepRow, rows: list[SweepRow]) -> list[str]:
    """The row's cells with the judge's before the last one (status)."""
    return cells[:-1] + _judge_cells(row, rows) + cells[-1:]


def _headers(base: list[str], rows: list[SweepRow], markdown: bool) -> tuple[list[str], str]:
    """The headers and alignment of the whole table: the fixed columns, the judge's before status."""
    extra = judge_headers(rows, markdown)
    return base[:-1] + extra + base[-1:], ALIGN[:-1] + "r" * len(extra) + ALIGN[-1:]


def _cost_cell(row: SweepRow) -> str:
    """Cost per 1,000 accepted: 'unknown' when the job's cost is, '–' when it accepted nothing."""
    if row.cost_usd is None:
        return "unknown"
    return fmt_usd(row.cost_per_1000) if row.cost_per_1000 is not None else "–"


def _cells(row: SweepRow, own: list[str], markdown: bool) -> list[str]:
    overrides = " ".join(f"`{o}`" if markdown else o for o in own) or "(none)"
    job = f"[{row.job}]({row.job}/{REPORT_FILE})" if markdown else row.job
    return [job, overrides, fmt_int(row.accepted), fmt_share(row.rejection_share), fmt_int(row.instances),
            fmt_int(row.examples), fmt_int(round(row.tokens_per_1000)) if row.tokens_per_1000 is not None else "–",
            _cost_cell(row), fmt_float(row.mean_seed_rouge, 3),
            fmt_share(row.neighbour_above), row.status]


TEXT_HEADERS = ["job", "overrides", "accepted", "rejected", "instances", "examples", "tokens/1k", "cost/1k",
                "seed ROUGE-L", f"NN>{NEAR_THRESHOLD}", "status"]


def sweep_text(sweep_dir: Path, rows: list[SweepRow]) -> str:
    """The sweep table for a terminal (shorter headers; the legend is in sweep.md)."""
    common, own = split_overrides(rows)
    lines = [f"Sweep -- {sweep_dir} ({len(rows)} jobs)"]
    if common:
        lines.append("common overrides: " + " ".join(common))
    headers, align = _headers(TEXT_HEADERS, rows, False)
    lines.append(text_table(headers, [_with_judge(_cells(r, own[r.job], False), r, rows) for r in rows], align))
    lines.append("rejected: share of candidates; examples: fine-tuning examples; cost/1k: per 1,000 accepted; "
                 f"seed ROUGE-L: mean nearest-seed ROUGE-L; NN>{NEAR_THRESHOLD}: share whose nearest generated "
                 f"neighbour is above {NEAR_THRESHOLD}"
                 + ("; audit ok: share of audited instances valid on all three questions" if
                    any(r.report.audit is not None for r in rows) else "")
                 + ("; rated A / A+B: share of the judge's ratings" if rated_labels(rows) else ""))
    return "\n".join(lines)


def render_sweep(sweep_dir: Path, rows: list[SweepRow], figure: Path | None) -> str:
    common, own = split_overrides(rows)
    parts = [f"# Sweep report: `{sweep_dir.name}`",
             "\n".join([f"- sweep directory: `{sweep_dir}`",
                        f"- jobs: {len(rows)}",
                        "- common overrides: " + (" ".join(f"`{o}`" for o in common) or "none")])]
    if any(r.report.files.m.get("simulated_model") for r in rows):
        parts.append("**Simulated model** (the bundled loopback server): the numbers describe the pipeline, "
                     "not real data.")
    headers, align = _headers(HEADERS, rows, True)
    parts.append(md_table(headers, [_with_judge(_cells(r, own[r.job], True), r, rows) for r in rows], align))
    parts.append("\n".join([
        "- accepted, rejection share (rejected / (accepted + rejected) candidates) and instances: the job's "
        "metrics.json (`bootstrap.accepted`, `bootstrap.rejected_total`, `instances.instances`)",
        "- fine-tuning examples: `finetune.examples_out`; tokens / 1,000 accepted: prompt and completion tokens "
        "the model was paid for (not the cache's), every invocation, per 1,000 accepted instructions (per stage: "
        "the job's report.md and metrics.json `per_1000_accepted`); cost / 1,000 accepted: the job's cost over every "
        "invocation (summed from its llm_calls.jsonl; metrics.json's `llm.cost_usd` where that file is missing) / "
        "accepted x 1,000; *unknown* where a request has no price (set model.input_cost_per_token / "
        "model.output_cost_per_token)",
        "- mean nearest-seed ROUGE-L: each accepted instruction's ROUGE-L F with its most similar seed, averaged; "
        f"nearest neighbour > {NEAR_THRESHOLD}: share of instructions whose most similar other accepted "
        "instruction scores above it",
        *_judge_legend(rows),
        "- each job's own report: the link in the job column",
    ]))
    if figure is not None:
        parts.append(f"![sweep comparison]({FIGURES_DIR}/{figure.name})")
    return "\n\n".join(parts) + "\n"


def _judge_legend(rows: list[SweepRow]) -> list[str]:
    """sweep.md's lines explaining the judge's columns, for the columns the table has."""
    lines = []
    if any(r.report.audit is not None for r in rows):
        lines.append("- audit: all three valid: share of the job's audited instances (audit.jsonl) the LLM judge "
                     "found valid on all three questions, among those it gave verdicts for (the paper: 54%); "
                     "– where the job has no audit")
    if rated_labels(rows):
        lines.append("- rated A, rated A or B: share of the model's responses (evaluation.jsonl) the LLM judge "
                     "rated A (valid and satisfying), and A or B (acceptable); – where the job did not evaluate it")
    return lines


def write_sweep(sweep_dir: Path, report_job: Callable[[Path], RunReport]) -> tuple[list[SweepRow], Path]:
    """Report every job (``report_job`` writes each job's report.md) and write sweep.md and its figure."""
    rows = [sweep_row(job.name, report_job(job)) for job in job_dirs(sweep_dir) if is_run_dir(job)]
    common, own = split_overrides(rows)
    labels = [f"job {r.job}: " + (" ".join(own[r.job]) or "(no overrides)") for r in rows]
    figure = None
    stamp = figures.SIMULATED_WATERMARK if any(r.report.files.m.get("simulated_model") for r in rows) else None
    if rows:
        with figures.watermark(stamp):
            figure = _sweep_figure(sweep_dir, rows, labels)
    path = sweep_dir / SWEEP_FILE
    write_text_atomic(path, render_sweep(sweep_dir, rows, figure))
    log.info("report: wrote %s (%d jobs)", path, len(rows))
    return rows, path


def _sweep_figure(sweep_dir: Path, rows: list[SweepRow], labels: list[str]) -> Path:
    """figures/sweep.png: one bar per job in each panel."""
    return figures.sweep_bars(labels, [
        ("Accepted instructions", "instructions", [r.accepted for r in rows]),
        ("Rejection share", "% of candidates rejected",
         [100 * r.rejection_share if r.rejection_share is not None else None for r in rows]),
        ("Instances", "instances", [r.instances for r in rows]),
        ("Cost per 1,000 accepted instructions", "USD", [r.cost_per_1000 for r in rows]),
        ("Mean ROUGE-L with the nearest seed", "ROUGE-L F", [r.mean_seed_rouge for r in rows]),
        (f"Nearest generated neighbour above {NEAR_THRESHOLD}", "% of instructions",
         [100 * r.neighbour_above if r.neighbour_above is not None else None for r in rows]),
    ], sweep_dir / FIGURES_DIR / FIG_SWEEP, title=f"Sweep {sweep_dir.name}: {len(rows)} jobs")
