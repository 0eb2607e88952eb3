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


SAMPLING_KEYS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "max_tokens", "stop")


def chat_messages(system: str | None, content: str) -> list[dict[str, str]]:
    """The message list every stage sends: an optional system message, then the rendered prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    return messages


def sampling_params(sampling: Any, config_key: str) -> dict[str, Any]:
    """A stage's ``sampling`` entry as a plain dict (in one fixed key order), refusing an unknown key."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(sampling, resolve=True) if OmegaConf.is_config(sampling) else dict(sampling or {})
    for key in plain:
        if key not in SAMPLING_KEYS:
            import difflib

            close = difflib.get_close_matches(str(key), SAMPLING_KEYS, n=1)
            hint = f"did you mean {config_key}.{close[0]}?" if close else f"known: {', '.join(SAMPLING_KEYS)}"
            raise ConfigError(f"{config_key}.{key}: unknown key ({hint})")
    return {key: plain[key] for key in SAMPLING_KEYS if key in plain}


class StagePrompt:
    """A stage's prompt entry (``stages.NAME`` or one of its sub-entries): template file, optional system
    message, sampling and template variables.  Checked when the stage is built (no I/O); the template
    is read by ``load`` in the stage's ``prepare``."""

    def __init__(self, key: str, template: str, system: str | None = None, sampling: Any = None,
                 variables: Any = None) -> None:
        from omegaconf import OmegaConf

        if not isinstance(template, str) or not template.strip():
            raise ConfigError(f"{key}.template: must name a template file, got {template!r}")
        if system is not None and not isinstance(system, str):
            raise ConfigError(f"{key}.system: must be text or null")
        plain_vars = OmegaConf.to_container(variables, resolve=True) if OmegaConf.is_config(variables) else variables
        if plain_vars is not None and not isinstance(plain_vars, dict):
            raise ConfigError(f"{key}.variables: must be a mapping of template variables")
        self.key = key
        self.template_path = template
        self.system = system
        self.sampling: dict[str, Any] = sampling_params(sampling, f"{key}.sampling")
        self.variables: dict[str, Any] = dict(plain_vars or {})
        self.template: PromptTemplate | None = None

    def load(self) -> PromptTemplate:
        """Read the template (``prepare``): a missing file or a syntax error names ``KEY.template``."""
        self.template = PromptTemplate(self.template_path, f"{self.key}.template")
        return self.template

    def messages(self, **variables: Any) -> list[dict[str, str]]:
        """The rendered prompt (with the entry's own variables) as a system+user message list."""
        assert self.template is not None, "load() the template first"
        return chat_messages(self.system, self.template.render(**variables, **self.variables))
