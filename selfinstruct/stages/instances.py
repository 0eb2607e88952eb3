"""Stage 3: generate instances for every accepted instruction (paper, section 2.3).

Classification tasks are asked output-first (each class label, then an input of that label), so
the labels are not all the same; the others input-first (inputs then outputs, or the output
directly for tasks that need no input).  Each task's instances are appended to instances.jsonl
as its reply arrives; a rerun asks only for tasks that are missing.

With ``pack`` K > 1 the tasks of each kind (input-first, output-first) are taken K at a time, in
instruction order over the whole task list (not what is left, so a resumed run sends the same
prompts), and each group is one request with the kind's ``packed_template``: the same
demonstrations first (the fixed part, so a provider's prefix cache serves it), then the K numbered
tasks, answered each under a "Task N:" header in the single-task format.  Each section is cut at
the single-task ``stop`` strings and read with the single-task parser; a task whose section is
missing, unreadable (no instance), doubled or cut off by the length limit is asked again alone
with ``template``, so packing leaves no task with fewer instances than the single request gives.
A group with a task still missing after a kill is sent whole again (a cache hit) and only its
missing tasks are kept; instances.jsonl ends in instruction order, as with K = 1.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from selfinstruct.config import to_plain
from selfinstruct.data import append_jsonl, read_jsonl
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.llm.client import Completion
from selfinstruct.parsing import parse_input_first, parse_output_first
from selfinstruct.parsing.instances import split_packed_reply
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import PromptTemplate, StagePrompt, chat_messages
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.rundir import INSTANCES_FILE, INSTRUCTIONS_FILE
from selfinstruct.stages.common import (
    planned_tasks,
    read_required,
    rewrite_in_order,
    usage_metrics,
)
from selfinstruct.stages.demos import input_first_demos, load_demo_tasks, output_first_demos
from selfinstruct.stages.requests import request_packed, request_per_record

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
        self.packed_template_path = entry.pop("packed_template", None)
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

    def check_packed(self) -> None:
        """With pack > 1 the entry must name its packed template (checked when the stage is built)."""
        path = self.packed_template_path
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{self.key}.packed_template: must name a template file when "
                              f"{self.key.rpartition('.')[0]}.pack > 1, got {path!r}")

    def load(self, packed: bool = False) -> None:
        """Read the template(s) and the demonstrations (in the stage's prepare)."""
        self.template = self.prompt.load()
        self.demos = self.pick_demos(load_demo_tasks(self.demos_path, f"{self.key}.demos_path"), self.num_demos)
        if packed:
            self.packed_template = PromptTemplate(self.packed_template_path, f"{self.key}.packed_template")

    def request(self, instruction: str, budget_factor: int = 1) -> tuple[list[dict[str, str]], dict[str, Any]]:
        messages = self.prompt.messages(demos=self.demos, instruction=instruction)
        sampling = dict(self.sampling)
        if budget_factor > 1 and sampling.get("max_tokens"):
            sampling["max_tokens"] = sampling["max_tokens"] * budget_factor
        return messages, sampling

    def packed_limit(self, k: int, cap: int | None) -> int | None:
        """max_tokens of a packed request: the single request's times K, at most ``cap``."""
        per_task = self.sampling.get("max_tokens")
        limit = per_task * k if per_task else None
        return limit if cap is None else min(limit, cap) if limit is not None else cap

    def packed_request(self, instructions: list[str], cap: int | None) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """K tasks in one prompt (each on one line). The single request's stop strings would end the
        reply at its first task, so they are applied to each section instead (``section_text``); the
        packed request stops where a task K+1 would begin."""
        k = len(instructions)
        content = self.packed_template.render(demos=self.demos, instructions=instructions, **self.variables)
        sampling: dict[str, Any] = {}
        for name, value in self.sampling.items():
            if name == "max_tokens":
                value = self.packed_limit(k, cap)
            elif name == "stop":
                continue
            if value is not None:
                sampling[name] = value
        if "max_tokens" not in sampling and cap is not None:
            sampling["max_tokens"] = cap
        sampling["stop"] = [f"\nTask {k + 1}:"]
        return chat_messages(self.prompt.system, content), sampling

    def section_text(self, text: str) -> str:
        """A packed reply's section as the single request would have returned it: cut at its stop strings."""
        stop = self.sampling.get("stop")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        cuts = [text.find(s) for s in stops if isinstance(s, str) and s]
        cuts = [c for c in cuts if c >= 0]
        return text[:min(cuts)] if cuts else text


class InstancesStage(Stage):
    """Built from ``stages.instances`` (conf/stages/instances.yaml): an ``input_first`` and an
    ``output_first`` prompt entry; reads schedule.max_instances_per_task."""

    name = "instances"

    def __init__(self, input_first: Any, output_first: Any, pack: int = 1,
                 packed_max_tokens: int | None = None) -> None:
        key = self.config_key
        self.input_first = _Prompt(input_first, f"{key}.input_first", input_first_demos, 10)
        self.output_first = _Prompt(output_first, f"{key}.output_first", output_first_demos, 12)
        if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
            raise ConfigError(f"{key}.pack: must be a whole number of at least 1, got {pack}")
        if packed_max_tokens is not None and (isinstance(packed_max_tokens, bool)
                                              or not isinstance(packed_max_tokens, int) or packed_max_tokens < 1):
            raise ConfigError(f"{key}.packed_max_tokens: must be null or a whole number of at least 1, "
                              f"got {packed_max_tokens}")
        self.pack, self.packed_max_tokens = pack, packed_max_tokens
        if pack > 1:
            self.input_first.check_packed()
            self.output_first.check_packed()

    def prepare(self, ctx: RunContext) -> None:
        self.input_first.load(packed=self.pack > 1)
        self.output_first.load(packed=self.pack > 1)
        self.max_instances = ctx.cfg.schedule.max_instances_per_task
        if self.max_instances < 1:
            raise SelfInstructError("schedule.max_instances_per_task: must be at least 1")
        # render each template once as _Prompt.request will: a template error fails here, before any request
        labelled = [t for t in ctx.seeds if t.is_classification] or ctx.seeds
        for prompt, sample in ((self.input_first, ctx.seeds[0]), (self.output_first, labelled[0])):
            prompt.template.check(demos=prompt.demos, instruction=sample.instruction, **prompt.variables)
            if self.pack > 1:
                prompt.packed_template.check(demos=prompt.demos, instructions=[sample.instruction] * self.pack,
                                             **prompt.variables)

    def plan(self, ctx: RunContext) -> StagePlan | None:
        typical = min(self.input_first.sampling.get("max_tokens") or _TYPICAL_TOKENS, _TYPICAL_TOKENS)
        if self.pack > 1:
            sample = [s.instruction for s in ctx.seeds]
            group = [" ".join(sample[i % len(sample)].split()) for i in range(self.pack)]
            messages, sampling = self.input_first.packed_request(group, self.packed_max_tokens)
            limit = sampling.get("max_tokens")
            return StagePlan(
                requests=math.ceil(planned_tasks(ctx) / self.pack),
                sample_messages=messages,
                completion_tokens_each=min(limit or typical * self.pack, typical * self.pack),
                note=f"{self.pack} tasks per request; prompt sized on the input-first template",
            )
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
        return self._record_from(record, completion.text, completion.truncated)

    def _record_from(self, record: dict[str, Any], text: str, truncated: bool) -> dict[str, Any]:
        parse = parse_output_first if record["is_classification"] else parse_input_first
        parsed = parse(text)
        kept = parsed[: self.max_instances]
        return {
            "id": record["id"],
            "instruction": record["instruction"],
            "is_classification": record["is_classification"],
            "instances": [{"input": i.input, "output": i.output} for i in kept],
            # the last kept instance is cut off only when nothing was cut away after it
            "truncated": truncated and len(parsed) <= self.max_instances,
        }

    def _groups(self, labelled: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every task (not only those left) in groups of ``pack`` of one kind, in instruction order:
        the same groups, so the same prompts, however often the run was interrupted."""
        groups = []
        for is_classification in (False, True):
            tasks = [r for r in labelled if bool(r["is_classification"]) == is_classification]
            groups += [{"is_classification": is_classification, "records": tasks[i:i + self.pack]}
                       for i in range(0, len(tasks), self.pack)]
        order = {r["id"]: i for i, r in enumerate(labelled)}
        groups.sort(key=lambda g: order[g["records"][0]["id"]])
        return groups

    def _packed_request(self, group: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any], str]:
        """A group's prompt, sent as stage "instances:MODE:packed"."""
        mode = "output_first" if group["is_classification"] else "input_first"
        prompt = self.output_first if group["is_classification"] else self.input_first
        instructions = [" ".join(r["instruction"].split()) for r in group["records"]]
        return (*prompt.packed_request(instructions, self.packed_max_tokens), f"{mode}:packed")

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

        fallback: list[dict[str, Any]] = []
        packed_requests = 0

        def record_packed(group: dict[str, Any], completion: Completion) -> None:
            """A group's reply, the moment it arrives: its readable tasks are written, the others wait
            for the one-by-one fallback."""
            nonlocal packed_requests
            packed_requests += 1
            new = []
            prompt = self.output_first if group["is_classification"] else self.input_first
            sections = split_packed_reply(completion.text, len(group["records"]), completion.truncated)
            for record, section in zip(group["records"], sections):
                if record["id"] in done:  # written before a kill: the group was sent whole again
                    continue
                task = None if section is None else self._record_from(record, prompt.section_text(section), False)
                if task is None or not task["instances"]:
                    fallback.append(record)
                else:
                    new.append(task)
            append_jsonl(instances_path, new)
            done.update((r["id"], r) for r in new)
            progress.update(len(done), ctx.llm)

        progress = StageProgress(self.name, len(labelled), done=len(done), unit="task")
        if self.pack > 1:
            groups = [g for g in self._groups(labelled) if any(r["id"] not in done for r in g["records"])]
            # each group's tasks are written the moment its reply arrives, so a kill loses no answered group
            missing = await request_packed(
                ctx.llm, self.name, groups, self._packed_request, self._request, record_batch, fallback,
                {r["id"]: i for i, r in enumerate(labelled)}, "tasks the packed replies did not answer readably",
                on_group_reply=record_packed, needed=lambda r: r["id"] not in done)
        else:
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
            "pack": self.pack,
            "packed_requests": packed_requests,
            "fallback_items": len(fallback),
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        if missing:
            log.warning("instances: %d tasks got no reply (requests failed); rerun to ask again", len(missing))
