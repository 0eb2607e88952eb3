"""Stage 3: generate instances for every accepted instruction (paper, section 2.3).

Classification tasks are asked output-first (each class label, then an input of that label), so
the labels are not all the same; the others input-first (inputs then outputs, or the output
directly for tasks that need no input).  Each task's instances are appended to instances.jsonl
as its reply arrives; a rerun asks only for tasks that are missing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from selfinstruct.config import to_plain
from selfinstruct.data import append_jsonl, read_jsonl
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.llm.client import Completion
from selfinstruct.parsing import parse_input_first, parse_output_first
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import StagePrompt
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.rundir import INSTANCES_FILE, INSTRUCTIONS_FILE
from selfinstruct.stages.common import (
    planned_tasks,
    read_required,
    rewrite_in_order,
    usage_metrics,
)
from selfinstruct.stages.demos import input_first_demos, load_demo_tasks, output_first_demos
from selfinstruct.stages.requests import request_per_record

log = logging.getLogger(__name__)

_TYPICAL_TOKENS = 180  # a reply of 2-5 short examples
_MAX_BUDGET_FACTOR = 4  # a reply cut off before its first instance is asked again with 2x, then 4x max_tokens


class _Prompt:
    """A template with its demonstrations and decoding parameters, for one of the two orders."""

    def __init__(self, entry: Any, key: str, pick_demos: Any, default_demos: int) -> None:
        entry = to_plain(entry) if entry is not None else None
        if not isinstance(entry, dict):
            raise ConfigError(f"{key}: must be a mapping (template, sampling, demos_path, num_demos, ...)")
        entry = dict(entry)
        demos_path, num_demos = entry.pop("demos_path", None), entry.pop("num_demos", None)
        if num_demos is not None and (isinstance(num_demos, bool) or not isinstance(num_demos, int) or num_demos < 1):
            raise ConfigError(f"{key}.num_demos: must be null or a whole number of at least 1, got {num_demos}")
        known = ("template", "system", "sampling", "variables")
        for name in entry:
            if name not in known:
                raise ConfigError(f"{key}.{name}: unknown key (known: {', '.join((*known, 'demos_path', 'num_demos'))})")
        if "template" not in entry:
            raise ConfigError(f"{key}.template: missing (a template file)")
        self.prompt = StagePrompt(key, **entry)
        self.key, self.pick_demos, self.demos_path, self.num_demos = key, pick_demos, demos_path, num_demos or default_demos
        self.sampling: dict[str, Any] = self.prompt.sampling
        self.variables: dict[str, Any] = self.prompt.variables

    def load(self) -> None:
        """Read the template and the demonstrations (in the stage's prepare)."""
        self.template = self.prompt.load()
        self.demos = self.pick_demos(load_demo_tasks(self.demos_path, f"{self.key}.demos_path"), self.num_demos)

    def request(self, instruction: str, budget_factor: int = 1) -> tuple[list[dict[str, str]], dict[str, Any]]:
        messages = self.prompt.messages(demos=self.demos, instruction=instruction)
        sampling = dict(self.sampling)
        if budget_factor > 1 and sampling.get("max_tokens"):
            sampling["max_tokens"] = sampling["max_tokens"] * budget_factor
        return messages, sampling


class InstancesStage(Stage):
    """Built from ``stages.instances`` (conf/stages/instances.yaml): an ``input_first`` and an
    ``output_first`` prompt entry; reads schedule.max_instances_per_task."""

    name = "instances"

    def __init__(self, input_first: Any, output_first: Any) -> None:
        self.input_first = _Prompt(input_first, f"{self.config_key}.input_first", input_first_demos, 10)
        self.output_first = _Prompt(output_first, f"{self.config_key}.output_first", output_first_demos, 12)

    def prepare(self, ctx: RunContext) -> None:
        self.input_first.load()
        self.output_first.load()
        self.max_instances = ctx.cfg.schedule.max_instances_per_task
        if self.max_instances < 1:
            raise SelfInstructError("schedule.max_instances_per_task: must be at least 1")
        # render each template once as _Prompt.request will: a template error fails here, before any request
        labelled = [t for t in ctx.seeds if t.is_classification] or ctx.seeds
        for prompt, sample in ((self.input_first, ctx.seeds[0]), (self.output_first, labelled[0])):
            prompt.template.check(demos=prompt.demos, instruction=sample.instruction, **prompt.variables)

    def plan(self, ctx: RunContext) -> StagePlan | None:
        typical = min(self.input_first.sampling.get("max_tokens") or _TYPICAL_TOKENS, _TYPICAL_TOKENS)
        return StagePlan(
            requests=planned_tasks(ctx),
            sample_messages=self.input_first.request(ctx.seeds[0].instruction)[0],
            completion_tokens_each=typical,
            note="prompt sized on the input-first template",
        )

    def _request(self, record: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any], str]:
        """The record's prompt, and its mode (sent as stage "instances:MODE")."""
        mode = "output_first" if record["is_classification"] else "input_first"
        prompt = self.output_first if record["is_classification"] else self.input_first
        return (*prompt.request(record["instruction"], self._budget_factor.get(record["id"], 1)), mode)

    def _task_record(self, record: dict[str, Any], completion: Completion) -> dict[str, Any]:
        parse = parse_output_first if record["is_classification"] else parse_input_first
        parsed = parse(completion.text)
        kept = parsed[: self.max_instances]
        return {
            "id": record["id"],
            "instruction": record["instruction"],
            "is_classification": record["is_classification"],
            "instances": [{"input": i.input, "output": i.output} for i in kept],
            # the last kept instance is cut off only when nothing was cut away after it
            "truncated": completion.truncated and len(parsed) <= self.max_instances,
        }

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        instructions = read_required(ctx.run_dir / INSTRUCTIONS_FILE, self.name, "bootstrap")
        labelled = [r for r in instructions if isinstance(r.get("is_classification"), bool)]
        if instructions and not labelled:
            raise SelfInstructError(
                f"instances: no instruction in {INSTRUCTIONS_FILE} has is_classification: "
                f"run the classify stage first (pipeline.stages=[classify,instances,...])"
            )
        unlabelled = len(instructions) - len(labelled)
        if unlabelled:  # classify could not get an answer for these; a rerun of classify + instances fills them in
            log.warning("instances: %d instructions have no is_classification yet and are skipped", unlabelled)
        instances_path = ctx.run_dir / INSTANCES_FILE
        done = {r["id"]: r for r in read_jsonl(instances_path)}
        pending = [r for r in labelled if r["id"] not in done]
        log.info("instances: %d tasks, %d already have instances", len(instructions), len(instructions) - len(pending))

        self._budget_factor: dict[str, int] = {}

        def record_batch(batch: list[tuple[dict[str, Any], Completion]]) -> list[dict[str, Any]]:
            new, again = [], []
            for record, completion in batch:
                task = self._task_record(record, completion)
                factor = self._budget_factor.get(record["id"], 1)
                if task["truncated"] and not task["instances"] and factor < _MAX_BUDGET_FACTOR:
                    # cut off before its first instance: ask again with a larger max_tokens
                    self._budget_factor[record["id"]] = factor * 2
                    again.append(record)
                else:
                    new.append(task)
            append_jsonl(instances_path, new)
            done.update((r["id"], r) for r in new)
            progress.update(len(done), ctx.llm)
            return again

        progress = StageProgress(self.name, len(labelled), done=len(done), unit="task")
        missing = await request_per_record(ctx.llm, self.name, pending, self._request, record_batch)
        progress.close()
        tasks = [done[r["id"]] for r in instructions if r["id"] in done]
        rewrite_in_order(instances_path, tasks)
        counts = [len(t["instances"]) for t in tasks]
        ctx.metrics.update(self.name, {
            "tasks": len(instructions),
            "tasks_with_instances": sum(c > 0 for c in counts),
            "tasks_without_instances": sum(c == 0 for c in counts),
            "tasks_missing": len(missing),
            "tasks_unlabelled": unlabelled,
            "instances": sum(counts),
            "instances_per_task": round(sum(counts) / len(counts), 3) if counts else 0.0,
            "truncated_replies": sum(bool(t["truncated"]) for t in tasks),
            "output_first_tasks": sum(bool(t["is_classification"]) for t in tasks),
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        if missing:
            log.warning("instances: %d tasks got no reply (requests failed); rerun to ask again", len(missing))
