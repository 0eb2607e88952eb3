"""Prompt templates: Jinja2 files under prompts/ (or a user's own path), loaded once per run."""

from __future__ import annotations

import traceback
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
        self.config_key = config_key
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
            raise ConfigError(f"{resolved}:{exc.lineno}: template syntax error: {exc.message} ({config_key})") from None

    def render(self, **variables: Any) -> str:
        return self._template.render(**variables).strip()

    def check(self, **sample_variables: Any) -> None:
        """Render once with the variables the stage will pass (sample values), in ``prepare``: a name the
        stage never provides (undefined variables are errors) or any other failure to render is a
        ConfigError ``PATH:LINE: template error: ... (CONFIG_KEY; ...)`` before anything is written or sent."""
        try:
            self._template.render(**sample_variables)
        except Exception as exc:  # noqa: BLE001 - whatever rendering raises is the template's error
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
            where = f"{self.path}:{lines[-1]}" if lines else str(self.path)
            message = " ".join(str(exc).split()) or type(exc).__name__
            names = ", ".join(sorted(sample_variables)) or "none"
            raise ConfigError(f"{where}: template error: {message} ({self.config_key}; "
                              f"the template gets the variables {names})") from None
