"""Demonstrations for the classify and instances prompts, drawn from a seed-format file.

The paper shows fixed demonstrations; ours are picked deterministically from our own seeds (or
the file ``stages.<stage>.demos_path`` names), so they are real tasks with real instances.
"""

from __future__ import annotations

import math
import random
from typing import Any

from selfinstruct.data import Task
from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import ConfigError, SeedError
from selfinstruct.resources import resolve_path

_CLASSIFICATION_SHARE = 0.4  # the paper's classify prompt: 12 Yes among 31
_WITH_INPUT_SHARE = 0.6


def load_demo_tasks(path: str | None, key: str) -> list[Task]:
    try:
        return load_seed_tasks(resolve_path(path or "seed_tasks.jsonl", "seeds"))
    except SeedError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def demo_record(task: Task, max_instances: int = 3) -> dict[str, Any]:
    """What a template sees for one demonstration task."""
    instances = [{"input": i.input, "output": i.output} for i in task.instances[:max_instances]]
    return {
        "instruction": task.instruction,
        "instances": instances,
        "is_classification": bool(task.is_classification),
        "takes_input": any(i["input"].strip() for i in instances),
    }


def _pick(tasks: list[Task], k: int, salt: str) -> list[Task]:
    """``k`` tasks, the ones with most instances first, ties broken by a fixed shuffle."""
    order = list(tasks)
    random.Random(salt).shuffle(order)
    order.sort(key=lambda t: -len(t.instances))
    return order[:k]


def _merge(groups: list[list[Task]], salt: str) -> list[dict[str, Any]]:
    chosen = [task for group in groups for task in group]
    random.Random(salt).shuffle(chosen)
    return [demo_record(task) for task in chosen]


def classify_demos(tasks: list[Task], n: int) -> list[dict[str, Any]]:
    labelled = [t for t in tasks if t.is_classification is not None]
    yes = [t for t in labelled if t.is_classification]
    no = [t for t in labelled if not t.is_classification]
    k_yes = min(len(yes), round(n * _CLASSIFICATION_SHARE))
    return _merge([_pick(yes, k_yes, "classify-yes"), _pick(no, n - k_yes, "classify-no")], "classify")


def input_first_demos(tasks: list[Task], n: int) -> list[dict[str, Any]]:
    ordinary = [t for t in tasks if not t.is_classification]
    with_input = [t for t in ordinary if any(i.input.strip() for i in t.instances)]
    without = [t for t in ordinary if not any(i.input.strip() for i in t.instances)]
    k_input = min(len(with_input), math.ceil(n * _WITH_INPUT_SHARE))
    return _merge([_pick(with_input, k_input, "input-first-in"), _pick(without, n - k_input, "input-first-out")],
                  "input-first")


def output_first_demos(tasks: list[Task], n: int) -> list[dict[str, Any]]:
    labelled = [t for t in tasks if t.is_classification]
    return _merge([_pick(labelled, n, "output-first")], "output-first")
