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
from selfinstruct.export.card import (CardInputs, RunFacts, llama_factory_info, mark_simulated, seeds_license,
                                      write_dataset_repo)
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.export.build import build_writers
from selfinstruct.export.cleaning import CleaningLimits, clean_tasks, drop_judged_invalid
from selfinstruct.export.encoding import PromptEncoder
from selfinstruct.data import read_jsonl, write_text_atomic
from selfinstruct.export.formats import ExportSettings, FormatWriter
from selfinstruct.export.records import GeneratedTask, dedupe_examples, read_generated_tasks, to_examples
from selfinstruct.resources import resolve_path
from selfinstruct.rundir import AUDIT_FILE, INSTANCES_FILE
from selfinstruct.runrecord import sha256_file
from selfinstruct.stages.base import RunContext, Stage

log = logging.getLogger(__name__)

# the stages that write the data the finetune stage reads: when one runs in this invocation, its model made the data
GENERATING_STAGES = ("bootstrap", "merge", "classify", "instances")


def earlier_simulated(metrics: dict) -> bool:
    """Whether an earlier invocation on the run directory used the simulated model (metrics.json as read
    before this invocation rewrites it): data it made stays simulated, whatever model re-exports it."""
    finetune = metrics.get("finetune") if isinstance(metrics.get("finetune"), dict) else {}
    return bool(metrics.get("simulated_model")) or bool(finetune.get("simulated_data"))


class FinetuneStage(Stage):
    name = "finetune"
    needs_llm = False

    def __init__(self, dataset_card: bool = True, license: str | None = None) -> None:  # noqa: A002
        self.dataset_card = bool(dataset_card)
        if license is not None and not (isinstance(license, str) and license.strip()):
            raise ConfigError(f"stages.finetune.license={license!r}: a Hub license id (apache-2.0, mit, "
                              f"cc-by-nc-4.0, other ...) or null (the seed file's, where known)")
        self.license = license.strip() if isinstance(license, str) else None

    def prepare(self, ctx: RunContext) -> None:
        export = ctx.cfg.export
        # metrics.json as the earlier invocations left it (the engine rewrites the run-level keys later)
        before = ctx.metrics.data
        stages_before = list(ctx.cfg.pipeline.stages)
        if self.name in stages_before:
            stages_before = stages_before[: stages_before.index(self.name)]
        generating = any(s in GENERATING_STAGES for s in stages_before)
        self.simulated = bool(ctx.cfg.model.simulated) or earlier_simulated(before)
        earlier_finetune = before.get("finetune") if isinstance(before.get("finetune"), dict) else {}
        self.generator = str(ctx.cfg.model.name) if generating else str(
            earlier_finetune.get("generator") or before.get("model") or ctx.cfg.model.name)
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
            "generator": self.generator,
            "simulated_data": self.simulated,
        })
        mark_simulated(ctx.run_dir, self.simulated)
        if self.simulated:
            log.warning("finetune: the data comes from the SIMULATED model: finetune/SIMULATED marks it (do not "
                        "train on it), and the push stage will not upload it")
        if self.dataset_card:
            repo_files = self._write_dataset_repo(ctx, written)
            ctx.metrics.update(self.name, {"dataset_repo": repo_files})
        ctx.metrics.write()
        log.info("finetune: %d tasks in, %d kept; %d examples (%d from seeds) written as %s",
                 report.tasks_in, report.tasks_out, len(examples), n_seed, ", ".join(written))

    def _write_dataset_repo(self, ctx: RunContext, written: dict) -> list[str]:
        """finetune/README.md (the dataset card) and dataset_info.json (LLaMA-Factory)."""
        seeds_path = resolve_path(ctx.cfg.seeds.path, "seeds")
        facts = RunFacts.read(ctx.run_dir)
        sha = facts.seeds_sha256
        if sha is None and seeds_path.is_file():
            sha = sha256_file(seeds_path)
        license_id, source = seeds_license(seeds_path, sha)
        if self.license is not None:
            license_id = self.license
        inputs = CardInputs(
            run_name=ctx.run_dir.resolve().name, cfg=ctx.cfg, model_name=self.generator, simulated=self.simulated,
            written=written, finetune=ctx.metrics.data.get(self.name, {}), facts=facts, license=license_id,
            license_source=source, license_set=self.license is not None,
            system_prompt=self.settings.system_prompt,
            llama_factory=llama_factory_info(self.writers, self.settings.system_prompt))
        return write_dataset_repo(ctx.run_dir, inputs)

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
