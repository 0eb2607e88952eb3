"""The quality audit of paper Table 2, with an LLM judge in place of the paper's expert annotators.

On a reproducible sample of the generated tasks (``sample_size`` tasks drawn with ``seed``, one
instance each, as the paper did), the judge answers three questions per instance: does the
instruction describe a valid task, is the input appropriate for it, is the output a correct and
acceptable response.  Verdicts go to audit.jsonl as they arrive (a rerun asks only what is
missing), then the file is put in sample order, so an interrupted run ends with the same file.

The audit looks at the instances the export would keep (the finetune stage's cleaning rules
applied first): auditing what cleaning drops anyway would spend money on nothing.  With
``filter: true`` every kept instance is audited and the finetune stage drops those judged invalid
(drop reason ``audit``).  A reply with no verdict for a question is counted as unparsed for that
question, never guessed, and never drops an instance.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from selfinstruct.data import RecordAppender, read_jsonl
from selfinstruct.errors import ConfigError
from selfinstruct.export.cleaning import CleaningLimits, clean_tasks
from selfinstruct.export.records import GeneratedTask, read_generated_tasks
from selfinstruct.llm.client import Completion
from selfinstruct.llm.models import ModelRef, judge_ref
from selfinstruct.parsing.judge import AUDIT_KEYS, parse_audit
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import StagePrompt
from selfinstruct.rundir import AUDIT_FILE, INSTANCES_FILE
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.stages.common import planned_tasks, read_required, usage_metrics, write_in_order
from selfinstruct.stages.requests import request_per_record

log = logging.getLogger(__name__)

REPLY_CHARS = 300  # how much of an unparsable reply audit.jsonl keeps, to show what the judge said


@dataclass(frozen=True)
class AuditItem:
    """One instance to audit: ``id`` is the task id, '#', the instance's index in the cleaned task."""

    id: str
    task_id: str
    instruction: str
    input: str
    output: str


def audit_items(tasks: list[GeneratedTask], sample_size: int | None, seed: int) -> list[AuditItem]:
    """The instances to audit, in task order: one random instance of each of ``sample_size`` random
    tasks (the paper's sampling), or every instance when ``sample_size`` is None."""
    def item(task: GeneratedTask, index: int) -> AuditItem:
        instance = task.instances[index]
        return AuditItem(f"{task.id}#{index}", task.id, task.instruction, instance.input, instance.output)

    if sample_size is None:
        return [item(task, i) for task in tasks for i in range(len(task.instances))]
    rng = random.Random(f"{seed}:audit")
    chosen = sorted(rng.sample(range(len(tasks)), min(sample_size, len(tasks))))
    return [item(tasks[t], rng.randrange(len(tasks[t].instances))) for t in chosen]


def verdict_record(item: AuditItem, reply: str) -> dict[str, Any]:
    """audit.jsonl's line for one judged instance (see /rundir AUDIT_FILE)."""
    verdicts = parse_audit(reply)
    answers = {key: verdicts[key].answer for key in AUDIT_KEYS}
    if any(a is False for a in answers.values()):
        all_valid: bool | None = False
    elif all(a is True for a in answers.values()):
        all_valid = True
    else:
        all_valid = None
    record: dict[str, Any] = {"id": item.id, "task_id": item.task_id, "instruction": item.instruction,
                              "input": item.input, "output": item.output, **answers, "all_valid": all_valid,
                              "reasons": {key: verdicts[key].reason for key in AUDIT_KEYS}}
    if any(a is None for a in answers.values()):
        record["reply"] = reply.strip()[:REPLY_CHARS]
    return record


class AuditStage(Stage):
    """Built from ``stages.audit`` (conf/stages/audit.yaml); the judge is ``judge.*``."""

    name = "audit"

    def __init__(self, template: str, sampling: Any = None, system: str | None = None, variables: Any = None,
                 sample_size: int = 200, seed: int = 0, filter: bool = False) -> None:  # noqa: A002 - the config key
        key = self.config_key
        if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
            raise ConfigError(f"{key}.sample_size: must be a whole number of at least 1, got {sample_size}")
        if not isinstance(filter, bool):
            raise ConfigError(f"{key}.filter: must be true or false, got {filter!r}")
        self.prompt = StagePrompt(key, template, system, sampling, variables)
        self.sampling: dict[str, Any] = self.prompt.sampling
        self.sample_size, self.seed, self.filter = sample_size, int(seed), filter

    def models(self, ctx: RunContext) -> list[ModelRef]:
        return [judge_ref(ctx.cfg)]

    def prepare(self, ctx: RunContext) -> None:
        self.template = self.prompt.load()
        self.limits = CleaningLimits.from_config(ctx.cfg.export.cleaning)
        self.template.check(**self._variables(AuditItem("t#0", "t", ctx.seeds[0].instruction, "", "")))

    @staticmethod
    def _variables(item: AuditItem) -> dict[str, Any]:
        return {"instruction": item.instruction, "input": item.input, "output": item.output}

    def _request(self, item: AuditItem) -> tuple[list[dict[str, str]], dict[str, Any]]:
        return self.prompt.messages(**self._variables(item)), self.sampling

    def plan(self, ctx: RunContext) -> StagePlan:
        tasks = planned_tasks(ctx)
        requests = tasks * ctx.cfg.schedule.max_instances_per_task if self.filter else min(self.sample_size, tasks)
        seed = ctx.seeds[0]
        sample = AuditItem("t#0", "t", seed.instruction, seed.instances[0].input, seed.instances[0].output)
        return StagePlan(requests=requests, sample_messages=self._request(sample)[0],
                         completion_tokens_each=int(self.sampling.get("max_tokens") or 160),
                         note="every instance (filter)" if self.filter else "sampled tasks, one instance each",
                         model=judge_ref(ctx.cfg))

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        path = ctx.run_dir / AUDIT_FILE
        read_required(ctx.run_dir / INSTANCES_FILE, self.name, "instances")
        tasks, _ = clean_tasks(read_generated_tasks(ctx.run_dir / INSTANCES_FILE), self.limits)
        items = audit_items(tasks, None if self.filter else self.sample_size, self.seed)
        # lines of an earlier invocation are kept only if they judged the same text (a merge or a
        # longer run may have changed what an id names)
        by_id = {item.id: item for item in items}
        done = {r["id"]: r for r in read_jsonl(path)
                if r.get("id") in by_id and _same_text(r, by_id[r["id"]])}
        pending = [item for item in items if item.id not in done]
        population = sum(len(t.instances) for t in tasks)
        log.info("audit: %d of %d instances (%s), %d already judged; judge %s", len(items), population,
                 "every instance" if self.filter else f"{self.sample_size} tasks sampled with seed {self.seed}",
                 len(done), judge_ref(ctx.cfg).name)

        out = RecordAppender(path)

        def keep(item: AuditItem, completion: Completion) -> None:
            record = verdict_record(item, completion.text)
            out.append(record)
            done[record["id"]] = record
            progress.update(len(done), ctx.judge)

        progress = StageProgress(self.name, len(items), done=len(done), unit="instance")
        try:
            unanswered = await request_per_record(ctx.judge, self.name, pending, self._request,
                                                  on_reply=keep)
        finally:
            out.close()
            progress.close()
        records = [done[item.id] for item in items if item.id in done]
        write_in_order(path, records)

        ctx.metrics.update(self.name, {
            "judge": judge_ref(ctx.cfg).name,
            "filter": self.filter,
            "sample_size": None if self.filter else self.sample_size,
            "seed": self.seed,
            "population": population,
            "audited": len(records),
            "unanswered": len(unanswered),
            "yes": {key: sum(r[key] is True for r in records) for key in AUDIT_KEYS},
            "unparsed": {key: sum(r[key] is None for r in records) for key in AUDIT_KEYS},
            "all_valid": sum(r["all_valid"] is True for r in records),
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        unparsed = sum(any(r[key] is None for key in AUDIT_KEYS) for r in records)
        if unparsed:
            log.warning("audit: %d judge replies had a question with no verdict (counted as unparsed, not guessed)",
                        unparsed)
        if unanswered:
            log.warning("audit: %d instances got no verdict (requests failed); rerun to ask again", len(unanswered))



def _same_text(record: dict[str, Any], item: AuditItem) -> bool:
    return (record.get("instruction"), record.get("input"), record.get("output")) == (
        item.instruction, item.input, item.output)
