"""The simulated model: an OpenAI-compatible chat server that answers like a real one, offline.

``selfinstruct model=loopback`` (the quick start) runs it in-process (``selfinstruct.llm.endpoint``);
``python -m selfinstruct.simulated --port 0`` runs it standalone for any client (the test suite
and benchmarks do). It serves deterministic, Self-Instruct-shaped replies (with the defects the
filters must catch, and 429/500/timeout/malformed faults) using only the standard library.

Layout: ``options`` (ServerOptions, fault kinds), ``replies`` (how a reply is chosen: by the
``X-Selfinstruct-Stage`` header our client sends to this endpoint only, else by wording; the
``register_stage_reply`` hook), ``bootstrap`` / ``alpaca`` / ``tasks`` (the built-in replies),
``examples`` (instance defects), ``completion`` (stop and max_tokens), ``core`` (requests, faults,
stats), ``finetuning`` (the files and fine-tuning jobs API, in memory), ``server`` (HTTP), ``cli``;
``synthetic`` is the instruction grammar (split into
``grammar``, ``sampling``, ``recognition``, ``instance_vocab``, ``answers``), whose word lists and
templates live in ``vocabulary.json`` and ``templates.json``.

A new stage's reply is one registered function::

    from selfinstruct.simulated import register_stage_reply

    @register_stage_reply("audit")
    def audit_reply(prompt: str, ctx) -> str:
        return f"Score: {ctx.rng.randint(1, 5)}"
"""

from selfinstruct.simulated.completion import apply_max_tokens, apply_stop
from selfinstruct.simulated.core import Reply
from selfinstruct.simulated.options import DEFAULT_FAULTS, FAULT_KINDS, MODEL_ID, RATE_FIELDS, ServerOptions
from selfinstruct.simulated.replies import (
    STAGE_HEADER,
    UNKNOWN_REPLY,
    Draft,
    PromptKind,
    ReplyContext,
    classify_prompt,
    register_kind,
    register_stage_reply,
)
from selfinstruct.simulated.server import LoopbackServer

__all__ = [
    "DEFAULT_FAULTS",
    "FAULT_KINDS",
    "MODEL_ID",
    "RATE_FIELDS",
    "STAGE_HEADER",
    "UNKNOWN_REPLY",
    "Draft",
    "LoopbackServer",
    "PromptKind",
    "Reply",
    "ReplyContext",
    "ServerOptions",
    "apply_max_tokens",
    "apply_stop",
    "classify_prompt",
    "register_kind",
    "register_stage_reply",
]
