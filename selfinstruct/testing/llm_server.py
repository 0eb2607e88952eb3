"""Loopback OpenAI-compatible chat server for exercising selfinstruct offline.

Real chat models answer the Self-Instruct prompts (bootstrap, classify,
input-first and output-first instances) and the Alpaca prompt in many shapes,
produce instructions and instances the filters must reject, and their APIs
fail with 429s, 500s, timeouts and broken bodies (and, opt-in via --faults,
401s and 500s that echo the API key, and context-window errors). This server reproduces all of that
deterministically (given --seed) on 127.0.0.1 using only the standard library,
so the client's parsing, filtering, retry and caching paths can be tested
end to end through LiteLLM's real HTTP code.

Run ``python -m selfinstruct.testing.llm_server --port 0``: the first stdout
line is the base URL (``http://127.0.0.1:PORT/v1``). In-process use:
``with LoopbackServer(ServerOptions(seed=1)) as srv: srv.url``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from selfinstruct.testing import synthetic

__all__ = [
    "DEFAULT_FAULTS",
    "FAULT_KINDS",
    "MODEL_ID",
    "RATE_FIELDS",
    "UNKNOWN_REPLY",
    "AlpacaPrompt",
    "BootstrapPrompt",
    "Draft",
    "Example",
    "LoopbackServer",
    "PromptKind",
    "ReplyContext",
    "ServerOptions",
    "TaskPrompt",
    "apply_instance_defects",
    "apply_max_tokens",
    "apply_stop",
    "classify_prompt",
    "main",
    "register_kind",
]

MODEL_ID = "loopback"
# Every fault the server can simulate; --faults picks a subset (default: DEFAULT_FAULTS).
#   429        rate limited, with a Retry-After header (--retry-after-s)
#   500        internal server error
#   timeout    the reply is delayed by --slow-s
#   malformed  a 200 whose JSON body is cut in half
#   401        invalid key; the message echoes the request's Authorization header, as some providers do
#   500echo    internal error whose message quotes the Authorization header
#   context    400 context_length_exceeded, OpenAI's context-window error
FAULT_KINDS: tuple[str, ...] = ("429", "500", "timeout", "malformed", "401", "500echo", "context")
DEFAULT_FAULTS: tuple[str, ...] = ("429", "500", "timeout", "malformed")
CONTEXT_ERROR = ("This model's maximum context length is 8192 tokens. However, your messages resulted in "
                 "9000 tokens. Please reduce the length of the messages.")
UNKNOWN_REPLY = "This is the selfinstruct loopback server; it does not recognise this prompt."
RATE_FIELDS: tuple[str, ...] = (
    "fault_rate", "near_copy_rate", "keyword_rate", "short_rate", "bad_start_rate", "truncate_rate",
    "conflict_rate", "empty_output_rate", "colon_rate", "duplicate_rate", "same_io_rate",
)


@dataclass
class ServerOptions:
    """Everything that shapes the server's behaviour; mirrors the CLI flags."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    seed: int = 0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = DEFAULT_FAULTS
    slow_s: float = 5.0
    retry_after_s: float = 1.0
    near_copy_rate: float = 0.1
    keyword_rate: float = 0.05
    short_rate: float = 0.05
    bad_start_rate: float = 0.04
    truncate_rate: float = 0.05
    conflict_rate: float = 0.05
    empty_output_rate: float = 0.05
    colon_rate: float = 0.05
    duplicate_rate: float = 0.05
    same_io_rate: float = 0.03
    log: str | None = None

    def __post_init__(self) -> None:
        # Configs may hand over "429,500", a bare 429 or a list; normalise to strings.
        raw = self.faults.split(",") if isinstance(self.faults, str) else self.faults
        raw = raw if isinstance(raw, (list, tuple)) else [raw]
        self.faults = tuple(str(f).strip() for f in raw if str(f).strip())
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown or not self.faults:
            raise ValueError(f"faults must be a non-empty subset of {FAULT_KINDS}, got {self.faults}")
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


# --------------------------------------------------------------------------
# Prompt kinds: each is a detector plus a responder, registered by name.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A reply before stop/max_tokens; truncate_at in (0, 1) cuts the last line."""

    text: str
    truncate_at: float | None = None


@dataclass
class ReplyContext:
    """What a responder may use: a per-prompt RNG and the server options."""

    rng: random.Random
    options: ServerOptions


@dataclass(frozen=True)
class PromptKind:
    """detect(text) returns parsed data (or None); respond(parsed, ctx) drafts the reply."""

    name: str
    detect: Callable[[str], Any]
    respond: Callable[[Any, ReplyContext], Draft]


KINDS: dict[str, PromptKind] = {}


def register_kind(kind: PromptKind) -> PromptKind:
    """Add a prompt kind; kinds are tried in registration order."""
    KINDS[kind.name] = kind
    return kind


def classify_prompt(text: str) -> tuple[str, Any]:
    """Name of the first kind that recognises the text, and its parsed form."""
    for kind in KINDS.values():
        parsed = kind.detect(text)
        if parsed is not None:
            return kind.name, parsed
    return "unknown", None


def _respond_unknown(_: Any, __: ReplyContext) -> Draft:
    return Draft(UNKNOWN_REPLY)


# --- bootstrap: the Self-Instruct instruction-generation prompt -------------

_NUMBERED = re.compile(r"^\s*(\d+)\.\s+(.*\S)\s*$")
_NEXT_NUMBER = re.compile(r"^\s*(\d+)\s*\.\s*$")

PREAMBLES: tuple[str, ...] = (
    "Here are some more tasks:", "Sure! Here are a few more tasks:", "Continuing the list:",
    "Here are additional tasks:", "Of course. More tasks:",
)
CHATTER: tuple[str, ...] = (
    "Let me know if you would like more.", "I hope these are helpful!",
    "Feel free to ask for more tasks in a particular area.",
)
STYLES: tuple[str, ...] = ("plain", "restated", "paren", "preamble")
STYLE_WEIGHTS: tuple[float, ...] = (0.5, 1 / 6, 1 / 6, 1 / 6)
OVERFLOW_RATE = 0.2  # replies that run past 16 so the client's stop strings bite


@dataclass(frozen=True)
class BootstrapPrompt:
    """A parsed 'Come up with a series of tasks' prompt."""

    header: str
    demos: tuple[str, ...]
    next_number: int

    @property
    def classification(self) -> bool:
        return "classification" in self.header.lower()


def detect_bootstrap(text: str) -> BootstrapPrompt | None:
    """Numbered demo lines followed by a final line that is just 'N.'."""
    lines = text.rstrip().splitlines()
    if len(lines) < 2:
        return None
    last = _NEXT_NUMBER.match(lines[-1])
    if not last:
        return None
    header: list[str] = []
    demos: list[str] = []
    for line in lines[:-1]:
        numbered = _NUMBERED.match(line)
        if numbered:
            demos.append(numbered.group(2))
        elif demos and line.strip():
            demos[-1] = f"{demos[-1]} {line.strip()}"  # a demo that spans lines
        elif not demos:
            header.append(line)
    if not demos:
        return None
    return BootstrapPrompt("\n".join(header).strip(), tuple(demos), int(last.group(1)))


def _defect_roll(rng: random.Random, options: ServerOptions, can_copy: bool) -> str | None:
    """Which defect (if any) an item gets; the highest-rate hit wins so rate 1 is exact."""
    rates = {
        "near_copy": options.near_copy_rate if can_copy else 0.0,
        "keyword": options.keyword_rate,
        "short": options.short_rate,
        "bad_start": options.bad_start_rate,
    }
    hits = [name for name, rate in rates.items() if rng.random() < rate]
    return max(hits, key=lambda name: rates[name]) if hits else None


def _bootstrap_item(prompt: BootstrapPrompt, ctx: ReplyContext) -> str:
    """One generated instruction, possibly defective."""
    rng = ctx.rng
    defect = _defect_roll(rng, ctx.options, bool(prompt.demos))
    if defect == "near_copy":
        return synthetic.near_copy(rng.choice(prompt.demos), rng)
    if defect == "keyword":
        return synthetic.keyword_instruction(rng)
    if defect == "short":
        return synthetic.short_instruction(rng)
    if defect == "bad_start":
        return synthetic.bad_start_instruction(rng)
    share = synthetic.CLASSIFICATION_BIAS if prompt.classification else None
    return synthetic.sample_task(rng, share).instruction


def _item_count(prompt: BootstrapPrompt, rng: random.Random) -> int:
    """4-8 items; sometimes enough to run past 16 like an unconstrained model."""
    count = rng.randint(4, 8)
    if rng.random() < OVERFLOW_RATE and prompt.next_number <= 16:
        count = max(count, 17 - prompt.next_number + rng.randint(1, 2))
    return count


def render_items(items: Sequence[str], start: int, style: str, rng: random.Random) -> str:
    """Lay out numbered items the way different chat models do."""
    numbered = [f"{start + i}. {item}" for i, item in enumerate(items)]
    if style == "plain":
        return " " + "\n".join([items[0], *numbered[1:]])
    if style == "paren":
        return "\n".join(f"{start + i}) {item}" for i, item in enumerate(items))
    if style == "preamble":
        text = rng.choice(PREAMBLES) + "\n" + "\n".join(numbered)
        return text + "\n\n" + rng.choice(CHATTER) if rng.random() < 0.5 else text
    return "\n".join(numbered)


def respond_bootstrap(prompt: BootstrapPrompt, ctx: ReplyContext) -> Draft:
    """New instructions numbered from N, in a randomly chosen reply style."""
    rng = ctx.rng
    style = rng.choices(STYLES, STYLE_WEIGHTS)[0]
    items = [_bootstrap_item(prompt, ctx) for _ in range(_item_count(prompt, rng))]
    text = render_items(items, prompt.next_number, style, rng)
    truncate = rng.random() < ctx.options.truncate_rate
    return Draft(text, rng.uniform(0.2, 0.8) if truncate else None)


register_kind(PromptKind("bootstrap", detect_bootstrap, respond_bootstrap))


# --- shared: prompts that end with "Task: <instruction>" ---------------------

_TASK_AT_LINE_START = re.compile(r"(?:^|\n)Task:[ \t]*")
CLASSIFY_QUESTION = "Is it classification?"
INPUT_FIRST_HEADER = "Write examples for each task below"
OUTPUT_FIRST_HEADER = "Each task below is a classification task"


@dataclass(frozen=True)
class TaskPrompt:
    """A classify or instance prompt: its header, demo instructions and the task to answer."""

    header: str
    demos: tuple[str, ...]
    instruction: str
    body: str  # everything between the header and the final task

    @property
    def task(self) -> synthetic.SyntheticTask:
        return synthetic.describe(self.instruction)


def _split_tasks(text: str) -> TaskPrompt | None:
    """Header, demo blocks and the final 'Task:' block of a prompt (None without any)."""
    starts = list(_TASK_AT_LINE_START.finditer(text))
    if not starts:
        return None
    last = starts[-1]
    demos = tuple(" ".join(text[m.end():].split("\n", 1)[0].split()) for m in starts[:-1])
    header = text[:starts[0].start()].strip()
    body = text[starts[0].start():last.start()]
    return TaskPrompt(header, demos, " ".join(text[last.end():].split()), body)


def detect_classify(text: str) -> TaskPrompt | None:
    """'Task: ... / Is it classification? Yes|No' demos ending with the bare question."""
    stripped = text.rstrip()
    if not stripped.endswith(CLASSIFY_QUESTION):
        return None
    prompt = _split_tasks(stripped[: -len(CLASSIFY_QUESTION)])
    return prompt if prompt and prompt.instruction else None


# A final 'Task:' block that already holds answers is a demo, not the task to answer.
_ANSWER_AFTER_TASK = re.compile(r"\n\s*(?:Input|Output|Example\s*\d+|Class label)\b|" + re.escape(CLASSIFY_QUESTION))


def _instance_prompt(text: str) -> tuple[str, TaskPrompt] | None:
    """Which instance prompt this is ('input_first' / 'output_first') and its parsed form."""
    text = text.rstrip()
    prompt = _split_tasks(text)
    tail = text[text.rfind("Task:"):]
    if prompt is None or not prompt.instruction or _ANSWER_AFTER_TASK.search(tail):
        return None
    if prompt.header.startswith(INPUT_FIRST_HEADER):
        return "input_first", prompt
    if prompt.header.startswith(OUTPUT_FIRST_HEADER):
        return "output_first", prompt
    if re.search(r"^Class label\b", prompt.body, re.MULTILINE):
        return "output_first", prompt
    if re.search(r"^(?:Input|Output):", prompt.body, re.MULTILINE):
        return "input_first", prompt
    return None


def detect_input_first(text: str) -> TaskPrompt | None:
    found = _instance_prompt(text)
    return found[1] if found and found[0] == "input_first" else None


def detect_output_first(text: str) -> TaskPrompt | None:
    found = _instance_prompt(text)
    return found[1] if found and found[0] == "output_first" else None


# --- classify: "Is it classification?" ----------------------------------------

CLASSIFY_YES: tuple[str, ...] = ("Yes", "yes", " Yes.", "Yes, because it picks one label from a fixed set.")
CLASSIFY_NO: tuple[str, ...] = ("No", "No.", "no - the answer is free text.")


def respond_classify(prompt: TaskPrompt, ctx: ReplyContext) -> Draft:
    """Yes/No for the last task, right for every grammar instruction, dressed in varied styles."""
    return Draft(ctx.rng.choice(CLASSIFY_YES if prompt.task.is_classification else CLASSIFY_NO))


# --- instance defects, shared by the instance kinds and alpaca ----------------


@dataclass(frozen=True)
class Example:
    """One generated example; instruction is only set for alpaca tasks."""

    input: str
    output: str
    instruction: str = ""


@dataclass(frozen=True)
class ReplyDefects:
    """Per-reply defects, rolled before the examples are drawn (they change how many)."""

    conflict: bool
    duplicate: bool
    truncate: bool


def _roll_reply(ctx: ReplyContext) -> ReplyDefects:
    rng, o = ctx.rng, ctx.options
    return ReplyDefects(rng.random() < o.conflict_rate, rng.random() < o.duplicate_rate,
                        rng.random() < o.truncate_rate)


_PAIR_BREAKERS = ("empty_output", "same_io")  # on both members, they would make the outputs equal


def _roll_example(ctx: ReplyContext, has_input: bool) -> str | None:
    """One example's defect; the highest-rate hit wins so a rate of 1 is exact."""
    o = ctx.options
    rates = {"empty_output": o.empty_output_rate, "colon": o.colon_rate,
             "same_io": o.same_io_rate if has_input else 0.0}
    hits = [name for name, rate in rates.items() if ctx.rng.random() < rate]
    return max(hits, key=lambda name: rates[name]) if hits else None


def _conflict_pair(examples: list[Example], defects: list[str | None],
                   ctx: ReplyContext) -> tuple[int, int] | None:
    """Two examples with inputs to give one input; avoids pairs whose defects would equalise the outputs."""
    pairs = [(i, j) for i in range(len(examples)) for j in range(len(examples))
             if i != j and examples[i].input and examples[j].input]
    if not pairs:
        return None
    safe = [(i, j) for i, j in pairs if not (defects[i] == defects[j] and defects[i] in _PAIR_BREAKERS)]
    if safe:
        return ctx.rng.choice(safe)
    i, j = pairs[0]
    rate = getattr(ctx.options, f"{defects[j]}_rate")
    if ctx.options.conflict_rate >= rate:  # the higher rate wins, as for per-example defects
        defects[j] = None
        return i, j
    return None


def _with_defect(example: Example, defect: str | None, keep_input: bool, rng: random.Random) -> Example:
    if defect == "empty_output":
        return Example(example.input, "", example.instruction)
    if defect == "same_io":
        return Example(example.input, example.input, example.instruction)
    if defect == "colon":
        if example.input and not keep_input and rng.random() < 0.5:
            return Example(example.input.rstrip(".!?") + ":", example.output, example.instruction)
        if not keep_input and rng.random() < 0.5:
            lead = rng.choice(("Here is the answer:", "Sure! Here you go:", "See below:", "The result is as follows:"))
            return Example(example.input, lead, example.instruction)
        return Example(example.input, example.output.rstrip(".!?") + ":", example.instruction)
    return example


def apply_instance_defects(examples: list[Example], reply: ReplyDefects, ctx: ReplyContext,
                           conflict_output: Callable[[int, int], str]) -> list[Example]:
    """Per-example defects, then a conflicting pair and a duplicate when the reply rolled them.

    conflict_output(i, j) is what example j says once it carries example i's input.
    """
    examples = list(examples)
    defects = [_roll_example(ctx, bool(e.input)) for e in examples]
    pair = _conflict_pair(examples, defects, ctx) if reply.conflict else None
    if pair:
        i, j = pair
        base = examples[i]
        examples[j] = Example(base.input, conflict_output(i, j), base.instruction)
    in_pair = set(pair or ())
    examples = [_with_defect(e, d, k in in_pair, ctx.rng) for k, (e, d) in enumerate(zip(examples, defects))]
    if reply.duplicate and examples:
        source = ctx.rng.randrange(len(examples))
        examples.insert(ctx.rng.randint(source + 1, len(examples)), examples[source])
    return examples


def _unique_examples(make: Callable[[int], Example], count: int) -> list[Example]:
    """count examples with distinct inputs, so conflicts and duplicates only come from the rates."""
    out: list[Example] = []
    seen: set[str] = set()
    for k in range(count):
        example = make(k)
        for _ in range(8):
            if example.input not in seen:
                break
            example = make(k)
        if example.input in seen:  # a small input bank ran out: make it distinct
            example = Example(f"{example.input} (case {len(out) + 1})", example.output, example.instruction)
        seen.add(example.input)
        out.append(example)
    return out


def _field(marker: str, value: str) -> str:
    """'Marker: value'; a multi-line value starts on the next line; an empty one leaves the marker bare."""
    if not value:
        return marker
    return f"{marker}\n{value}" if "\n" in value else f"{marker} {value}"


# --- instances_input_first -----------------------------------------------------

INPUT_FIRST_STYLES: tuple[str, ...] = ("plain", "colon", "numbered", "markdown", "restated")
INPUT_FIRST_WEIGHTS: tuple[float, ...] = (0.4, 0.15, 0.15, 0.15, 0.15)
MAX_EXAMPLES = 5  # the client stops at "Example 6"


def _render_example(example: Example, n: int, style: str) -> str:
    if style == "numbered":
        return _field(f"Input {n}:", example.input) + "\n" + _field(f"Output {n}:", example.output)
    if style == "markdown":
        return (f"**Example {n}**\n" + _field("**Input:**", example.input) + "\n"
                + _field("**Output:**", example.output))
    head = f"Example {n}:" if style == "colon" else f"Example {n}"
    return head + "\n" + _field("Input:", example.input) + "\n" + _field("Output:", example.output)


def render_input_first(examples: Sequence[Example], takes_input: bool, style: str, instruction: str,
                       gap: str) -> str:
    """An input-first reply; a task without input gets its 'Output:' only."""
    if not takes_input:
        marker = "**Output:**" if style == "markdown" else "Output:"
        text = "\n".join(_field(marker, e.output) for e in examples)
    else:
        inner = "plain" if style == "restated" else style
        text = gap.join(_render_example(e, n, inner) for n, e in enumerate(examples, 1))
    return f"Task: {instruction}\n{text}" if style == "restated" else text


def respond_input_first(prompt: TaskPrompt, ctx: ReplyContext) -> Draft:
    """1-5 examples for a task with input (with defects), else a single Output."""
    rng, task = ctx.rng, prompt.task
    style = rng.choices(INPUT_FIRST_STYLES, INPUT_FIRST_WEIGHTS)[0]
    gap = rng.choice(("\n", "\n\n"))
    reply = _roll_reply(ctx)
    if task.takes_input:
        count = rng.randint(1, MAX_EXAMPLES)
        count = max(count, 2) if reply.conflict else count
        count = min(count, MAX_EXAMPLES - 1) if reply.duplicate else count
    else:
        count, reply = 1, ReplyDefects(False, False, reply.truncate)

    def make(_: int) -> Example:
        instance = synthetic.make_instance(task, rng)
        return Example(instance.input, instance.output)

    examples = _unique_examples(make, count)
    base = list(examples)

    def conflict_output(i: int, _: int) -> str:
        return synthetic.other_output(task, synthetic.SyntheticInstance(base[i].input, base[i].output), rng)

    examples = apply_instance_defects(examples, reply, ctx, conflict_output)
    text = render_input_first(examples, task.takes_input, style, prompt.instruction, gap)
    return Draft(text, rng.uniform(0.2, 0.8) if reply.truncate else None)


# --- instances_output_first ----------------------------------------------------

OUTPUT_FIRST_STYLES: tuple[str, ...] = ("plain", "numbered", "markdown", "restated")
OUTPUT_FIRST_WEIGHTS: tuple[float, ...] = (0.55, 0.15, 0.15, 0.15)


def task_labels(task: synthetic.SyntheticTask) -> tuple[str, ...]:
    """The task's labels; for a task the grammar gives none, those it spells out, else Yes/No."""
    return task.labels or synthetic.labels_in(task.instruction) or synthetic.YES_NO


def _render_labelled(example: Example, n: int, style: str, takes_input: bool) -> str:
    if style == "numbered":
        label, marker = f"Class label {n}:", f"Input {n}:"
    elif style == "markdown":
        label, marker = "**Class label:**", "**Input:**"
    else:
        label, marker = "Class label:", "Input:"
    text = _field(label, example.output)
    return text + "\n" + _field(marker, example.input) if takes_input else text


def render_output_first(examples: Sequence[Example], takes_input: bool, style: str, instruction: str,
                        gap: str) -> str:
    """'Class label: X' followed by its 'Input:', or the labels alone for a task without input."""
    inner = "plain" if style == "restated" else style
    joiner = gap if takes_input else "\n"
    text = joiner.join(_render_labelled(e, n, inner, takes_input) for n, e in enumerate(examples, 1))
    return f"Task: {instruction}\n{text}" if style == "restated" else text


def respond_output_first(prompt: TaskPrompt, ctx: ReplyContext) -> Draft:
    """One example per label of the task (inputs written for each label), with defects."""
    rng, task = ctx.rng, prompt.task
    style = rng.choices(OUTPUT_FIRST_STYLES, OUTPUT_FIRST_WEIGHTS)[0]
    gap = rng.choice(("\n", "\n\n"))
    reply = _roll_reply(ctx)
    labels = task_labels(task)

    def make(k: int) -> Example:
        return Example(synthetic.input_for_label(task, labels[k], rng) if task.takes_input else "", labels[k])

    examples = _unique_examples(make, len(labels)) if task.takes_input else [make(k) for k in range(len(labels))]
    examples = apply_instance_defects(examples, reply, ctx, lambda _, j: examples[j].output)
    text = render_output_first(examples, task.takes_input, style, prompt.instruction, gap)
    return Draft(text, rng.uniform(0.2, 0.8) if reply.truncate else None)


# --- alpaca: ###-separated "N. Instruction/Input/Output" blocks ----------------

_ALPACA_END = re.compile(r"(?:^|\n)###[ \t]*\n[ \t]*(\d+)[ \t]*\.[ \t]*Instruction:[ \t]*$")
_ALPACA_DEMO = re.compile(r"^[ \t]*\d+[ \t]*\.[ \t]*Instruction:[ \t]*(.+?)\s*$", re.MULTILINE)
# Text that would trip the Alpaca recipe's stop strings ("\n20", "20.", "20 .") before task 20.
_ALPACA_STOP_LIKE = re.compile(r"20 ?\.|(?:^|\n)20")
ALPACA_LAST = 20
NO_INPUT = "<noinput>"


@dataclass(frozen=True)
class AlpacaPrompt:
    """A parsed Alpaca prompt: header, demo instructions and the number to continue from."""

    header: str
    demos: tuple[str, ...]
    next_number: int


def detect_alpaca(text: str) -> AlpacaPrompt | None:
    """Blocks separated by '###' ending with a bare 'N. Instruction:'."""
    stripped = text.rstrip()
    end = _ALPACA_END.search(stripped)
    if not end:
        return None
    header = stripped.split("###", 1)[0].strip()
    return AlpacaPrompt(header, tuple(_ALPACA_DEMO.findall(stripped[:end.start()])), int(end.group(1)))


def _alpaca_task(prompt: AlpacaPrompt, ctx: ReplyContext,
                 need_input: bool = False) -> tuple[synthetic.SyntheticTask, str]:
    """A task for one block and its instruction, possibly defective (as in bootstrap)."""
    rng = ctx.rng
    if need_input:
        task = synthetic.sample_task(rng)
        while not task.takes_input:
            task = synthetic.sample_task(rng)
        return task, task.instruction
    defect = _defect_roll(rng, ctx.options, bool(prompt.demos))
    if defect is None:
        task = synthetic.sample_task(rng)
        return task, task.instruction
    instruction = {
        "near_copy": lambda: synthetic.near_copy(rng.choice(prompt.demos), rng),
        "keyword": lambda: synthetic.keyword_instruction(rng),
        "short": lambda: synthetic.short_instruction(rng),
        "bad_start": lambda: synthetic.bad_start_instruction(rng),
    }[defect]()
    return synthetic.describe(instruction), instruction


def _alpaca_example(prompt: AlpacaPrompt, ctx: ReplyContext, used: set[str],
                    need_input: bool = False) -> tuple[Example, synthetic.SyntheticTask]:
    """A fresh block: new instruction, nothing the recipe's stop strings would cut early."""
    for _ in range(8):
        task, instruction = _alpaca_task(prompt, ctx, need_input)
        instance = synthetic.make_instance(task, ctx.rng)
        example = Example(instance.input, instance.output, instruction)
        fields_text = "\n".join((instruction, instance.input, instance.output))
        if instruction not in used and not _ALPACA_STOP_LIKE.search(fields_text):
            break
    used.add(example.instruction)
    return example, task


def render_alpaca(examples: Sequence[Example], start: int, first_style: str, inline: bool) -> str:
    """Blocks from `start`; the first continues the prompt's 'N. Instruction:'."""
    blocks = []
    for n, e in enumerate(examples, start):
        if n == start and first_style != "restated":
            head = (" " if first_style == "space" else "") + e.instruction
        else:
            head = f"{n}. Instruction: {e.instruction}"
        values = [(f"{n}. Input:", e.input or NO_INPUT), (f"{n}. Output:", e.output)]
        rendered = [_field(m, v) if inline or not v else f"{m}\n{v}" for m, v in values]
        blocks.append("\n".join([head, *rendered]))
    return "\n###\n".join(blocks)


def respond_alpaca(prompt: AlpacaPrompt, ctx: ReplyContext) -> Draft:
    """Tasks N..20 (the client's stop cuts the 20th); a truncated reply ends mid-task earlier."""
    rng = ctx.rng
    reply = _roll_reply(ctx)
    first_style = rng.choices(("space", "bare", "restated"), (0.6, 0.2, 0.2))[0]
    inline = rng.random() < 0.2
    used = set(prompt.demos)
    count = max(ALPACA_LAST - prompt.next_number, 1)  # blocks N..19
    pairs = [_alpaca_example(prompt, ctx, used) for _ in range(count - reply.duplicate)]
    if reply.conflict:  # a conflict needs two blocks with inputs
        without = [k for k, (e, _) in enumerate(pairs) if not e.input]
        for k in without[:max(0, 2 - (len(pairs) - len(without)))]:
            pairs[k] = _alpaca_example(prompt, ctx, used, need_input=True)
    examples, tasks = [e for e, _ in pairs], [t for _, t in pairs]

    def conflict_output(i: int, _: int) -> str:
        instance = synthetic.SyntheticInstance(examples[i].input, examples[i].output)
        return synthetic.other_output(tasks[i], instance, rng)

    examples = apply_instance_defects(examples, reply, ctx, conflict_output)
    if reply.truncate:
        examples = examples[:rng.randint(1, len(examples))]
    else:
        examples.append(_alpaca_example(prompt, ctx, used)[0])  # task 20: the stop string cuts it
    text = render_alpaca(examples, prompt.next_number, first_style, inline)
    return Draft(text, rng.uniform(0.2, 0.8) if reply.truncate else None)


register_kind(PromptKind("classify", detect_classify, respond_classify))
register_kind(PromptKind("instances_input_first", detect_input_first, respond_input_first))
register_kind(PromptKind("instances_output_first", detect_output_first, respond_output_first))
register_kind(PromptKind("alpaca", detect_alpaca, respond_alpaca))


# --------------------------------------------------------------------------
# Completion post-processing, as an OpenAI-style API applies it.
# --------------------------------------------------------------------------


def apply_stop(text: str, stop: str | Sequence[str] | None) -> str:
    """Cut at the earliest occurrence of any stop string."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s]
    cuts = [c for c in cuts if c >= 0]
    return text[:min(cuts)] if cuts else text


def truncate_last_line(text: str, fraction: float) -> str:
    """Cut the final line mid-way, as a model hitting its token limit would.

    Trailing separator lines ('###', blank) are dropped first; a final line too
    short to cut (a one-character answer) is dropped whole.
    """
    body = text.rstrip()
    while "\n" in body and not any(ch.isalnum() for ch in body.rpartition("\n")[2]):
        body = body.rpartition("\n")[0].rstrip()
    head, sep, last = body.rpartition("\n")
    if len(last.strip()) < 2:
        return head.rstrip() if head.strip() else text
    keep = max(1, min(len(last) - 1, int(len(last) * fraction)))
    return head + sep + last[:keep].rstrip(" .!?")


def apply_max_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """Keep at most max_tokens whitespace-separated words; report if cut."""
    if max_tokens is None or max_tokens < 0:
        return text, False
    words = list(re.finditer(r"\S+", text))
    if len(words) <= max_tokens:
        return text, False
    return (text[:words[max_tokens - 1].end()] if max_tokens else ""), True


def _word_count(text: str) -> int:
    return len(text.split())


# --------------------------------------------------------------------------
# The request-independent core: stats, log, faults and reply building.
# --------------------------------------------------------------------------


@dataclass
class Reply:
    """An HTTP reply plan: wait delay_s (interruptible), then send."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    """An OpenAI-style error body."""
    err = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply(status, _json_bytes(err))


def _message_text(message: Any) -> str:
    """Text of a chat message whose content may be a string or a list of parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def prompt_text(messages: list[Any]) -> str:
    """The last user message, or every message joined when there is none."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message)
    return "\n".join(_message_text(m) for m in messages)


def _rng(seed: int, *parts: object) -> random.Random:
    """A RNG keyed by content (sha256), independent of PYTHONHASHSEED."""
    key = "\x1f".join(map(str, (seed, *parts))).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:16], "big"))


class _Core:
    """Chat semantics and bookkeeping, separate from the socket handling."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._log = open(options.log, "a", encoding="utf-8") if options.log else None
        self._counter = 0
        self._stats = self._empty_stats()
        # A simulated cut-off reply is one that needs more tokens than the first budget asked for
        # its prompt: asking again with a larger max_tokens gets the whole reply, as with a real model.
        self._first_budget: dict[str, int | None] = {}

    @staticmethod
    def _empty_stats() -> dict[str, Any]:
        return {"requests": 0, "by_status": {}, "by_kind": {}, "faults": dict.fromkeys(FAULT_KINDS, 0)}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset(self) -> None:
        with self._lock:
            self._stats = self._empty_stats()

    def close(self) -> None:
        with self._lock:
            if self._log:
                self._log.close()
                self._log = None

    def _next_number(self) -> int:
        """1-based sequence number of a valid chat request (keys the fault draw)."""
        with self._lock:
            self._counter += 1
            return self._counter

    def _record(self, status: int, kind: str, fault: str | None, prompt_sha: str | None) -> None:
        """Count and log one chat request."""
        retry_after = self.options.retry_after_s if fault == "429" else None
        with self._lock:
            s = self._stats
            s["requests"] += 1
            s["by_status"][str(status)] = s["by_status"].get(str(status), 0) + 1
            s["by_kind"][kind] = s["by_kind"].get(kind, 0) + 1
            if fault:
                s["faults"][fault] += 1
            if self._log:
                line = {"t": time.time(), "status": status, "kind": kind, "fault": fault,
                        "retry_after": retry_after, "prompt_sha": prompt_sha}
                self._log.write(json.dumps(line) + "\n")
                self._log.flush()

    def _fault_for(self, number: int) -> str | None:
        """Request-counter-keyed fault draw, so a retry of the same prompt may pass."""
        rng = _rng(self.options.seed, "fault", number)
        if rng.random() >= self.options.fault_rate:
            return None
        return rng.choice(self.options.faults)

    def chat(self, raw: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        """Turn a /v1/chat/completions body (and the request's headers) into a reply plan."""
        try:
            request = json.loads(raw or b"{}")
            messages = request["messages"]
            if not isinstance(request, dict) or not isinstance(messages, list):
                raise TypeError("messages must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            self._record(400, "invalid", None, None)
            return _error(400, f"Invalid request body: {exc}", "invalid_request_error")
        text = prompt_text(messages)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        kind, parsed = classify_prompt(text)
        if request.get("stream"):
            self._record(400, kind, None, sha)
            return _error(400, "Streaming is not supported by the loopback server.",
                          "invalid_request_error", "stream_not_supported")
        number = self._next_number()
        fault = self._fault_for(number)
        status = _FAULT_STATUS.get(fault or "", 200)
        self._record(status, kind, fault, sha)
        if fault in _FAULT_STATUS:
            reply = self._faulted(fault, _authorization(headers))
        else:
            reply = self._completion(request, text, kind, parsed, number)
        if fault == "malformed":
            reply.body = reply.body[: len(reply.body) // 2]
        reply.delay_s = self.options.latency_ms / 1000 + (self.options.slow_s if fault == "timeout" else 0)
        return reply

    def _within_first_budget(self, kind: str, text: str, limit: Any) -> bool:
        """True unless this prompt was asked before with a smaller max_tokens than now."""
        budget = limit if isinstance(limit, int) else None
        with self._lock:
            first = self._first_budget.setdefault(f"{kind}\0{text}", budget)
        return first is None or budget is None or budget <= first

    def _faulted(self, fault: str, authorization: str) -> Reply:
        """The error reply of a fault that answers with an HTTP error status."""
        if fault == "429":
            reply = _error(429, "Rate limit reached for loopback; please retry later.",
                           "rate_limit_error", "rate_limit_exceeded")
            reply.headers["Retry-After"] = _format_seconds(self.options.retry_after_s)
            return reply
        if fault == "401":
            return _error(401, f"Invalid credentials: {authorization}", "invalid_request_error",
                          "invalid_api_key")
        if fault == "500echo":
            return _error(500, f"Internal error while handling request with Authorization: {authorization}",
                          "server_error")
        if fault == "context":
            return _error(400, CONTEXT_ERROR, "invalid_request_error", "context_length_exceeded")
        return _error(500, "The loopback server had an internal error (simulated).", "server_error")

    def _completion(self, request: dict[str, Any], text: str, kind: str, parsed: Any,
                    number: int) -> Reply:
        """A successful chat.completion with stop and max_tokens applied."""
        responder = KINDS[kind].respond if kind in KINDS else _respond_unknown
        draft = responder(parsed, ReplyContext(_rng(self.options.seed, kind, text), self.options))
        content = apply_stop(draft.text, request.get("stop"))
        finish = "stop"
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        if draft.truncate_at is not None and self._within_first_budget(kind, text, limit):
            truncated = truncate_last_line(content, draft.truncate_at)
            finish = "length" if truncated != content else finish
            content = truncated
        content, cut = apply_max_tokens(content, limit if isinstance(limit, int) else None)
        finish = "length" if cut else finish
        prompt_tokens = sum(_word_count(_message_text(m)) for m in request["messages"])
        body = {
            "id": f"chatcmpl-loopback-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model") or MODEL_ID),
            "system_fingerprint": "loopback",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": _word_count(content),
                      "total_tokens": prompt_tokens + _word_count(content)},
        }
        return Reply(200, _json_bytes(body))


# Faults that answer with an error status instead of a (possibly slow or broken) completion.
_FAULT_STATUS: dict[str, int] = {"429": 429, "500": 500, "401": 401, "500echo": 500, "context": 400}


def _authorization(headers: Mapping[str, str] | None) -> str:
    """The Authorization header exactly as received (case-insensitive lookup)."""
    if headers is not None:
        value = headers.get("Authorization")
        if value is None and isinstance(headers, dict):
            value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if value is not None:
            return str(value)
    return "(no Authorization header)"


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


# --------------------------------------------------------------------------
# HTTP plumbing.
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the core; every response carries Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "selfinstruct-loopback/1"
    timeout = 60  # idle keep-alive connections are closed after a minute
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default per-request stderr log; --log covers it."""

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        core = self.server.core
        if path in ("/v1/models", "/models"):
            data = [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "selfinstruct"}]
            self._send(Reply(200, _json_bytes({"object": "list", "data": data})))
        elif path == "/stats":
            self._send(Reply(200, _json_bytes(core.stats())))
        elif path in ("", "/health", "/v1"):
            self._send(Reply(200, _json_bytes({"ok": True, "model": MODEL_ID})))
        else:
            self._send(_error(404, f"No route for GET {path}", "invalid_request_error"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_body()
        core = self.server.core
        if path in ("/v1/chat/completions", "/chat/completions"):
            reply = core.chat(body, self.headers)
            if reply.delay_s > 0 and core.stopping.wait(reply.delay_s):
                self.close_connection = True  # shutting down: drop the request
                return
            self._send(reply)
        elif path == "/reset":
            core.reset()
            self._send(Reply(200, _json_bytes({"ok": True})))
        else:
            self._send(_error(404, f"No route for POST {path}", "invalid_request_error"))

    def _send(self, reply: Reply) -> None:
        """Write the reply; a client that already hung up is not an error."""
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The stdlib default backlog (5) drops bursts of concurrent connects, which
    # clients then see as resets or 1 s SYN-retry timeouts the test never asked for.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], core: _Core) -> None:
        self.core = core
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock handler threads parked on idle keep-alive sockets."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Disconnects are routine here (timeouts are simulated); stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """The loopback server on a background thread; start() returns the base URL."""

    def __init__(self, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self._core: _Core | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    def start(self) -> str:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._core = _Core(self.options)
        self._httpd = _HTTPServer((self.options.host, self.options.port), self._core)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="loopback-llm-server", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, close sockets and the log."""
        if self._httpd is None or self._core is None:
            return
        self._core.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._core.close()
        self._httpd = self._thread = None

    def stats(self) -> dict[str, Any]:
        if self._core is None:
            raise RuntimeError("server not started")
        return self._core.stats()

    def reset(self) -> None:
        if self._core is not None:
            self._core.reset()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------
# CLI.
# --------------------------------------------------------------------------


def _parse_faults(text: str) -> tuple[str, ...]:
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in faults if f not in FAULT_KINDS]
    if bad or not faults:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {bad}; choose from {','.join(FAULT_KINDS)}")
    return faults


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be within [0, 1]")
    return value


def build_parser() -> argparse.ArgumentParser:
    d = ServerOptions()
    p = argparse.ArgumentParser(prog="python -m selfinstruct.testing.llm_server",
                                description="Loopback OpenAI-compatible LLM server for selfinstruct tests.")
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    p.add_argument("--latency-ms", type=float, default=d.latency_ms)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--fault-rate", type=_rate, default=d.fault_rate)
    p.add_argument("--faults", type=_parse_faults, default=d.faults,
                   help=f"comma-separated subset of {','.join(FAULT_KINDS)} (default {','.join(DEFAULT_FAULTS)})")
    p.add_argument("--slow-s", type=float, default=d.slow_s, help="delay of a 'timeout' fault")
    p.add_argument("--retry-after-s", type=float, default=d.retry_after_s)
    p.add_argument("--near-copy-rate", type=_rate, default=d.near_copy_rate)
    p.add_argument("--keyword-rate", type=_rate, default=d.keyword_rate)
    p.add_argument("--short-rate", type=_rate, default=d.short_rate)
    p.add_argument("--bad-start-rate", type=_rate, default=d.bad_start_rate)
    p.add_argument("--truncate-rate", type=_rate, default=d.truncate_rate)
    p.add_argument("--conflict-rate", type=_rate, default=d.conflict_rate,
                   help="per instance reply: two examples share an input but not the output")
    p.add_argument("--empty-output-rate", type=_rate, default=d.empty_output_rate, help="per example")
    p.add_argument("--colon-rate", type=_rate, default=d.colon_rate,
                   help="per example: the input or output ends with a colon")
    p.add_argument("--duplicate-rate", type=_rate, default=d.duplicate_rate,
                   help="per instance reply: one example repeated exactly")
    p.add_argument("--same-io-rate", type=_rate, default=d.same_io_rate,
                   help="per example with an input: the output equals the input")
    p.add_argument("--log", default=None, help="append one JSON line per chat request")
    return p


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    names = {f.name for f in fields(ServerOptions)}
    return ServerOptions(**{k: v for k, v in vars(args).items() if k in names})


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the base URL is the first stdout line."""
    options = options_from_args(build_parser().parse_args(argv))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with LoopbackServer(options) as server:
        print(server.url, flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
