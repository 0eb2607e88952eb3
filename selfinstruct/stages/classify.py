"""Stage 2: ask, with a few-shot prompt, whether each accepted instruction is a classification task.

Answers are appended to classify.jsonl as they arrive (a rerun asks only what is missing), then
merged into instructions.jsonl as ``is_classification``.  An answer that is neither Yes nor No
counts as No (input-first instances are the safe default) and is counted in metrics.json.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from selfinstruct.errors import ConfigError
from selfinstruct.data import append_jsonl, read_jsonl, write_jsonl_atomic
from selfinstruct.llm.client import Completion
from selfinstruct.parsing import parse_yes_no
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import StagePrompt
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.rundir import CLASSIFY_FILE, INSTRUCTIONS_FILE
from selfinstruct.stages.common import planned_tasks as _planned_tasks, read_required, rewrite_in_order, usage_metrics
from selfinstruct.stages.demos import classify_demos, load_demo_tasks
from selfinstruct.stages.requests import request_per_record

log = logging.getLogger(__name__)

_DEFAULT_DEMOS = 30


class ClassifyStage(Stage):
    """Built from ``stages.classify`` (conf/stages/classify.yaml)."""

    name = "classify"

    def __init__(self, template: str, sampling: Any = None, system: str | None = None, variables: Any = None,
                 demos_path: str | None = None, num_demos: int | None = None) -> None:
        key = self.config_key
        if num_demos is not None and (isinstance(num_demos, bool) or not isinstance(num_demos, int) or num_demos < 1):
            raise ConfigError(f"{key}.num_demos: must be null or a whole number of at least 1, got {num_demos}")
        self.prompt = StagePrompt(key, template, system, sampling, variables)
        self.sampling: dict[str, Any] = self.prompt.sampling
        self.variables: dict[str, Any] = self.prompt.variables
        self.demos_path, self.num_demos = demos_path, num_demos

    def prepare(self, ctx: RunContext) -> None:
        self.template = self.prompt.load()
        tasks = load_demo_tasks(self.demos_path, f"{self.config_key}.demos_path")
        self.demos = classify_demos(tasks, self.num_demos or _DEFAULT_DEMOS)
        # render once as _request will: a template error fails here, before any request
        self.template.check(demos=self.demos, instruction=ctx.seeds[0].instruction, **self.variables)

    def _request(self, record: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        return self.prompt.messages(demos=self.demos, instruction=record["instruction"]), self.sampling

    def plan(self, ctx: RunContext) -> StagePlan | None:
        return StagePlan(
            requests=_planned_tasks(ctx),
            sample_messages=self._request({"instruction": ctx.seeds[0].instruction})[0],
            completion_tokens_each=min(self.sampling.get("max_tokens") or 2, 2),
        )

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        instructions_path = ctx.run_dir / INSTRUCTIONS_FILE
        answers_path = ctx.run_dir / CLASSIFY_FILE
        instructions = read_required(instructions_path, self.name, "bootstrap")
        answers = {r["id"]: r for r in read_jsonl(answers_path)}
        pending = [r for r in instructions if r["id"] not in answers]
        log.info("classify: %d instructions, %d already answered", len(instructions), len(instructions) - len(pending))

        def record_batch(done: list[tuple[dict[str, Any], Completion]]) -> None:
            new = []
            for record, completion in done:
                verdict = parse_yes_no(completion.text)
                new.append({"id": record["id"], "is_classification": bool(verdict), "parsed": verdict is not None,
                            "answer": completion.text.strip()[:80]})
            append_jsonl(answers_path, new)
            answers.update((r["id"], r) for r in new)
            progress.update(len(answers), ctx.llm)

        progress = StageProgress(self.name, len(instructions), done=len(answers), unit="instruction")
        unanswered = await request_per_record(ctx.llm, self.name, pending, self._request, record_batch)
        progress.close()
        for record in instructions:
            answer = answers.get(record["id"])
            record["is_classification"] = answer["is_classification"] if answer else None
        write_jsonl_atomic(instructions_path, instructions)
        rewrite_in_order(answers_path, [answers[r["id"]] for r in instructions if r["id"] in answers])

        labels = [r["is_classification"] for r in instructions]
        ctx.metrics.update(self.name, {
            "instructions": len(instructions),
            "classification": sum(label is True for label in labels),
            "non_classification": sum(label is False for label in labels),
            "unanswered": len(unanswered),
            "unparsed_answers": sum(not a["parsed"] for a in answers.values()),
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        if unanswered:
            log.warning("classify: %d instructions got no answer (requests failed); rerun to ask again", len(unanswered))
