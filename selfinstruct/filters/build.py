"""Build the ``filters`` mapping of the config into filter objects, failing with the key's name."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from selfinstruct.components import build_component
from selfinstruct.errors import ConfigError
from selfinstruct.filters.base import InstructionFilter

PLACE_KEY = "before"
"""A filter entry's optional ``before: NAME``: apply it just before filter NAME instead of where its
entry falls in the mapping (``+filters.mine={_target_: ..., before: rouge}`` would otherwise come last,
after the paper's near-duplicate filter)."""


def filter_order(filters: DictConfig | dict[str, Any]) -> list[str]:
    """The names of the switched-on filters in the order they apply: config order, with every entry
    that has ``before: NAME`` moved just before NAME."""
    entries = {str(name): node for name, node in filters.items() if node is not None}
    order = [name for name in entries if _before(entries[name]) is None]
    placed = [name for name in entries if _before(entries[name]) is not None]
    pending = list(placed)
    while pending:
        progressed = False
        for name in list(pending):
            target = _before(entries[name])
            if target not in entries or target == name:
                raise ConfigError(f"filters.{name}.{PLACE_KEY}={target}: no such filter (switched-on filters: "
                                  f"{', '.join(entries)})")
            if target in order:
                order.insert(order.index(target), name)
                pending.remove(name)
                progressed = True
        if not progressed:
            raise ConfigError(f"filters.{pending[0]}.{PLACE_KEY}: the '{PLACE_KEY}' entries of "
                              f"{', '.join(pending)} form a cycle")
    return order


def _before(node: Any) -> str | None:
    value = node.get(PLACE_KEY) if isinstance(node, (dict, DictConfig)) else None
    return None if value is None else str(value)


def build_filters(filters: DictConfig | dict[str, Any]) -> dict[str, InstructionFilter]:
    """Name -> filter, in the order they are applied in (``filter_order``)."""
    built: dict[str, InstructionFilter] = {}
    for name in filter_order(filters):
        node = filters[name]
        if _before(node) is not None:
            node = {k: v for k, v in (OmegaConf.to_container(node) if isinstance(node, DictConfig) else node).items()
                    if k != PLACE_KEY}
        built[name] = build_component(node, f"filters.{name}", InstructionFilter, "a filter")
    return built
