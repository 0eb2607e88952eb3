"""One run's report: compute everything from the run directory, write report.md and figures/*.png."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from selfinstruct.data import Task
from selfinstruct.data import write_text_atomic
from selfinstruct.report import figures
from selfinstruct.report.load import RunFiles, load_run, load_run_seeds
from selfinstruct.report.stats import (
    NEAR_THRESHOLD,
    DataStats,
    Diversity,
    Drops,
    Rejections,
    Similarity,
    Usage,
    accepted_texts,
    diversity,
    drops,
    finetune_stats,
    generated_stats,
    rejections,
    similarity,
    usage,
)
from selfinstruct.report.tables import (
    fmt_counts,
    fmt_float,
    fmt_int,
    fmt_seconds,
    fmt_share,
    fmt_usd,
    md_table,
    text_table,
)

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
FIG_SEED_ROUGE = "rouge_nearest_seed.png"
FIG_NEIGHBOUR_ROUGE = "rouge_nearest_neighbour.png"
FIG_LENGTHS = "lengths.png"
FIG_VERBS = "verbs.png"
TOP_VERBS = 20
TOP_OBJECTS = 4
TOP_PAIRS = 25

# what a missing file costs the report, and which stage writes it
_MISSING_EFFECT = {
    "instructions.jsonl": "no accepted instructions to describe (the bootstrap stage writes it)",
    "rejected.jsonl": "rejections are taken from metrics.json, without scores (the bootstrap stage writes it)",
    "instances.jsonl": "no instance statistics (the instances stage writes it)",
    "finetune/alpaca.json": "no statistics of the cleaned fine-tuning data (the finetune stage writes it "
                            "when export.formats has alpaca)",
    "metrics.json": "no requests, tokens, cost or drop counts",
    "llm_calls.jsonl": "requests, tokens and cost are metrics.json's, which covers only the last invocation; "
                       "no per-call outcomes or latencies (written when a stage sends requests)",
    "run.json": "the run's invocations are unknown: the wall time is metrics.json's (the last invocation)",
    ".hydra/config.yaml": "the run's seeds and filter settings are unknown: the bundled seeds and defaults are used",
    ".hydra/overrides.yaml": "the run's command-line overrides are unknown",
}


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
        if "metrics.json" in files.missing:
            files.missing.remove("metrics.json")
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
    )


# ---------------------------------------------------------------- Table 1


def table1_rows(report: RunReport) -> tuple[list[str], list[list[str]]]:
    columns = [c for c in (report.generated, report.finetune) if c is not None]
    names = {"generated": "generated", "finetune": "fine-tuning data"}
    headers = ["statistic"] + [names["generated" if c is report.generated else "finetune"] for c in columns]

    def row(label: str, getter: Any, fmt: Any = fmt_int) -> list[str]:
        return [label] + [fmt(getter(c)) for c in columns]

    rows = [
        row("# of instructions", lambda c: c.instructions),
        row("  - # of classification instructions", lambda c: c.classification),
        row("  - # of non-classification instructions", lambda c: c.non_classification),
    ]
    if any(c.unlabelled for c in columns):
        rows.append(row("  - # not labelled (classify not run)", lambda c: c.unlabelled))
    rows += [
        row("# of instances", lambda c: c.instances),
        row("  - # of instances with empty input", lambda c: c.empty_input),
        row("ave. instruction length (in words)", lambda c: c.mean_instruction_words, fmt_float),
        row("ave. non-empty input length (in words)", lambda c: c.mean_input_words, fmt_float),
        row("ave. output length (in words)", lambda c: c.mean_output_words, fmt_float),
    ]
    return headers, rows


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


COST_UNKNOWN = ("cost unknown: the model's price is not known; set model.input_cost_per_token / "
                "model.output_cost_per_token")


def cost_per_1000_text(us: Usage) -> str:
    """'unknown' when the cost is; '–' when nothing was accepted to divide by."""
    if us.partial:
        return f"unknown (metrics.json covers only the last of {us.invocations} invocations)"
    if not us.cost_known:
        return "unknown"
    return fmt_usd(us.cost_per_1000) if us.cost_per_1000 is not None else "–"


def _usage_scope(us: Usage) -> str:
    """Which invocations the numbers cover, and where they come from."""
    if us.all_invocations:
        runs = ("" if us.invocations is None else
                f" ({us.invocations} invocation{'s' if us.invocations != 1 else ''} in run.json)")
        return (f"Totals over every invocation of this run{runs} from llm_calls.jsonl, one line per request "
                f"({us.calls:,} lines).")
    return ("From metrics.json, which describes only the **last invocation** of this run: there is no "
            "llm_calls.jsonl to total every invocation from.")


# ---------------------------------------------------------------- report.md


def _fmt_score(value: float | None) -> str:
    if value is None:
        return "–"
    return fmt_int(int(value)) if float(value).is_integer() else fmt_float(value, 3)


def _figure(report: RunReport, key: str, alt: str) -> str:
    path = report.figures.get(key)
    return f"![{alt}]({FIGURES_DIR}/{path.name})" if path else ""


def _sections(report: RunReport) -> list[str]:
    files = report.files
    m = files.m
    out: list[str] = []
    name = report.run_dir.name or str(report.run_dir)
    out.append(f"# Run report: `{name}`")
    meta = [f"- run directory: `{report.run_dir}`",
            f"- model: `{m.get('model', 'unknown')}`"]
    if m.get("simulated_model"):
        meta.append("- **simulated model** (the bundled loopback server): the numbers describe the pipeline, "
                    "not real data")
    if files.overrides is not None:
        meta.append("- overrides: " + (" ".join(f"`{o}`" for o in files.overrides) or "none"))
    meta.append(f"- seeds compared with: {report.seed_note}")
    meta.append(f"- written {datetime.now(timezone.utc).isoformat(timespec='seconds')} by `selfinstruct-report`")
    out.append("\n".join(meta))

    # Table 1
    out.append("## Statistics of the generated data (the paper's Table 1)")
    if report.generated is None and report.finetune is None:
        out.append("Nothing to count: no instructions.jsonl, instances.jsonl or finetune/alpaca.json.")
    else:
        headers, rows = table1_rows(report)
        out.append(md_table(headers, [[r[0].replace("  - ", "– ", 1)] + r[1:] for r in rows]))
        notes = []
        if report.generated is not None:
            notes.append(f"*generated*: every accepted instruction ({report.generated.source}), instances as the "
                         "model wrote them")
        if report.finetune is not None:
            left = (f"; {report.seed_examples_left_out:,} seed examples left out"
                    if report.seed_examples_left_out else "")
            notes.append(f"*fine-tuning data*: finetune/alpaca.json after the paper's cleaning and deduplication{left}")
        notes.append("lengths are whitespace-separated words; the input mean is over non-empty inputs")
        out.append("\n".join(f"- {n}" for n in notes))

    # rejections
    out.append("## Rejected candidates")
    rej = report.rejections
    if rej is None:
        out.append("No rejected.jsonl and no bootstrap section in metrics.json.")
    else:
        rows = [[r.reason, fmt_int(r.count), fmt_share(r.share), fmt_share(r.share_of_group),
                 _fmt_score(rej.median_score.get(r.reason))]
                for r in rej.rows]
        rows.append(["**all rejected**", fmt_int(rej.rejected), fmt_share(rej.rejected / rej.candidates
                                                                          if rej.candidates else None),
                     "100.0%" if rej.rejected else "–", ""])
        rows.append(["accepted", fmt_int(rej.accepted), fmt_share(rej.accepted / rej.candidates
                                                                 if rej.candidates else None), "", ""])
        out.append(f"{rej.candidates:,} candidates judged ({rej.source}); each rejection is counted under the "
                   "first filter that refused it.")
        out.append(md_table(["filter", "rejected", "share of candidates", "share of rejections",
                             "median score"], rows))
        out.append("- median score: the filter's measure where it records one (ROUGE-L F for `rouge`, "
                   "word count for `length`)")

    # drops
    out.append("## Instance cleaning (finetune)")
    dr = report.drops
    if dr is None:
        out.append("No finetune section in metrics.json: the finetune stage has not run.")
    else:
        out.append(f"{dr.instances_in:,} instances of {dr.tasks_in:,} tasks in; {fmt_int(dr.instances_out)} "
                   f"instances of {fmt_int(dr.tasks_out)} tasks kept.")
        if any(r.count for r in dr.instance_rows):
            out.append(md_table(["instance dropped because", "instances", "share of instances in",
                                 "share of drops"],
                                [[r.reason, fmt_int(r.count), fmt_share(r.share), fmt_share(r.share_of_group)]
                                 for r in dr.instance_rows if r.count]))
        if any(r.count for r in dr.task_rows):
            out.append(md_table(["task dropped because", "tasks", "share of tasks in", "share of drops"],
                                [[r.reason, fmt_int(r.count), fmt_share(r.share), fmt_share(r.share_of_group)]
                                 for r in dr.task_rows if r.count]))

    # usage
    out.append("## Requests, tokens and cost")
    us = report.usage
    if us is None:
        out.append("No metrics.json usage sections and no llm_calls.jsonl.")
    else:
        out.append(_usage_scope(us))
        rows = []
        for r in us.rows + ([us.total] if us.total else []):
            label = f"**{r.stage}**" if r is us.total else r.stage
            rows.append([label, fmt_int(r.requests), fmt_int(r.cache_hits), fmt_int(r.attempts_sent),
                         fmt_int(r.prompt_tokens), fmt_int(r.completion_tokens), fmt_usd(r.cost_usd),
                         fmt_int(r.retries), fmt_int(r.failed), fmt_int(r.truncated), fmt_seconds(r.wall_s)])
        if rows:
            out.append(md_table(["stage", "requests", "cache hits", "attempts sent", "prompt tokens",
                                 "completion tokens", "cost", "retries", "failed", "truncated", "wall time"], rows))
        facts = [
            f"accepted instructions: {fmt_int(us.accepted)}",
            f"cost (all stages): {fmt_usd(us.total.cost_usd) if us.total else 'unknown'}"
            + (" in the last invocation; the whole run's is unknown" if us.partial else ""),
            f"cost per 1,000 accepted instructions (all stages): {cost_per_1000_text(us)}",
            f"wall time: {fmt_seconds(us.wall_s)}" + (f" ({us.wall_note}; per-stage wall times are left out)"
                                                       if us.wall_note else ""),
            f"retries by kind: {fmt_counts(us.retries_by_kind)}",
            f"failed requests by kind: {fmt_counts(us.failed_by_kind)}",
        ]
        stopped = us.stopped
        if isinstance(stopped, dict) and stopped.get("reason"):
            facts.append(f"**stopped early**: {stopped.get('reason')} ({stopped.get('detail', '')})")
        else:
            facts.append("stopped early: no")
        if us.calls is not None:
            latency = (f"latency of calls not served by the cache: p50 {fmt_seconds(us.latency_p50)}, "
                       f"p95 {fmt_seconds(us.latency_p95)}" if us.latency_p50 is not None
                       else "every call was served by the cache")
            facts.append(f"llm_calls.jsonl: {us.calls:,} calls; outcomes: {fmt_counts(us.outcomes)}; {latency}")
        facts += report.notes
        if not us.cost_known:
            detail = (f" ({us.unpriced:,} of the {us.paid:,} requests the model answered have no price)"
                      if us.paid is not None else "")
            facts.append(f"**{COST_UNKNOWN}**{detail}")
        out.append("\n".join(f"- {f}" for f in facts))

    # similarity
    out.append("## Similarity to the seeds and among the instructions")
    sim = report.similarity
    if sim is None:
        out.append("No accepted instructions.")
    else:
        nb = sim.neighbour
        how = (f"exact, all {nb.total:,} instructions against each other" if nb.exact else
               f"estimated: {nb.sampled:,} instructions drawn at random, each compared with all {nb.total:,}")
        out.append("\n".join([
            f"- ROUGE-L F of each accepted instruction with its most similar seed instruction ({sim.seeds:,} "
            f"seeds): mean {fmt_float(sim.mean_seed, 3)}, median {fmt_float(sim.median_seed, 3)}; "
            f"above {NEAR_THRESHOLD}: {fmt_share(sim.share_seed_above())}",
            f"- nearest neighbour among the accepted instructions (leave-one-out, {how}): mean "
            f"{fmt_float(sim.mean_neighbour, 3)}; **share above {NEAR_THRESHOLD}: "
            f"{fmt_share(sim.share_neighbour_above())}**",
            f"- scores are the ROUGE-L filter's own (rouge-score's tokens, exact LCS"
            f"{', Porter stemming' if sim.use_stemmer else ''})",
        ]))
        out.append(_figure(report, "seed_rouge", "ROUGE-L with the most similar seed"))
        out.append(_figure(report, "neighbour_rouge", "ROUGE-L with the nearest other instruction"))

    # lengths
    out.append("## Lengths (the paper's Figure 4)")
    if report.generated is None:
        out.append("No instructions or instances.")
    else:
        out.append(_figure(report, "lengths", "length distributions"))

    # diversity
    out.append("## Diversity")
    div = report.diversity
    if div is None:
        out.append("No accepted instructions.")
    else:
        out.append("\n".join([
            "- distinct-n over the instructions (distinct n-grams / all n-grams): "
            + ", ".join(f"distinct-{n} {fmt_float(v, 3)}" for n, v in div.distinct.items()),
            f"- leading verb found in {div.with_verb:,} of {div.instructions:,} instructions "
            f"({fmt_share(div.with_verb / div.instructions if div.instructions else None)}), with a direct object "
            f"in {div.with_verb_object:,} "
            f"({fmt_share(div.with_verb_object / div.instructions if div.instructions else None)}); "
            f"{len(div.verbs):,} distinct verbs, {len(div.pairs):,} distinct verb-object pairs",
            "- the verb is the first word of an imperative (after lead-ins such as \"Please\", \"Can you\", "
            "\"Given ..., \"); the object is the head of the noun phrase after it: a light offline heuristic "
            "standing in for the paper's parser",
        ]))
        out.append(_figure(report, "verbs", "leading verbs and their objects"))
        verb_rows = [[v, fmt_int(n), fmt_share(n / div.instructions),
                      ", ".join(f"{o} ({k})" for o, k in div.objects_of(v, TOP_OBJECTS)) or "–"]
                     for v, n in div.verbs.most_common(TOP_VERBS)]
        if verb_rows:
            out.append(md_table(["leading verb", "instructions", "share", "most common objects"], verb_rows,
                                "lrrl"))
        pair_rows = [[f"{v} {o}", fmt_int(n), fmt_share(n / div.instructions)]
                     for (v, o), n in div.pairs.most_common(TOP_PAIRS)]
        if pair_rows:
            out.append(md_table(["verb-object pair", "instructions", "share"], pair_rows))

    # missing
    missing = [n for n in files.missing if n in _MISSING_EFFECT]
    out.append("## Missing files")
    if missing or files.problems:
        lines = [f"- `{n}`: {_MISSING_EFFECT[n]}" for n in missing]
        lines += [f"- {p}" for p in files.problems]
        out.append("\n".join(lines))
    else:
        out.append("None: every file the report reads was found.")
    return [s for s in out if s]


def render_markdown(report: RunReport) -> str:
    return "\n\n".join(_sections(report)) + "\n"


# ---------------------------------------------------------------- figures and files


def write_figures(report: RunReport) -> dict[str, Path]:
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
    report.figures = made
    return made


def write_report(report: RunReport) -> Path:
    """Write figures/*.png, then report.md (whole, via a rename)."""
    write_figures(report)
    path = report.run_dir / REPORT_FILE
    write_text_atomic(path, render_markdown(report))
    return path


def report_run(run_dir: Path, **kwargs: Any) -> RunReport:
    report = build_report(run_dir, **kwargs)
    write_report(report)
    log.info("report: wrote %s and %d figures", run_dir / REPORT_FILE, len(report.figures))
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
