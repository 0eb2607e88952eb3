"""Checks on a composed config that Hydra's typing cannot express, each failing with one line.

- ``check_no_secrets``: no credential in the config (it is saved in the run directory);
- ``check_closed_groups``: no key outside the schema in a typed group (``+schedule.typo=1``);
- ``check_ranges``: every number within its range, naming the key, the range and the value;
- ``check_config``: the three, in that order;
- ``check_command_line``: the raw command-line overrides, before Hydra composes (or prints) them.

Why ``+schedule.typo=1`` composes: Hydra's struct mode is on for the typed nodes (a YAML file with
an unknown key already fails while composing, and so does ``schedule.typo=1``), but an override
with ``+`` or ``++`` is applied with ``OmegaConf.update(..., force_add=True)``, which opens every
node on its path; and a config composed without the schema (``--config-path RUN/.hydra``) is not
typed at all.  So the key is checked here against the dataclasses of ``selfinstruct.config``.

Pure functions on the config: nothing is imported from LiteLLM, nothing is written.
"""

from __future__ import annotations

from omegaconf import DictConfig

from selfinstruct.config_checks.closed_groups import check_closed_groups
from selfinstruct.config_checks.no_secrets import check_command_line, check_no_secrets, is_secret_name
from selfinstruct.config_checks.ranges import NUMERIC_KEYS, check_ranges

__all__ = [
    "check_command_line",
    "check_closed_groups",
    "check_config",
    "check_no_secrets",
    "check_ranges",
    "is_secret_name",
    "NUMERIC_KEYS",
]


def check_config(cfg: DictConfig) -> None:
    """``check_no_secrets``, ``check_closed_groups`` and ``check_ranges``, in that order."""
    check_no_secrets(cfg)
    check_closed_groups(cfg)
    check_ranges(cfg)
