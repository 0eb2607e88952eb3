"""Read whatever a run directory holds; a missing file is recorded, never an error."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from selfinstruct.data import Task
from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import SelfInstructError
from selfinstruct.resources import bundled_dir, resolve_path
from selfinstruct.rundir import (
    ALPACA_FILE,
    AUDIT_FILE,
    EVALUATION_FILE,
    HYDRA_CONFIG_FILE,
    HYDRA_DIR,
    HYDRA_HYDRA_FILE,
    HYDRA_OVERRIDES_FILE,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    LLM_CALLS_FILE,
    METRICS_FILE,
    REJECTED_FILE,
    RUN_FILE,
    TRAIN_FILE,
    TRAIN_LOSS_FILE,
)

log = logging.getLogger(__name__)

# the files a run directory is recognised by (any one of them)
RUN_MARKERS = (METRICS_FILE, INSTRUCTIONS_FILE, INSTANCES_FILE, HYDRA_DIR)
BUNDLED_SEEDS = "seed_tasks.jsonl"


def read_jsonl_lenient(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of a JSONL file and how many lines could not be read (a run cut off mid-line)."""
    records: list[dict[str, Any]] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
    return records, bad


@dataclass
class RunFiles:
    """The run directory's files as read; ``None`` where a file is missing."""

    run_dir: Path
    instructions: list[dict[str, Any]] | None = None
    rejected: list[dict[str, Any]] | None = None
    instances: list[dict[str, Any]] | None = None
    alpaca: list[dict[str, Any]] | None = None
    metrics: dict[str, Any] | None = None
    llm_calls: list[dict[str, Any]] | None = None
    run_record: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    overrides: list[str] | None = None
    hydra_cwd: str | None = None
    audit: list[dict[str, Any]] | None = None  # optional stages: absent is not "missing"
    evaluation: list[dict[str, Any]] | None = None
    train: dict[str, Any] | None = None  # train.json, when the train stage ran
    train_losses: list[dict[str, Any]] | None = None  # train/loss.jsonl (the local backend's curve)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    live: bool = False  # read by the report stage while its invocation is still running

    @property
    def invocations(self) -> list[dict[str, Any]] | None:
        """run.json's invocations, oldest first (None without a readable run.json)."""
        entries = (self.run_record or {}).get("invocations")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else None

    @property
    def m(self) -> dict[str, Any]:
        """metrics.json (empty when missing)."""
        return self.metrics or {}

    def cfg(self, dotted: str, default: Any = None) -> Any:
        """A key of the run's saved config, e.g. ``filters.rouge.threshold`` (default when absent)."""
        node: Any = self.config or {}
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def _plain_yaml(path: Path) -> Any:
    """A YAML file as plain Python; interpolations that cannot resolve outside Hydra stay as text."""
    conf = OmegaConf.load(path)
    try:
        return OmegaConf.to_container(conf, resolve=True)
    except Exception:  # noqa: BLE001 - e.g. ${now:...} or ${hydra:...} outside a Hydra app
        return OmegaConf.to_container(conf, resolve=False)


def load_run(run_dir: Path) -> RunFiles:
    files = RunFiles(run_dir=run_dir)

    def jsonl(name: str, optional: bool = False) -> list[dict[str, Any]] | None:
        path = run_dir / name
        if not path.is_file():
            if not optional:
                files.missing.append(name)
            return None
        records, bad = read_jsonl_lenient(path)
        if bad:
            files.problems.append(f"{name}: {bad} unreadable line(s) skipped")
        return records

    def json_file(name: str) -> Any:
        path = run_dir / name
        if not path.is_file():
            files.missing.append(name)
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            files.problems.append(f"{name}: not valid JSON ({exc})")
            return None

    files.instructions = jsonl(INSTRUCTIONS_FILE)
    files.rejected = jsonl(REJECTED_FILE)
    files.instances = jsonl(INSTANCES_FILE)
    alpaca = json_file(ALPACA_FILE)
    if alpaca is not None and not isinstance(alpaca, list):
        files.problems.append(f"{ALPACA_FILE}: expected a JSON list")
        alpaca = None
    files.alpaca = [r for r in alpaca if isinstance(r, dict)] if alpaca is not None else None
    metrics = json_file(METRICS_FILE)
    files.metrics = metrics if isinstance(metrics, dict) else None
    files.llm_calls = jsonl(LLM_CALLS_FILE)
    files.audit = jsonl(AUDIT_FILE, optional=True)
    files.evaluation = jsonl(EVALUATION_FILE, optional=True)
    if (run_dir / TRAIN_FILE).is_file():
        train = json_file(TRAIN_FILE)
        files.train = train if isinstance(train, dict) else None
    files.train_losses = jsonl(TRAIN_LOSS_FILE, optional=True)
    record = json_file(RUN_FILE)
    files.run_record = record if isinstance(record, dict) else None
    for name in (HYDRA_CONFIG_FILE, HYDRA_OVERRIDES_FILE, HYDRA_HYDRA_FILE):
        path = run_dir / name
        if not path.is_file():
            if name != HYDRA_HYDRA_FILE:
                files.missing.append(name)
            continue
        try:
            data = _plain_yaml(path)
        except Exception as exc:  # noqa: BLE001 - a damaged YAML file is reported, not fatal
            files.problems.append(f"{name}: cannot read ({' '.join(str(exc).split())})")
            continue
        if name == HYDRA_CONFIG_FILE and isinstance(data, dict):
            files.config = data
        elif name == HYDRA_OVERRIDES_FILE and isinstance(data, list):
            files.overrides = [str(x) for x in data]
        elif name == HYDRA_HYDRA_FILE and isinstance(data, dict):
            files.hydra_cwd = ((data.get("hydra") or {}).get("runtime") or {}).get("cwd")
    return files


def load_run_seeds(files: RunFiles) -> tuple[list[Task], str]:
    """The seed tasks the run used (its config's ``seeds.path``), else the bundled ones; and a note
    saying which file was read."""
    path = files.cfg("seeds.path")
    fmt = files.cfg("seeds.format", "auto") or "auto"
    if isinstance(path, str) and path and path != "???":
        candidates = [resolve_path(path, "seeds")]
        if files.hydra_cwd and not Path(path).is_absolute():
            candidates.append(Path(files.hydra_cwd) / path)
        for candidate in candidates:
            if candidate.is_file():
                try:
                    return load_seed_tasks(candidate, fmt), str(candidate)
                except SelfInstructError as exc:
                    log.warning("report: cannot read the run's seeds: %s", exc)
                    break
    bundled = bundled_dir("seeds") / BUNDLED_SEEDS
    note = f"{bundled} (the bundled seeds: the run's seeds.path {path!r} could not be read)"
    if path in (None, "seed_tasks.jsonl"):
        note = str(bundled)
    return load_seed_tasks(bundled), note
