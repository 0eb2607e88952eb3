"""Reports people look at: the paper's statistics and figures for a run, a comparison table for a sweep.

``selfinstruct-report RUN_DIR|SWEEP_DIR ...`` (or ``python -m selfinstruct.report``) and the
``report`` pipeline stage write ``report.md`` and ``figures/*.png`` into a run directory, and
``sweep.md`` and ``figures/sweep.png`` into a multirun directory.
"""

from selfinstruct.report.run import RunReport, build_report, render_markdown, report_run, table1_text, write_report
from selfinstruct.report.sweep import is_sweep_dir, sweep_text, write_sweep

__all__ = ["RunReport", "build_report", "is_sweep_dir", "render_markdown", "report_run", "sweep_text",
           "table1_text", "write_report", "write_sweep"]
