"""What every stage gets (the run context) and must provide (prepare, then run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from omegaconf import DictConfig

from selfinstruct.data import Task
from selfinstruct.metrics import RunMetrics

if TYPE_CHECKING:
    from selfinstruct.llm.client import LLMClient


@dataclass
class RunContext:
    """The run's config, directory, seeds, metrics and (created on first use) LLM client."""

    cfg: DictConfig
    run_dir: Path
    seeds: list[Task]
    metrics: RunMetrics
    llm_factory: Callable[[], "LLMClient"] | None = None
    _llm: Any = field(default=None, repr=False)

    @property
    def llm(self) -> "LLMClient":
        if self._llm is None:
            if self.llm_factory is None:
                raise RuntimeError("this run has no LLM endpoint")
            self._llm = self.llm_factory()
        return self._llm


@dataclass(frozen=True)
class StagePlan:
    """What a stage expects to send, for the dry run: requests, a sample prompt, completion tokens each."""

    requests: int
    sample_messages: list[dict[str, str]]
    completion_tokens_each: int
    note: str = ""


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

    def plan(self, ctx: RunContext) -> StagePlan | None:
        """The requests this stage would send (None: it sends none)."""
        return None

    async def run(self, ctx: RunContext) -> None:
        raise NotImplementedError
