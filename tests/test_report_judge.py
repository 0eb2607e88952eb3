"""The report's judge sections: the audit (paper Table 2) and the evaluation (paper Figure 5), from
hand-made audit.jsonl / evaluation.jsonl files with known counts; the figure; the sweep's columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from selfinstruct.report.judge import wilson_interval
from selfinstruct.report.run import FIG_EVALUATION, build_report, report_run
from selfinstruct.report.sweep import HEADERS, write_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def audit_line(i: int, vi: bool | None, ai: bool | None, ao: bool | None) -> dict[str, Any]:
    verdicts = [vi, ai, ao]
    all_valid = False if False in verdicts else (True if all(v is True for v in verdicts) else None)
    line = {"id": f"machine_task_{i}#0", "task_id": f"machine_task_{i}", "instruction": "Do it.", "input": "",
            "output": "Done.", "valid_instruction": vi, "appropriate_input": ai, "acceptable_output": ao,
            "all_valid": all_valid, "reasons": {}}
    if None in verdicts:
        line["reply"] = "I am not sure."
    return line


# 100 audited instances: 54 all yes; 38 valid but a bad output; 5 invalid everything; 3 replies unparsed
AUDIT = ([audit_line(i, True, True, True) for i in range(54)]
         + [audit_line(54 + i, True, True, False) for i in range(38)]
         + [audit_line(92 + i, False, False, False) for i in range(5)]
         + [audit_line(97, None, True, True), audit_line(98, None, None, None), audit_line(99, True, None, False)])


def rating_lines(model: str, ratings: str) -> list[dict[str, Any]]:
    """One line per character: A-D, or '?' for a reply with no rating."""
    return [{"task": f"user_oriented_task_{i}", "instance": 0, "model": model, "instruction": "Do it.", "input": "",
             "reference": "", "response": "ok", "rating": None if r == "?" else r, "reason": "",
             **({"reply": "hmm"} if r == "?" else {})} for i, r in enumerate(ratings)]


def make_run(run: Path, *, audit: bool = True, evaluation: bool = True,
             models: tuple[str, ...] = ("gpt-small",)) -> Path:
    run.mkdir(parents=True)
    metrics: dict[str, Any] = {"model": "openai/generator", "simulated_model": False}
    if audit:
        write_lines(run / "audit.jsonl", AUDIT)
        metrics["audit"] = {"sample_size": 100, "audited": 100, "unanswered": 2, "population": 1234, "seed": 42,
                            "filter": False, "judge": "openai/judge-model"}
        metrics["finetune"] = {"tasks_in": 10, "tasks_out": 9, "instances_in": 20, "instances_out": 17,
                               "examples_out": 17, "instance_drops": {"audit": 3}, "task_drops": {}}
    if evaluation:
        lines: list[dict[str, Any]] = []
        plans = {"gpt-small": "AAAAABBBCD", "a rather long model label that has to wrap": "AABCCDDD??"}
        for model in models:
            lines += rating_lines(model, plans[model])
        write_lines(run / "evaluation.jsonl", lines)
        metrics["evaluate"] = {"tasks": 10, "instances": 10, "judge": "openai/judge-model",
                               "models": {m: {"name": f"openai/{m}", "unanswered": 1} for m in models}}
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return run


def test_wilson_interval_on_known_cases() -> None:
    low, high = wilson_interval(54, 100)
    assert low == pytest.approx(0.442, abs=0.001) and high == pytest.approx(0.635, abs=0.001)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None


def test_audit_summary_counts_unparsed_verdicts_apart(tmp_path: Path) -> None:
    report = build_report(make_run(tmp_path / "run", evaluation=False))
    au = report.audit
    assert au.audited == 100 and au.unparsed_replies == 3
    vi = au.row("valid_instruction")
    assert (vi.yes, vi.no, vi.unparsed) == (93, 5, 2)
    assert vi.share == pytest.approx(93 / 98)
    ao = au.row("acceptable_output")
    assert (ao.yes, ao.no, ao.unparsed) == (55, 44, 1)
    every = au.all_valid
    assert (every.yes, every.no, every.unparsed) == (54, 44, 2)
    assert every.share == pytest.approx(54 / 98)
    assert every.ci == wilson_interval(54, 98)
    assert (au.population, au.sample_size, au.seed, au.finetune_dropped) == (1234, 100, 42, 3)
    assert report.evaluation is None


def test_report_md_has_the_audit_and_evaluation_sections(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", models=("gpt-small", "a rather long model label that has to wrap"))
    report = report_run(run)
    text = (run / "report.md").read_text(encoding="utf-8")
    ci = wilson_interval(54, 98)
    for fragment in (
        "## Data quality audit (paper Table 2)",
        "100 instances audited: one instance of each of 102 tasks sampled with seed 42, of the 1,234 instances the export keeps; 2 got no reply",
        "the judge is an LLM (`openai/judge-model`)",
        "| question | yes | share | 95% CI | unparsed | paper |",
        "| instruction describes a valid task | 93 | 94.9% |",
        f"| **all three** | 54 | 55.1% | {100 * ci[0]:.1f}–{100 * ci[1]:.1f}% | 2 | 54% |",
        "**3 judge replies could not be parsed (counted, not guessed)**",
        "## Evaluation (paper Figure 5)",
        "| gpt-small (`openai/gpt-small`) | 10 | 5 (50.0%) | 3 (30.0%) | 1 (10.0%) | 1 (10.0%) | 0 (0.0%) | 80.0% "
        "| 1 |",
        "| 2 (20.0%) | 1 (10.0%) | 2 (20.0%) | 3 (30.0%) | 2 (20.0%) | 30.0% | 1 |",
        "**A** valid and satisfying; **B** acceptable with minor imperfections",
        "**2 judge replies could not be parsed (counted, not guessed)**",
        f"![ratings of each model's responses](figures/{FIG_EVALUATION})",
    ):
        assert fragment in text, fragment
    assert text.index("## Instance cleaning") < text.index("## Data quality audit") < text.index("## Evaluation")
    assert [m.label for m in report.evaluation.models] == ["gpt-small", "a rather long model label that has to wrap"]
    figure = run / "figures" / FIG_EVALUATION
    assert figure.read_bytes().startswith(PNG_MAGIC) and report.figures["evaluation"] == figure
    assert "audit.jsonl" not in text.split("## Missing files")[1]


def test_without_the_judge_files_there_are_no_judge_sections(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", audit=False, evaluation=False)
    report = report_run(run)
    text = (run / "report.md").read_text(encoding="utf-8")
    assert report.audit is None and report.evaluation is None
    assert "Table 2" not in text and "Figure 5" not in text
    assert "audit.jsonl" not in text and "evaluation.jsonl" not in text  # optional: not "missing"
    assert not (run / "figures" / FIG_EVALUATION).exists()


def test_a_judge_file_metrics_promises_but_lacks_is_named_missing(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run / "audit.jsonl").unlink()
    (run / "evaluation.jsonl").unlink()
    report_run(run)
    missing = (run / "report.md").read_text(encoding="utf-8").split("## Missing files")[1]
    assert "`audit.jsonl`: metrics.json has an audit section but the file is missing" in missing
    assert "`evaluation.jsonl`: metrics.json has an evaluate section but the file is missing" in missing


def test_an_audit_of_every_instance_says_so(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", evaluation=False)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    metrics["audit"].update(population=100, filter=True)
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    report_run(run)
    text = (run / "report.md").read_text(encoding="utf-8")
    assert "100 instances audited: all 100 instances the export keeps (stages.audit.filter=true)" in text


def sweep_dir(root: Path, models: tuple[str, ...]) -> Path:
    sweep = root / "multirun"
    for job, (audit, evaluation) in enumerate([(True, True), (False, False)]):
        run = make_run(sweep / str(job), audit=audit, evaluation=evaluation, models=models)
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text(f"- pipeline.job={job}\n", encoding="utf-8")
    return sweep


def table_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], [row for row in cells if row[0].startswith("[")]


def test_sweep_has_the_audit_and_evaluation_columns_before_status(tmp_path: Path) -> None:
    sweep = sweep_dir(tmp_path, ("gpt-small",))
    rows, path = write_sweep(sweep, report_run)
    headers, cells = table_rows(path.read_text(encoding="utf-8"))
    assert headers[:len(HEADERS) - 1] == HEADERS[:-1] and headers[-1] == "status"
    assert headers[len(HEADERS) - 1:-1] == ["audit: all three valid", "rated A", "rated A or B"]
    assert cells[0][len(HEADERS) - 1:-1] == ["55.1%", "50.0%", "80.0%"]
    assert cells[1][len(HEADERS) - 1:-1] == ["–", "–", "–"]
    assert rows[0].ratings == {"gpt-small": (0.5, 0.8)}


def test_sweep_with_several_models_has_a_column_per_label_and_the_cli_prints_them(tmp_path: Path) -> None:
    long = "a rather long model label that has to wrap"
    sweep = sweep_dir(tmp_path, ("gpt-small", long))
    done = subprocess.run([sys.executable, "-m", "selfinstruct.report", str(sweep)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    headers, cells = table_rows((sweep / "sweep.md").read_text(encoding="utf-8"))
    judge = headers[len(HEADERS) - 1:-1]
    assert judge == ["audit: all three valid", "rated A (gpt-small)", "rated A or B (gpt-small)",
                     f"rated A ({long})", f"rated A or B ({long})"]
    assert cells[0][len(HEADERS) - 1:-1] == ["55.1%", "50.0%", "80.0%", "20.0%", "30.0%"]
    assert "audit ok" in done.stdout and "rated A (gpt-small)" in done.stdout and f"A+B ({long})" in done.stdout
