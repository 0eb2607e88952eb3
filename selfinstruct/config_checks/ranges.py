"""Every number within its range: one line naming the key, the range and the value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

from selfinstruct.errors import ConfigError, one_line
from selfinstruct.config_checks.paths import Path, children, fmt_path, is_mapping


@dataclass(frozen=True)
class _Range:
    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False
    nullable: bool = False
    integer: bool = False

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            text = f"within {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"
        elif self.lo is not None:
            text = f"more than {self.lo}" if self.lo_open else f"at least {self.lo}"
        elif self.hi is not None:
            text = f"less than {self.hi}" if self.hi_open else f"at most {self.hi}"
        else:
            text = "a whole number" if self.integer else "a number"
        return f"null or {text}" if self.nullable else text

    def holds(self, v: float) -> bool:
        ok = True
        if self.lo is not None:
            ok = ok and (v > self.lo if self.lo_open else v >= self.lo)
        if self.hi is not None:
            ok = ok and (v < self.hi if self.hi_open else v <= self.hi)
        return ok


def _at_least(lo: float, *, null: bool = False, integer: bool = True) -> _Range:
    return _Range(lo=lo, nullable=null, integer=integer)


def _above(lo: float, *, null: bool = False) -> _Range:
    return _Range(lo=lo, lo_open=True, nullable=null)


_WHOLE = _Range(integer=True)  # random seeds: any whole number (they seed string-keyed streams)
_RATE = _Range(lo=0, hi=1)

# Path patterns ('*' = every entry of a mapping or list) -> their range.
_RANGES: dict[str, _Range] = {
    "model.max_concurrency": _at_least(1),
    "model.timeout_s": _above(0),
    "model.rpm": _at_least(1, null=True),
    "model.tpm": _at_least(1, null=True),
    "model.max_retries": _at_least(0),
    "model.retry_base_s": _above(0),
    "model.max_retry_after_s": _above(0),
    "model.breaker_attempts": _at_least(1),
    "model.input_cost_per_token": _at_least(0, null=True, integer=False),
    "model.output_cost_per_token": _at_least(0, null=True, integer=False),
    "model.cached_input_cost_per_token": _at_least(0, null=True, integer=False),
    "model.batch_poll_s": _above(0),
    "model.batch_poll_max_s": _above(0),
    "model.batch_max_wait_s": _above(0),
    "model.batch_price_factor": _Range(lo=0, hi=1, nullable=True),
    "model.loopback.seed": _WHOLE,
    "model.loopback.latency_ms": _at_least(0),
    "model.loopback.fault_rate": _RATE,
    "model.deployments.*.rpm": _at_least(1, null=True),
    "model.deployments.*.tpm": _at_least(1, null=True),
    "model.deployments.*.max_parallel_requests": _at_least(1, null=True),
    "model.deployments.*.weight": _above(0, null=True),
    "model.router.allowed_fails": _at_least(0),
    "model.router.cooldown_s": _at_least(0, integer=False),
    "judge.max_concurrency": _at_least(1, null=True),
    "judge.input_cost_per_token": _at_least(0, null=True, integer=False),
    "judge.output_cost_per_token": _at_least(0, null=True, integer=False),
    "judge.loopback.seed": _WHOLE,
    "judge.loopback.latency_ms": _at_least(0),
    "judge.loopback.fault_rate": _RATE,
    "judge.sampling.temperature": _Range(lo=0, hi=2),
    "judge.sampling.max_tokens": _at_least(1),
    # stage entries (conf/stages/NAME.yaml) and their prompt sub-entries (stages.instances.input_first)
    "stages.*.sampling.temperature": _Range(lo=0, hi=2),
    "stages.*.sampling.top_p": _Range(lo=0, hi=1, lo_open=True),
    "stages.*.sampling.presence_penalty": _Range(lo=-2, hi=2),
    "stages.*.sampling.frequency_penalty": _Range(lo=-2, hi=2),
    "stages.*.sampling.max_tokens": _at_least(1),
    "stages.*.*.sampling.temperature": _Range(lo=0, hi=2),
    "stages.*.*.sampling.top_p": _Range(lo=0, hi=1, lo_open=True),
    "stages.*.*.sampling.presence_penalty": _Range(lo=-2, hi=2),
    "stages.*.*.sampling.frequency_penalty": _Range(lo=-2, hi=2),
    "stages.*.*.sampling.max_tokens": _at_least(1),
    "stages.*.num_demos": _at_least(1, null=True),
    "stages.*.*.num_demos": _at_least(1, null=True),
    "stages.*.num_machine_demos": _at_least(0, null=True),
    "schedule.num_instructions": _at_least(0),
    "schedule.num_demos": _at_least(1),
    "schedule.num_machine_demos": _at_least(0),
    "schedule.requests_per_round": _at_least(1),
    "schedule.max_stalled_rounds": _at_least(1),
    "schedule.max_instances_per_task": _at_least(1),
    "schedule.seed": _WHOLE,
    "export.cleaning.max_instances_per_task": _at_least(1),
    "export.cleaning.max_field_chars": _at_least(1),
    "export.hub.timeout_s": _above(0),
    "budget.max_usd": _above(0, null=True),
    "budget.max_requests": _at_least(1, null=True),
    "shard.count": _at_least(1),
    "shard.index": _at_least(0),
}
# Bounds that depend on another key, checked after the plain ranges above.
_RELATIVE = (
    "model.retry_max_s",              # >= model.retry_base_s
    "schedule.num_machine_demos",     # <= schedule.num_demos
    "stages.bootstrap.num_machine_demos",  # <= the num_demos the bootstrap prompt uses
    "shard.index",                    # < shard.count
    "model.loopback.options.*",       # *_rate in [0, 1]; latency_ms, slow_s, retry_after_s >= 0
    "filters.*.min_words",            # selfinstruct.filters.rules.WordCount: >= 0
    "filters.*.max_words",            # ... >= min_words
)
# Every numeric key with a checked range (schema patterns); the tests hold the schema to it.
NUMERIC_KEYS: frozenset[str] = frozenset(_RANGES) | frozenset(_RELATIVE)

_WORD_COUNT = "selfinstruct.filters.rules.WordCount"
_LOOPBACK_NON_NEGATIVE = ("latency_ms", "slow_s", "retry_after_s")


def _expand(cfg: Any, parts: Sequence[str], path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, unresolved node) for every key matching the pattern ``parts``."""
    if not parts:
        yield path, cfg
        return
    head, rest = parts[0], parts[1:]
    for key, child in children(cfg):
        if head == "*" or key == head:
            if rest and not (is_mapping(child) or isinstance(child, (ListConfig, list))):
                continue
            yield from _expand(child, rest, (*path, key))


def _value(cfg: DictConfig, path: Path) -> Any:
    """The resolved value at ``path``; ``???`` stays missing (returned as the marker)."""
    try:
        node = cfg
        for part in path[:-1]:
            node = node[part]
        if OmegaConf.is_missing(node, path[-1]):
            return "???"
        return node[path[-1]]
    except Exception as exc:  # noqa: BLE001 - an interpolation that cannot resolve
        raise ConfigError(f"{fmt_path(path)}: {one_line(exc)}") from None


def _number(path: Path, value: Any, integer: bool) -> float:
    key = fmt_path(path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a boolean" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise ConfigError(f"{key}: must be {'a whole number' if integer else 'a number'}, got {kind}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, got {value}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{key}: must be a whole number, got {value}")
    return value


def _check(path: Path, value: Any, rule: _Range) -> Optional[float]:
    """The checked number at ``path`` (None when null or missing)."""
    if value is None and rule.nullable or value == "???":
        return None
    if value is None:
        raise ConfigError(f"{fmt_path(path)}: must be {rule.describe()}, got null")
    v = _number(path, value, rule.integer)
    if not rule.holds(v):
        raise ConfigError(f"{fmt_path(path)}: must be {rule.describe()}, got {value}")
    return v


def _get(cfg: DictConfig, dotted: str) -> tuple[Path, Any]:
    path = tuple(dotted.split("."))
    found = list(_expand(cfg, path))
    return path, (_value(cfg, path) if found else "???")


def _check_relative(cfg: DictConfig) -> None:
    def number(dotted: str, integer: bool) -> tuple[Path, Optional[float]]:
        path, value = _get(cfg, dotted)
        return path, (None if value in (None, "???") else _number(path, value, integer))

    _, base = number("model.retry_base_s", False)
    path, top = number("model.retry_max_s", False)
    if top is not None and base is not None and not top >= base:
        raise ConfigError(f"model.retry_max_s: must be at least model.retry_base_s ({base}), got {top}")

    _, demos = number("schedule.num_demos", True)
    path, machine = number("schedule.num_machine_demos", True)
    if demos is not None and machine is not None and not machine <= demos:
        raise ConfigError(f"schedule.num_machine_demos: must be within [0, {demos}] "
                          f"(at most schedule.num_demos), got {machine}")

    prompt_demos_path, prompt_demos = number("stages.bootstrap.num_demos", True)
    prompt_machine_path, prompt_machine = number("stages.bootstrap.num_machine_demos", True)
    if prompt_demos is not None or prompt_machine is not None:
        demos_key = "stages.bootstrap.num_demos" if prompt_demos is not None else "schedule.num_demos"
        machine_key = ("stages.bootstrap.num_machine_demos" if prompt_machine is not None
                       else "schedule.num_machine_demos")
        eff_demos = prompt_demos if prompt_demos is not None else demos
        eff_machine = prompt_machine if prompt_machine is not None else machine
        if eff_demos is not None and eff_machine is not None and not eff_machine <= eff_demos:
            raise ConfigError(f"{machine_key}: must be within [0, {eff_demos}] (at most {demos_key}, "
                              f"which the bootstrap prompt uses), got {eff_machine}")

    _, count = number("shard.count", True)
    _, index = number("shard.index", True)
    if count is not None and index is not None and not index < count:
        raise ConfigError(f"shard.index: must be within 0..{count - 1} (shard.count={count}), got {index}")

    for path, _node_ in _expand(cfg, ("model", "loopback", "options", "*")):
        name = str(path[-1])
        if name.endswith("_rate"):
            _check(path, _value(cfg, path), _RATE)
        elif name in _LOOPBACK_NON_NEGATIVE:
            _check(path, _value(cfg, path), _at_least(0, integer=False))

    for path, node in _expand(cfg, ("filters", "*")):
        if not is_mapping(node) or node.get("_target_") != _WORD_COUNT:
            continue
        low = _check((*path, "min_words"), _value(cfg, (*path, "min_words")), _at_least(0)) \
            if "min_words" in node else 4
        if "max_words" in node:
            high_path = (*path, "max_words")
            high = _check(high_path, _value(cfg, high_path), _at_least(0))
            if high is not None and low is not None and not high >= low:
                raise ConfigError(f"{fmt_path(high_path)}: must be at least {fmt_path((*path, 'min_words'))} ({low}), "
                                  f"got {high}")


def check_ranges(cfg: DictConfig) -> None:
    """Refuse a number out of its range: ``model.max_concurrency: must be at least 1, got 0``.

    Covers every numeric field of the schema (see ``NUMERIC_KEYS``), the loopback server's numeric
    options and WordCount filters' limits (NearDuplicate checks its own in its constructor).
    Missing (``???``) keys are left to the code that reads them.  Raises ConfigError.
    """
    for pattern, rule in _RANGES.items():
        for path, _ in _expand(cfg, pattern.split(".")):
            _check(path, _value(cfg, path), rule)
    _check_relative(cfg)
