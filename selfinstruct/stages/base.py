"""What every stage gets (the run context) and must provide (prepare, then run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from selfinstruct.data import Task
from selfinstruct.metrics import RunMetrics

if TYPE_CHECKING:
    from selfinstruct.llm.client import LLMClient
    from selfinstruct.llm.models import ModelRef
    from selfinstruct.llm.pool import ClientPool


@dataclass
class RunContext:
    """The run's config, directory, seeds, metrics and its LLM clients (built on first use)."""

    cfg: DictConfig
    run_dir: Path
    seeds: list[Task]
    metrics: RunMetrics
    pool: "ClientPool | None" = field(default=None, repr=False)
    # set by a stage that ends the run early on purpose (a fine-tuning job submitted with wait=false):
    # the stages after it do not run, the run ends with exit 0 and says why
    paused: str | None = None

    def pause(self, reason: str) -> None:
        self.paused = reason

    def client(self, ref: "ModelRef") -> "LLMClient":
        """The client of one model of the run (the generator, the judge, an evaluated model)."""
        if self.pool is None:
            raise RuntimeError("this run has no LLM endpoint")
        return self.pool.client(ref)

    @property
    def llm(self) -> "LLMClient":
        """The generator's client (``model.*``)."""
        from selfinstruct.llm.models import generator_ref

        return self.client(generator_ref(self.cfg))

    @property
    def judge(self) -> "LLMClient":
        """The judge's client (``judge.*``; the generator's when ``judge.model`` is null)."""
        from selfinstruct.llm.models import judge_ref

        return self.client(judge_ref(self.cfg))


@dataclass(frozen=True)
class StagePlan:
    """What a stage expects to send, for the dry run: requests, a sample prompt, completion tokens each."""

    requests: int
    sample_messages: list[dict[str, str]]
    completion_tokens_each: int
    note: str = ""
    # the model that answers (None: the generator) and the row's name in the table (None: the stage's)
    model: "ModelRef | None" = None
    label: str | None = None
    # a cost that is not per request (a fine-tuning job's training tokens), None: unknown
    fixed_cost_usd: float | None = 0.0


class Stage:
    """A pipeline step.  ``prepare`` validates and loads (no requests, no writes) for every stage
    before any stage runs, so bad configs fail before money is spent; ``run`` does the work."""

    name: str = "stage"
    needs_llm: bool = True

    @property
    def config_key(self) -> str:
        """This stage's config entry (``stages.NAME``, conf/stages/NAME.yaml), for error messages."""
        return f"stages.{self.name}"

    def prepare(self, ctx: RunContext) -> None:
        """Check config and load templates; raise SelfInstructError naming the bad key."""

    def plan(self, ctx: RunContext) -> "StagePlan | list[StagePlan] | None":
        """The requests this stage would send (None: it sends none; a list: to several models)."""
        return None

    def models(self, ctx: RunContext) -> "list[ModelRef]":
        """The models this stage sends requests to: their keys and prices are checked before the run."""
        from selfinstruct.llm.models import generator_ref

        return [generator_ref(ctx.cfg)] if self.needs_llm else []

    async def run(self, ctx: RunContext) -> None:
        raise NotImplementedError
