"""Prompt encodings for prompt_completion.jsonl: one template drawn at random per example.

The paper found that mixing several separators and prefixes makes the tuned model robust to
how users phrase a request.  Templates use ``{instruction}`` and ``{input}``; only the template
is formatted (str.format), so braces inside the data are copied as they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from string import Formatter
from typing import Sequence

from selfinstruct.errors import ConfigError
from selfinstruct.export.records import Example

PLACEHOLDERS = ("instruction", "input")


@dataclass(frozen=True)
class EncodingTemplate:
    """A prompt template and the separator its completion starts with."""

    text: str
    completion_prefix: str

    def render(self, example: Example) -> str:
        return self.text.format(instruction=example.instruction, input=example.input)


def _placeholders(text: str, key: str) -> list[str]:
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(f"{key}: not a valid template ({exc}; write literal braces as {{{{ and }}}})") from None
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ConfigError(f"{key}: unknown placeholder {{{name}}}: only {{instruction}} and {{input}} "
                              f"(write literal braces as {{{{ and }}}})")
        names.append(name)
    return names


def _completion_prefix(text: str) -> str:
    """Nothing after trailing whitespace, a newline after a bare placeholder, else a space ("Output:" -> " ...")."""
    literal, name, _spec, _conversion = list(Formatter().parse(text))[-1]
    if name is not None:
        return "\n"
    return "" if literal[-1:].isspace() else " "


def parse_template(text: str, key: str, *, with_input: bool) -> EncodingTemplate:
    """A checked template; ``key`` (e.g. export.templates.with_input[2]) is named in errors."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{key}: a template must be a non-empty string")
    names = _placeholders(text, key)
    if "instruction" not in names:
        raise ConfigError(f"{key}: the template has no {{instruction}} placeholder")
    if with_input and "input" not in names:
        raise ConfigError(f"{key}: a with-input template needs an {{input}} placeholder")
    if not with_input and "input" in names:
        raise ConfigError(f"{key}: a without-input template must not use {{input}} (the input is empty)")
    return EncodingTemplate(text, _completion_prefix(text))


class PromptEncoder:
    """Draws a template for each example: from the with-input set when it has an input, else the other."""

    def __init__(self, with_input: Sequence[str], without_input: Sequence[str], completion_suffix: str = "") -> None:
        base = "export.templates"
        self.with_input = [parse_template(t, f"{base}.with_input[{i}]", with_input=True)
                           for i, t in enumerate(with_input)]
        self.without_input = [parse_template(t, f"{base}.without_input[{i}]", with_input=False)
                              for i, t in enumerate(without_input)]
        self.completion_suffix = completion_suffix

    def require_templates(self, user: str) -> None:
        """Fail (naming the key) when a template set that ``user`` needs is empty."""
        for kind, templates in (("with_input", self.with_input), ("without_input", self.without_input)):
            if not templates:
                raise ConfigError(f"export.templates.{kind}: {user} needs at least one template")

    def encode(self, example: Example, rng: random.Random) -> tuple[str, str]:
        """(prompt, completion) for one example with a template drawn from ``rng``."""
        template = rng.choice(self.with_input if example.input else self.without_input)
        return template.render(example), f"{template.completion_prefix}{example.output}{self.completion_suffix}"
