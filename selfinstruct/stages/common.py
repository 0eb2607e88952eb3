"""Small pieces the per-instruction stages share: reading the accepted instructions, usage metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfinstruct.data import read_jsonl, write_jsonl_atomic
from selfinstruct.errors import SelfInstructError
from selfinstruct.llm.usage import Usage
from selfinstruct.rundir import INSTRUCTIONS_FILE
from selfinstruct.stages.base import RunContext


def read_required(path: Path, stage: str, producer: str) -> list[dict[str, Any]]:
    """Records of a file an earlier stage wrote; a clear error when that stage has not run."""
    if not path.exists():
        raise SelfInstructError(
            f"{stage}: {path} not found: run the {producer} stage first (pipeline.stages=[{producer},{stage},...])"
        )
    return read_jsonl(path)


def usage_metrics(ctx: RunContext, stage: str) -> dict[str, Any]:
    """Requests, retries and failures by kind, cache hits, odd replies, tokens and cost of this
    stage in this invocation (keys prefixed ``failed_``/``retries`` hold counts by error kind)."""
    # the run's clients (generator, judge, evaluated models) share their totals: the pool's are this stage's
    usage = (ctx.pool.stage_usage(stage) if ctx.pool is not None else Usage()).to_json()
    return {
        "requests": usage["requests"],
        "attempts_sent": usage["attempts_sent"],
        "cache_hits": usage["cache_hits"],
        "failed_requests": usage["failed"],
        "retries": usage["retries"],
        "empty_replies": usage["empty_replies"],
        "truncated_replies": usage["truncated_replies"],
        "prompt_tokens": usage["prompt_tokens"],
        "cached_prompt_tokens": usage["cached_prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "cost_usd": usage["cost_usd"],
    }


def planned_tasks(ctx: RunContext) -> int:
    """Tasks a per-instruction stage would ask about: the accepted instructions, or the target."""
    path = ctx.run_dir / INSTRUCTIONS_FILE
    return max(len(read_jsonl(path)) if path.exists() else 0, ctx.cfg.schedule.num_instructions)


def rewrite_in_order(path: Path, records: list[dict[str, Any]]) -> None:
    """Put a per-instruction file in instruction order (atomically) if retries or a resume appended
    records out of it, so the file is the same however the run was interrupted."""
    current = read_jsonl(path)
    if [r["id"] for r in current] != [r["id"] for r in records] and len(current) == len(records):
        write_jsonl_atomic(path, records)


def write_in_order(path: Path, records: list[dict[str, Any]]) -> None:
    """Make a file the stage appended to as replies came hold exactly ``records``, in their order
    (atomically, and only when it differs): retries, a resume or stale lines of an earlier
    invocation then leave the same file as an uninterrupted run."""
    if read_jsonl(path) != records:
        write_jsonl_atomic(path, records)
