"""Stage 1: bootstrap new instructions from seeds and the growing machine pool (paper, section 2.2).

Each round sends a few prompts at once, each showing ``num_demos`` instructions
(``num_machine_demos`` from the machine pool, the rest from the seeds, shuffled), parses the
continued lists, and filters every candidate in request order, so the pool and the decisions
are the same whatever order the replies arrive in.  Accepted and rejected candidates are
appended to instructions.jsonl and rejected.jsonl after every round.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selfinstruct.data import append_jsonl, read_jsonl, write_jsonl_atomic
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.filters.base import InstructionFilter, Verdict, first_rejection
from selfinstruct.filters.build import build_filters
from selfinstruct.parsing import clean_demo, parse_alpaca_tasks, parse_instruction_list
from selfinstruct.llm.budget import BUDGET_ERROR, INTERRUPTED_ERROR
from selfinstruct.progress import StageProgress
from selfinstruct.prompts import StagePrompt
from selfinstruct.rundir import INSTANCES_FILE, INSTRUCTIONS_FILE, REJECTED_FILE, ROUNDS_FILE
from selfinstruct.stages.base import RunContext, Stage, StagePlan
from selfinstruct.stages.common import usage_metrics

log = logging.getLogger(__name__)

REPLY_FORMATS = ("numbered_list", "alpaca_tasks")
_ASSUMED_YIELD = 3.0  # accepted instructions per request before any has been measured
_ASSUMED_ALPACA_YIELD = 10.0  # of an Alpaca-style reply's up to 16 new tasks
_TYPICAL_LIST_TOKENS = 160  # a reply of about 7 numbered instructions
_TYPICAL_ALPACA_TOKENS = 1500  # about 16 tasks with input and output
MAX_FAILED_ROUNDS = 3  # rounds in a row in which every request failed after its retries: the provider is down


def _merged(entry: dict[str, Any]) -> bool:
    """The ledger line a merge writes (it sends no requests): it belongs to neither bootstrap mode."""
    return entry.get("requests") == 0


def accepted_record(index: int, text: str, round_no: int, verdict: Verdict, id_prefix: str = "") -> dict[str, Any]:
    """An instructions.jsonl line: id, text, round, and its most similar pool instructions (as the paper)."""
    return {
        "id": f"{id_prefix}machine_task_{index}",
        "instruction": text,
        "round": round_no,
        "max_similarity": verdict.score if verdict.most_similar else None,
        "most_similar": {pool_text: score for pool_text, score in verdict.most_similar},
        "is_classification": None,  # filled in by the classify stage
    }


def shard_of(cfg: Any) -> tuple[int, int]:
    """(index, count) of this run's shard, checked; (0, 1) when not sharded."""
    index, count = cfg.shard.index, cfg.shard.count
    if count < 1:
        raise ConfigError("shard.count: must be at least 1")
    if not 0 <= index < count:
        raise ConfigError(f"shard.index: must be within 0..{count - 1} (shard.count={count}), got {index}")
    return index, count


@dataclass
class RoundStats:
    """Counts for metrics.json that are not derivable from the output files."""

    rounds: int = 0
    requests: int = 0
    truncated_replies: int = 0
    empty_replies: int = 0
    candidates: int = 0
    accepted_this_run: int = 0
    wall_s: float = 0.0
    failed: Counter = field(default_factory=Counter)


class BootstrapStage(Stage):
    """Built from ``stages.bootstrap`` (conf/stages/bootstrap.yaml); reads schedule.* for the round shape."""

    name = "bootstrap"

    def __init__(self, template: str, reply_format: str = "numbered_list", sampling: Any = None,
                 system: str | None = None, variables: Any = None, num_demos: int | None = None,
                 num_machine_demos: int | None = None, window: Any = "round") -> None:
        key = self.config_key
        if window != "round" and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ConfigError(f"{key}.window: must be 'round' (a barrier after every round, the original scripts' "
                              f"shape) or a whole number of at least 1 (no barrier), got {window!r}")
        self.window = window
        if reply_format not in REPLY_FORMATS:
            raise ConfigError(f"{key}.reply_format: '{reply_format}' is not one of {REPLY_FORMATS}")
        for field_name, value, low in (("num_demos", num_demos, 1), ("num_machine_demos", num_machine_demos, 0)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ConfigError(f"{key}.{field_name}: must be null or a whole number of at least {low}, got {value}")
        self.prompt = StagePrompt(key, template, system, sampling, variables)
        self.reply_format = reply_format
        self.sampling: dict[str, Any] = self.prompt.sampling
        self.variables: dict[str, Any] = self.prompt.variables
        self._num_demos, self._num_machine_demos = num_demos, num_machine_demos

    def prepare(self, ctx: RunContext) -> None:
        schedule = ctx.cfg.schedule
        if schedule.num_instructions < 0:
            raise ConfigError("schedule.num_instructions: must be 0 or more")
        if schedule.num_demos < 1:
            raise ConfigError("schedule.num_demos: must be at least 1")
        if not 0 <= schedule.num_machine_demos <= schedule.num_demos:
            raise ConfigError("schedule.num_machine_demos: must be between 0 and schedule.num_demos")
        if schedule.requests_per_round < 1:
            raise ConfigError("schedule.requests_per_round: must be at least 1")
        self.num_demos = self._num_demos if self._num_demos is not None else schedule.num_demos
        self.num_machine_demos = (
            self._num_machine_demos if self._num_machine_demos is not None else schedule.num_machine_demos
        )
        self.template = self.prompt.load()
        # render once with seed demonstrations, as _build_prompt will: a template error fails here, before any request
        sample = ctx.seeds[: self.num_demos]
        if self.reply_format == "numbered_list":
            sample_demos: list[Any] = [clean_demo(t.instruction) for t in sample]
        else:
            sample_demos = [{"instruction": clean_demo(t.instruction), **asdict(t.instances[0])} for t in sample]
        self.template.check(demos=sample_demos, next_number=len(sample_demos) + 1, **self.variables)
        self.filters: dict[str, InstructionFilter] = build_filters(ctx.cfg.filters)
        # a shard draws its own demonstrations (its own random stream) and names its ids apart
        shard, count = shard_of(ctx.cfg)
        self.stream = f"{schedule.seed}:bootstrap" if count == 1 else f"{schedule.seed}:shard{shard}of{count}:bootstrap"
        self.id_prefix = "" if count == 1 else f"shard{shard}_"

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        schedule = ctx.cfg.schedule
        target = schedule.num_instructions
        instructions_path = ctx.run_dir / INSTRUCTIONS_FILE
        rejected_path = ctx.run_dir / REJECTED_FILE
        instances_path = ctx.run_dir / INSTANCES_FILE
        with_instances = self.reply_format == "alpaca_tasks"

        ledger_path = ctx.run_dir / ROUNDS_FILE
        ledger = read_jsonl(ledger_path)
        accepted, rejected, tasks = self._committed(ledger, instructions_path, rejected_path,
                                                    instances_path if with_instances else None)
        # Alpaca-style demos show an instance; the machine ones come from instances.jsonl.
        self._demo_instance: dict[str, dict[str, str]] = {t.instruction: asdict(t.instances[0]) for t in ctx.seeds}
        for task in tasks:
            if task["instances"]:
                self._demo_instance[task["instruction"]] = task["instances"][0]
        rejected_counts = Counter(r.get("reason") for r in rejected)
        seed_texts = [task.instruction for task in ctx.seeds]
        machine_texts = [r["instruction"] for r in accepted]
        for flt in self.filters.values():
            flt.add_all(seed_texts)
            flt.add_all(machine_texts)
        round_no = max((r["round"] for r in ledger), default=-1) + 1
        self._check_ledger_mode(ledger)
        if self.window != "round":
            if ctx.cfg.model.batch:
                raise ConfigError(f"model.batch=true sends each bootstrap round as one batch: it needs "
                                  f"{self.config_key}.window=round (a window of requests in flight has no rounds)")
            await self._run_without_barrier(ctx, started, ledger, accepted, rejected_counts, seed_texts, machine_texts,
                                            (instructions_path, rejected_path, instances_path, ledger_path))
            return
        if accepted:
            log.info("bootstrap: resuming after round %d with %d accepted instructions", round_no - 1, len(accepted))

        stats = RoundStats()
        stalled = failed_rounds = 0
        progress = StageProgress(self.name, target, done=min(len(accepted), target), unit="instruction")
        while len(accepted) < target and not ctx.llm.stopped_reason:
            n_requests = self._plan_requests(target - len(accepted), ledger, schedule.requests_per_round)
            prompts = [
                self._build_prompt(random.Random(f"{self.stream}:{round_no}:{i}"), seed_texts, machine_texts)
                for i in range(n_requests)
            ]
            # one round at a time; with model.batch, one provider batch job per round
            completions = await ctx.llm.complete_many([(p, self.sampling, self.name) for p in prompts])
            if ctx.llm.interrupted:
                # an interrupted round is not committed: its replies are cached, so resuming redoes it for free
                # and the run ends up the same as one that was never interrupted
                break
            pending: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
            new_accepted, new_rejected, new_instances = pending
            for completion in completions:
                self._filter_reply(completion, round_no, None, accepted, machine_texts, rejected_counts, stats, target,
                                   pending)
            append_jsonl(rejected_path, new_rejected)
            if with_instances:
                append_jsonl(instances_path, new_instances)
            append_jsonl(instructions_path, new_accepted)
            # the round's commit point: a crash before this line and the round is redone on resume
            entry = {"round": round_no, "requests": n_requests, "accepted": len(new_accepted),
                     "rejected": len(new_rejected)}
            append_jsonl(ledger_path, [entry])
            ledger.append(entry)
            stats.rounds += 1
            stats.wall_s = time.perf_counter() - started
            self._write_metrics(ctx, target, len(accepted), rejected_counts, stats)
            log.debug(
                "bootstrap round %d: %d requests, +%d accepted (%d/%d), %d rejected",
                round_no, n_requests, len(new_accepted), len(accepted), target, len(new_rejected),
            )
            progress.update(len(accepted), ctx.llm)
            if new_accepted or ctx.llm.stopped_reason:
                stalled = failed_rounds = 0
            else:
                stalled += 1
                # a round in which no reply arrived says nothing about the filters
                failed_rounds = failed_rounds + 1 if not any(c.ok for c in completions) else 0
            if failed_rounds >= MAX_FAILED_ROUNDS:
                failures = ", ".join(f"{kind} x{count}" for kind, count in stats.failed.most_common())
                raise SelfInstructError(
                    f"bootstrap: every request of the last {failed_rounds} rounds failed after its retries "
                    f"({failures}; see llm_calls.jsonl and selfinstruct.log); the provider is not answering: "
                    f"rerun the same command later to resume")
            if stalled >= schedule.max_stalled_rounds:
                raise SelfInstructError(
                    f"bootstrap: no instruction accepted in {stalled} rounds in a row "
                    f"({len(accepted)}/{target} kept; see rejected.jsonl and metrics.json); "
                    f"raise schedule.max_stalled_rounds or loosen the filters"
                )
            round_no += 1
        progress.close()
        stats.wall_s = time.perf_counter() - started
        self._write_metrics(ctx, target, len(accepted), rejected_counts, stats)

    def _check_ledger_mode(self, ledger: list[dict[str, Any]]) -> None:
        """A run directory keeps the mode it started with: its files record rounds or request indices."""
        sliding = [("request_end" in r) for r in ledger if not _merged(r)]
        if not sliding:
            return
        if self.window == "round" and any(sliding):
            raise ConfigError(f"{self.config_key}.window=round: this run directory was bootstrapped without a "
                              f"barrier (a window of requests); resume it with the same {self.config_key}.window")
        if self.window != "round" and not all(sliding):
            raise ConfigError(f"{self.config_key}.window={self.window}: this run directory was bootstrapped in "
                              f"rounds; resume it with {self.config_key}.window=round")

    async def _run_without_barrier(self, ctx: RunContext, started: float, ledger: list[dict[str, Any]],
                                   accepted: list[dict[str, Any]], rejected_counts: Counter, seed_texts: list[str],
                                   machine_texts: list[str], paths: tuple[Path, Path, Path, Path]) -> None:
        """The bootstrap with no round barrier: up to ``window`` requests in flight, replies filtered in
        request order (a reorder buffer), request k showing machine demonstrations from the pool as it
        stood after request k - window.  Each prompt depends only on the seed and the replies before it,
        so a run is reproducible from its seed and its cache, and a resume sends the same prompts.
        The ledger commits every ``schedule.requests_per_round`` processed requests."""
        instructions_path, rejected_path, instances_path, ledger_path = paths
        schedule = ctx.cfg.schedule
        target, window, commit_every = schedule.num_instructions, int(self.window), schedule.requests_per_round
        with_instances = self.reply_format == "alpaca_tasks"
        committed = [r for r in ledger if "request_end" in r]
        first = committed[-1]["request_end"] + 1 if committed else 0
        # the pool's size after each processed request: accepted records carry the request that made them;
        # those without one (a merge's) come first and are in every request's pool
        base = sum(1 for r in accepted if "request" not in r)
        after = [0] * first
        for record in accepted:
            if 0 <= record.get("request", -1) < first:
                after[record["request"]] += 1
        for j in range(first):
            after[j] += after[j - 1] if j else base
        if accepted:
            log.info("bootstrap: resuming after request %d with %d accepted instructions", first - 1, len(accepted))

        def pool_after(j: int) -> list[str]:
            return machine_texts[: after[j] if j >= 0 else base]

        def yield_so_far() -> float:
            """Accepted per processed request so far (from the files, so a resume plans the same)."""
            made = len(accepted) - base
            return max(made / len(after), 0.25) if after and made else _ASSUMED_YIELD

        stats = RoundStats()
        progress = StageProgress(self.name, target, done=min(len(accepted), target), unit="instruction")
        in_flight: dict[int, asyncio.Task[Any]] = {}
        pending: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
        next_issue = next_process = first
        idle = failed_streak = 0
        round_no = max((r["round"] for r in ledger), default=-1) + 1

        def commit(last_request: int) -> None:
            nonlocal round_no
            new_accepted, new_rejected, new_instances = pending
            for record in (*new_accepted, *new_rejected):
                record["round"] = round_no
            append_jsonl(rejected_path, new_rejected)
            if with_instances:
                append_jsonl(instances_path, new_instances)
            append_jsonl(instructions_path, new_accepted)
            done = [r for r in ledger if "request_end" in r]
            start = done[-1]["request_end"] + 1 if done else 0
            entry = {"round": round_no, "requests": last_request - start + 1, "accepted": len(new_accepted),
                     "rejected": len(new_rejected), "request_end": last_request}
            append_jsonl(ledger_path, [entry])  # the commit point: a kill before it and these requests are redone
            ledger.append(entry)
            for part in pending:
                part.clear()
            round_no += 1
            stats.rounds += 1

        def may_issue(k: int) -> bool:
            if ctx.llm.stopped_reason or len(accepted) >= target:
                return False
            if k - window >= next_process:  # its demonstrations' pool is not known yet
                return False
            outstanding = next_issue - next_process
            return outstanding == 0 or len(accepted) + yield_so_far() * outstanding < target

        try:
            while True:
                while may_issue(next_issue):
                    k = next_issue
                    prompt = self._build_prompt(random.Random(f"{self.stream}:request{k}"), seed_texts,
                                                pool_after(k - window))
                    in_flight[k] = asyncio.ensure_future(ctx.llm.complete(prompt, self.sampling, stage=self.name))
                    next_issue += 1
                if next_process == next_issue:
                    break
                completion = await in_flight.pop(next_process)
                if ctx.llm.interrupted:
                    break  # this reply and those after it are not committed; resuming asks again (cached)
                k, next_process = next_process, next_process + 1
                # the round is the commit that takes this request: commit() writes it
                made = self._filter_reply(completion, -1, k, accepted, machine_texts, rejected_counts, stats, target,
                                          pending)
                after.append(len(machine_texts))
                idle = 0 if made or not completion.ok else idle + 1
                failed_streak = 0 if completion.ok else failed_streak + 1
                if (k + 1) % commit_every == 0 or len(accepted) >= target:
                    commit(k)
                    stats.wall_s = time.perf_counter() - started
                    self._write_metrics(ctx, target, len(accepted), rejected_counts, stats)
                    progress.update(len(accepted), ctx.llm)
                if failed_streak >= MAX_FAILED_ROUNDS * commit_every:
                    raise SelfInstructError(
                        f"bootstrap: the last {failed_streak} requests all failed after their retries (see "
                        f"llm_calls.jsonl and selfinstruct.log); the provider is not answering: rerun the same "
                        f"command later to resume")
                if idle >= schedule.max_stalled_rounds * commit_every:
                    raise SelfInstructError(
                        f"bootstrap: no instruction accepted in the last {idle} replies ({len(accepted)}/{target} "
                        f"kept; see rejected.jsonl and metrics.json); raise schedule.max_stalled_rounds or loosen "
                        f"the filters")
            last_committed = max((r["request_end"] for r in ledger if "request_end" in r), default=-1)
            if next_process - 1 > last_committed:
                commit(next_process - 1)
        finally:
            for task in in_flight.values():  # replies past the target (or after a stop) are not needed
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
        progress.close()
        stats.wall_s = time.perf_counter() - started
        self._write_metrics(ctx, target, len(accepted), rejected_counts, stats)

    def _filter_reply(self, completion: Any, round_no: int, request: int | None, accepted: list[dict[str, Any]],
                      machine_texts: list[str], rejected_counts: Counter, stats: RoundStats, target: int,
                      pending: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]) -> int:
        """Filter one reply's candidates against the pool, in request order, adding the records to
        ``pending`` (accepted, rejected, instances); returns how many were accepted.  ``request``: the
        request's index, recorded by the bootstrap without a barrier (None in rounds)."""
        tag = {} if request is None else {"request": request}
        new_accepted, new_rejected, new_instances = pending
        stats.requests += 1
        if not completion.ok:
            stats.failed[completion.error] += 1
            return 0
        if completion.truncated:
            stats.truncated_replies += 1
        candidates = self._candidates(completion)
        if not candidates and not completion.truncated:
            stats.empty_replies += 1
        made = 0
        for text, instance in candidates:
            if len(accepted) >= target:
                break
            stats.candidates += 1
            reason, verdict = first_rejection(self.filters, text)
            if reason is None:
                record = accepted_record(len(accepted), text, round_no, verdict, self.id_prefix) | tag
                accepted.append(record)
                new_accepted.append(record)
                machine_texts.append(text)
                made += 1
                for flt in self.filters.values():
                    flt.add(text)
                if instance is not None:
                    self._demo_instance[text] = instance
                    new_instances.append({"id": record["id"], "instruction": text, "is_classification": None,
                                          "instances": [instance], "truncated": False})
            else:
                rejected_counts[reason] += 1
                new_rejected.append({"instruction": text, "reason": reason, "score": verdict.score,
                                     "round": round_no, **tag})
        stats.accepted_this_run += made
        return made

    def plan(self, ctx: RunContext) -> StagePlan:
        done = len(read_jsonl(ctx.run_dir / INSTRUCTIONS_FILE))
        remaining = max(0, ctx.cfg.schedule.num_instructions - done)
        per_request = _ASSUMED_YIELD if self.reply_format == "numbered_list" else _ASSUMED_ALPACA_YIELD
        typical = _TYPICAL_LIST_TOKENS if self.reply_format == "numbered_list" else _TYPICAL_ALPACA_TOKENS
        self._demo_instance = {t.instruction: asdict(t.instances[0]) for t in ctx.seeds}
        sample = self._build_prompt(random.Random(0), [t.instruction for t in ctx.seeds], [])
        return StagePlan(
            requests=math.ceil(remaining / per_request),
            sample_messages=sample,
            completion_tokens_each=min(self.sampling.get("max_tokens") or typical, typical),
            note=f"assumes {per_request:g} accepted per request",
        )

    @staticmethod
    def _committed(
        ledger: list[dict[str, Any]], instructions_path: Path, rejected_path: Path, instances_path: Path | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The records of committed rounds; lines of a round the ledger never closed are cut off the files."""
        last = max((r["round"] for r in ledger), default=-1)
        accepted = read_jsonl(instructions_path)
        kept = [r for r in accepted if r["round"] <= last]
        ids = {r["id"] for r in kept}
        files: list[tuple[Path, list[dict[str, Any]], list[dict[str, Any]]]] = []
        rejected = read_jsonl(rejected_path)
        files.append((instructions_path, accepted, kept))
        files.append((rejected_path, rejected, [r for r in rejected if r["round"] <= last]))
        if instances_path is not None:
            tasks = read_jsonl(instances_path)
            files.append((instances_path, tasks, [t for t in tasks if t["id"] in ids]))
        for path, before, after in files:
            if len(after) != len(before):
                log.warning("%s: dropped %d lines of round %d, which never finished; it is redone",
                            path.name, len(before) - len(after), last + 1)
                write_jsonl_atomic(path, after)
        return files[0][2], files[1][2], files[2][2] if instances_path is not None else []

    def _plan_requests(self, remaining: int, ledger: list[dict[str, Any]], cap: int) -> int:
        """Prompts for this round: enough to reach the target at the yield recorded so far, within ``cap``.

        The yield comes from the ledger, not from this process, so a resumed run plans the same rounds.
        """
        requests = sum(r["requests"] for r in ledger)
        accepted = sum(r["accepted"] for r in ledger)
        per_request = accepted / requests if requests and accepted else _ASSUMED_YIELD
        return max(1, min(cap, math.ceil(remaining / max(per_request, 0.25))))

    def _candidates(self, completion: Any) -> list[tuple[str, dict[str, str] | None]]:
        """(instruction, instance or None) pairs of a reply.

        A numbered list cut off by the length limit is dropped whole (paper); of Alpaca-style
        tasks only the last one, which is the one cut off, is dropped (as Alpaca does).
        """
        if self.reply_format == "numbered_list":
            return [] if completion.truncated else [(t, None) for t in parse_instruction_list(completion.text)]
        tasks = parse_alpaca_tasks(completion.text)
        if completion.truncated:
            tasks = tasks[:-1]
        return [(t.instruction, {"input": t.input, "output": t.output}) for t in tasks]

    def _build_prompt(self, rng: random.Random, seed_texts: list[str], machine_texts: list[str]) -> list[dict[str, str]]:
        machine = rng.sample(machine_texts, min(self.num_machine_demos, len(machine_texts)))
        human = rng.sample(seed_texts, min(self.num_demos - len(machine), len(seed_texts)))
        chosen = machine + human
        rng.shuffle(chosen)
        if self.reply_format == "numbered_list":
            demos: list[Any] = [clean_demo(text) for text in chosen]
        else:
            demos = [{"instruction": clean_demo(text), **self._demo_instance[text]} for text in chosen]
        return self.prompt.messages(demos=demos, next_number=len(demos) + 1)

    @staticmethod
    def _write_metrics(ctx: RunContext, target: int, accepted: int, rejected: Counter, stats: RoundStats) -> None:
        usage = usage_metrics(ctx, "bootstrap")
        # failures and truncations as this stage saw them (a budget stop is not a failure)
        usage["failed_requests"] = {k: v for k, v in stats.failed.items() if k not in (BUDGET_ERROR, INTERRUPTED_ERROR)}
        ctx.metrics.update(
            "bootstrap",
            {
                "target": target,
                "accepted": accepted,
                "rejected": dict(rejected),
                "rejected_total": sum(rejected.values()),
                "candidates_this_run": stats.candidates,
                "rounds_this_run": stats.rounds,
                **usage,
                "unparsed_replies": stats.empty_replies,
                "wall_s": round(stats.wall_s, 3),
            },
        )
        ctx.metrics.write()

