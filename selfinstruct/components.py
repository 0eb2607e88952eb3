"""Build a component named by ``_target_`` in the config, failing with one line that names its key."""

from __future__ import annotations

from typing import Any, TypeVar

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from selfinstruct.errors import ConfigError, one_line

T = TypeVar("T")


def build_component(node: Any, key: str, kind: type[T], role: str) -> T:
    """Instantiate ``node`` (a mapping with ``_target_``) and check it is a ``kind``.

    ``role`` says what the entry should be ("a filter", "a format", "a stage") in the error.
    """
    if not (OmegaConf.is_dict(node) or isinstance(node, dict)) or "_target_" not in node:
        raise ConfigError(f"{key}: {role} needs a _target_ naming its class")
    try:
        component = instantiate(node)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, ConfigError):  # the constructor's own check names its key
            raise exc.__cause__ from None
        hint = ""
        if "Error locating target" in str(exc):
            hint = " (its module must be importable: install it, or put its folder on PYTHONPATH)"
        raise ConfigError(f"{key}: cannot build {node['_target_']}: {one_line(exc)}{hint}") from None
    if not isinstance(component, kind):
        raise ConfigError(f"{key}: {node['_target_']} is not a {kind.__name__}")
    return component
