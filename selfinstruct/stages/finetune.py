"""Stage 4: clean the generated instances and write fine-tuning files (paper, section 2.3).

Reads instances.jsonl (and, with export.include_seeds, the seed tasks), applies the paper's
cleaning rules, removes exact duplicates across tasks, shuffles, and writes each format in
export.formats under finetune/, each file whole via a rename.  It sends no requests, so
``pipeline.stages=[finetune] hydra.run.dir=RUN`` re-exports a finished run without an API key.
The same input and schedule.seed give byte-identical files.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from selfinstruct.config import to_plain
from selfinstruct.errors import SelfInstructError
from selfinstruct.export.build import build_writers
from selfinstruct.export.cleaning import CleaningLimits, clean_tasks
from selfinstruct.export.encoding import PromptEncoder
from selfinstruct.data import write_text_atomic
from selfinstruct.export.formats import ExportSettings, FormatWriter
from selfinstruct.export.records import GeneratedTask, dedupe_examples, read_generated_tasks, to_examples
from selfinstruct.rundir import INSTANCES_FILE
from selfinstruct.stages.base import RunContext, Stage

log = logging.getLogger(__name__)


class FinetuneStage(Stage):
    name = "finetune"
    needs_llm = False

    def prepare(self, ctx: RunContext) -> None:
        export = ctx.cfg.export
        self.limits = CleaningLimits.from_config(export.cleaning)
        encoder = PromptEncoder(to_plain(export.templates.with_input), to_plain(export.templates.without_input),
                                export.completion_suffix)
        self.settings = ExportSettings(encoder, export.system_prompt or None, int(ctx.cfg.schedule.seed))
        self.writers: dict[str, FormatWriter] = build_writers(export.formats)
        for writer in self.writers.values():
            writer.check(self.settings)
        stages = list(ctx.cfg.pipeline.stages)
        if stages and stages[0] == self.name:  # nothing earlier in this run can write the input
            self._require_input(ctx.run_dir)

    async def run(self, ctx: RunContext) -> None:
        tasks = read_generated_tasks(self._require_input(ctx.run_dir))
        kept, report = clean_tasks(tasks, self.limits)
        seed_examples = []
        seed_drops = 0
        if ctx.cfg.export.include_seeds:
            seeds, seed_report = clean_tasks((GeneratedTask.from_seed(t) for t in ctx.seeds), self.limits)
            seed_examples = to_examples(seeds, from_seed=True)
            seed_drops = seed_report.instances_in - seed_report.instances_out
        # seeds first, so an example the model copied from a seed counts as the seed's
        examples, duplicates = dedupe_examples(seed_examples + to_examples(kept))
        random.Random(f"{ctx.cfg.schedule.seed}:finetune").shuffle(examples)
        if not examples:
            log.warning("finetune: no examples left after cleaning; the exports are empty")

        written = {}
        for name, writer in self.writers.items():
            rendered = writer.render(examples, self.settings)
            write_text_atomic(ctx.run_dir / writer.path, rendered.text)
            written[name] = {"path": writer.path, **rendered.stats}

        n_seed = sum(e.from_seed for e in examples)
        ctx.metrics.update(self.name, {
            **report.to_json(),
            "duplicate_examples": duplicates,
            "seed_examples": n_seed,
            "seed_instances_dropped": seed_drops,
            "machine_examples": len(examples) - n_seed,
            "examples_out": len(examples),
            "formats": written,
        })
        ctx.metrics.write()
        log.info("finetune: %d tasks in, %d kept; %d examples (%d from seeds) written as %s",
                 report.tasks_in, report.tasks_out, len(examples), n_seed, ", ".join(written))

    @staticmethod
    def _require_input(run_dir: Path) -> Path:
        path = run_dir / INSTANCES_FILE
        if not path.is_file():
            raise SelfInstructError(
                f"{path}: not found; the finetune stage reads the instances stage's output, so run the "
                f"instances stage first (pipeline.stages=[...,instances,finetune]) or point hydra.run.dir "
                f"at a run directory that has {INSTANCES_FILE}"
            )
        return path
