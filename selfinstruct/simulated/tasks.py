"""Replies to prompts about one task: classify (Yes/No, also K tasks per prompt) and the two instance
modes (also K tasks per prompt, each under a "Task N:" header).

With the stage known (``classify``, ``instances:input_first``, ``instances:output_first``) the
task is read by structure alone: the instruction after the last ``Task:`` (for classify, less
the question on the block's last line). Without it the kinds fall back to the bundled
templates' wording (``detect_*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfinstruct.simulated import synthetic
from selfinstruct.simulated.examples import (
    Example,
    ReplyDefects,
    _field,
    _roll_reply,
    _unique_examples,
    apply_instance_defects,
)
from selfinstruct.simulated.replies import Draft, PromptKind, ReplyContext, register_kind

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


def parse_classify(text: str) -> TaskPrompt | None:
    """By structure: the last 'Task:' block, less its last line (the question) when it has several."""
    stripped = text.rstrip()
    starts = list(_TASK_AT_LINE_START.finditer(stripped))
    if not starts:
        return None
    tail = stripped[starts[-1].end():]
    if "\n" in tail:
        stripped = stripped[: len(stripped) - len(tail.rpartition("\n")[2])]
    prompt = _split_tasks(stripped)
    return prompt if prompt and prompt.instruction else None


def parse_task(text: str) -> TaskPrompt | None:
    """By structure: the instruction is everything after the last 'Task:'."""
    prompt = _split_tasks(text.rstrip())
    return prompt if prompt and prompt.instruction else None


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


# --- classify:packed: K numbered instructions, one "N. Yes" / "N. No" line each --------

PACKED_WORDING = "numbered task"  # the bundled classify_packed.txt's wording (no stage header)
_PACKED_ITEM = re.compile(r"^(\d+)\.[ \t]+(\S.*)$")


@dataclass(frozen=True)
class PackedClassifyPrompt:
    """A packed classify prompt: the numbered instructions that end it, in order."""

    instructions: tuple[str, ...]


def parse_packed_classify(text: str) -> PackedClassifyPrompt | None:
    """By structure: the run of "N. instruction" lines (numbered 1..K) at the end of the prompt."""
    items: list[tuple[int, str]] = []
    for line in reversed(text.rstrip().split("\n")):
        match = _PACKED_ITEM.match(line.strip())
        if match is None:
            break
        items.append((int(match.group(1)), " ".join(match.group(2).split())))
    items.reverse()
    if not items or [n for n, _ in items] != list(range(1, len(items) + 1)):
        return None
    return PackedClassifyPrompt(tuple(instruction for _, instruction in items))


def detect_packed_classify(text: str) -> PackedClassifyPrompt | None:
    return parse_packed_classify(text) if PACKED_WORDING in text and "Task:" in text else None


PACKED_GARBAGE: tuple[str, ...] = ("prose", "drop", "unsure", "unnumbered")


def respond_packed_classify(prompt: PackedClassifyPrompt, ctx: ReplyContext) -> Draft:
    """One "N. Yes|No" line per instruction, each the label the single classify prompt gets for that
    instruction alone (``respond_classify``: the task's ground truth). With probability
    ``packed_garbage_rate`` the reply is malformed instead: prose with no items, items missing,
    items answered with neither Yes nor No, or the numbers dropped; a malformed reply never gives
    an item a wrong label, so a client that falls back to one-by-one for what it cannot read ends
    with the same labels."""
    rng = ctx.rng
    labels = [synthetic.describe(instruction).is_classification for instruction in prompt.instructions]
    lines = [f"{n}. {'Yes' if label else 'No'}" for n, label in enumerate(labels, 1)]
    if rng.random() >= ctx.options.packed_garbage_rate:
        return Draft("\n".join(lines))
    style = rng.choice(PACKED_GARBAGE)
    if style == "prose":
        return Draft("These tasks are a mix: some pick a label from a fixed set and others ask for free text.")
    if style == "unnumbered":
        return Draft("\n".join(line.split(". ", 1)[1] for line in lines))
    hit = set(rng.sample(range(len(lines)), rng.randint(1, len(lines))))
    if style == "drop":
        return Draft("\n".join(line for i, line in enumerate(lines) if i not in hit))
    return Draft("\n".join(f"{i + 1}. {rng.choice(('Maybe', 'Unclear', 'Yes/No', ''))}".rstrip() if i in hit
                           else line for i, line in enumerate(lines)))


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


# --- instances:MODE:packed: K numbered tasks, each answered under a "Task N:" header ---------

_PACKED_TASK = re.compile(r"^Task[ \t]+(\d+):[ \t]*(\S.*)$")


@dataclass(frozen=True)
class PackedInstancesPrompt:
    """A packed instances prompt: the single prompt's text before its final "Task:" line (the
    header and demonstrations: the packed prompt's fixed part less its last paragraph, which asks
    for the numbered tasks) and the numbered tasks that end it."""

    prefix: str
    instructions: tuple[str, ...]

    def single_text(self, instruction: str) -> str:
        """The single-task prompt of the same template pair for one of the tasks."""
        return f"{self.prefix}Task: {instruction}"


def parse_packed_instances(text: str) -> PackedInstancesPrompt | None:
    """By structure: the run of "Task N: instruction" lines (numbered 1..K) at the end of the prompt,
    and everything before the paragraph that precedes them."""
    lines = text.rstrip().split("\n")
    items: list[tuple[int, str]] = []
    while lines:
        match = _PACKED_TASK.match(lines[-1].strip())
        if match is None:
            break
        items.append((int(match.group(1)), " ".join(match.group(2).split())))
        lines.pop()
    items.reverse()
    if not items or [n for n, _ in items] != list(range(1, len(items) + 1)):
        return None
    before = "\n".join(lines).rstrip()
    cut = before.rfind("\n\n")
    if cut < 0 or "Task:" not in before:
        return None
    return PackedInstancesPrompt(before[:cut + 2], tuple(instruction for _, instruction in items))


def _packed_instances_detector(header: str):  # noqa: ANN202 - a detect function of one kind
    def detect(text: str) -> PackedInstancesPrompt | None:
        if not text.startswith(header) or PACKED_WORDING not in text:
            return None
        return parse_packed_instances(text)
    return detect


PACKED_INSTANCES_GARBAGE: tuple[str, ...] = ("prose", "drop", "unnumbered", "empty")
_HEADER_WORDS = 2  # "Task N:" counted as the model's words


def _respond_packed_instances(single_kind: str, prompt: PackedInstancesPrompt, ctx: ReplyContext) -> Draft:
    """Each task's section is the reply the single-task prompt gets for that task alone: the single
    prompt is rebuilt from the packed one (prefix + "Task: <instruction>") and answered by the single
    kind with the RNG that prompt would get, so its instances equal the single request's. A task whose
    single reply would be cut off (the truncate defect, or longer than its share max_tokens / K less
    its header) is left out instead, as a model short of room leaves a task unanswered; the client
    then asks it alone and gets the single reply, cut as it would be. With probability
    ``packed_garbage_rate`` the reply is malformed instead: prose with no sections, sections missing,
    headers without numbers, or sections holding no example; never another task's examples."""
    from selfinstruct.simulated.core import _rng  # core imports this module

    limit = ctx.max_tokens
    share = None if limit is None else limit // len(prompt.instructions) - _HEADER_WORDS
    respond = respond_output_first if single_kind == "instances_output_first" else respond_input_first
    sections: list[str | None] = []
    for instruction in prompt.instructions:
        text = prompt.single_text(instruction)
        single = parse_task(text)
        if single is None:
            sections.append(None)
            continue
        draft = respond(single, ReplyContext(_rng(ctx.options.seed, single_kind, text), ctx.options, ctx.model))
        words = len(draft.text.split())
        cut = draft.truncate_at is not None or (share is not None and words > share)
        sections.append(None if cut else draft.text.strip("\n"))
    rng = ctx.rng
    numbered = [(n, body) for n, body in enumerate(sections, 1) if body is not None]
    if rng.random() < ctx.options.packed_garbage_rate:
        style = rng.choice(PACKED_INSTANCES_GARBAGE)
        if style == "prose":
            return Draft("Here are some examples for these tasks; each can be answered in several ways.")
        if numbered:
            hit = set(rng.sample(range(len(numbered)), rng.randint(1, len(numbered))))
            if style == "unnumbered":
                return Draft("\n\n".join(f"Task:\n{body}" for _, body in numbered))
            if style == "drop":
                numbered = [item for i, item in enumerate(numbered) if i not in hit]
            else:
                numbered = [(n, "I am not sure what examples this task needs." if i in hit else body)
                            for i, (n, body) in enumerate(numbered)]
    return Draft("\n\n".join(f"Task {n}:\n{body}" for n, body in numbered))


def respond_packed_input_first(prompt: PackedInstancesPrompt, ctx: ReplyContext) -> Draft:
    return _respond_packed_instances("instances_input_first", prompt, ctx)


def respond_packed_output_first(prompt: PackedInstancesPrompt, ctx: ReplyContext) -> Draft:
    return _respond_packed_instances("instances_output_first", prompt, ctx)


register_kind(PromptKind("classify", detect_classify, respond_classify, parse_classify, stages=("classify",)))
register_kind(PromptKind("classify_packed", detect_packed_classify, respond_packed_classify, parse_packed_classify,
                         stages=("classify:packed",)))
register_kind(PromptKind("instances_input_first", detect_input_first, respond_input_first, parse_task,
                         stages=("instances:input_first",)))
register_kind(PromptKind("instances_output_first", detect_output_first, respond_output_first, parse_task,
                         stages=("instances:output_first",)))
register_kind(PromptKind("instances_packed_input_first", _packed_instances_detector(INPUT_FIRST_HEADER),
                         respond_packed_input_first, parse_packed_instances, stages=("instances:input_first:packed",)))
register_kind(PromptKind("instances_packed_output_first", _packed_instances_detector(OUTPUT_FIRST_HEADER),
                         respond_packed_output_first, parse_packed_instances,
                         stages=("instances:output_first:packed",)))
