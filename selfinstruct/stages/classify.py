"""Stage 2: ask, with a few-shot prompt, whether each accepted instruction is a classification task.

Answers are appended to classify.jsonl as they arrive (a rerun asks only what is missing), then
merged into instructions.jsonl as ``is_classification``.  An answer that is neither Yes nor No
counts as No (input-first instances are the safe default) and is counted in metrics.json.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from selfinstruct.config import to_plain
from selfinstruct.data import append_jsonl, read_jsonl, write_jsonl_atomic
from selfinstruct.llm.client import Completion
from selfinstruct.parsing import parse_yes_no
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import PromptTemplate
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.stages.common import INSTRUCTIONS_FILE, planned_tasks as _planned_tasks, read_required, rewrite_in_order, usage_metrics
from selfinstruct.stages.demos import classify_demos, load_demo_tasks
from selfinstruct.stages.requests import request_per_record

log = logging.getLogger(__name__)

CLASSIFY_FILE = "classify.jsonl"
_DEFAULT_DEMOS = 30


class ClassifyStage(Stage):
    name = "classify"

    def prepare(self, ctx: RunContext) -> None:
        prompt = ctx.cfg.prompts.classify
        self.enabled = prompt is not None
        if not self.enabled:
            return
        self.template = PromptTemplate(prompt.template, "prompts.classify.template")
        tasks = load_demo_tasks(prompt.demos_path, "prompts.classify.demos_path")
        self.demos = classify_demos(tasks, prompt.num_demos or _DEFAULT_DEMOS)
        self.system = prompt.system
        self.sampling: dict[str, Any] = to_plain(prompt.sampling)
        self.variables: dict[str, Any] = to_plain(prompt.variables)
        # render once as _request will: a template error fails here, before any request
        self.template.check(demos=self.demos, instruction=ctx.seeds[0].instruction, **self.variables)

    def _request(self, record: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        content = self.template.render(demos=self.demos, instruction=record["instruction"], **self.variables)
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": content})
        return messages, self.sampling

    def plan(self, ctx: RunContext) -> StagePlan | None:
        if not self.enabled:
            return None
        return StagePlan(
            requests=_planned_tasks(ctx),
            sample_messages=self._request({"instruction": ctx.seeds[0].instruction})[0],
            completion_tokens_each=min(self.sampling.get("max_tokens") or 2, 2),
        )

    async def run(self, ctx: RunContext) -> None:
        if not self.enabled:
            log.info("classify: skipped (the %s recipe has no classify prompt)", ctx.cfg.prompts.recipe)
            return
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
