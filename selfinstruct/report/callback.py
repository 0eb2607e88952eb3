"""A Hydra callback that writes sweep.md when a ``-m`` sweep ends (each job's report.md comes from the
report stage).  Register it in the config (or on the command line) with::

    hydra:
      callbacks:
        sweep_report:
          _target_: selfinstruct.report.callback.SweepReport
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepReport(Callback):
    """On multirun end: sweep.md and figures/sweep.png in the sweep directory, when the pipeline reports."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        stages = list(config.get("pipeline", {}).get("stages", []) or [])
        if "report" not in stages or config.get("dry_run"):
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            from selfinstruct.report.run import report_run
            from selfinstruct.report.sweep import is_sweep_dir, write_sweep

            if is_sweep_dir(sweep_dir):
                _, path = write_sweep(sweep_dir, report_run)
                log.info("sweep report: %s", path)
        except Exception as exc:  # noqa: BLE001 - the jobs' data is written; a report failure must not hide it
            log.warning("sweep report: not written (%s); run selfinstruct-report %s", exc, sweep_dir)
