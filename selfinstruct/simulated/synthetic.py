"""Deterministic grammar of realistic task instructions for the loopback server.

Self-Instruct's filters (ROUGE-L dedup, keyword/length/start rules) can only be
tested against data that looks like what a chat model writes: varied, with
a realistic share of classification and input-taking tasks, plus the typical
defects. Every template is declarative so that `task_for` can re-match any
instruction the grammar produced and recover its metadata (classification?
labels? takes an input?) without shared state between processes.

This module is the grammar's public face; the work is split across:

- ``grammar``: the records (``SyntheticTask``, ``Template``, ...) and the tables, loaded from
  ``vocabulary.json`` (word lists, label sets, text banks) and ``templates.json`` (the
  instruction templates) beside it; the template syntax is described there;
- ``sampling``: drawing clean and defective instructions, near-copies, ``SyntheticGenerator``;
- ``recognition``: recovering metadata from text (``task_for``, ``describe``, ...);
- ``instance_vocab``: slot values and labelled inputs for answers;
- ``answers``: the per-family answer builders (``make_instance``, ``other_output``).
"""

from __future__ import annotations

from selfinstruct.simulated.answers import make_instance, other_output
from selfinstruct.simulated.grammar import (
    BAD_PREFIXES,
    BAD_START_TEMPLATES,
    BANNED_KEYWORDS,
    CLASSIFICATION_BIAS,
    CLASSIFICATION_SHARE,
    KEYWORD_TEMPLATES,
    SHORT_INSTRUCTIONS,
    SLOTS,
    STARS,
    TAILS,
    TEMPLATES,
    YES_NO,
    LabelSet,
    SyntheticInstance,
    SyntheticTask,
    Template,
)
from selfinstruct.simulated.instance_vocab import input_for_label
from selfinstruct.simulated.recognition import (
    describe,
    labels_in,
    looks_like_classification,
    looks_like_it_takes_input,
    recover_near_copy,
    task_for,
    task_slots,
)
from selfinstruct.simulated.sampling import (
    SyntheticGenerator,
    bad_start_instruction,
    keyword_instruction,
    near_copy,
    sample_task,
    short_instruction,
)

__all__ = [
    "BAD_PREFIXES",
    "BAD_START_TEMPLATES",
    "BANNED_KEYWORDS",
    "CLASSIFICATION_BIAS",
    "CLASSIFICATION_SHARE",
    "KEYWORD_TEMPLATES",
    "LabelSet",
    "SHORT_INSTRUCTIONS",
    "SLOTS",
    "STARS",
    "SyntheticGenerator",
    "SyntheticInstance",
    "SyntheticTask",
    "TAILS",
    "TEMPLATES",
    "Template",
    "YES_NO",
    "bad_start_instruction",
    "describe",
    "input_for_label",
    "keyword_instruction",
    "labels_in",
    "looks_like_classification",
    "looks_like_it_takes_input",
    "make_instance",
    "near_copy",
    "other_output",
    "recover_near_copy",
    "sample_task",
    "short_instruction",
    "task_for",
    "task_slots",
]
