"""Merge shards: their accepted instructions, filtered again against one global pool.

Each shard filtered against its own pool only, so two shards can accept near-duplicates of each
other.  The merge streams every input's committed instructions, inputs in the order given (a
Hydra sweep directory stands for its jobs in job order), through the run's filters with the
seeds and every earlier kept instruction as the pool: the paper's greedy rule, exact (the ROUGE-L
index), deterministic.  Kept tasks are renumbered; what the inputs already know about them
(classify answers, instances) comes along, so the later stages only do what is missing.  A merge
rerun on its own directory also keeps what that directory's later stages found for every task it
keeps again (same instruction text), as any other stage resumes; instructions.jsonl is the same.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from selfinstruct.data import read_jsonl, write_jsonl_atomic
from selfinstruct.errors import ConfigError
from selfinstruct.filters.base import InstructionFilter, first_rejection
from selfinstruct.filters.build import build_filters
from selfinstruct.rundir import CLASSIFY_FILE, INSTANCES_FILE, INSTRUCTIONS_FILE, REJECTED_FILE, ROUNDS_FILE
from selfinstruct.stages.base import RunContext, Stage
from selfinstruct.stages.bootstrap import accepted_record

log = logging.getLogger(__name__)

MERGE_ROUND = 0  # merged records form round 0: a bootstrap after the merge tops the pool up from round 1


def resolve_inputs(inputs: list[str], run_dir: Path) -> list[Path]:
    """Run directories to merge, in order; a sweep directory expands to its job directories (0, 1, ...)."""
    if not inputs:
        raise ConfigError("merge.inputs: list the run directories to merge, e.g. merge.inputs=[DIR1,DIR2] "
                          "(a sweep directory stands for all its jobs)")
    resolved: list[Path] = []
    for i, name in enumerate(inputs):
        path = Path(name).expanduser().resolve()
        where = f"merge.inputs[{i}]={name}"
        if not path.is_dir():
            raise ConfigError(f"{where}: no such directory")
        if (path / INSTRUCTIONS_FILE).is_file():
            resolved.append(path)
            continue
        jobs = sorted((p for p in path.iterdir() if p.name.isdigit() and (p / INSTRUCTIONS_FILE).is_file()),
                      key=lambda p: int(p.name))
        if not jobs:
            raise ConfigError(f"{where}: has no {INSTRUCTIONS_FILE} (not a run directory, nor a sweep of them)")
        resolved.extend(jobs)
    if run_dir.resolve() in resolved:
        raise ConfigError(f"merge.inputs: {run_dir} is this run's own directory; merge into a new one")
    if len(set(resolved)) != len(resolved):
        raise ConfigError("merge.inputs: a run directory is listed twice")
    return resolved


def committed_instructions(run: Path) -> list[dict[str, Any]]:
    """A run's accepted instructions of finished rounds only (a shard still running or killed has a tail)."""
    records = read_jsonl(run / INSTRUCTIONS_FILE)
    ledger = read_jsonl(run / ROUNDS_FILE)
    if not ledger:
        return records
    last = max(r["round"] for r in ledger)
    return [r for r in records if r.get("round", 0) <= last]


def own_results(run_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Classify answers and instances this run directory already has, by instruction text.

    Classify answers name only an id, read through instructions.jsonl; instances name their text.  If
    the two disagree about an id, a merge was cut off between rewriting them: the answers cannot be
    placed and are asked again (instances, which carry their text, are kept either way).
    """
    texts = {r["id"]: r["instruction"] for r in read_jsonl(run_dir / INSTRUCTIONS_FILE)}
    tasks = {r["instruction"]: r for r in read_jsonl(run_dir / INSTANCES_FILE) if isinstance(r.get("instruction"), str)}
    if any(texts.get(t["id"], text) != text for text, t in tasks.items()):
        log.warning("merge: %s and %s of %s are out of step (an earlier merge was cut off); its classify "
                    "answers are asked again", INSTRUCTIONS_FILE, INSTANCES_FILE, run_dir)
        return {}, tasks
    answers = {texts[r["id"]]: r for r in read_jsonl(run_dir / CLASSIFY_FILE) if r.get("id") in texts}
    return answers, tasks


class MergeStage(Stage):
    name = "merge"
    needs_llm = False

    def prepare(self, ctx: RunContext) -> None:
        self.inputs = resolve_inputs(list(ctx.cfg.merge.inputs), ctx.run_dir)
        self.filters: dict[str, InstructionFilter] = build_filters(ctx.cfg.filters)

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        for flt in self.filters.values():
            flt.add_all(task.instruction for task in ctx.seeds)
        kept: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        per_input: list[dict[str, Any]] = []
        reasons: Counter = Counter()
        own_answers, own_tasks = own_results(ctx.run_dir)  # read before any file here is rewritten
        kept_answers = kept_tasks = 0
        for run in self.inputs:
            records = committed_instructions(run)
            known_answers = {r["id"]: r for r in read_jsonl(run / CLASSIFY_FILE)}
            known_tasks = {r["id"]: r for r in read_jsonl(run / INSTANCES_FILE)}
            kept_here = 0
            for record in records:
                text = record["instruction"]
                source = {"run": str(run), "id": record["id"]}
                reason, verdict = first_rejection(self.filters, text)
                if reason is not None:
                    reasons[reason] += 1
                    rejected.append({"instruction": text, "reason": reason, "score": verdict.score,
                                     "round": MERGE_ROUND, "source": source})
                    continue
                for flt in self.filters.values():
                    flt.add(text)
                merged = accepted_record(len(kept), text, MERGE_ROUND, verdict)
                merged["is_classification"] = record.get("is_classification")
                merged["source"] = source
                kept.append(merged)
                kept_here += 1
                # the inputs' answers first (instructions.jsonl says what they say), else this directory's own
                answer = known_answers.get(record["id"])
                if answer is None and text in own_answers:
                    answer = own_answers[text]
                    kept_answers += 1
                if answer is not None:
                    answers.append({**answer, "id": merged["id"]})
                task = known_tasks.get(record["id"])
                own = own_tasks.get(text)
                if task is None and own is not None and (answer is None or
                                                         own.get("is_classification") == answer["is_classification"]):
                    task = own  # made for the label this task has now
                    kept_tasks += 1
                if task is not None:
                    tasks.append({**task, "id": merged["id"]})
            per_input.append({"run": str(run), "instructions": len(records), "kept": kept_here})
            log.info("merge: %s: %d of %d kept", run, kept_here, len(records))

        # every file is rewritten whole: merging again gives the same bytes
        write_jsonl_atomic(ctx.run_dir / INSTRUCTIONS_FILE, kept)
        write_jsonl_atomic(ctx.run_dir / REJECTED_FILE, rejected)
        write_jsonl_atomic(ctx.run_dir / CLASSIFY_FILE, answers)
        write_jsonl_atomic(ctx.run_dir / INSTANCES_FILE, tasks)
        write_jsonl_atomic(ctx.run_dir / ROUNDS_FILE, [{"round": MERGE_ROUND, "requests": 0, "accepted": len(kept),
                                                       "rejected": len(rejected), "merged": len(self.inputs)}])
        ctx.metrics.update(self.name, {
            "inputs": per_input,
            "instructions": sum(i["instructions"] for i in per_input),
            "accepted": len(kept),
            "rejected": dict(reasons),
            "carried_classify_answers": len(answers),
            "carried_instances": len(tasks),
            "kept_classify_answers": kept_answers,  # of those carried, what this directory already had
            "kept_instances": kept_tasks,
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        if kept_answers or kept_tasks:
            log.info("merge: kept %d classify answers and %d tasks' instances %s already had",
                     kept_answers, kept_tasks, ctx.run_dir)
        log.info("merge: %d instructions from %d runs, %d kept, %d rejected (%s)", sum(i["instructions"] for i in per_input),
                 len(self.inputs), len(kept), len(rejected), dict(reasons) or "none")
