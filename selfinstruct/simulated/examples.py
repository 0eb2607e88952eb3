"""Instance examples and their defects, shared by the instance replies and Alpaca's."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from selfinstruct.simulated.replies import ReplyContext

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
