"""Checks on a composed config that Hydra's typing cannot express, each failing with one line.

- ``check_no_secrets``: no credential in the config (it is saved in the run directory);
- ``check_closed_groups``: no key outside the schema in a typed group (``+schedule.typo=1``);
- ``check_ranges``: every number within its range, naming the key, the range and the value;
- ``check_config``: the three, in that order;
- ``check_command_line``: the raw command-line overrides, before Hydra composes (or prints) them.

Why ``+schedule.typo=1`` composes: Hydra's struct mode is on for the typed nodes (a YAML file with
an unknown key already fails while composing, and so does ``schedule.typo=1``), but an override
with ``+`` or ``++`` is applied with ``OmegaConf.update(..., force_add=True)``, which opens every
node on its path; and a config composed without the schema (``--config-path RUN/.hydra``) is not
typed at all.  So the key is checked here against the dataclasses of ``selfinstruct.config``.

Pure functions on the config: nothing is imported from LiteLLM, nothing is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence, Union

from omegaconf import DictConfig, ListConfig, Node, OmegaConf

from selfinstruct.config import Config
from selfinstruct.errors import ConfigError, one_line

__all__ = [
    "check_command_line",
    "check_closed_groups",
    "check_config",
    "check_no_secrets",
    "check_ranges",
    "is_secret_name",
    "NUMERIC_KEYS",
]

Path = tuple  # of str (mapping keys) and int (list indices)

# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------


def _fmt(path: Sequence[Any]) -> str:
    """``('model', 'deployments', 0, 'extra', 'api_key')`` -> ``model.deployments[0].extra.api_key``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _children(cfg: Any) -> Iterator[tuple[Any, Any]]:
    """(key or index, unresolved child) of a mapping or a list; nothing for anything else."""
    if isinstance(cfg, DictConfig):
        if cfg._is_none() or cfg._is_missing() or cfg._is_interpolation():
            return
        for key in cfg.keys():
            yield key, cfg._get_node(key)
    elif isinstance(cfg, ListConfig):
        if cfg._is_none() or cfg._is_missing() or cfg._is_interpolation():
            return
        for i in range(len(cfg)):
            yield i, cfg._get_node(i)
    elif isinstance(cfg, dict):
        yield from cfg.items()
    elif isinstance(cfg, (list, tuple)):
        yield from enumerate(cfg)


def _is_mapping(node: Any) -> bool:
    return (isinstance(node, DictConfig) and not (node._is_none() or node._is_missing() or node._is_interpolation())) \
        or isinstance(node, dict)


def _raw(node: Any) -> Any:
    """The unresolved value of a leaf node: interpolations as their ``${...}`` text, ``???`` when missing."""
    if isinstance(node, (DictConfig, ListConfig)):
        if node._is_none():
            return None
        if node._is_missing():
            return "???"
        if node._is_interpolation():
            return node._value()
        return node
    if isinstance(node, Node):  # a leaf: its raw value
        return node._value()
    return node


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------

_SECRET_WORDS = frozenset({
    "key", "apikey", "api_key", "token", "secret", "password", "passwd", "pwd", "passphrase",
    "access_token", "refresh_token", "auth", "authorization", "credential", "credentials", "bearer",
})
_SECRET_SUFFIXES = (
    "_key", "_apikey", "_token", "_secret", "_password", "_passwd", "_passphrase",
    "_credential", "_credentials", "_auth", "_authorization",
)
# Names that end like a credential but are not one: prices, tokenizer tokens, cache and sort keys.
_NOT_SECRET_SUFFIXES = ("_env", "_per_token")
_NOT_SECRET_NAMES = frozenset({
    "bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token",
    "stop_token", "start_token", "end_token", "cache_key", "sort_key",
})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
# scheme://userinfo@ : the user name or password of a URL, anywhere in a string
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@\"'\[\]{},]+@")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAVED = "a secret in the config would be saved in the run directory"
_UNWRITTEN = "(nothing was written)"


def is_secret_name(name: Any) -> bool:
    """Whether a config key is named like a credential (``api_key``, ``X-Api-Key``, ``aws_session_token``).

    ``api_key_env`` and other ``*_env`` names (they name an environment variable) are not, nor are
    ``max_tokens``, ``completion_tokens``, ``input_cost_per_token``, ``eos_token``, ``keywords``.
    """
    if not isinstance(name, str):
        return False
    norm = _CAMEL.sub(r"\1_\2", name).replace("-", "_").replace(" ", "_").lower()
    if norm.endswith(_NOT_SECRET_SUFFIXES) or norm in _NOT_SECRET_NAMES:
        return False
    return norm in _SECRET_WORDS or norm.endswith(_SECRET_SUFFIXES)


def _env_hint(path: Sequence[Any], what: str) -> str:
    """Where ``what`` goes instead of the config: the ``api_key_env`` that names its variable."""
    parts = list(path)
    if parts[:2] == ["model", "deployments"] and len(parts) > 2 and isinstance(parts[2], int):
        return f"put {what} in an environment variable and name it with model.deployments[{parts[2]}].api_key_env=VAR"
    if parts[:1] == ["model"]:
        return f"put {what} in an environment variable and name it with model.api_key_env=VAR"
    return f"put {what} in an environment variable (exported before running selfinstruct) instead"


def _secret_message(path: Sequence[Any]) -> str:
    return f"{_fmt(path)}: {_SAVED}; {_env_hint(path, 'it')} {_UNWRITTEN}"


def _url_message(path: Sequence[Any]) -> str:
    return (f"{_fmt(path)}: the URL carries a user name or password, which would be saved in the run "
            f"directory; drop it from the URL, {_env_hint(path, 'the key')} {_UNWRITTEN}")


def _env_name_message(path: Sequence[Any]) -> str:
    return (f"{_fmt(path)}: must name an environment variable (letters, digits and _), "
            f"not hold the key itself {_UNWRITTEN}")


def _holds_value(value: Any) -> bool:
    """Whether a value under a credential-named key holds anything (null, '', ??? and booleans do not)."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value not in ("", "???")
    if isinstance(value, (int, float)):
        return True
    if _is_mapping(value) or isinstance(value, (ListConfig, list, tuple)):
        return any(_holds_value(_raw(child)) for _, child in _children(value))
    sweep_items = _sweep_items(value)
    if sweep_items is not None:
        return any(_holds_value(v) for v in sweep_items)
    return True


def _is_component(value: Any) -> bool:
    """A ``{_target_: ...}`` entry (a filter, stage or format named e.g. ``token``): not a credential."""
    return _is_mapping(value) and "_target_" in value


def _scan(path: Path, value: Any) -> Optional[str]:
    """The first secret under ``path`` (a config node or a parsed override value), as a message."""
    name = path[-1] if path else None
    raw = _raw(value)
    if is_secret_name(name) and not _is_component(raw) and _holds_value(raw):
        return _secret_message(path)
    if name == "api_key_env" and isinstance(raw, str) and raw not in ("", "???"):
        if not _ENV_NAME.match(raw) and not (raw.startswith("${") and raw.endswith("}")):
            return _env_name_message(path)
    if isinstance(raw, str):
        return _url_message(path) if _URL_USERINFO.search(raw) else None
    sweep_items = _sweep_items(raw)
    if sweep_items is not None:
        for item in sweep_items:
            found = _scan(path, item)
            if found:
                return found
        return None
    for key, child in _children(raw):
        found = _scan((*path, key), child)
        if found:
            return found
    return None


def check_no_secrets(cfg: DictConfig) -> None:
    """Refuse a credential anywhere in the composed config, naming its key (never its value).

    A non-null value under a key named like a credential (``model.extra.api_key``, ``...token``,
    ``...password``; not ``api_key_env``), a URL with a user name or password in any string, and an
    ``api_key_env`` that is not a variable name.  Values are read unresolved.  Raises ConfigError.
    """
    found = _scan((), cfg)
    if found:
        raise ConfigError(found)


def _sweep_items(value: Any) -> Optional[list[Any]]:
    """The values of a parsed Hydra sweep (``a,b``, ``choice(..)``, ``glob(..)``); None for anything else."""
    items = getattr(value, "list", None)
    if isinstance(items, list) and type(value).__name__.endswith("Sweep"):
        return items
    if type(value).__name__ == "Glob":
        return list(getattr(value, "include", [])) + list(getattr(value, "exclude", []))
    return None


# Hydra's own command-line options that take a value (the next argument when not written with =).
_VALUE_FLAGS = frozenset({"-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir",
                          "-p", "--package", "-c", "--cfg", "--experimental-rerun"})
_INFO_FLAGS = frozenset({"-i", "--info"})
_INFO_CHOICES = frozenset({"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"})


def _override_path(key: str) -> Path:
    key = key.split("@", 1)[0]
    return tuple(int(p) if p.isdigit() else p for p in key.split(".") if p)


def _check_override(parser: Any, arg: str) -> Optional[str]:
    try:
        override = parser.parse_overrides([arg])[0]
        path = _override_path(override.key_or_group)
        value = override.value()
    except Exception:  # noqa: BLE001 - an override Hydra cannot parse: fall back on its text
        key, sep, value = arg.lstrip("+~").partition("=")
        path = _override_path(key.strip())
        if sep and value.strip() and value.strip() != "null":
            if any(is_secret_name(part) for part in path):
                return _secret_message(path)
        return _url_message(path or ("the command line",)) if _URL_USERINFO.search(arg) else None
    if any(is_secret_name(part) for part in path[:-1]) and _holds_value(value):
        # e.g. model.extra.headers.Authorization.x=... : the whole node is a credential
        first = next(i for i, part in enumerate(path) if is_secret_name(part))
        return _secret_message(path[: first + 1])
    found = _scan(path, value) if path else None
    if found:
        return found
    if _URL_USERINFO.search(arg):
        return _url_message(path or ("the command line",))
    return None


def check_command_line(args: Sequence[str]) -> Optional[str]:
    """The one-line error for a credential in the raw command-line overrides, or None.

    ``args`` are the arguments of ``selfinstruct ...`` (``sys.argv[1:]``), looked at before Hydra
    composes anything, so that nothing is written and Hydra's own messages (which echo the value)
    never appear.  ``+``/``++``/``~`` prefixes, sweeps (``a,b``) and dict/list values are read with
    Hydra's own override parser; Hydra's options (``-m``, ``--config-dir DIR`` ...) are skipped.
    The message names the key, never the value.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if "=" not in arg and flag in _VALUE_FLAGS:
                skip_next = True
            elif "=" not in arg and flag in _INFO_FLAGS and i + 1 < len(args) and args[i + 1] in _INFO_CHOICES:
                skip_next = True
            continue
        found = _check_override(parser, arg)
        if found:
            return found
    return None


# --------------------------------------------------------------------------------------------
# closed groups
# --------------------------------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """``Optional[X]`` -> ``X``."""
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: _unwrap(hints[f.name]) for f in dataclasses.fields(cls)}


def _closed(path: Path, node: Any, cls: type, allowed_extra: frozenset[str] = frozenset()) -> None:
    fields = _fields(cls)
    for key, child in _children(node):
        if key in allowed_extra:
            continue
        if key not in fields:
            where = _fmt((*path, key))
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            if close:
                raise ConfigError(f"{where}: unknown key (did you mean {_fmt((*path, close[0]))}?)")
            raise ConfigError(f"{where}: unknown key (known: {', '.join(fields)})")
        tp = fields[key]
        if dataclasses.is_dataclass(tp):
            if _is_mapping(child):
                _closed((*path, key), child, tp)
        elif typing.get_origin(tp) is list:
            (item_tp,) = typing.get_args(tp) or (Any,)
            item_tp = _unwrap(item_tp)
            if dataclasses.is_dataclass(item_tp):
                for i, item in _children(child):
                    if _is_mapping(item):
                        _closed((*path, key, i), item, item_tp)
        # Dict[str, Any] fields (model.extra, loopback.options, deployments' extra, prompts'
        # variables, filters, stages, export.formats) are open mappings by design.


def check_closed_groups(cfg: DictConfig) -> None:
    """Refuse a key that is not a field of its group's dataclass (``schedule.num_instrucions``).

    The message names the key and the field it probably meant (or the known fields).  Open
    mappings stay open: ``model.extra``, ``model.loopback.options``, ``model.deployments[*].extra``,
    ``prompts.*.variables``, ``filters``, ``stages``, ``export.formats``.  A ``hydra`` node at the
    top (a config with Hydra's own) is left alone.  Raises ConfigError.
    """
    _closed((), cfg, Config, allowed_extra=frozenset({"hydra"}))


# --------------------------------------------------------------------------------------------
# ranges
# --------------------------------------------------------------------------------------------


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
    "model.loopback.seed": _WHOLE,
    "model.loopback.latency_ms": _at_least(0),
    "model.loopback.fault_rate": _RATE,
    "model.deployments.*.rpm": _at_least(1, null=True),
    "model.deployments.*.tpm": _at_least(1, null=True),
    "model.deployments.*.max_parallel_requests": _at_least(1, null=True),
    "model.deployments.*.weight": _above(0, null=True),
    "model.router.allowed_fails": _at_least(0),
    "model.router.cooldown_s": _at_least(0, integer=False),
    "prompts.*.sampling.temperature": _Range(lo=0, hi=2),
    "prompts.*.sampling.top_p": _Range(lo=0, hi=1, lo_open=True),
    "prompts.*.sampling.presence_penalty": _Range(lo=-2, hi=2),
    "prompts.*.sampling.frequency_penalty": _Range(lo=-2, hi=2),
    "prompts.*.sampling.max_tokens": _at_least(1),
    "prompts.*.num_demos": _at_least(1, null=True),
    "prompts.*.num_machine_demos": _at_least(0, null=True),
    "schedule.num_instructions": _at_least(0),
    "schedule.num_demos": _at_least(1),
    "schedule.num_machine_demos": _at_least(0),
    "schedule.requests_per_round": _at_least(1),
    "schedule.max_stalled_rounds": _at_least(1),
    "schedule.max_instances_per_task": _at_least(1),
    "schedule.seed": _WHOLE,
    "export.cleaning.max_instances_per_task": _at_least(1),
    "export.cleaning.max_field_chars": _at_least(1),
    "budget.max_usd": _above(0, null=True),
    "budget.max_requests": _at_least(1, null=True),
    "shard.count": _at_least(1),
    "shard.index": _at_least(0),
}
# Bounds that depend on another key, checked after the plain ranges above.
_RELATIVE = (
    "model.retry_max_s",              # >= model.retry_base_s
    "schedule.num_machine_demos",     # <= schedule.num_demos
    "prompts.bootstrap.num_machine_demos",  # <= the num_demos the bootstrap prompt uses
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
    for key, child in _children(cfg):
        if head == "*" or key == head:
            if rest and not (_is_mapping(child) or isinstance(child, (ListConfig, list))):
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
        raise ConfigError(f"{_fmt(path)}: {one_line(exc)}") from None


def _number(path: Path, value: Any, integer: bool) -> float:
    key = _fmt(path)
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
        raise ConfigError(f"{_fmt(path)}: must be {rule.describe()}, got null")
    v = _number(path, value, rule.integer)
    if not rule.holds(v):
        raise ConfigError(f"{_fmt(path)}: must be {rule.describe()}, got {value}")
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

    prompt_demos_path, prompt_demos = number("prompts.bootstrap.num_demos", True)
    prompt_machine_path, prompt_machine = number("prompts.bootstrap.num_machine_demos", True)
    if prompt_demos is not None or prompt_machine is not None:
        demos_key = "prompts.bootstrap.num_demos" if prompt_demos is not None else "schedule.num_demos"
        machine_key = ("prompts.bootstrap.num_machine_demos" if prompt_machine is not None
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
        if not _is_mapping(node) or node.get("_target_") != _WORD_COUNT:
            continue
        low = _check((*path, "min_words"), _value(cfg, (*path, "min_words")), _at_least(0)) \
            if "min_words" in node else 4
        if "max_words" in node:
            high_path = (*path, "max_words")
            high = _check(high_path, _value(cfg, high_path), _at_least(0))
            if high is not None and low is not None and not high >= low:
                raise ConfigError(f"{_fmt(high_path)}: must be at least {_fmt((*path, 'min_words'))} ({low}), "
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


def check_config(cfg: DictConfig) -> None:
    """``check_no_secrets``, ``check_closed_groups`` and ``check_ranges``, in that order."""
    check_no_secrets(cfg)
    check_closed_groups(cfg)
    check_ranges(cfg)
