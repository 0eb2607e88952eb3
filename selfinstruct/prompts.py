"""Prompt templates: Jinja2 files under prompts/ (or a user's own path), loaded once per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfinstruct.errors import ConfigError
from selfinstruct.resources import resolve_path


class PromptTemplate:
    """A template file rendered with keyword variables; the config key is kept for error messages."""

    def __init__(self, path: str, config_key: str) -> None:
        import jinja2  # imported here: rendering is run-time work, not config-time work

        resolved = resolve_path(path, "prompts")
        if not resolved.is_file():
            raise ConfigError(f"{config_key}: template '{path}' not found (looked in ./ and the bundled prompts/)")
        self.path: Path = resolved
        env = jinja2.Environment(
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
        )
        try:
            self._template = env.from_string(resolved.read_text(encoding="utf-8"))
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"{resolved}:{exc.lineno}: template syntax error: {exc.message}") from None

    def render(self, **variables: Any) -> str:
        return self._template.render(**variables).strip()
