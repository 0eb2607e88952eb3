"""Build the stages named in ``pipeline.stages`` and run them in one event loop, in order.

Everything that can be checked is checked before the first request or write: stage names,
filters, templates, seeds and the provider's key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from selfinstruct import __version__
from selfinstruct.data import load_seed_tasks
from selfinstruct.errors import ConfigError, one_line
from selfinstruct.metrics import RunMetrics
from selfinstruct.resources import resolve_path
from selfinstruct.stages.base import RunContext, Stage

log = logging.getLogger(__name__)


def build_stages(cfg: DictConfig) -> list[Stage]:
    """The stage objects for ``pipeline.stages``, in order (constructors only: no I/O, no LiteLLM)."""
    stages = []
    for i, name in enumerate(cfg.pipeline.stages):
        if name not in cfg.stages:
            known = ", ".join(cfg.stages.keys())
            raise ConfigError(f"pipeline.stages[{i}]: unknown stage '{name}' (known: {known})")
        try:
            stage = instantiate(cfg.stages[name])
        except InstantiationException as exc:
            raise ConfigError(f"stages.{name}: cannot build: {one_line(exc)}") from None
        if not isinstance(stage, Stage):
            raise ConfigError(f"stages.{name}: {cfg.stages[name]._target_} is not a Stage")
        stages.append(stage)
    return stages


def prepare_run(cfg: DictConfig, run_dir: Path) -> tuple[list[Stage], RunContext]:
    """Validate everything and load seeds and templates; writes nothing and sends nothing."""
    stages = build_stages(cfg)
    seeds = load_seed_tasks(resolve_path(cfg.seeds.path, "seeds"), cfg.seeds.format)
    ctx = RunContext(cfg=cfg, run_dir=run_dir, seeds=seeds, metrics=RunMetrics(run_dir))
    for stage in stages:
        stage.prepare(ctx)
    return stages, ctx


async def _run_stages(stages: list[Stage], ctx: RunContext) -> None:
    for stage in stages:
        log.info("stage %s: starting", stage.name)
        await stage.run(ctx)
        log.info("stage %s: done", stage.name)


def run_pipeline(cfg: DictConfig, run_dir: Path) -> None:
    """Run the configured stages on ``run_dir``; raises SelfInstructError on bad input or setup."""
    from selfinstruct.llm.endpoint import SIMULATED_NOTICE, open_endpoint

    model = cfg.model
    if model.simulated:
        log.info("model %s: %s", model.name, SIMULATED_NOTICE)
    else:
        log.info("model %s", model.name)
    started = time.perf_counter()
    stages, ctx = prepare_run(cfg, run_dir)
    log.info("run directory %s; %d seed tasks; stages %s", run_dir, len(ctx.seeds), list(cfg.pipeline.stages))

    metrics = ctx.metrics
    metrics.set("selfinstruct_version", __version__)
    metrics.set("model", model.name)
    metrics.set("simulated_model", bool(model.simulated))
    if model.simulated:
        metrics.set("notice", SIMULATED_NOTICE)
    metrics.set("started_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))

    # Stages that send no requests (finetune on an existing run) need no endpoint and no key.
    endpoint_cm = open_endpoint(model) if any(s.needs_llm for s in stages) else nullcontext(None)
    with endpoint_cm as endpoint:
        if endpoint is not None:
            from selfinstruct.llm.client import LLMClient

            ctx.llm_factory = lambda: LLMClient(model, endpoint.api_base, endpoint.api_key)
        try:
            asyncio.run(_run_stages(stages, ctx))
        finally:
            if ctx._llm is not None:
                metrics.set("llm", ctx.llm.usage.to_json())
            metrics.set("wall_s", round(time.perf_counter() - started, 3))
            metrics.write()
