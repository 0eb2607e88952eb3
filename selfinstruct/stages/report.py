"""Stage 5: the run's report -- report.md, figures/*.png and report.html (a self-contained page to browse
the run), built from the run directory's files.

It sends no requests and reads only files, so it also runs when earlier stages were skipped
(``pipeline.stages=[report] hydra.run.dir=RUN``) and reports what exists, naming what is missing.
The same report comes from ``selfinstruct-report RUN`` at any later time (see selfinstruct.report).
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Any

from selfinstruct.errors import SelfInstructError
from selfinstruct.rundir import ALPACA_FILE, INSTANCES_FILE, INSTRUCTIONS_FILE, METRICS_FILE
from selfinstruct.stages.base import RunContext, Stage

log = logging.getLogger(__name__)

# a run directory the report can say something about holds at least one of these
_INPUTS = (INSTRUCTIONS_FILE, INSTANCES_FILE, METRICS_FILE, ALPACA_FILE)


class ReportStage(Stage):
    name = "report"
    needs_llm = False

    def prepare(self, ctx: RunContext) -> None:
        import matplotlib  # noqa: F401 - fail before any request when the plotting library is missing

        stages = list(ctx.cfg.pipeline.stages)
        if stages and stages[0] == self.name and not any((ctx.run_dir / f).exists() for f in _INPUTS):
            raise SelfInstructError(
                f"{ctx.run_dir}: nothing to report (no {', '.join(_INPUTS)}); run the earlier stages first "
                f"or point hydra.run.dir at an existing run directory")

    async def run(self, ctx: RunContext) -> None:
        from selfinstruct.report.run import report_run, summary

        metrics, notes = self._live_metrics(ctx)
        report = report_run(ctx.run_dir, seeds=ctx.seeds, metrics=metrics, notes=notes)
        ctx.metrics.update(self.name, summary(report))
        ctx.metrics.write()

    @staticmethod
    def _live_metrics(ctx: RunContext) -> tuple[dict[str, Any], list[str]]:
        """metrics.json as it will be at the end of the run: the engine writes the run's LLM usage and
        wall time only after the last stage, so the stage fills them in from the live client."""
        data = copy.deepcopy(ctx.metrics.data)
        notes: list[str] = []
        pool = ctx.pool  # used only if a stage of this run sent requests
        if pool is not None and pool.used:
            data["llm"] = pool.usage.to_json()
            started = data.get("started_at")
            try:
                begun = datetime.fromisoformat(started) if isinstance(started, str) else None
            except ValueError:
                begun = None
            if begun is not None:
                data["wall_s"] = round((datetime.now(timezone.utc) - begun).total_seconds(), 1)
                notes.append("wall time is measured up to this report (to the second); metrics.json has the "
                             "final figure, and `selfinstruct-report` on this directory shows it")
        return data, notes
