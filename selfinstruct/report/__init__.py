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

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; imported on first use, so reading a run (``load``, ``usage``:
# the engine's per-1,000 figures, the end-of-run summary, the dataset card) does not import matplotlib
_EXPORTS = {"RunReport": "run", "build_report": "run", "render_markdown": "run", "report_run": "run",
            "table1_text": "run", "write_report": "run", "is_sweep_dir": "sweep", "sweep_text": "sweep",
            "write_sweep": "sweep"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"selfinstruct.report.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
