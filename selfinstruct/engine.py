"""Build the stages named in ``pipeline.stages`` and run them in one event loop, in order.

Everything that can be checked is checked before the first request or write: stage names,
filters, templates, seeds and the provider's key.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from selfinstruct import __version__
from selfinstruct.components import build_component
from selfinstruct.data import remove_stale_temp_files
from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import ConfigError, SelfInstructError, one_line
from selfinstruct.llm.budget import StopFlag
from selfinstruct.llm.models import ModelRef, name_key
from selfinstruct.llm.pool import ClientPool
from selfinstruct.metrics import RunMetrics
from selfinstruct.runrecord import RunLock, RunRecord, check_run_directory
from selfinstruct.resources import resolve_path
from selfinstruct.rundir import LLM_CALLS_FILE, SPEND_FILE
from selfinstruct.stages.base import RunContext, Stage

log = logging.getLogger(__name__)


def build_stages(cfg: DictConfig) -> list[Stage]:
    """The stage objects for ``pipeline.stages``, in order (constructors only: no I/O, no LiteLLM)."""
    stages = []
    for i, name in enumerate(cfg.pipeline.stages):
        if name not in cfg.stages:
            known = ", ".join(cfg.stages.keys())
            raise ConfigError(f"pipeline.stages[{i}]: unknown stage '{name}' (known: {known})")
        stages.append(build_component(cfg.stages[name], f"stages.{name}", Stage, "a stage"))
    return stages


def prepare_run(cfg: DictConfig, run_dir: Path) -> tuple[list[Stage], RunContext]:
    """Validate everything and load seeds and templates; writes nothing and sends nothing."""
    stages = build_stages(cfg)
    seeds = load_seed_tasks(resolve_path(cfg.seeds.path, "seeds"), cfg.seeds.format)
    ctx = RunContext(cfg=cfg, run_dir=run_dir, seeds=seeds, metrics=RunMetrics(run_dir))
    for stage in stages:
        stage.prepare(ctx)
    return stages, ctx


def _install_signal_handlers(stop: StopFlag) -> None:
    """First SIGINT/SIGTERM: send nothing new, let in-flight requests finish, write, exit. Second: abort."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        stop.set(f"interrupted by {sig.name}")
        stop.signal = sig
        log.warning("%s: no new requests; waiting for those in flight, then writing everything "
                    "(send it again to abort at once)", sig.name)
        for s in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(s)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread (e.g. some launchers)
            return


async def _run_stages(stages: list[Stage], ctx: RunContext, stop: StopFlag) -> str | None:
    """Run the stages in order; returns why the run stopped early (interrupt or budget), or None."""
    _install_signal_handlers(stop)
    try:
        return await _run_stages_in_order(stages, ctx, stop)
    except BaseException:
        # a fatal error in one request: the stage's other requests are cancelled here, quietly,
        # rather than left for asyncio.run to cancel and report as unhandled
        await _cancel_other_tasks()
        raise


IN_FLIGHT_GRACE_S = 5.0  # after a fatal error: how long requests already sent may take to come back and be logged


async def _cancel_other_tasks() -> None:
    """Let requests already sent come back (nothing new is sent after a fatal error), for a few
    seconds at most, so llm_calls.jsonl and the spend record have them; then cancel the rest."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if others:
        _, pending = await asyncio.wait(others, timeout=IN_FLIGHT_GRACE_S)
        for task in pending:
            task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


async def _run_stages_in_order(stages: list[Stage], ctx: RunContext, stop: StopFlag) -> str | None:
    for stage in stages:
        if stop.reason:
            return stop.reason
        log.info("stage %s: starting", stage.name)
        await stage.run(ctx)
        if ctx.paused:
            log.warning("%s", ctx.paused)
            return None
        stopped = stop.reason or (ctx.pool.stopped_reason if ctx.pool is not None else None)
        if stopped:
            log.warning("stage %s: stopped: %s", stage.name, stopped)
            return stopped
        log.info("stage %s: done", stage.name)
    return None


@dataclass
class RunOutcome:
    """How a run ended: done, budget or interrupted (errors raise), and the signal if any."""

    ended: str
    detail: str | None = None
    signal: signal.Signals | None = None


def run_models(stages: list[Stage], ctx: RunContext) -> list[ModelRef]:
    """Every model the stages send requests to (generator, judge, evaluated models), once each."""
    refs: dict[str, ModelRef] = {}
    for stage in stages:
        for ref in stage.models(ctx):
            refs.setdefault(ref.where, ref)
    return list(refs.values())


def check_price_for_budget(cfg: DictConfig, refs: list[ModelRef]) -> None:
    """budget.max_usd needs a price for every model the run asks: without one no cost can be counted
    and the cap would not hold."""
    if cfg.budget.max_usd is None or not refs:
        return
    from selfinstruct.llm.cost import price_known
    from selfinstruct.llm.litellm_import import import_litellm

    litellm = import_litellm()
    for ref in refs:
        if not price_known(litellm, ref.config):
            key = name_key(ref.where)
            raise ConfigError(
                f"budget.max_usd={cfg.budget.max_usd}: the price of {key}={ref.name} is not known, so "
                f"no spending can be counted against the cap; set {ref.where}.input_cost_per_token and "
                f"{ref.where}.output_cost_per_token (dollars per token), or drop budget.max_usd")


def run_pipeline(cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None,
                 on_locked: Callable[[], None] | None = None) -> RunOutcome:
    """Run the configured stages on ``run_dir``; raises SelfInstructError on bad input or setup.

    Everything that can be refused is refused before the run directory's lock is taken, and nothing
    is written into the directory before it: ``on_locked`` (the CLI's: start the log file, save the
    config in .hydra/) runs once the lock is held.
    """
    from selfinstruct.config_checks import check_config
    from selfinstruct.llm.endpoint import SIMULATED_NOTICE

    check_config(cfg)
    model = cfg.model
    started = time.perf_counter()
    stages, ctx = prepare_run(cfg, run_dir)
    refs = run_models(stages, ctx)
    check_price_for_budget(cfg, refs)
    if cfg.dry_run:
        from selfinstruct.dryrun import print_plan

        print_plan(stages, ctx)
        return RunOutcome("done", "dry run")
    check_run_directory(run_dir)

    lock = RunLock(run_dir)
    lock.acquire()
    try:
        if on_locked is not None:
            on_locked()
        if model.simulated:
            log.info("model %s: %s", model.name, SIMULATED_NOTICE)
        else:
            log.info("model %s", model.name)
        log.info("run directory %s; %d seed tasks; stages %s", run_dir, len(ctx.seeds), list(cfg.pipeline.stages))
        removed = remove_stale_temp_files(run_dir)
        if removed:
            log.info("removed %d temporary file(s) left by an earlier run that was killed", removed)
        record = RunRecord(run_dir, resolve_path(cfg.seeds.path, "seeds"), overrides or [])
        budget = _open_budget(cfg, run_dir, record)
        record.start()
        try:
            outcome = _run_locked(cfg, run_dir, stages, ctx, started, refs, SIMULATED_NOTICE, budget)
        except BaseException as exc:
            try:
                record.finish("error", one_line(exc) if isinstance(exc, Exception) else type(exc).__name__)
            except SelfInstructError:  # a full disk cannot take the record either: the first error is the news
                pass
            raise
        record.finish(outcome.ended, outcome.detail)
        return outcome
    finally:
        lock.release()


def _open_budget(cfg: DictConfig, run_dir: Path, record: RunRecord) -> Any:
    """The run's budget over every invocation, from spend.jsonl; earlier invocations' requests that never
    saw a reply (they were killed) are counted at their reserved cost and noted in run.json."""
    from selfinstruct.llm.budget import Budget, SpendLedger

    capped = cfg.budget.max_usd is not None or cfg.budget.max_requests is not None
    ledger = SpendLedger(run_dir / SPEND_FILE, record.invocation, sync=capped)
    budget = Budget(max_usd=cfg.budget.max_usd, max_requests=cfg.budget.max_requests, ledger=ledger)
    earlier = budget.earlier
    for invocation, count in earlier.without_reply.items():
        record.note(invocation, requests_without_reply=count)
    if earlier.requests:
        cap = []
        if cfg.budget.max_usd is not None:
            cap.append(f"budget.max_usd={cfg.budget.max_usd}")
        if cfg.budget.max_requests is not None:
            cap.append(f"budget.max_requests={cfg.budget.max_requests}")
        log.info("spend: earlier invocations of this run sent %d requests costing $%.4f%s%s",
                 earlier.requests, earlier.usd,
                 f" ({sum(earlier.without_reply.values())} never saw a reply, counted at their worst case)"
                 if earlier.without_reply else "",
                 f"; the cap ({', '.join(cap)}) covers them too" if cap else "")
    return budget


def _per_1000(run_dir: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    """Tokens and dollars per 1,000 accepted instructions over every invocation (None: unknown)."""
    from selfinstruct.report.usage import per_1000_from_run

    try:
        return per_1000_from_run(run_dir, data)
    except Exception as exc:  # noqa: BLE001 - a summary must never cost the run its metrics.json
        log.warning("per-1,000 figures not computed (%s)", " ".join(str(exc).split()))
        return None


def _log_spend(spend: dict[str, Any], priced: bool) -> None:
    """One line: what this invocation and the earlier ones spent, and the run's total."""
    def usd(value: float) -> str:
        return f"${value:.4f}" if priced else "cost unknown"

    log.info("spend: this invocation %s (%d requests), earlier invocations %s (%d requests), total %s",
             usd(spend["this_invocation"]["usd"]), spend["this_invocation"]["requests"],
             usd(spend["earlier_invocations"]["usd"]), spend["earlier_invocations"]["requests"],
             usd(spend["total"]["usd"]))


def _run_locked(cfg: DictConfig, run_dir: Path, stages: list[Stage], ctx: RunContext, started: float,
                refs: list[ModelRef], notice: str, budget: Any) -> RunOutcome:
    model = cfg.model
    metrics = ctx.metrics
    metrics.set("selfinstruct_version", __version__)
    metrics.set("model", model.name)
    metrics.set("simulated_model", bool(model.simulated))
    if model.simulated:
        metrics.set("notice", notice)
    metrics.set("started_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))

    for ref in refs:
        if ref.where != "model":
            log.info("%s %s%s", ref.where, ref.name, " (SIMULATED)" if ref.config.simulated else "")
    stop = StopFlag()
    stopped: str | None = None
    # Stages that send no requests (finetune on an existing run) need no endpoint and no key.
    pool = ClientPool(cfg, run_dir, budget, stop) if refs else None
    if pool is not None:
        try:  # every model's key is checked (and loopback servers started) before any request
            pool.open(refs)
        except BaseException:
            pool.close()
            raise
        ctx.pool = pool
    try:
        stopped = asyncio.run(_run_stages(stages, ctx, stop))
    finally:
        if pool is not None:
            pool.close()
            if pool.used:
                metrics.set("llm", pool.usage.to_json())
        budget.ledger.close()
        spend = budget.to_json()
        metrics.set("spend", spend)
        if budget.sent or budget.earlier.requests:
            _log_spend(spend, priced=pool is None or pool.priced)
        metrics.set("wall_s", round(time.perf_counter() - started, 3))
        if pool is not None and pool.used:
            metrics.set("per_1000_accepted", _per_1000(run_dir, metrics.data))
        reason = "interrupted" if stop.reason else "budget"
        metrics.set("stopped", {"reason": reason, "detail": stopped} if stopped else None)
        metrics.write()
    if stop.reason:
        return RunOutcome("interrupted", stop.reason, getattr(stop, "signal", None))
    if ctx.paused:
        return RunOutcome("paused", ctx.paused)
    if stopped:
        log.warning("run stopped on budget (%s); everything so far is written in %s; "
                    "rerun the same command with a larger budget to continue", stopped, run_dir)
        return RunOutcome("budget", stopped)
    return RunOutcome("done")
