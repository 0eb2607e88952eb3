"""The bootstrap stage's replies for Alpaca's recipe: ``###``-separated task blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfinstruct.simulated import synthetic
from selfinstruct.simulated.bootstrap import _defect_roll
from selfinstruct.simulated.examples import Example, _field, _roll_reply, apply_instance_defects
from selfinstruct.simulated.replies import Draft, PromptKind, ReplyContext, register_kind

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


register_kind(PromptKind("alpaca", detect_alpaca, respond_alpaca, stages=("bootstrap",)))
