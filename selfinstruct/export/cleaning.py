"""The paper's instance cleaning before fine-tuning, with every drop counted by its reason.

Rules run in this order for each task; an instance is counted once, under the first rule that
drops it: the last instance of a truncated reply (it is usually cut mid-way), degenerate instances
(empty output, input equal to output, a trailing colon, oversized fields), exact duplicates, then
the whole task when one non-empty input has two different outputs (the model contradicts itself),
then the per-task cap.  A task left with no instances is dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from selfinstruct.data import Instance
from selfinstruct.errors import ConfigError
from selfinstruct.export.records import GeneratedTask

INSTANCE_REASONS = (
    "truncated_last", "input_equals_output", "empty_output", "trailing_colon", "oversized",
    "duplicate", "conflicting_outputs", "over_limit", "audit",
)
TASK_REASONS = ("conflicting_outputs", "no_instances")


@dataclass(frozen=True)
class CleaningLimits:
    max_instances_per_task: int = 5
    max_field_chars: int = 10000

    @classmethod
    def from_config(cls, node: Any) -> "CleaningLimits":
        """Checked limits from ``export.cleaning``; a bad value names its key."""
        for key in ("max_instances_per_task", "max_field_chars"):
            if node[key] < 1:
                raise ConfigError(f"export.cleaning.{key}: must be at least 1, got {node[key]}")
        return cls(int(node.max_instances_per_task), int(node.max_field_chars))


@dataclass
class CleaningReport:
    """Counts for metrics.json: every reason is present, zeros included, so runs compare key by key."""

    tasks_in: int = 0
    instances_in: int = 0
    instance_drops: Counter = field(default_factory=Counter)
    task_drops: Counter = field(default_factory=Counter)
    tasks_out: int = 0
    instances_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "tasks_in": self.tasks_in,
            "instances_in": self.instances_in,
            "instance_drops": {reason: self.instance_drops[reason] for reason in INSTANCE_REASONS},
            "task_drops": {reason: self.task_drops[reason] for reason in TASK_REASONS},
            "tasks_out": self.tasks_out,
            "instances_out": self.instances_out,
        }


def _invalid_reason(instance: Instance, max_chars: int) -> str | None:
    """Why a single instance is unusable on its own (paper: filter_invalid_instances), or None."""
    if not instance.output.strip():  # checked first so an empty input and output count as empty_output
        return "empty_output"
    if instance.input == instance.output:
        return "input_equals_output"
    if instance.input.rstrip().endswith(":") or instance.output.rstrip().endswith(":"):
        return "trailing_colon"
    if len(instance.input) > max_chars or len(instance.output) > max_chars:
        return "oversized"
    return None


def _has_conflict(instances: list[Instance]) -> bool:
    """True when one non-empty input appears with two different outputs."""
    outputs: dict[str, str] = {}
    for instance in instances:
        if not instance.input.strip():
            continue
        if outputs.setdefault(instance.input, instance.output) != instance.output:
            return True
    return False


def clean_task(task: GeneratedTask, limits: CleaningLimits, report: CleaningReport) -> GeneratedTask | None:
    """The task with its usable instances, or None when the whole task is dropped; counts go to ``report``."""
    drops = report.instance_drops
    instances = list(task.instances)
    if task.truncated and instances:
        instances.pop()
        drops["truncated_last"] += 1

    valid = []
    for instance in instances:
        reason = _invalid_reason(instance, limits.max_field_chars)
        if reason is None:
            valid.append(instance)
        else:
            drops[reason] += 1

    unique: list[Instance] = []
    seen: set[tuple[str, str]] = set()
    for instance in valid:
        key = (instance.input, instance.output)
        if key in seen:
            drops["duplicate"] += 1
        else:
            seen.add(key)
            unique.append(instance)

    if _has_conflict(unique):
        drops["conflicting_outputs"] += len(unique)
        report.task_drops["conflicting_outputs"] += 1
        return None

    kept = unique[: limits.max_instances_per_task]
    drops["over_limit"] += len(unique) - len(kept)
    if not kept:
        report.task_drops["no_instances"] += 1
        return None
    return GeneratedTask(task.id, task.instruction, kept, task.truncated)


def drop_judged_invalid(tasks: list[GeneratedTask], invalid: set[tuple[str, str, str]],
                        report: CleaningReport) -> list[GeneratedTask]:
    """The tasks without the instances the audit judged invalid (``invalid``: their (instruction, input,
    output)), counted under ``audit``; a task left with none is dropped (``no_instances``)."""
    kept = []
    for task in tasks:
        instances = [i for i in task.instances if (task.instruction, i.input, i.output) not in invalid]
        report.instance_drops["audit"] += len(task.instances) - len(instances)
        if instances:
            kept.append(GeneratedTask(task.id, task.instruction, instances, task.truncated))
        else:
            report.task_drops["no_instances"] += 1
    report.tasks_out = len(kept)
    report.instances_out = sum(len(t.instances) for t in kept)
    return kept


def clean_tasks(tasks: Iterable[GeneratedTask], limits: CleaningLimits) -> tuple[list[GeneratedTask], CleaningReport]:
    """Clean every task in order; returns the kept tasks and the counts by reason."""
    report = CleaningReport()
    kept = []
    for task in tasks:
        report.tasks_in += 1
        report.instances_in += len(task.instances)
        cleaned = clean_task(task, limits, report)
        if cleaned is not None:
            kept.append(cleaned)
    report.tasks_out = len(kept)
    report.instances_out = sum(len(t.instances) for t in kept)
    return kept, report
