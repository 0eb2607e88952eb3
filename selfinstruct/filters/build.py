"""Build the ``filters`` mapping of the config into filter objects, failing with the key's name."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from selfinstruct.components import build_component
from selfinstruct.filters.base import InstructionFilter


def build_filters(filters: DictConfig | dict[str, Any]) -> dict[str, InstructionFilter]:
    """Name -> filter, in config order (the order they are applied in)."""
    built: dict[str, InstructionFilter] = {}
    for name, node in filters.items():
        if node is None:  # filters.NAME=null switches one off, like ~filters.NAME
            continue
        built[str(name)] = build_component(node, f"filters.{name}", InstructionFilter, "a filter")
    return built
