"""The bootstrap stage's replies: numbered lists of new instructions (Self-Instruct's recipe).

The prompt is read by its structure only: numbered demo lines, then a last line that is just
``N.``; the text before the demos is kept as the prompt's header.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfinstruct.simulated import synthetic
from selfinstruct.simulated.options import ServerOptions
from selfinstruct.simulated.replies import Draft, PromptKind, ReplyContext, register_kind

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


register_kind(PromptKind("bootstrap", detect_bootstrap, respond_bootstrap, stages=("bootstrap",)))
