"""A Hydra callback that writes sweep.md when a ``-m`` sweep ends (each job's report.md comes from the
report stage).  Register it in the config (or on the command line) with::

    hydra:
      callbacks:
        sweep_report:
          _target_: selfinstruct.report.callback.SweepReport
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from selfinstruct.rundir import LOG_FILE, RUN_FILE

log = logging.getLogger(__name__)


def failed_jobs(sweep_dir: Path) -> list[tuple[Path, str]]:
    """Job directories whose run did not end done or on budget, with the recorded reason."""
    from selfinstruct.report.sweep import job_dirs

    failed = []
    for job in job_dirs(sweep_dir):
        record = job / RUN_FILE
        if not record.is_file():  # refused before it started (a bad config or seed file)
            failed.append((job, f"see {job / LOG_FILE}"))
            continue
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            failed.append((job, f"unreadable {record}"))
            continue
        if data.get("ended") not in ("done", "budget"):
            detail = (data.get("invocations") or [{}])[-1].get("detail")
            failed.append((job, f"{data.get('ended')}: {detail}" if detail else str(data.get("ended"))))
    return failed


class SweepReport(Callback):
    """On multirun end: sweep.md and figures/sweep.png in the sweep directory, when the pipeline reports;
    then, if any job failed, one line per failed job and exit code 2 (the other jobs ran to the end)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("dry_run"):
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        stages = list(config.get("pipeline", {}).get("stages", []) or [])
        if "report" in stages:
            self._report(sweep_dir)
        failed = failed_jobs(sweep_dir)
        for job, detail in failed:
            log.error("sweep: job %s failed (%s)", job, detail)
        if failed:
            raise SystemExit(2)

    @staticmethod
    def _report(sweep_dir: Path) -> None:
        try:
            from selfinstruct.report.run import report_run
            from selfinstruct.report.sweep import is_sweep_dir, write_sweep

            if is_sweep_dir(sweep_dir):
                _, path = write_sweep(sweep_dir, report_run)
                log.info("sweep report: %s", path)
        except Exception as exc:  # noqa: BLE001 - the jobs' data is written; a report failure must not hide it
            log.warning("sweep report: not written (%s); run selfinstruct-report %s", exc, sweep_dir)
