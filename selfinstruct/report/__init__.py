"""Reports people look at: the paper's statistics and figures for a run, a comparison table for a sweep.

``selfinstruct-report RUN_DIR|SWEEP_DIR ...`` (or ``python -m selfinstruct.report``) and the
``report`` pipeline stage write ``report.md`` and ``figures/*.png`` into a run directory, and
``sweep.md`` and ``figures/sweep.png`` into a multirun directory.

Modules: ``load`` reads a run directory (file names from ``selfinstruct.rundir``); ``stats`` computes
Table 1, rejections, instance cleaning, similarity and diversity, ``usage`` the requests, tokens and
cost, ``similarity`` the nearest-neighbour ROUGE-L (the filter's own formula), ``verbs`` the
verb-object heuristic, ``judge`` the LLM judge's audit (Table 2) and evaluation (Figure 5);
``run`` gathers them into a ``RunReport`` and writes the files, ``sections`` renders report.md one
section per function, ``figures`` draws, ``tables`` formats; ``sweep`` and ``callback`` cover
multirun directories, ``cli`` is ``selfinstruct-report``.
"""

from selfinstruct.report.run import RunReport, build_report, render_markdown, report_run, table1_text, write_report
from selfinstruct.report.sweep import is_sweep_dir, sweep_text, write_sweep

__all__ = ["RunReport", "build_report", "is_sweep_dir", "render_markdown", "report_run", "sweep_text",
           "table1_text", "write_report", "write_sweep"]
