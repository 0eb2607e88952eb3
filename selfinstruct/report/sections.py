"""The sections of report.md, one function each: ``SECTIONS`` lists them in the order they appear.

Each section takes the ``RunReport`` (everything already computed, see ``selfinstruct.report.run``)
and returns its Markdown blocks (a heading, then paragraphs, lists, tables, figures; empty strings
are dropped); ``render_markdown`` joins every section's blocks with blank lines.  A new section is a
function here and an entry in ``SECTIONS``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from selfinstruct.report.judge import (
    ALL_VALID,
    LEVELS,
    QUESTION_LABELS,
    RUBRIC,
    UNPARSED,
    ModelRatings,
    Verdicts,
    audit_scope,
    missing_judge_files,
)
from selfinstruct.report.stats import NEAR_THRESHOLD
from selfinstruct.report.tables import fmt_counts, fmt_float, fmt_int, fmt_seconds, fmt_share, fmt_usd, md_table
from selfinstruct.report.usage import Usage, per_1000_accepted
from selfinstruct.rundir import (
    ALPACA_FILE,
    FIGURES_DIR,
    HYDRA_CONFIG_FILE,
    HYDRA_OVERRIDES_FILE,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    LLM_CALLS_FILE,
    METRICS_FILE,
    REJECTED_FILE,
    RUN_FILE,
)

if TYPE_CHECKING:
    from selfinstruct.report.run import RunReport

TOP_VERBS = 20
TOP_OBJECTS = 4
TOP_PAIRS = 25

# what a missing file costs the report, and which stage writes it
_MISSING_EFFECT = {
    INSTRUCTIONS_FILE: "no accepted instructions to describe (the bootstrap stage writes it)",
    REJECTED_FILE: "rejections are taken from metrics.json, without scores (the bootstrap stage writes it)",
    INSTANCES_FILE: "no instance statistics (the instances stage writes it)",
    ALPACA_FILE: "no statistics of the cleaned fine-tuning data (the finetune stage writes it "
                 "when export.formats has alpaca)",
    METRICS_FILE: "no requests, tokens, cost or drop counts",
    LLM_CALLS_FILE: "requests, tokens and cost are metrics.json's, which covers only the last invocation; "
                    "no per-call outcomes or latencies (written when a stage sends requests)",
    RUN_FILE: "the run's invocations are unknown: the wall time is metrics.json's (the last invocation)",
    HYDRA_CONFIG_FILE: "the run's seeds and filter settings are unknown: the bundled seeds and defaults are used",
    HYDRA_OVERRIDES_FILE: "the run's command-line overrides are unknown",
}


def table1_rows(report: RunReport) -> tuple[list[str], list[list[str]]]:
    """Table 1's headers and rows, one column per dataset there is (report.md and the terminal)."""
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


# ---------------------------------------------------------------- helpers


def _fmt_score(value: float | None) -> str:
    if value is None:
        return "–"
    return fmt_int(int(value)) if float(value).is_integer() else fmt_float(value, 3)


def _figure(report: RunReport, key: str, alt: str) -> str:
    path = report.figures.get(key)
    return f"![{alt}]({FIGURES_DIR}/{path.name})" if path else ""


# ---------------------------------------------------------------- the sections


def header(report: RunReport) -> list[str]:
    """The title and the run's facts: directory, model, overrides, seeds, when written."""
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
    return out


def table1(report: RunReport) -> list[str]:
    """The paper's Table 1 over the generated data and the fine-tuning data."""
    out: list[str] = []
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
    return out


def rejections(report: RunReport) -> list[str]:
    """Rejected candidates per filter (bootstrap)."""
    out: list[str] = []
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
    return out


def instance_cleaning(report: RunReport) -> list[str]:
    """What the finetune stage's cleaning dropped."""
    out: list[str] = []
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
    return out


def _ci(row: Verdicts) -> str:
    ci = row.ci
    return f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%" if ci else "–"


def _unparsed_line(n: int) -> str:
    return f"**{n:,} judge repl{'y' if n == 1 else 'ies'} could not be parsed (counted, not guessed)**" if n else ""


def audit(report: RunReport) -> list[str]:
    """The judge's three yes/no questions over the audited instances (the paper's Table 2)."""
    au = report.audit
    if au is None:
        return []
    out = ["## Data quality audit (paper Table 2)"]
    judge = f" (`{au.judge}`)" if au.judge else ""
    facts = [f"{au.audited:,} instances audited: {audit_scope(au)}"
             + (f"; {au.unanswered:,} got no reply and are not counted" if au.unanswered else ""),
             f"the judge is an LLM{judge}, not the paper's expert annotators (the paper: 200 instances)"]
    if au.filter and au.finetune_dropped is not None:
        facts.append(f"the finetune stage left out {au.finetune_dropped:,} instances the judge refused "
                     "(stages.audit.filter=true; drop reason `audit`)")
    out.append("\n".join(f"- {f}" for f in facts))
    rows = [[("**all three**" if r.question == ALL_VALID else QUESTION_LABELS[r.question]), fmt_int(r.yes),
             fmt_share(r.share), _ci(r), fmt_int(r.unparsed), fmt_share(r.paper, 0)] for r in au.rows]
    out.append(md_table(["question", "yes", "share", "95% CI", "unparsed", "paper"], rows))
    out.append("- share: yes among the verdicts the judge gave (an unparsed one is neither yes nor no); "
               "95% CI: Wilson score interval")
    out.append(_unparsed_line(au.unparsed_replies))
    return out


def _rating_cell(m: ModelRatings, level: str) -> str:
    n = m.counts[level]
    return f"{n:,} ({fmt_share(m.share(level))})"


def _model_cell(m: ModelRatings) -> str:
    return f"{m.label} (`{m.name}`)" if m.name and m.name != m.label else m.label


def evaluation(report: RunReport) -> list[str]:
    """Each evaluated model's responses rated A-D by the judge (the paper's Figure 5)."""
    ev = report.evaluation
    if ev is None:
        return []
    out = ["## Evaluation (paper Figure 5)"]
    scope = (f"{fmt_int(ev.instances)} instances of {fmt_int(ev.tasks)} tasks"
             if ev.instances is not None or ev.tasks is not None else "the evaluation tasks")
    judge = f" (`{ev.judge}`)" if ev.judge else ""
    out.append(f"Each model answered {scope}; an LLM judge{judge} rated every response.")
    if not ev.models:
        out.append("evaluation.jsonl has no ratings yet.")
        return out
    rows = [[_model_cell(m), fmt_int(m.rated)] + [_rating_cell(m, lv) for lv in (*LEVELS, UNPARSED)]
            + [fmt_share(m.acceptable), fmt_int(m.unanswered)] for m in ev.models]
    out.append(md_table(["model", "rated", "A", "B", "C", "D", "unparsed", "A or B", "unanswered"], rows))
    out.append("Rating: " + "; ".join(f"**{lv}** {RUBRIC[lv]}" for lv in LEVELS)
               + ". Shares are of the rated responses, unparsed included; unanswered responses (no reply) "
               "are not rated.")
    out.append(_unparsed_line(ev.unparsed))
    out.append(_figure(report, "evaluation", "ratings of each model's responses"))
    return out


def usage(report: RunReport) -> list[str]:
    """Requests, tokens and cost, per stage and in all."""
    out: list[str] = []
    out.append("## Requests, tokens and cost")
    us = report.usage
    if us is None:
        out.append("No metrics.json usage sections and no llm_calls.jsonl.")
    else:
        out.append(_usage_scope(us))
        rows = []
        per_1000 = per_1000_accepted(us)
        for r in us.rows + ([us.total] if us.total else []):
            label = f"**{r.stage}**" if r is us.total else r.stage
            scaled = (per_1000 or {}).get("stages", {}).get(r.stage) if r is not us.total else \
                (per_1000 or {}).get("total")
            rows.append([label, fmt_int(r.requests), fmt_int(r.cache_hits), fmt_int(r.attempts_sent),
                         fmt_int(r.prompt_tokens), fmt_int(r.completion_tokens), fmt_usd(r.cost_usd),
                         fmt_int(round(scaled["prompt_tokens"] + scaled["completion_tokens"])) if scaled else "–",
                         fmt_usd(scaled["cost_usd"]) if scaled else "–",
                         fmt_int(r.retries), fmt_int(r.failed), fmt_int(r.truncated), fmt_seconds(r.wall_s)])
        if rows:
            out.append(md_table(["stage", "requests", "cache hits", "attempts sent", "prompt tokens",
                                 "completion tokens", "cost", "tokens / 1K accepted", "cost / 1K accepted",
                                 "retries", "failed", "truncated", "wall time"], rows))
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
    return out


def similarity(report: RunReport) -> list[str]:
    """ROUGE-L with the nearest seed and among the accepted instructions."""
    out: list[str] = []
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
    return out


def lengths(report: RunReport) -> list[str]:
    """The length distributions (the paper's Figure 4)."""
    out: list[str] = []
    out.append("## Lengths (the paper's Figure 4)")
    if report.generated is None:
        out.append("No instructions or instances.")
    else:
        out.append(_figure(report, "lengths", "length distributions"))
    return out


def diversity(report: RunReport) -> list[str]:
    """distinct-n, leading verbs and verb-object pairs."""
    out: list[str] = []
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
    return out


def missing_files(report: RunReport) -> list[str]:
    """Which files were missing or unreadable, and what that costs the report."""
    files = report.files
    out: list[str] = []
    missing = [n for n in files.missing if n in _MISSING_EFFECT]
    judge_missing = missing_judge_files(files)
    out.append("## Missing files")
    if missing or judge_missing or files.problems:
        lines = [f"- `{n}`: {_MISSING_EFFECT[n]}" for n in missing]
        lines += [f"- {line}" for line in judge_missing]
        lines += [f"- {p}" for p in files.problems]
        out.append("\n".join(lines))
    else:
        out.append("None: every file the report reads was found.")
    return out


Section = Callable[["RunReport"], list[str]]

# report.md, top to bottom
def training(report: RunReport) -> list[str]:
    """What the train stage did (train.json): the tuned model the evaluation compares with its base."""
    record = report.files.train
    if not record:
        return []
    out = ["## Fine-tuning (paper section 2.3)"]
    backend = record.get("backend")
    rows = [["backend", "a provider's fine-tuning API" if backend == "provider" else "local LoRA (TRL + PEFT)"],
            ["base model", f"`{record.get('base_model')}`"],
            ["status", str(record.get("status"))],
            ["tuned model", f"`{record['tuned_model']}`" if record.get("tuned_model") else "–"],
            ["examples", fmt_int(record.get("examples"))],
            ["epochs", str(record.get("epochs"))]]
    if backend == "provider":
        rows += [["job", f"`{record.get('job_id')}`" if record.get("job_id") else "–"],
                 ["trained tokens", fmt_int(record.get("trained_tokens"))],
                 ["cost", fmt_usd(record["cost_usd"]) if record.get("cost_usd") is not None else
                  (f"about {fmt_usd(record['estimated_cost_usd'])} (estimate)"
                   if record.get("estimated_cost_usd") is not None else "unknown")]]
    else:
        rows += [["steps", fmt_int(record.get("steps"))],
                 ["final training loss", fmt_float(record.get("train_loss"), 4)],
                 ["compute time", fmt_seconds(record.get("compute_s"))]]
    if record.get("error"):
        rows.append(["error", str(record["error"])])
    out.append(md_table(["", "train.json"], rows, align="ll"))
    out.append(_figure(report, "train_loss", "training loss by step"))
    return out


SECTIONS: tuple[Section, ...] = (header, table1, rejections, instance_cleaning, audit, training, evaluation, usage,
                                 similarity, lengths, diversity, missing_files)


def render_markdown(report: RunReport) -> str:
    """report.md's text: every section's blocks, blank lines between them."""
    return "\n\n".join(block for section in SECTIONS for block in section(report) if block) + "\n"
