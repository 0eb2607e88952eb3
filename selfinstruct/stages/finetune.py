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

from omegaconf import OmegaConf

from selfinstruct.config import to_plain
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.export.build import build_writers
from selfinstruct.export.cleaning import CleaningLimits, clean_tasks, drop_judged_invalid
from selfinstruct.export.encoding import PromptEncoder
from selfinstruct.data import read_jsonl, write_text_atomic
from selfinstruct.export.formats import ExportSettings, FormatWriter
from selfinstruct.export.records import GeneratedTask, dedupe_examples, read_generated_tasks, to_examples
from selfinstruct.rundir import AUDIT_FILE, INSTANCES_FILE
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
        self.audit_filter = bool(OmegaConf.select(ctx.cfg, "stages.audit.filter", default=False))
        if self.audit_filter:
            before = stages[: stages.index(self.name)] if self.name in stages else stages
            if "audit" not in before and not (ctx.run_dir / AUDIT_FILE).is_file():
                raise ConfigError(
                    f"stages.audit.filter=true: the finetune stage drops what the audit judged invalid, but "
                    f"{ctx.run_dir / AUDIT_FILE} does not exist and the audit stage does not run before finetune "
                    f"(pipeline.stages=[...,instances,audit,finetune,...])")

    async def run(self, ctx: RunContext) -> None:
        tasks = read_generated_tasks(self._require_input(ctx.run_dir))
        kept, report = clean_tasks(tasks, self.limits)
        if self.audit_filter:
            kept = drop_judged_invalid(kept, self._judged_invalid(ctx.run_dir), report)
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
    def _judged_invalid(run_dir: Path) -> set[tuple[str, str, str]]:
        """(instruction, input, output) of every instance the audit judged invalid (any question No);
        an unparsed or missing verdict keeps the instance: nothing is dropped on a guess."""
        path = run_dir / AUDIT_FILE
        if not path.is_file():
            raise SelfInstructError(f"{path}: not found; stages.audit.filter=true needs the audit stage's "
                                    f"verdicts (run the audit stage before finetune)")
        records = read_jsonl(path)
        invalid = {(r["instruction"], r["input"], r["output"]) for r in records if r.get("all_valid") is False}
        log.info("finetune: audit.jsonl judged %d of %d audited instances invalid; they are left out",
                 len(invalid), len(records))
        return invalid

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
