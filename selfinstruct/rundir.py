"""The run directory's file names, in one place: every module that writes or reads a run uses these.

A run directory is ``hydra.run.dir`` (or ``${hydra.sweep.dir}/N`` for one job of a ``-m`` sweep).
Names are relative to it, with ``/`` between parts (``run_dir / ALPACA_FILE`` works on every OS).
Each name's docstring says who writes it; the report (``selfinstruct.report.load``) reads them all and
records the missing ones.  This module imports nothing from the package, so anything may import it.
"""

from __future__ import annotations

# ---------------------------------------------------------------- the data the stages generate

INSTRUCTIONS_FILE = "instructions.jsonl"
"""The accepted instructions, one per line: bootstrap appends each round (merge rewrites it);
classify adds ``is_classification`` to its records."""

REJECTED_FILE = "rejected.jsonl"
"""The candidates a filter refused, with the filter's reason and score: bootstrap appends (merge rewrites)."""

ROUNDS_FILE = "rounds.jsonl"
"""One line per finished bootstrap round: the commit point of bootstrap's files (merge writes one line)."""

CLASSIFY_FILE = "classify.jsonl"
"""The classify stage's answers (is this a classification task?), one per instruction id."""

INSTANCES_FILE = "instances.jsonl"
"""Each instruction with its generated instances: the instances stage (merge rewrites it)."""

FINETUNE_DIR = "finetune"
"""The finetune stage's exports (``export.formats``: every format's path must lie under it)."""

ALPACA_FILE = f"{FINETUNE_DIR}/alpaca.json"
"""The cleaned fine-tuning data in Alpaca's format (finetune stage, when export.formats has alpaca);
the report's "fine-tuning data" column."""

# ---------------------------------------------------------------- what the judge says (audit, evaluate)

AUDIT_FILE = "audit.jsonl"
"""The audit stage's verdicts (paper Table 2): one line per audited instance, three yes/no questions."""

EVALUATION_RESPONSES_FILE = "evaluation_responses.jsonl"
"""The evaluate stage's first step: each evaluated model's response to each task instance, appended as
they arrive (so a resumed run never asks a model twice for what it already answered)."""

EVALUATION_FILE = "evaluation.jsonl"
"""The evaluate stage's ratings (paper Figure 5): one line per (task instance, model), rated A-D by the judge."""

# ---------------------------------------------------------------- the tuned model (train stage)

TRAIN_FILE = "train.json"
"""The train stage's record: backend, base model, job id or checkpoint, status, the tuned model's name,
data size, epochs, cost or compute time; rewritten (atomically) at every step of the job."""

TRAIN_DIR = "train"
"""The local (trl) backend's checkpoints, adapter, tokenizer and loss curve (``train/loss.jsonl``)."""

TRAIN_LOSS_FILE = f"{TRAIN_DIR}/loss.jsonl"
"""The local backend's training curve: one line per logged step (step, loss, epoch, learning_rate)."""

# ---------------------------------------------------------------- what the run records about itself

METRICS_FILE = "metrics.json"
"""One section per stage plus run-level facts, rewritten after each step (``selfinstruct.metrics``);
describes the last invocation only."""

LLM_CALLS_FILE = "llm_calls.jsonl"
"""One line per request, appended by the LLM client's call log in every invocation (``selfinstruct.engine``)."""

BATCHES_FILE = "batches.jsonl"
"""Batch mode (model.batch=true): one line per provider batch created (its digest, id, stage), written
the moment the provider returns the id, so a killed run polls the same batch (``selfinstruct.llm.batch``)."""

SPEND_FILE = "spend.jsonl"
"""The budget's spend ledger, appended per request when a budget is set (``selfinstruct.llm.budget``)."""

RUN_FILE = "run.json"
"""One entry per invocation on the directory: start, end, version, outcome (``selfinstruct.runrecord``)."""

LOCK_FILE = ".selfinstruct.lock"
"""The flock one invocation holds on the directory while it runs (``selfinstruct.runrecord``)."""

LOG_FILE = "selfinstruct.log"
"""The run's log, Hydra's file handler (named after hydra.job.name), opened once the run holds the lock."""

HYDRA_DIR = ".hydra"
"""The composed configuration, as Hydra writes it; written by ``selfinstruct.cli`` once the run is ours."""

HYDRA_CONFIG_FILE = f"{HYDRA_DIR}/config.yaml"
"""The run's composed config (``selfinstruct.cli``); the report reads its seeds and filter settings."""

HYDRA_HYDRA_FILE = f"{HYDRA_DIR}/hydra.yaml"
"""Hydra's own config (``selfinstruct.cli``); the report reads the run's working directory from it."""

HYDRA_OVERRIDES_FILE = f"{HYDRA_DIR}/overrides.yaml"
"""The command-line overrides (``selfinstruct.cli``)."""

# ---------------------------------------------------------------- the report

REPORT_FILE = "report.md"
"""The run's report: the report stage or ``selfinstruct-report`` (``selfinstruct.report.run``)."""

REPORT_HTML_FILE = "report.html"
"""The run's data to browse in a web browser, one self-contained file (no network): accepted and rejected
instructions, instances, audit and evaluation, with search and filters; written with report.md
(``selfinstruct.report.html``)."""

FIGURES_DIR = "figures"
"""The report's figures, ``figures/*.png`` (``selfinstruct.report.figures``); a sweep's figure too."""

SWEEP_FILE = "sweep.md"
"""In a ``-m`` sweep directory (not a run directory): one row per job (``selfinstruct.report.sweep``)."""
