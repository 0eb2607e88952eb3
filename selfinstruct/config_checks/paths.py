"""Paths into a config (tuples of keys and list indices) and walking its nodes without resolving them."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from omegaconf import DictConfig, ListConfig, Node



Path = tuple  # of str (mapping keys) and int (list indices)

# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------


def fmt_path(path: Sequence[Any]) -> str:
    """``('model', 'deployments', 0, 'extra', 'api_key')`` -> ``model.deployments[0].extra.api_key``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def children(cfg: Any) -> Iterator[tuple[Any, Any]]:
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


def is_mapping(node: Any) -> bool:
    return (isinstance(node, DictConfig) and not (node._is_none() or node._is_missing() or node._is_interpolation())) \
        or isinstance(node, dict)


def raw_node(node: Any) -> Any:
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
