"""One run's report: compute everything from the run directory, write report.md and figures/*.png.

``build_report`` gathers the numbers (``stats``, ``usage``) into a ``RunReport``; ``render_markdown``
is ``sections``' work (one function per section), ``table1_text`` the terminal's Table 1 block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from selfinstruct.data import Task, write_text_atomic
from selfinstruct.report import figures, sections
from selfinstruct.report.html import write_html
from selfinstruct.report.judge import (
    LEVELS,
    UNPARSED,
    AuditSummary,
    EvaluationSummary,
    audit_summary,
    evaluation_summary,
)
from selfinstruct.report.load import RunFiles, load_run, load_run_seeds
from selfinstruct.report.sections import COST_UNKNOWN, TOP_OBJECTS, TOP_VERBS, cost_per_1000_text, table1_rows
from selfinstruct.report.stats import (
    NEAR_THRESHOLD,
    DataStats,
    Diversity,
    Drops,
    Rejections,
    Similarity,
    accepted_texts,
    diversity,
    drops,
    finetune_stats,
    generated_stats,
    rejections,
    similarity,
)
from selfinstruct.report.tables import fmt_float, fmt_int, fmt_share, fmt_usd, text_table
from selfinstruct.report.usage import Usage, usage
from selfinstruct.rundir import FIGURES_DIR, METRICS_FILE, REPORT_FILE

log = logging.getLogger(__name__)

FIG_SEED_ROUGE = "rouge_nearest_seed.png"
FIG_NEIGHBOUR_ROUGE = "rouge_nearest_neighbour.png"
FIG_LENGTHS = "lengths.png"
FIG_VERBS = "verbs.png"
FIG_EVALUATION = "evaluation.png"
FIG_TRAIN_LOSS = "train_loss.png"


@dataclass
class RunReport:
    run_dir: Path
    files: RunFiles
    generated: DataStats | None
    finetune: DataStats | None
    seed_examples_left_out: int
    rejections: Rejections | None
    drops: Drops | None
    usage: Usage | None
    similarity: Similarity | None
    diversity: Diversity | None
    seed_note: str
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)
    audit: AuditSummary | None = None  # audit.jsonl (the paper's Table 2), when the audit stage ran
    evaluation: EvaluationSummary | None = None  # evaluation.jsonl (the paper's Figure 5)

    # -- the few numbers a sweep compares

    @property
    def accepted(self) -> int | None:
        return self.usage.accepted if self.usage else (self.generated.instructions if self.generated else None)


def build_report(run_dir: Path, *, seeds: Sequence[Task] | None = None,
                 metrics: dict[str, Any] | None = None, notes: Sequence[str] = ()) -> RunReport:
    """Everything the report shows, from the files in ``run_dir``.

    ``seeds`` are the run's seed tasks (default: the ones its saved config names, else the bundled
    ones); ``metrics`` replaces metrics.json's content (the stage passes its live, fuller copy).
    """
    files = load_run(run_dir)
    if metrics is not None:
        files.metrics = metrics
        files.live = True  # the report stage, while its invocation still runs
        if METRICS_FILE in files.missing:
            files.missing.remove(METRICS_FILE)
    if seeds is None:
        seed_tasks, seed_note = load_run_seeds(files)
    else:
        seed_tasks, seed_note = list(seeds), "the run's seeds (seeds.path)"
    seed_texts = [t.instruction for t in seed_tasks]
    generated = generated_stats(files)
    finetune, left_out = finetune_stats(files, seed_texts)
    texts = accepted_texts(files)
    return RunReport(
        run_dir=run_dir,
        files=files,
        generated=generated,
        finetune=finetune,
        seed_examples_left_out=left_out,
        rejections=rejections(files),
        drops=drops(files),
        usage=usage(files),
        similarity=similarity(files, seed_texts, seed_note) if texts else None,
        diversity=diversity(texts) if texts else None,
        seed_note=seed_note,
        notes=list(notes),
        audit=audit_summary(files),
        evaluation=evaluation_summary(files),
    )


# ---------------------------------------------------------------- Table 1


def table1_text(report: RunReport) -> str:
    """The Table 1 block for the terminal."""
    title = f"Table 1 -- {report.run_dir}"
    if report.generated is None and report.finetune is None:
        return f"{title}\n(no instructions.jsonl, instances.jsonl or finetune/alpaca.json: nothing to count)"
    headers, rows = table1_rows(report)
    lines = [title, text_table(headers, rows)]
    if report.similarity is not None:
        sim = report.similarity
        lines.append(f"mean ROUGE-L vs nearest seed: {fmt_float(sim.mean_seed, 3)}; "
                     f"nearest generated neighbour > {NEAR_THRESHOLD}: {fmt_share(sim.share_neighbour_above())}")
    if report.usage is not None:
        us = report.usage
        total = us.total
        scope = "every invocation" if us.all_invocations else "last invocation only, from metrics.json"
        lines.append(f"requests ({scope}): {fmt_int(total.requests) if total else '–'}; cost: "
                     f"{fmt_usd(total.cost_usd) if total else 'unknown'}; per 1,000 accepted: "
                     f"{cost_per_1000_text(us)}")
        if not us.cost_known:
            lines.append(COST_UNKNOWN)
    return "\n".join(lines)


def render_markdown(report: RunReport) -> str:
    """report.md's text (``selfinstruct.report.sections``: one function per section)."""
    return sections.render_markdown(report)


# ---------------------------------------------------------------- figures and files


def write_figures(report: RunReport) -> dict[str, Path]:
    """Every figure of the run; a simulated run's carry a watermark (figures.watermark)."""
    stamp = figures.SIMULATED_WATERMARK if report.files.m.get("simulated_model") else None
    with figures.watermark(stamp):
        return _write_figures(report)


def _write_figures(report: RunReport) -> dict[str, Path]:
    fig_dir = report.run_dir / FIGURES_DIR
    made: dict[str, Path] = {}
    label = report.run_dir.name
    sim = report.similarity
    if sim is not None:
        made["seed_rouge"] = figures.rouge_histogram(
            sim.seed_scores, fig_dir / FIG_SEED_ROUGE,
            title=f"ROUGE-L with the most similar seed ({len(sim.seed_scores):,} instructions)",
            xlabel="ROUGE-L F with the most similar seed instruction")
        threshold = report.files.cfg("filters.rouge.threshold")
        nb = sim.neighbour
        markers = [(NEAR_THRESHOLD, f"{fmt_share(sim.share_neighbour_above())} above {NEAR_THRESHOLD}")]
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
            markers.append((float(threshold), f"filter threshold {threshold:g}"))
        made["neighbour_rouge"] = figures.rouge_histogram(
            nb.scores, fig_dir / FIG_NEIGHBOUR_ROUGE,
            title=("ROUGE-L with the nearest other generated instruction"
                   + ("" if nb.exact else f" (sample of {nb.sampled:,})")),
            xlabel="ROUGE-L F with the most similar other accepted instruction", markers=markers)
    gen = report.generated
    if gen is not None:
        made["lengths"] = figures.length_histograms(
            gen.instruction_lengths, gen.input_lengths, gen.output_lengths, fig_dir / FIG_LENGTHS,
            suptitle=f"Length distributions of the generated data, in words ({label})")
    div = report.diversity
    if div is not None:
        top = div.verbs.most_common(TOP_VERBS)
        made["verbs"] = figures.verb_object_bars(
            top, {v: div.objects_of(v, TOP_OBJECTS) for v, _ in top}, fig_dir / FIG_VERBS,
            title=f"Top {len(top)} leading verbs and their most common objects")
    losses = [r for r in report.files.train_losses or [] if isinstance(r.get("loss"), (int, float))]
    if losses:
        made["train_loss"] = figures.loss_curve(
            [r.get("step", i) for i, r in enumerate(losses)], [r["loss"] for r in losses], fig_dir / FIG_TRAIN_LOSS,
            title=f"Training loss of {(report.files.train or {}).get('base_model', 'the base model')} + LoRA")
    ev = report.evaluation
    if ev is not None and ev.models:
        made["evaluation"] = evaluation_figure(ev, fig_dir / FIG_EVALUATION)
    report.figures = made
    return made


def evaluation_figure(ev: EvaluationSummary, path: Path) -> Path:
    """Figure 5: each evaluated model's ratings as one 100% bar."""
    labels = [f"{m.label} (n={m.rated:,})" for m in ev.models]
    shares = {level: [m.share(level) or 0.0 for m in ev.models] for level in (*LEVELS, UNPARSED)}
    judge = f" by {ev.judge}" if ev.judge else ""
    return figures.rating_bars(labels, shares, path, title=f"Responses rated{judge} (the paper's Figure 5)")


def write_report(report: RunReport) -> Path:
    """Write figures/*.png, then report.md (whole, via a rename)."""
    write_figures(report)
    path = report.run_dir / REPORT_FILE
    write_text_atomic(path, render_markdown(report))
    return path


def report_run(run_dir: Path, **kwargs: Any) -> RunReport:
    report = build_report(run_dir, **kwargs)
    write_report(report)
    html = write_html(run_dir, report.files)  # report.html: the run's data to browse (selfinstruct.report.html)
    log.info("report: wrote %s, %s and %d figures", run_dir / REPORT_FILE, html.name, len(report.figures))
    return report


def summary(report: RunReport) -> dict[str, Any]:
    """The numbers metrics.json's ``report`` section records."""
    sim = report.similarity
    div = report.diversity
    return {
        "path": REPORT_FILE,
        "figures": [f"{FIGURES_DIR}/{p.name}" for p in report.figures.values()],
        "mean_nearest_seed_rouge_l": sim.mean_seed if sim else None,
        "nearest_neighbour_above_0_5": sim.share_neighbour_above() if sim else None,
        "nearest_neighbour_exact": sim.neighbour.exact if sim else None,
        "distinct_1": div.distinct[1] if div else None,
        "distinct_2": div.distinct[2] if div else None,
        "cost_per_1000_accepted_usd": report.usage.cost_per_1000 if report.usage else None,
    }
