"""Stage 2: ask, with a few-shot prompt, whether each accepted instruction is a classification task.

Answers are appended to classify.jsonl as they arrive (a rerun asks only what is missing), then
merged into instructions.jsonl as ``is_classification``.  An answer that is neither Yes nor No
counts as No (input-first instances are the safe default) and is counted in metrics.json.

With ``pack`` K > 1 the unanswered instructions are taken K at a time, in instruction order, and each
group is one request with ``packed_template``: the same demonstrations first (the fixed part, so a
provider's prefix cache serves it), then the K numbered instructions, answered one "N. Yes" / "N. No"
line each. Items the reply does not answer clearly are asked again one by one with ``template``, so
every instruction gets an answer as with K = 1. classify.jsonl keeps one line per instruction; with
K > 1 each line also says whether it was answered ``packed``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from selfinstruct.errors import ConfigError
from selfinstruct.data import append_jsonl, read_jsonl, write_jsonl_atomic
from selfinstruct.llm.client import Completion
from selfinstruct.parsing import parse_packed_answers, parse_yes_no
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import PromptTemplate, StagePrompt, chat_messages, sampling_params
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.rundir import CLASSIFY_FILE, INSTRUCTIONS_FILE
from selfinstruct.stages.common import planned_tasks as _planned_tasks, read_required, rewrite_in_order, usage_metrics
from selfinstruct.stages.demos import classify_demos, load_demo_tasks
from selfinstruct.stages.requests import request_packed, request_per_record

log = logging.getLogger(__name__)

_DEFAULT_DEMOS = 30
# packed_sampling.max_tokens null: this many per instruction ("10. Yes" and a newline) plus _PACKED_SLACK
_PACKED_TOKENS_PER_ITEM = 4
_PACKED_SLACK = 8


class ClassifyStage(Stage):
    """Built from ``stages.classify`` (conf/stages/classify.yaml)."""

    name = "classify"

    def __init__(self, template: str, sampling: Any = None, system: str | None = None, variables: Any = None,
                 demos_path: str | None = None, num_demos: int | None = None, pack: int = 1,
                 packed_template: str | None = None, packed_sampling: Any = None) -> None:
        key = self.config_key
        if num_demos is not None and (isinstance(num_demos, bool) or not isinstance(num_demos, int) or num_demos < 1):
            raise ConfigError(f"{key}.num_demos: must be null or a whole number of at least 1, got {num_demos}")
        if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
            raise ConfigError(f"{key}.pack: must be a whole number of at least 1, got {pack}")
        self.prompt = StagePrompt(key, template, system, sampling, variables)
        self.sampling: dict[str, Any] = self.prompt.sampling
        self.variables: dict[str, Any] = self.prompt.variables
        self.demos_path, self.num_demos = demos_path, num_demos
        self.pack = pack
        self.packed_template_path = packed_template
        self.packed_sampling: dict[str, Any] = sampling_params(packed_sampling, f"{key}.packed_sampling")
        if pack > 1:
            if not isinstance(packed_template, str) or not packed_template.strip():
                raise ConfigError(f"{key}.packed_template: must name a template file when {key}.pack > 1, "
                                  f"got {packed_template!r}")
            limit = self.packed_sampling.get("max_tokens")
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                raise ConfigError(f"{key}.packed_sampling.max_tokens: must be null or at least 1, got {limit}")

    def prepare(self, ctx: RunContext) -> None:
        self.template = self.prompt.load()
        tasks = load_demo_tasks(self.demos_path, f"{self.config_key}.demos_path")
        self.demos = classify_demos(tasks, self.num_demos or _DEFAULT_DEMOS)
        # render once as _request will: a template error fails here, before any request
        self.template.check(demos=self.demos, instruction=ctx.seeds[0].instruction, **self.variables)
        if self.pack > 1:
            self.packed_template = PromptTemplate(self.packed_template_path, f"{self.config_key}.packed_template")
            self.packed_template.check(demos=self.demos, instructions=[s.instruction for s in ctx.seeds[:self.pack]],
                                       **self.variables)

    def _request(self, record: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        return self.prompt.messages(demos=self.demos, instruction=record["instruction"]), self.sampling

    def _packed_limit(self, k: int) -> int:
        limit = self.packed_sampling.get("max_tokens")
        return limit if limit is not None else _PACKED_TOKENS_PER_ITEM * k + _PACKED_SLACK

    def _packed_request(self, group: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any], str]:
        """K instructions in one prompt, sent as stage "classify:packed"; each on one line."""
        instructions = [" ".join(r["instruction"].split()) for r in group["records"]]
        content = self.packed_template.render(demos=self.demos, instructions=instructions, **self.variables)
        sampling = {**self.packed_sampling, "max_tokens": self._packed_limit(len(instructions))}
        return chat_messages(self.prompt.system, content), sampling, "packed"

    def plan(self, ctx: RunContext) -> StagePlan | None:
        tasks = _planned_tasks(ctx)
        if self.pack > 1:
            sample = [s.instruction for s in ctx.seeds]
            group = [sample[i % len(sample)] for i in range(self.pack)]
            return StagePlan(
                requests=math.ceil(tasks / self.pack),
                sample_messages=self._packed_request({"records": [{"instruction": i} for i in group]})[0],
                completion_tokens_each=min(self._packed_limit(self.pack), _PACKED_TOKENS_PER_ITEM * self.pack),
                note=f"{self.pack} instructions per request",
            )
        return StagePlan(
            requests=tasks,
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

        def keep(new: list[dict[str, Any]]) -> None:
            append_jsonl(answers_path, new)
            answers.update((r["id"], r) for r in new)
            progress.update(len(answers), ctx.llm)

        def record_batch(done: list[tuple[dict[str, Any], Completion]]) -> None:
            new = []
            for record, completion in done:
                verdict = parse_yes_no(completion.text)
                answer = {"id": record["id"], "is_classification": bool(verdict), "parsed": verdict is not None,
                          "answer": completion.text.strip()[:80]}
                if self.pack > 1:  # the paper's shape (K = 1) stays as it was
                    answer["packed"] = False
                new.append(answer)
            keep(new)

        fallback: list[dict[str, Any]] = []
        packed_requests = 0

        def record_packed(done: list[tuple[dict[str, Any], Completion]]) -> None:
            nonlocal packed_requests
            new = []
            for group, completion in done:
                packed_requests += 1
                items = parse_packed_answers(completion.text, len(group["records"]))
                for record, item in zip(group["records"], items):
                    if item is None:
                        fallback.append(record)
                    else:
                        new.append({"id": record["id"], "is_classification": item[0], "parsed": True,
                                    "answer": item[1][:80], "packed": True})
            keep(new)

        progress = StageProgress(self.name, len(instructions), done=len(answers), unit="instruction")
        if self.pack > 1:
            groups = [{"records": pending[i:i + self.pack]} for i in range(0, len(pending), self.pack)]
            unanswered = await request_packed(
                ctx.llm, self.name, groups, self._packed_request, self._request, record_batch, fallback,
                {r["id"]: i for i, r in enumerate(pending)}, "instructions the packed replies did not answer clearly",
                handle_groups=record_packed)
        else:
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
            "pack": self.pack,
            "packed_requests": packed_requests,
            "fallback_items": len(fallback),
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        if unanswered:
            log.warning("classify: %d instructions got no answer (requests failed); rerun to ask again", len(unanswered))
