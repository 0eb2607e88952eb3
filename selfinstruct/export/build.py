"""Build ``export.formats`` into writers, failing with the key's name (like filters/build.py)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from omegaconf import DictConfig

from selfinstruct.components import build_component
from selfinstruct.errors import ConfigError
from selfinstruct.export.formats import FormatWriter
from selfinstruct.rundir import FINETUNE_DIR as EXPORT_DIR


def _check_path(path: Any, key: str) -> None:
    """Exports stay under finetune/ so the stage can never overwrite another stage's file."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{key}.path: a format needs a path such as {EXPORT_DIR}/data.jsonl")
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if PurePosixPath(path).is_absolute() or ".." in parts or len(parts) < 2 or parts[0] != EXPORT_DIR:
        raise ConfigError(f"{key}.path: '{path}' must be a file under {EXPORT_DIR}/ in the run directory")


def build_writers(formats: DictConfig | dict[str, Any]) -> dict[str, FormatWriter]:
    """Name -> writer, in config order; ``export.formats.NAME=null`` switches one off."""
    built: dict[str, FormatWriter] = {}
    owners: dict[str, str] = {}
    for name, node in formats.items():
        key = f"export.formats.{name}"
        if node is None:
            continue
        writer = build_component(node, key, FormatWriter, "a format")
        _check_path(writer.path, key)
        normalized = str(PurePosixPath(writer.path))
        if normalized in owners:
            raise ConfigError(f"{key}.path: '{writer.path}' is also written by export.formats.{owners[normalized]}")
        owners[normalized] = str(name)
        built[str(name)] = writer
    if not built:
        raise ConfigError("export.formats: no format to write; add one or remove finetune from pipeline.stages")
    return built
