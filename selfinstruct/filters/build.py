"""Build the ``filters`` mapping of the config into filter objects, failing with the key's name."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from selfinstruct.errors import ConfigError, one_line
from selfinstruct.filters.base import InstructionFilter


def build_filters(filters: DictConfig | dict[str, Any]) -> dict[str, InstructionFilter]:
    """Name -> filter, in config order (the order they are applied in)."""
    built: dict[str, InstructionFilter] = {}
    for name, node in filters.items():
        key = f"filters.{name}"
        if node is None:  # filters.NAME=null switches one off, like ~filters.NAME
            continue
        if not (OmegaConf.is_dict(node) or isinstance(node, dict)) or "_target_" not in node:
            raise ConfigError(f"{key}: a filter needs a _target_ naming its class")
        try:
            instance = instantiate(node)
        except InstantiationException as exc:
            raise ConfigError(f"{key}: cannot build {node['_target_']}: {one_line(exc)}") from None
        if not isinstance(instance, InstructionFilter):
            raise ConfigError(f"{key}: {node['_target_']} is not an InstructionFilter")
        built[str(name)] = instance
    return built
