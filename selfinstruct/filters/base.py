"""The filter protocol shared by rule filters and similarity filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Verdict:
    """A filter's answer for one candidate: kept or not, with the score that decided it if any."""

    keep: bool
    score: float | None = None
    # (pool instruction, score) pairs, most similar first; similarity filters fill it.
    most_similar: tuple[tuple[str, float], ...] = field(default=())


KEEP = Verdict(keep=True)
REJECT = Verdict(keep=False)


class InstructionFilter:
    """A test every new instruction must pass.

    Stateless rules only implement ``check``.  Filters that compare against the pool
    (near-duplicates) also learn the pool through ``add``: the stage calls it for every seed
    and for every instruction it accepts, in order, so decisions depend on earlier acceptances.
    """

    def check(self, instruction: str) -> Verdict:
        raise NotImplementedError

    def add(self, instruction: str) -> None:
        """Learn one more pool instruction (no-op for stateless rules)."""

    def add_all(self, instructions: Iterable[str]) -> None:
        for instruction in instructions:
            self.add(instruction)


def first_rejection(filters: dict[str, InstructionFilter], text: str) -> tuple[str | None, Verdict]:
    """The name of the first filter (in config order) that rejects ``text``, and the similarity verdict.

    The verdict is the rejecting filter's, or, for a kept text, the last one that reported its
    most similar pool instructions (the near-duplicate filter), so both can be recorded.
    """
    similarity = KEEP
    for name, flt in filters.items():
        verdict = flt.check(text)
        if verdict.most_similar:
            similarity = verdict
        if not verdict.keep:
            return name, verdict
    return None, similarity
