"""The ``selfinstruct`` command: compose the config with Hydra and hand it to the engine.

Nothing heavy is imported here: ``--help`` and config composition never import LiteLLM.
"""

from __future__ import annotations

import logging
import shlex
import signal
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from selfinstruct.config import CONFIG_DIR
from selfinstruct.errors import SelfInstructError, one_line

log = logging.getLogger("selfinstruct")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> None:
    from selfinstruct.engine import run_pipeline
    from selfinstruct.secrets import install_log_redaction, redact

    install_log_redaction()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    try:
        outcome = run_pipeline(cfg, run_dir, overrides)
    except SelfInstructError as exc:
        log.error("%s", redact(one_line(exc)))
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # the other jobs of the sweep go on; the sweep callback lists the failed ones and exits 2
            return
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        log.error("interrupted; resume with: %s", resume_command(overrides, run_dir))
        raise SystemExit(130) from None
    if outcome.ended == "interrupted":
        log.warning("%s; everything finished so far is written. Resume with:\n  %s",
                    outcome.detail, resume_command(overrides, run_dir))
        raise SystemExit(128 + int(outcome.signal or signal.SIGINT))


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """The command that continues this run: the same overrides, pinned to this run directory."""
    kept = [o for o in overrides if not o.startswith("hydra.run.dir=")]
    return " ".join(shlex.quote(part) for part in ["selfinstruct", *kept, f"hydra.run.dir={run_dir}"])


def main() -> None:
    """Console-script entry point."""
    _app()


if __name__ == "__main__":
    main()
