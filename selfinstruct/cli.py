"""The ``selfinstruct`` command: compose the config with Hydra and hand it to the engine.

Nothing heavy is imported here: ``--help`` and config composition never import LiteLLM.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from selfinstruct.config import CONFIG_DIR
from selfinstruct.errors import SelfInstructError, one_line

log = logging.getLogger("selfinstruct")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> None:
    from selfinstruct.engine import run_pipeline
    from selfinstruct.secrets import install_log_redaction, redact

    install_log_redaction()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_pipeline(cfg, run_dir)
    except SelfInstructError as exc:
        log.error("%s", redact(one_line(exc)))
        raise SystemExit(2) from None


def main() -> None:
    """Console-script entry point."""
    _app()


if __name__ == "__main__":
    main()
