"""The human evaluation of paper Figure 5, with an LLM judge in place of the paper's raters.

Each model in ``models`` (the generator, a provider model, a fine-tuned model id, a local server)
answers every instance of the task file ``path`` (the paper's user_oriented_instructions.jsonl
loads unchanged; ours is the default); then the judge rates every response A-D with the paper's
rubric.  Responses are appended to evaluation_responses.jsonl and ratings to evaluation.jsonl as
they arrive, so a rerun asks neither a model nor the judge again for what it already answered;
both files are then put in task order, model order, the same as an uninterrupted run's.

A model must not be evaluated on tasks it was trained on: a task file whose instructions are
among the run's training data (its seeds, its generated instructions) is refused, with one line.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from selfinstruct.data import RecordAppender, Task, read_jsonl
from selfinstruct.errors import ConfigError, SeedError, SelfInstructError
from selfinstruct.llm.client import Completion
from selfinstruct.llm.models import ModelRef, evaluated_refs, judge_ref, trained_ref
from selfinstruct.parsing.judge import parse_rating
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import StagePrompt
from selfinstruct.resources import resolve_path
from selfinstruct.rundir import EVALUATION_FILE, EVALUATION_RESPONSES_FILE, INSTRUCTIONS_FILE, TRAIN_FILE
from selfinstruct.seeds import load_self_instruct_seeds
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.stages.common import usage_metrics, write_in_order
from selfinstruct.stages.requests import request_per_record

log = logging.getLogger(__name__)

LEVELS = ("A", "B", "C", "D")
REPLY_CHARS = 300  # how much of an unparsable judge reply evaluation.jsonl keeps


@dataclass(frozen=True)
class EvalItem:
    """One task instance: ``id`` is the task id, '#', the instance's index in the task."""

    id: str
    task: str
    instance: int
    instruction: str
    input: str
    reference: str


def eval_items(tasks: list[Task]) -> list[EvalItem]:
    return [EvalItem(f"{t.id}#{i}", t.id, i, t.instruction.strip(), inst.input.strip(), inst.output.strip())
            for t in tasks for i, inst in enumerate(t.instances)]


def normalized(text: str) -> str:
    """An instruction as compared for overlap: lower case, words only (punctuation and spacing ignored)."""
    return " ".join(re.findall(r"\w+", text.lower()))


def load_eval_tasks(path: str, key: str) -> tuple[Path, list[Task]]:
    """The task file (the paper's user-oriented format); a bad line names file:line."""
    resolved = resolve_path(path, "seeds")
    if not resolved.is_file():
        raise ConfigError(f"{key}: task file '{path}' not found (looked in ./ and the bundled seeds/)")
    try:
        tasks = load_self_instruct_seeds(resolved)
    except SeedError as exc:
        raise ConfigError(f"{exc} ({key})") from None
    if not tasks:
        raise ConfigError(f"{key}: {resolved} has no tasks")
    return resolved, tasks


class EvaluateStage(Stage):
    """Built from ``stages.evaluate`` (conf/stages/evaluate.yaml); the judge is ``judge.*``."""

    name = "evaluate"

    def __init__(self, respond: Any, rate: Any, path: str = "user_tasks.jsonl", models: Any = ("generator",),
                 reference: bool = True) -> None:
        key = self.config_key
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{key}.path: must name a task file, got {path!r}")
        if not isinstance(reference, bool):
            raise ConfigError(f"{key}.reference: must be true or false, got {reference!r}")
        self.respond = self._prompt(f"{key}.respond", respond)
        self.rate = self._prompt(f"{key}.rate", rate)
        self.path, self.models_entry, self.reference = path, models, reference

    @staticmethod
    def _prompt(key: str, entry: Any) -> StagePrompt:
        if entry is None or not hasattr(entry, "get"):
            raise ConfigError(f"{key}: must be a mapping with template, system, sampling, variables")
        return StagePrompt(key, entry.get("template"), entry.get("system"), entry.get("sampling"),
                           entry.get("variables"))

    def models(self, ctx: RunContext) -> list[ModelRef]:
        # a locally trained model is served by this stage itself: no endpoint to open before the run
        return [*(ref for ref in self.evaluated if not ref.local), judge_ref(ctx.cfg)]

    def prepare(self, ctx: RunContext) -> None:
        self.evaluated = evaluated_refs(ctx.cfg, self.models_entry, f"{self.config_key}.models")
        self.task_path, tasks = load_eval_tasks(self.path, f"{self.config_key}.path")
        self.items = eval_items(tasks)
        self.respond_template = self.respond.load()
        self.rate_template = self.rate.load()
        sample = self.items[0]
        self.respond_template.check(**self._respond_vars(sample))
        self.rate_template.check(**self._rate_vars(sample, "a response"))
        self.check_no_overlap(ctx)

    def check_no_overlap(self, ctx: RunContext) -> None:
        """Refuse a task file whose instructions the run trains on (its seeds, its generated instructions)."""
        training: dict[str, str] = {normalized(t.instruction): f"seeds.path ({t.id})" for t in ctx.seeds}
        generated = ctx.run_dir / INSTRUCTIONS_FILE
        if generated.is_file():
            for record in read_jsonl(generated):
                training.setdefault(normalized(str(record.get("instruction", ""))), f"{generated} ({record.get('id')})")
        overlapping = [i for i in self.items if i.instance == 0 and normalized(i.instruction) in training]
        if overlapping:
            first = overlapping[0]
            raise ConfigError(
                f"{self.config_key}.path: {self.task_path}: {len(overlapping)} of its tasks are in this run's "
                f"training data (first: {first.task}, as {training[normalized(first.instruction)]}); evaluate on "
                f"tasks the model was not trained on (the paper keeps its 252 user-oriented tasks out of training)")

    # ------------------------------------------------------------------ prompts

    @staticmethod
    def _respond_vars(item: EvalItem) -> dict[str, Any]:
        return {"instruction": item.instruction, "input": item.input}

    def _rate_vars(self, item: EvalItem, response: str) -> dict[str, Any]:
        return {"instruction": item.instruction, "input": item.input,
                "reference": item.reference if self.reference else "", "response": response}

    def _respond_request(self, item: EvalItem) -> tuple[list[dict[str, str]], dict[str, Any], str]:
        return self.respond.messages(**self._respond_vars(item)), self.respond.sampling, "respond"

    # ------------------------------------------------------------------ dry run

    def plan(self, ctx: RunContext) -> list[StagePlan]:
        sample = self.items[0]
        respond_tokens = int(self.respond.sampling.get("max_tokens") or 512)
        plans = [StagePlan(requests=len(self.items), sample_messages=self._respond_request(sample)[0],
                           completion_tokens_each=respond_tokens, model=ref,
                           label=f"evaluate: {ref.label}", note=f"{len(self.items)} task instances")
                 for ref in self.evaluated]
        # the judge's prompt holds a response: count it at the responses' full length
        long_response = " ".join(["word"] * int(respond_tokens * 0.75))
        plans.append(StagePlan(requests=len(self.items) * len(self.evaluated),
                               sample_messages=self.rate.messages(**self._rate_vars(sample, long_response)),
                               completion_tokens_each=int(self.rate.sampling.get("max_tokens") or 160),
                               model=judge_ref(ctx.cfg), label="evaluate: judge", note="A-D ratings"))
        return plans

    # ------------------------------------------------------------------ run

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        self.check_no_overlap(ctx)  # an earlier stage of this run may have generated instructions since
        responses_path = ctx.run_dir / EVALUATION_RESPONSES_FILE
        ratings_path = ctx.run_dir / EVALUATION_FILE
        evaluated = [resolve_trained(ctx, ref) for ref in self.evaluated]
        labels = [ref.label for ref in evaluated]
        names = {ref.label: ref.name for ref in evaluated}
        by_id = {item.id: item for item in self.items}

        def current(record: dict[str, Any]) -> bool:  # lines of an earlier invocation about the same text
            item = by_id.get(record.get("id", ""))
            return (item is not None and record.get("model") in labels
                    and record.get("model_name", names.get(record.get("model"))) == names.get(record.get("model"))
                    and record.get("instruction") == item.instruction and record.get("input") == item.input)

        responses = {(r["id"], r["model"]): r for r in read_jsonl(responses_path) if current(r)}
        ratings = {(r["id"], r["model"]): r for r in read_jsonl(ratings_path)
                   if current(r) and responses.get((r["id"], r["model"]), {}).get("response") == r.get("response")}
        log.info("evaluate: %d task instances from %s, models %s; judge %s; %d responses and %d ratings already made",
                 len(self.items), self.task_path, ", ".join(labels), judge_ref(ctx.cfg).name,
                 len(responses), len(ratings))
        total = len(self.items) * len(self.evaluated)
        progress = StageProgress(self.name, total, done=len(responses), unit="response",
                                 label=f"{self.name} responses")
        for ref in evaluated:
            pending = [item for item in self.items if (item.id, ref.label) not in responses]
            if pending:
                async with answering(ctx, ref) as client:
                    await self._respond(client, ref, pending, responses, responses_path, progress)
            if ctx.pool is not None and ctx.pool.stopped_reason:
                break
        progress.close()
        rated_before = len(ratings)
        progress = StageProgress(self.name, len(responses), done=rated_before, unit="rating",
                                 label=f"{self.name} ratings")
        unrated = await self._rate_all(ctx, responses, ratings, ratings_path, progress)
        progress.close()

        order = [(item.id, label) for item in self.items for label in labels]
        write_in_order(responses_path, [responses[k] for k in order if k in responses])
        write_in_order(ratings_path, [ratings[k] for k in order if k in ratings])
        self._record_metrics(ctx, evaluated, ratings, unrated, started)

    async def _respond(self, client: Any, ref: ModelRef, pending: list[EvalItem],
                       responses: dict[tuple[str, str], Any], path: Path, progress: StageProgress) -> list[EvalItem]:
        """Ask one model for every response it has not given yet; returns the items left unanswered."""
        out = RecordAppender(path)

        def keep(item: EvalItem, completion: Completion) -> None:
            record = {"id": item.id, "task": item.task, "instance": item.instance, "model": ref.label,
                      "model_name": ref.name, "instruction": item.instruction, "input": item.input, "response": completion.text.strip(),
                      "finish_reason": completion.finish_reason}
            out.append(record)
            responses[(item.id, ref.label)] = record
            progress.update(len(responses), client)

        try:
            return await request_per_record(client, self.name, pending, self._respond_request,
                                            on_reply=keep)
        finally:
            out.close()

    async def _rate_all(self, ctx: RunContext, responses: dict[tuple[str, str], Any],
                        ratings: dict[tuple[str, str], Any], path: Path, progress: StageProgress) -> int:
        """Have the judge rate every response not rated yet; returns how many are left unrated."""
        by_id = {item.id: item for item in self.items}
        pending = [r for key, r in responses.items() if key not in ratings]

        def build(response: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any], str]:
            item = by_id[response["id"]]
            return self.rate.messages(**self._rate_vars(item, response["response"])), self.rate.sampling, "rate"

        out = RecordAppender(path)

        def keep(response: dict[str, Any], completion: Completion) -> None:
            item = by_id[response["id"]]
            rating, reason = parse_rating(completion.text)
            record = {"id": item.id, "task": item.task, "instance": item.instance, "model": response["model"],
                      "instruction": item.instruction, "input": item.input, "reference": item.reference,
                      "response": response["response"], "rating": rating, "reason": reason}
            if rating is None:
                record["reply"] = completion.text.strip()[:REPLY_CHARS]
            out.append(record)
            ratings[(item.id, response["model"])] = record
            progress.update(len(ratings), ctx.judge)

        try:
            left = await request_per_record(ctx.judge, self.name, pending, build, on_reply=keep)
        finally:
            out.close()
        return len(left)

    def _record_metrics(self, ctx: RunContext, evaluated: list[ModelRef], ratings: dict[tuple[str, str], Any],
                        unrated: int, started: float) -> None:
        labels = [ref.label for ref in evaluated]
        per_model: dict[str, Any] = {}
        for ref in evaluated:
            mine = [r for (_, label), r in ratings.items() if label == ref.label]
            counts = {level: sum(r["rating"] == level for r in mine) for level in LEVELS}
            per_model[ref.label] = {"name": ref.name, "rated": len(mine), **counts,
                                    "unparsed": sum(r["rating"] is None for r in mine),
                                    "unanswered": len(self.items) - len(mine)}
        ctx.metrics.update(self.name, {
            "path": str(self.task_path),
            "tasks": len({item.task for item in self.items}),
            "instances": len(self.items),
            "judge": judge_ref(ctx.cfg).name,
            "models": per_model,
            "unrated_responses": unrated,
            **usage_metrics(ctx, self.name),
            "wall_s": round(time.perf_counter() - started, 3),
        })
        ctx.metrics.write()
        for label in labels:
            m = per_model[label]
            shares = " ".join(f"{level} {m[level]}" for level in LEVELS)
            log.info("evaluate: %s: %s of %d rated (%d unparsed, %d unanswered)", label, shares, m["rated"],
                     m["unparsed"], m["unanswered"])
        unparsed = sum(m["unparsed"] for m in per_model.values())
        if unparsed:
            log.warning("evaluate: %d judge replies had no rating A-D (counted as unparsed, not guessed)", unparsed)


def resolve_trained(ctx: RunContext, ref: ModelRef) -> ModelRef:
    """``tuned`` of stages.evaluate.models is the model train.json names (the train stage ran before);
    every other entry is what it says."""
    if ref.trained != "tuned":
        return ref
    from selfinstruct.stages.train import read_train_record

    record = read_train_record(ctx.run_dir)
    if record.get("status") not in ("succeeded", "trained") or not record.get("tuned_model"):
        raise SelfInstructError(
            f"{ref.where}: 'tuned' needs a finished train stage, but {ctx.run_dir / TRAIN_FILE} "
            f"{'says ' + repr(record.get('status')) if record else 'does not exist'}; run the train stage first "
            f"(pipeline.stages=[...,finetune,train,evaluate])")
    return trained_ref(ctx.cfg, "tuned", ref.where, record["tuned_model"] if not ref.local else None)


@asynccontextmanager
async def answering(ctx: RunContext, ref: ModelRef) -> AsyncIterator[Any]:
    """The client that asks ``ref``: the run's own, or, for a locally trained model, one for a server this
    stage starts on 127.0.0.1 (base model, plus the adapter for ``tuned``) and stops when done."""
    if not ref.local:
        yield ctx.client(ref)
        return
    from selfinstruct.llm.endpoint import Endpoint
    from selfinstruct.stages.train import read_train_record
    from selfinstruct.training.serve import serve_model

    record = read_train_record(ctx.run_dir)
    train = ctx.cfg.stages.train
    adapter = Path(record["tuned_model"]) if ref.trained == "tuned" else None
    log.info("evaluate: serving %s%s on 127.0.0.1 for this stage", train.base_model,
             f" with the adapter {adapter}" if adapter else "")
    with serve_model(str(train.base_model), adapter) as url:
        assert ctx.pool is not None
        yield ctx.pool.client_at(ref, Endpoint(api_base=url, api_key="selfinstruct-local"))

