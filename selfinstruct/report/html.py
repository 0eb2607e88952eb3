"""report.html: one self-contained page to browse a run (accepted, rejected, instances, audit, evaluation).

The page needs no network and no server: its CSS and JavaScript are inline (``report_template.html``,
next to this module) and the run's data is embedded once, as JSON in a ``<script type="application/json">``
tag, with ``<``, ``>`` and ``&`` written as ``\\u003c`` / ``\\u003e`` / ``\\u0026`` so no text in it (an
instruction saying ``</script>``) can end the tag.  The page's script puts every text on screen with
``textContent``, never as HTML.

To keep the file small, every instruction text is stored once (``texts``) and referred to by index: the
accepted instructions, their ``most_similar`` pool instructions, the rejected candidates, the audit's and
the evaluation's.  An audited instance that is one of instances.jsonl's is stored as (task, instance
index) rather than repeated.  The page renders a window of rows (100, then "show more"), so 50,000
instructions stay fast: filtering is plain JavaScript over arrays.

Reads ``RunFiles`` (``selfinstruct.report.load``) and classify.jsonl, which RunFiles does not hold; a
missing file is shown as "not in this run", never an error.
"""

from __future__ import annotations

import gc
import json
import logging
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from markupsafe import Markup

from selfinstruct.data import write_text_atomic
from selfinstruct.report.load import RunFiles, load_run, read_jsonl_lenient
from selfinstruct.rundir import (
    CLASSIFY_FILE,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    REJECTED_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
)

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "report_template.html"
AUDIT_KEYS = ("valid_instruction", "appropriate_input", "acceptable_output", "all_valid")
SCORE_DIGITS = 3  # ROUGE-L scores are rounded to this many decimals in the page
FORMAT_VERSION = 1


def _num(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        return round(value, SCORE_DIGITS) if math.isfinite(value) else None
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Texts:
    """Each distinct text once; rows refer to it by index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, text: Any) -> int:
        text = _str(text)
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def _classify(run_dir: Path) -> tuple[dict[str, dict[str, Any]] | None, list[str]]:
    """classify.jsonl by id (None when the file is missing), and any problem reading it."""
    path = run_dir / CLASSIFY_FILE
    if not path.is_file():
        return None, []
    try:
        records, bad = read_jsonl_lenient(path)
    except OSError as exc:
        return None, [f"{CLASSIFY_FILE}: cannot read ({exc})"]
    return ({str(r.get("id")): r for r in records},
            [f"{CLASSIFY_FILE}: {bad} unreadable line(s) skipped"] if bad else [])


def _instances(record: dict[str, Any] | None) -> list[list[str]] | None:
    if record is None:
        return None
    items = record.get("instances")
    if not isinstance(items, list):
        return []
    return [[_str(i.get("input")), _str(i.get("output"))] for i in items if isinstance(i, dict)]


def build_data(run_dir: Path, files: RunFiles) -> dict[str, Any]:
    """The page's data (see the module docstring for the layout; the template's script reads it)."""
    enabled = gc.isenabled()
    gc.disable()  # a million small lists, none of them garbage: the collector's passes would double the time
    try:
        return _build_data(run_dir, files)
    finally:
        if enabled:
            gc.enable()


def _build_data(run_dir: Path, files: RunFiles) -> dict[str, Any]:
    texts = _Texts()
    classify, problems = _classify(run_dir)
    instructions = files.instructions
    instances_by_id: dict[str, dict[str, Any]] = {}
    for record in files.instances or []:
        instances_by_id.setdefault(str(record.get("id")), record)

    # tasks: one row per instruction id (instructions.jsonl's order, then instances.jsonl's extra ids)
    # [id, text, round, max_similarity, [[text, score], ...], is_classification, classify answer,
    #  classify parsed, [[input, output], ...] or null, accepted (in instructions.jsonl)]
    tasks: list[list[Any]] = []
    row_of: dict[str, int] = {}

    def task_row(task_id: str, record: dict[str, Any], accepted: bool) -> None:
        cls_record = (classify or {}).get(task_id)
        inst = instances_by_id.get(task_id)
        is_cls = _bool(record.get("is_classification"))
        if is_cls is None and inst is not None:
            is_cls = _bool(inst.get("is_classification"))
        if is_cls is None and cls_record is not None:
            is_cls = _bool(cls_record.get("is_classification"))
        similar = record.get("most_similar") if accepted else None
        sim = ([[texts(text), _num(score)] for text, score in similar.items()]
               if isinstance(similar, dict) else None)
        row_of.setdefault(task_id, len(tasks))
        tasks.append([
            task_id, texts(record.get("instruction")), _int(record.get("round")) if accepted else None,
            _num(record.get("max_similarity")) if accepted else None, sim, is_cls,
            _str(cls_record.get("answer")) if cls_record is not None else None,
            _bool(cls_record.get("parsed")) if cls_record is not None else None,
            _instances(inst), 1 if accepted else 0,
        ])

    for record in instructions or []:
        task_row(str(record.get("id")), record, True)
    for task_id, record in instances_by_id.items():
        if task_id not in row_of:
            task_row(task_id, record, False)

    # rejected: [text, reason index, score, round]
    reasons: list[str] = []
    reason_index: dict[str, int] = {}
    rejected = None
    if files.rejected is not None:
        rejected = []
        for record in files.rejected:
            reason = _str(record.get("reason")) or "unknown"
            if reason not in reason_index:
                reason_index[reason] = len(reasons)
                reasons.append(reason)
            rejected.append([texts(record.get("instruction")), reason_index[reason], _num(record.get("score")),
                             _int(record.get("round"))])

    # audit: [id, task row or -1, instance index or -1, text, input, output (null: the task's instance),
    #         valid_instruction, appropriate_input, acceptable_output, all_valid, reasons {key: text}, reply]
    audit = None
    if files.audit is not None:
        audit = []
        for record in files.audit:
            audit_id = _str(record.get("id"))
            task_id = _str(record.get("task_id")) or audit_id.rpartition("#")[0]
            row = row_of.get(task_id, -1)
            inp, out = _str(record.get("input")), _str(record.get("output"))
            k = -1
            number = audit_id.rpartition("#")[2]
            items = tasks[row][8] or [] if row >= 0 else []
            if number.isdigit() and int(number) < len(items) and items[int(number)] == [inp, out]:
                k = int(number)
            elif [inp, out] in items:  # the audit numbers the cleaned instances (finetune's), not the file's
                k = items.index([inp, out])
            if k >= 0:
                inp = out = None
            reasons_of = record.get("reasons") if isinstance(record.get("reasons"), dict) else {}
            audit.append([audit_id, row, k, texts(record.get("instruction")), inp, out,
                          *(_bool(record.get(key)) for key in AUDIT_KEYS),
                          {key: _str(v) for key, v in reasons_of.items() if v},
                          _str(record.get("reply")) or None])

    # evaluation: [id, task, model index, text, input, reference, response, rating, reason, reply]
    models: list[str] = []
    evaluation = None
    if files.evaluation is not None:
        evaluation = []
        for record in files.evaluation:
            model = _str(record.get("model")) or "?"
            if model not in models:
                models.append(model)
            rating = record.get("rating")
            evaluation.append([_str(record.get("id")), _str(record.get("task")), models.index(model),
                               texts(record.get("instruction")), _str(record.get("input")),
                               _str(record.get("reference")), _str(record.get("response")),
                               rating if isinstance(rating, str) else None, _str(record.get("reason")),
                               _str(record.get("reply")) or None])

    m = files.m
    missing = [name for name in (INSTRUCTIONS_FILE, REJECTED_FILE, INSTANCES_FILE, CLASSIFY_FILE)
               if not (run_dir / name).is_file()]
    return {
        "version": FORMAT_VERSION,
        "run": {
            "name": run_dir.resolve().name or str(run_dir),
            "path": str(run_dir.resolve()),
            "model": _str(m.get("model")) or None,
            "simulated": m.get("simulated_model") is True,
            "notice": _str(m.get("notice")) or None,
            "started_at": _str(m.get("started_at")) or None,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "report_md": REPORT_FILE,
            "missing": missing,
            "problems": [*files.problems, *problems],
        },
        "has": {"instructions": instructions is not None, "instances": files.instances is not None,
                "classify": classify is not None, "rejected": rejected is not None,
                "audit": audit is not None, "evaluation": evaluation is not None},
        "texts": texts.items,
        "tasks": tasks,
        "reasons": reasons,
        "rejected": rejected,
        "audit": audit,
        "models": models,
        "evaluation": evaluation,
    }


def embed_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' (so no '</script>' nor '<!--'), and no
    U+2028/U+2029."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_html(data: dict[str, Any]) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True, keep_trailing_newline=True)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(title=f"selfinstruct run {data['run']['name']}", data_json=Markup(embed_json(data)))


def write_html(run_dir: Path, files: RunFiles | None = None) -> Path:
    """Write ``run_dir/report.html`` (whole, via a rename) from ``files`` (default: read the run)."""
    if files is None:
        files = load_run(run_dir)
    path = run_dir / REPORT_HTML_FILE
    write_text_atomic(path, render_html(build_data(run_dir, files)))
    return path
