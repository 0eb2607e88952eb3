"""Push finetune/ (the data files, the dataset card, dataset_info.json) to the Hugging Face Hub.

``selfinstruct 'pipeline.stages=[push]' hydra.run.dir=RUN export.hub.repo_id=ORG/NAME`` pushes a
finished run whose finetune/ has its dataset card (``HF_TOKEN`` in the environment); at the end of a
run (push is the last of the default stages) ``export.hub.repo_id=ORG/NAME`` pushes what the run
made. With ``export.hub.repo_id=null`` (the default) the stage does nothing but say so.  Checked before any stage runs: the token is set, and the data is not
the simulated model's (this run's model, metrics.json's record of earlier invocations, finetune/SIMULATED).
"""

from __future__ import annotations

import logging
import os
import re

from omegaconf import OmegaConf

from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.export.card import CARD_FILE, SIMULATED_FILE
from selfinstruct.rundir import FINETUNE_DIR
from selfinstruct.secrets import register_secret
from selfinstruct.stages.base import RunContext, Stage
from selfinstruct.stages.finetune import earlier_simulated

log = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SIMULATED_REFUSAL = "simulated data is not pushed"


class PushStage(Stage):
    name = "push"
    needs_llm = False

    def _settings(self, ctx: RunContext) -> None:
        """export.hub.*, checked (errors name the key)."""
        hub = ctx.cfg.export.hub
        repo_id, private, token_env = hub.repo_id, hub.private, hub.token_env
        if repo_id is not None and not (isinstance(repo_id, str) and _REPO_ID.match(repo_id)
                                        and len(repo_id) <= 96 and ".." not in repo_id):
            raise ConfigError(f"export.hub.repo_id={repo_id!r}: a Hub repository id, ORG/NAME (letters, digits, "
                              f"'-', '_', '.'), or null not to push")
        if not (isinstance(token_env, str) and _ENV_NAME.match(token_env)):
            raise ConfigError(f"export.hub.token_env={token_env!r}: the name of the environment variable that "
                              f"holds the Hub token (HF_TOKEN), not the token itself")
        try:
            timeout = float(hub.timeout_s)
        except (TypeError, ValueError):
            timeout = -1.0
        if not timeout > 0:
            raise ConfigError(f"export.hub.timeout_s={hub.timeout_s!r}: seconds, more than 0")
        self.repo_id, self.private, self.token_env = repo_id, bool(private), token_env
        self.timeout_s, self.commit_message = timeout, hub.commit_message
        self._token: str | None = None

    def prepare(self, ctx: RunContext) -> None:
        self._settings(ctx)
        if self.repo_id is None:
            return
        token = (os.environ.get(self.token_env) or "").strip()
        if not token:
            raise ConfigError(f"export.hub.repo_id={self.repo_id}: no Hub token: the environment variable "
                              f"{self.token_env} (export.hub.token_env) is not set; set it to a write token")
        register_secret(token)
        self._token = token
        stages = list(ctx.cfg.pipeline.stages)
        earlier = stages[: stages.index(self.name)] if self.name in stages else stages
        refusal = self._simulated(ctx, check_marker="finetune" not in earlier)
        if refusal:
            raise ConfigError(f"export.hub.repo_id={self.repo_id}: {SIMULATED_REFUSAL} ({refusal})")
        if "finetune" in earlier:
            if not OmegaConf.select(ctx.cfg, "stages.finetune.dataset_card", default=False):
                raise ConfigError(f"export.hub.repo_id={self.repo_id}: the pushed folder needs its dataset card: "
                                  f"set stages.finetune.dataset_card=true")
        elif not (ctx.run_dir / CARD_FILE).is_file():
            raise SelfInstructError(f"{ctx.run_dir / CARD_FILE}: not found; the push stage uploads finetune/ with its "
                                    f"dataset card: export it first (selfinstruct 'pipeline.stages=[finetune]' "
                                    f"stages.finetune.dataset_card=true hydra.run.dir={ctx.run_dir}), or push in "
                                    f"the same command: 'pipeline.stages=[finetune,push]' "
                                    f"stages.finetune.dataset_card=true")

    def _simulated(self, ctx: RunContext, check_marker: bool = True) -> str | None:
        """Why the run's data counts as simulated, or None."""
        if ctx.cfg.model.simulated:
            return f"model {ctx.cfg.model.name} is the bundled simulated model"
        if earlier_simulated(ctx.metrics.data):
            return "metrics.json records the simulated model for this run"
        if check_marker and (ctx.run_dir / SIMULATED_FILE).exists():
            return f"{SIMULATED_FILE} marks the data"
        return None

    async def run(self, ctx: RunContext) -> None:
        if self.repo_id is None:
            log.info("push: export.hub.repo_id is null: nothing pushed")
            return
        if (ctx.run_dir / SIMULATED_FILE).exists():  # finetune ran in this invocation and marked its data
            raise SelfInstructError(f"export.hub.repo_id={self.repo_id}: {SIMULATED_REFUSAL} "
                                    f"({SIMULATED_FILE} marks the data)")
        from selfinstruct.export.hub import push_folder

        assert self._token is not None
        folder = ctx.run_dir / FINETUNE_DIR
        result = push_folder(folder, self.repo_id, token=self._token, private=self.private,
                             timeout_s=self.timeout_s, commit_message=self.commit_message)
        ctx.metrics.update(self.name, {"repo_id": self.repo_id, "private": self.private, "endpoint": result.endpoint,
                                       "repo_url": result.repo_url, "commit_url": result.commit_url,
                                       "files": result.files, "bytes": result.bytes})
        ctx.metrics.write()
        log.info("push: %d files (%d bytes) of %s committed to the %s dataset %s: %s", len(result.files),
                 result.bytes, folder, "private" if self.private else "public", self.repo_id, result.commit_url)
