"""How the simulated model picks its reply: by the stage that asks, else by the prompt's wording.

A *prompt kind* is a parser plus a responder: ``parse(text)`` pulls the structured content out
of the prompt (the numbered demos, the task after the last ``Task:``) or returns None, and
``respond(parsed, ctx)`` drafts the reply with ``ctx.rng``, an RNG keyed by (seed, kind name,
prompt text). Each kind serves one or more *stage keys*: the value of the ``X-Selfinstruct-Stage``
header that selfinstruct's client sends to the simulated endpoint only (never to a real
provider): ``bootstrap``, ``classify``, ``instances:input_first``, ``instances:output_first``
(a stage's name, then ``:mode`` where one stage sends prompts of several kinds).

A request with the header is answered by the kinds registered for that stage, tried in order,
so rewording a template's sentences changes nothing. What the responders still read from the
prompt is structure: the numbered list of demonstrations, the ``###`` blocks of Alpaca's prompt,
and the task after the last ``Task:`` (classify, instances); a template that drops that marker
would need the task sent in a second, structured header. A request without it (any other client pointed at
``python -m selfinstruct.simulated``), or with a stage nothing is registered for, falls back to
recognising the bundled templates by their wording (each kind's ``detect``).

A new stage's simulated reply is one function, registered by the stage's name; with
``model=loopback`` the server runs in-process, so registering from the module that defines the
stage is enough::

    from selfinstruct.simulated import register_stage_reply

    @register_stage_reply("audit")
    def audit_reply(prompt: str, ctx) -> str:   # ctx.rng: seeded per prompt; ctx.options
        return f"Score: {ctx.rng.randint(1, 5)}"
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfinstruct.simulated.options import ServerOptions

# Sent by selfinstruct's client to the simulated endpoint only: which stage (and mode) asks.
STAGE_HEADER = "X-Selfinstruct-Stage"
UNKNOWN_REPLY = "This is the selfinstruct loopback server; it does not recognise this prompt."


@dataclass(frozen=True)
class Draft:
    """A reply before stop/max_tokens; truncate_at in (0, 1) cuts the last line."""

    text: str
    truncate_at: float | None = None


@dataclass
class ReplyContext:
    """What a responder may use: a per-prompt RNG, the server options, the request's model name
    (a fine-tuned ``ft:...`` model answers evaluate:respond better than its base) and its max_tokens
    (None: not set; a packed instances reply gives each task its share)."""

    rng: random.Random
    options: ServerOptions
    model: str = ""
    max_tokens: int | None = None


@dataclass(frozen=True)
class PromptKind:
    """detect(text) recognises the prompt by its wording (no stage header) and returns its parsed
    form, or None; parse(text) reads it by structure alone once the stage is known (default:
    detect); respond(parsed, ctx) drafts the reply; stages are the stage keys it answers."""

    name: str
    detect: Callable[[str], Any]
    respond: Callable[[Any, ReplyContext], Draft]
    parse: Callable[[str], Any] | None = None
    stages: tuple[str, ...] = ()


KINDS: dict[str, PromptKind] = {}
STAGES: dict[str, list[str]] = {}  # stage key -> kind names, tried in order


def register_kind(kind: PromptKind) -> PromptKind:
    """Add (or replace) a prompt kind; wording detection tries kinds in registration order."""
    KINDS[kind.name] = kind
    for stage in kind.stages:
        names = STAGES.setdefault(stage, [])
        if kind.name not in names:
            names.append(kind.name)
    return kind


def register_stage_reply(stage: str, wording: Callable[[str], bool] | None = None
                         ) -> Callable[[Callable[[str, ReplyContext], Any]], Callable[..., Any]]:
    """Decorator: fn(prompt_text, ctx) -> str (or Draft) answers every request of `stage`.

    It replaces whatever answered that stage before; its RNG is keyed by the stage name.
    ``wording(text)`` (optional) recognises the stage's bundled template by its words, so a client
    that sends no stage header (a standalone ``python -m selfinstruct.simulated``) is answered too.
    """

    def register(fn: Callable[[str, ReplyContext], Any]) -> Callable[[str, ReplyContext], Any]:
        def respond(text: str, ctx: ReplyContext) -> Draft:
            out = fn(text, ctx)
            return out if isinstance(out, Draft) else Draft(str(out))

        def detect(text: str) -> str | None:
            return text if wording is not None and wording(text) else None

        STAGES[stage] = []
        register_kind(PromptKind(stage, detect=detect, respond=respond, parse=lambda text: text,
                                 stages=(stage,)))
        return fn

    return register


# Wording detection tries the built-in kinds in this order (whatever order they were imported in).
_DETECT_FIRST = ("bootstrap", "classify", "instances_input_first", "instances_output_first", "alpaca")


def classify_prompt(text: str) -> tuple[str, Any]:
    """Name of the first kind whose wording detection recognises the text, and its parsed form."""
    order = [KINDS[n] for n in _DETECT_FIRST if n in KINDS] + [k for n, k in KINDS.items() if n not in _DETECT_FIRST]
    for kind in order:
        parsed = kind.detect(text)
        if parsed is not None:
            return kind.name, parsed
    return "unknown", None


def reply_kind(text: str, stage: str | None = None) -> tuple[str, Any]:
    """The kind answering this prompt and its parsed form: by stage when one is registered."""
    names = STAGES.get(stage or "")
    if not names:
        return classify_prompt(text)
    for name in names:
        kind = KINDS[name]
        parsed = (kind.parse or kind.detect)(text)
        if parsed is not None:
            return name, parsed
    return "unknown", None


def _respond_unknown(_: Any, __: ReplyContext) -> Draft:
    return Draft(UNKNOWN_REPLY)


def responder(kind: str) -> Callable[[Any, ReplyContext], Draft]:
    return KINDS[kind].respond if kind in KINDS else _respond_unknown
