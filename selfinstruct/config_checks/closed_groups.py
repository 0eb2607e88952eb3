"""Typed groups are closed: a key outside the schema (``+schedule.typo=1``) is refused, with the key it
probably meant."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Union

from omegaconf import DictConfig

from selfinstruct.config import Config
from selfinstruct.errors import ConfigError
from selfinstruct.config_checks.paths import Path, children, fmt_path, is_mapping


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
    for key, child in children(node):
        if key in allowed_extra:
            continue
        if key not in fields:
            where = fmt_path((*path, key))
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            if close:
                raise ConfigError(f"{where}: unknown key (did you mean {fmt_path((*path, close[0]))}?)")
            raise ConfigError(f"{where}: unknown key (known: {', '.join(fields)})")
        tp = fields[key]
        if dataclasses.is_dataclass(tp):
            if is_mapping(child):
                _closed((*path, key), child, tp)
        elif typing.get_origin(tp) is list:
            (item_tp,) = typing.get_args(tp) or (Any,)
            item_tp = _unwrap(item_tp)
            if dataclasses.is_dataclass(item_tp):
                for i, item in children(child):
                    if is_mapping(item):
                        _closed((*path, key, i), item, item_tp)
        # Dict[str, Any] fields (model.extra, loopback.options, deployments' extra, filters,
        # stages, export.formats) are open mappings by design: a stage's constructor checks its entry.


def check_closed_groups(cfg: DictConfig) -> None:
    """Refuse a key that is not a field of its group's dataclass (``schedule.num_instrucions``).

    The message names the key and the field it probably meant (or the known fields).  Open
    mappings stay open: ``model.extra``, ``model.loopback.options``, ``model.deployments[*].extra``,
    ``filters``, ``stages`` (each stage's constructor checks its own entry), ``export.formats``.  A ``hydra`` node at the
    top (a config with Hydra's own) is left alone.  Raises ConfigError.
    """
    _closed((), cfg, Config, allowed_extra=frozenset({"hydra"}))


# --------------------------------------------------------------------------------------------
# ranges
# --------------------------------------------------------------------------------------------
