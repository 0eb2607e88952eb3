"""The report: statistics on a hand-made run directory with known answers, figures, the command on a
run and on a multirun directory, the pipeline stage, and an end-to-end sweep through the loopback server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from rouge_score.rouge_scorer import RougeScorer

from selfinstruct.config import CONFIG_DIR
from selfinstruct.seeds import load_seed_tasks
from selfinstruct.errors import SelfInstructError
from selfinstruct.filters.rouge import NearDuplicate
from selfinstruct.metrics import RunMetrics
from selfinstruct.report.run import build_report, render_markdown, report_run, table1_text
from selfinstruct.report.similarity import max_rouge_l, nearest_neighbour_scores
from selfinstruct.report.stats import distinct_n
from selfinstruct.report.sweep import HEADERS, is_sweep_dir, write_sweep
from selfinstruct.report.tables import fmt_usd
from selfinstruct.report.verbs import VerbObject, verb_object
from selfinstruct.stages.base import RunContext
from selfinstruct.stages.report import ReportStage
from tests.cli_helpers import read_json, read_lines, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["rouge_nearest_seed.png", "rouge_nearest_neighbour.png", "lengths.png", "verbs.png"]

INSTRUCTIONS = [
    ("Write a short poem about the sea.", False),  # 7 words
    ("Write a short poem about the moon.", False),  # 7 words; ROUGE-L 6/7 with the first
    ("Classify the sentiment of this review.", True),  # 6 words
    ("Give me a list of three fruits.", False),  # 7 words
    ("What is the capital of France?", None),  # 6 words; labelled False in instances.jsonl
]
INSTANCES = [
    [("", "Waves roll in blue")],
    [("", "Silver light above")],
    [("I loved it.", "positive"), ("Terrible service", "negative")],
    [("", "apple, banana, cherry")],
    [("  ", "Paris")],  # a blank input counts as empty
]
SEEDS = ["Write a poem about the ocean.", "Classify the sentiment of the sentence.", "Name the capital city of a country."]


def seed_file(path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": f"s{i}", "name": f"s{i}", "instruction": text, "is_classification": False,
                                        "instances": [{"input": "", "output": "x"}]}) + "\n"
                            for i, text in enumerate(SEEDS)), encoding="utf-8")
    return path


def metrics(accepted: int = 5, rejected: dict[str, int] | None = None, cost: float | None = 0.004,
            instances: int = 6) -> dict[str, Any]:
    rejected = {"rouge": 3, "length": 1} if rejected is None else rejected
    return {
        "model": "openai/test-model",
        "simulated_model": False,
        "bootstrap": {"target": accepted, "accepted": accepted, "rejected": rejected,
                      "rejected_total": sum(rejected.values()), "requests": 2, "cache_hits": 0, "attempts_sent": 3,
                      "prompt_tokens": 1000, "completion_tokens": 500, "cost_usd": 0.002, "retries": {"429": 2},
                      "failed_requests": {"timeout": 1}, "truncated_replies": 0, "wall_s": 3.0},
        "classify": {"requests": 5, "prompt_tokens": 400, "completion_tokens": 5, "cost_usd": 0.0005,
                     "retries": {}, "failed_requests": {}, "wall_s": 1.0},
        "instances": {"instances": instances, "requests": 5, "prompt_tokens": 900, "completion_tokens": 300,
                      "cost_usd": 0.0015, "retries": {}, "failed_requests": {}, "wall_s": 2.0},
        "finetune": {"tasks_in": 5, "tasks_out": 4, "instances_in": 6, "instances_out": 3, "examples_out": 4,
                     "instance_drops": {"empty_output": 2, "duplicate": 1, "oversized": 0},
                     "task_drops": {"no_instances": 1}},
        "llm": {"requests": 12, "attempts_sent": 13, "cache_hits": 0, "failed": {"timeout": 1},
                "retries": {"429": 2}, "prompt_tokens": 2300, "completion_tokens": 805, "cost_usd": cost},
        "wall_s": 12.5,
        "stopped": None,
    }


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def make_run(run: Path, seeds: Path, *, overrides: list[str] | None = None, **metric_args: Any) -> Path:
    """A small run directory whose statistics are known (see the test below)."""
    (run / ".hydra").mkdir(parents=True)
    (run / "finetune").mkdir()
    write_lines(run / "instructions.jsonl", [
        {"id": f"machine_task_{i}", "instruction": text, "round": 0, "max_similarity": 0.1, "most_similar": {},
         "is_classification": label} for i, (text, label) in enumerate(INSTRUCTIONS)])
    write_lines(run / "instances.jsonl", [
        {"id": f"machine_task_{i}", "instruction": text, "is_classification": bool(label),
         "instances": [{"input": a, "output": b} for a, b in INSTANCES[i]], "truncated": False}
        for i, (text, label) in enumerate(INSTRUCTIONS)])
    write_lines(run / "rejected.jsonl", [
        {"instruction": "Write a short poem about the sea!", "reason": "rouge", "score": 0.8, "round": 0},
        {"instruction": "Write a short poem about a sea.", "reason": "rouge", "score": 0.9, "round": 0},
        {"instruction": "Write a short poem about seas.", "reason": "rouge", "score": 0.75, "round": 1},
        {"instruction": "Hi there", "reason": "length", "score": 2, "round": 1},
    ])
    (run / "finetune" / "alpaca.json").write_text(json.dumps([
        {"instruction": INSTRUCTIONS[0][0], "input": "", "output": "Waves roll in blue"},
        {"instruction": INSTRUCTIONS[2][0], "input": "I loved it.", "output": "positive"},
        {"instruction": INSTRUCTIONS[3][0], "input": "", "output": "apple, banana, cherry"},
        {"instruction": SEEDS[0], "input": "", "output": "x"},  # a seed example: left out of Table 1
    ]), encoding="utf-8")
    (run / "metrics.json").write_text(json.dumps(metrics(**metric_args)), encoding="utf-8")
    (run / ".hydra" / "config.yaml").write_text(
        f"seeds:\n  path: {seeds}\n  format: auto\nfilters:\n  rouge:\n    threshold: 0.7\n    use_stemmer: false\n",
        encoding="utf-8")
    overrides = overrides if overrides is not None else ["model=loopback", "schedule.num_instructions=5"]
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides), encoding="utf-8")
    write_lines(run / "llm_calls.jsonl", call_lines(metric_args.get("cost", 0.004)))
    (run / "run.json").write_text(json.dumps({"invocations": [
        {"started_at": "2026-01-01T12:00:00+00:00", "ended_at": "2026-01-01T12:00:13+00:00", "ended": "done"}]}),
        encoding="utf-8")
    return run


def call(stage: str, outcome: str = "ok", *, prompt: int = 0, completion: int = 0, cost: float | None = None,
         latency: float = 0.1, attempts: int = 1, retries: list[str] | None = None, cache_hit: bool = False,
         t: float = 1767268800.0) -> dict[str, Any]:
    """One llm_calls.jsonl line as the client writes it (selfinstruct.llm.client.LLMClient.complete)."""
    return {"t": t, "stage": stage, "model": "openai/test-model", "prompt_tokens": prompt,
            "completion_tokens": completion, "cost_usd": cost, "latency_s": latency, "attempts": attempts,
            "retries": retries or [], "outcome": outcome, "cache_hit": cache_hit}


def call_lines(cost: float | None) -> list[dict[str, Any]]:
    """The 12 requests metrics() describes: same tokens, retries, failures and (total) cost."""
    def share(part: float) -> float | None:
        return None if cost is None else cost * part

    return ([call("bootstrap", prompt=1000, completion=500, cost=share(0.5), latency=0.2),
             call("bootstrap", "error:timeout", latency=1.0, attempts=2, retries=["429", "429"])]
            + [call("classify", prompt=80, completion=1, cost=share(0.025), latency=0.3) for _ in range(5)]
            + [call("instances", prompt=180, completion=60, cost=share(0.075), latency=0.4) for _ in range(5)])


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return seed_file(tmp_path / "seeds.jsonl")


@pytest.fixture
def run_dir(tmp_path: Path, seeds: Path) -> Path:
    return make_run(tmp_path / "run", seeds)


def oracle_rouge_l(a: str, b: str) -> float:
    return RougeScorer(["rougeL"], use_stemmer=False).score(a, b)["rougeL"].fmeasure


# --- statistics with known answers ---------------------------------------------------------------

def test_table1_on_the_hand_made_run(run_dir: Path) -> None:
    report = build_report(run_dir)
    gen = report.generated
    assert (gen.instructions, gen.classification, gen.non_classification, gen.unlabelled) == (5, 1, 4, 0)
    assert (gen.instances, gen.empty_input) == (6, 4)
    assert gen.mean_instruction_words == pytest.approx(33 / 5)
    assert gen.mean_input_words == pytest.approx((3 + 2) / 2)  # non-empty inputs only
    assert gen.mean_output_words == pytest.approx((4 + 3 + 1 + 1 + 3 + 1) / 6)
    fin = report.finetune  # alpaca.json without the seed example
    assert report.seed_examples_left_out == 1
    assert (fin.instructions, fin.classification, fin.non_classification) == (3, 1, 2)
    assert (fin.instances, fin.empty_input) == (3, 2)
    assert fin.mean_instruction_words == pytest.approx(20 / 3)
    assert fin.mean_input_words == pytest.approx(3.0)
    assert fin.mean_output_words == pytest.approx(8 / 3)
    text = table1_text(report)
    assert "# of instructions" in text and "6.6" in text and "2.2" in text


def test_rejections_drops_and_cost(run_dir: Path) -> None:
    report = build_report(run_dir)
    rej = report.rejections
    assert (rej.accepted, rej.rejected, rej.candidates) == (5, 4, 9)
    rows = {r.reason: r for r in rej.rows}
    assert rows["rouge"].count == 3 and rows["rouge"].share == pytest.approx(3 / 9)
    assert rows["rouge"].share_of_group == pytest.approx(0.75)
    assert rows["length"].share == pytest.approx(1 / 9) and rows["length"].share_of_group == pytest.approx(0.25)
    assert rej.median_score == {"rouge": 0.8, "length": 2}
    drops = {r.reason: r for r in report.drops.instance_rows}
    assert drops["empty_output"].count == 2 and drops["empty_output"].share == pytest.approx(2 / 6)
    assert drops["duplicate"].share_of_group == pytest.approx(1 / 3)
    assert report.drops.task_rows[0].reason == "no_instances"
    us = report.usage
    assert [r.stage for r in us.rows] == ["bootstrap", "classify", "instances"]
    assert us.total.requests == 12 and us.total.cost_usd == pytest.approx(0.004)
    assert us.cost_per_1000 == pytest.approx(0.004 / 5 * 1000)
    assert us.retries_by_kind == {"429": 2} and us.failed_by_kind == {"timeout": 1}
    assert us.wall_s == 12.5
    assert us.calls == 12 and us.outcomes == {"ok": 11, "error:timeout": 1}
    assert us.source == "llm_calls.jsonl" and us.invocations == 1
    assert [(r.requests, r.attempts_sent, r.prompt_tokens, r.completion_tokens, r.retries, r.failed)
            for r in us.rows] == [(2, 3, 1000, 500, 2, 1), (5, 5, 400, 5, 0, 0), (5, 5, 900, 300, 0, 0)]
    assert [r.cost_usd for r in us.rows] == pytest.approx([0.002, 0.0005, 0.0015])
    assert [r.wall_s for r in us.rows] == [3.0, 1.0, 2.0]  # one invocation: metrics.json's stage times
    assert us.latency_p50 == pytest.approx(0.4)


def test_cost_per_1000_is_unknown_when_the_price_is(tmp_path: Path, seeds: Path) -> None:
    report = build_report(make_run(tmp_path / "run", seeds, cost=None))
    assert report.usage.cost_per_1000 is None and report.usage.total.cost_usd is None
    assert (report.usage.paid, report.usage.unpriced) == (11, 11)
    text = render_markdown(report)
    assert ("**cost unknown: the model's price is not known; set model.input_cost_per_token / "
            "model.output_cost_per_token** (11 of the 11 requests the model answered have no price)") in text
    assert "- cost per 1,000 accepted instructions (all stages): unknown" in text
    assert "| **all stages** | 12 | 0 | 13 | 2,300 | 805 | unknown |" in text
    assert "$0" not in text


def test_one_unpriced_request_makes_the_cost_unknown(tmp_path: Path, seeds: Path) -> None:
    run = make_run(tmp_path / "run", seeds)
    lines = call_lines(0.004) + [call("instances", prompt=10, completion=10, cost=None),  # no price
                                 call("classify", cost=None, cache_hit=True),  # cached: paid before
                                 call("classify", "not_sent", attempts=0, cost=None)]  # never sent
    write_lines(run / "llm_calls.jsonl", lines)
    us = build_report(run).usage
    assert us.total.cost_usd is None and us.cost_per_1000 is None and us.unpriced == 1
    assert [r.cost_usd for r in us.rows] == [pytest.approx(0.002), pytest.approx(0.0005), None]
    assert (us.total.requests, us.total.cache_hits, us.total.prompt_tokens) == (15, 1, 2310)
    write_lines(run / "llm_calls.jsonl", lines[:-3] + lines[-2:])  # without it: known again
    us = build_report(run).usage
    assert us.total.cost_usd == pytest.approx(0.004) and us.cost_per_1000 == pytest.approx(0.8)


def test_similarity_is_the_filters_rouge_l(run_dir: Path) -> None:
    sim = build_report(run_dir).similarity
    expected = [max(oracle_rouge_l(s, t) for s in SEEDS) for t, _ in INSTRUCTIONS]
    assert sim.seed_scores == pytest.approx(expected, abs=0)
    # "Classify the sentiment of this review." vs "... of the sentence.": LCS 4 of 6 tokens each
    assert sim.seed_scores[2] == pytest.approx(4 / 6)
    assert sim.mean_seed == pytest.approx(sum(expected) / 5)
    # only the sea/moon poems are near each other (6/7): 2 of 5 instructions above 0.5
    assert max(sim.neighbour.scores[:2]) == pytest.approx(6 / 7)
    assert sim.share_neighbour_above() == pytest.approx(2 / 5)
    assert sim.neighbour.exact


def test_nearest_neighbour_equals_the_filter_leave_one_out() -> None:
    texts = [t for t, _ in INSTRUCTIONS] + SEEDS + ["Write a poem about the sea and the moon.", "Sort these numbers."]
    expected = []
    for i, text in enumerate(texts):
        pool = NearDuplicate()
        for j, other in enumerate(texts):
            if j != i:
                pool.add(other)
        expected.append(pool.check(text).score)
    assert nearest_neighbour_scores(texts).scores == expected  # bit for bit
    sampled = nearest_neighbour_scores(texts, exact_limit=4, sample_size=3)
    assert not sampled.exact and sampled.sampled == 3 and set(sampled.scores) <= set(expected)
    assert max_rouge_l(["a b"], []) == [None]


def test_distinct_n_and_verbs(run_dir: Path) -> None:
    assert distinct_n(["a b a", "a b"], 1) == pytest.approx(2 / 5)
    assert distinct_n(["a b a", "a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["one"], 2) is None
    div = build_report(run_dir).diversity
    texts = [t for t, _ in INSTRUCTIONS]
    assert div.distinct == {n: distinct_n(texts, n) for n in (1, 2, 3)}
    # 28 bigrams (6+6+5+6+5); the poems share 5 of theirs ("write a" ... "about the")
    assert div.distinct[2] == pytest.approx(23 / 28)
    assert div.verbs == {"write": 2, "classify": 1, "give": 1}
    assert div.pairs == {("write", "poem"): 2, ("classify", "sentiment"): 1, ("give", "list"): 1}
    assert (div.with_verb, div.with_verb_object) == (4, 4)


@pytest.mark.parametrize("text, verb, obj", [
    ("Write a short story about a lighthouse keeper.", "write", "story"),
    ("Please summarize the article below.", "summarize", "article"),
    ("Can you suggest three names for a bakery?", "suggest", "name"),
    ("Given a list of numbers, sort them.", "sort", None),
    ("Draft an email responding to a complaint.", "draft", "email"),
    ("Help me write a cover letter.", "help", None),
    ("What is the boiling point of water?", None, None),
    ("Reschedule the meeting to Friday.", "reschedule", "meeting"),
])
def test_leading_verb_heuristic(text: str, verb: str | None, obj: str | None) -> None:
    assert verb_object(text) == VerbObject(verb, obj)


# --- files: report.md and figures ---------------------------------------------------------------

def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000, path


def test_report_files(run_dir: Path) -> None:
    report = report_run(run_dir)
    for name in FIGURES:
        assert_png(run_dir / "figures" / name)
    text = (run_dir / "report.md").read_text(encoding="utf-8")
    for fragment in ("| # of instructions | 5 | 3 |", "| rouge | 3 | 33.3% | 75.0% | 0.800 |",
                     "| empty_output | 2 | 33.3% |", "cost per 1,000 accepted instructions (all stages): $0.8000",
                     "retries by kind: 429: 2", "failed requests by kind: timeout: 1",
                     "**share above 0.5: 40.0%**", "distinct-2 0.821", "| write | 2 | 40.0% | poem (2) |",
                     "figures/rouge_nearest_seed.png", "figures/lengths.png", "None: every file"):
        assert fragment in text, fragment
    assert "oversized" not in text  # reasons that dropped nothing are left out
    assert len(report.figures) == 4


def test_a_run_with_fewer_stages_reports_what_exists_and_names_what_is_missing(tmp_path: Path, seeds: Path) -> None:
    run = make_run(tmp_path / "run", seeds)
    for name in ("instances.jsonl", "finetune/alpaca.json", "llm_calls.jsonl", "rejected.jsonl"):
        (run / name).unlink()
    data = read_json(run / "metrics.json")
    for key in ("instances", "finetune", "llm"):
        del data[key]
    (run / "metrics.json").write_text(json.dumps(data), encoding="utf-8")
    report = report_run(run)
    assert report.generated.instances is None and report.finetune is None and report.drops is None
    assert report.rejections.source == "metrics.json" and report.rejections.rejected == 4
    assert report.usage.total.cost_usd == pytest.approx(0.0025)  # summed over the stages present
    text = (run / "report.md").read_text(encoding="utf-8")
    assert "`instances.jsonl`: no instance statistics" in text
    assert "the finetune stage has not run" in text
    for name in FIGURES:
        assert_png(run / "figures" / name)


# --- sweeps --------------------------------------------------------------------------------------

def make_sweep(root: Path, seeds: Path) -> Path:
    sweep = root / "multirun" / "2026-01-01" / "12-00-00"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n", encoding="utf-8")
    make_run(sweep / "0", seeds, overrides=["model=loopback", "filters.rouge.threshold=0.5"],
             accepted=5, rejected={"rouge": 15, "length": 1}, cost=0.01)
    make_run(sweep / "1", seeds, overrides=["model=loopback", "filters.rouge.threshold=0.7"],
             accepted=5, rejected={"rouge": 3}, cost=0.002)
    return sweep


def test_sweep_rows_match_each_jobs_metrics(tmp_path: Path, seeds: Path) -> None:
    sweep = make_sweep(tmp_path, seeds)
    assert is_sweep_dir(sweep) and not is_sweep_dir(sweep / "0")
    rows, path = write_sweep(sweep, report_run)
    assert [r.job for r in rows] == ["0", "1"]
    for row in rows:
        m = read_json(sweep / row.job / "metrics.json")
        b = m["bootstrap"]
        assert row.accepted == b["accepted"]
        assert row.rejection_share == pytest.approx(b["rejected_total"] / (b["accepted"] + b["rejected_total"]))
        assert row.instances == m["instances"]["instances"]
        assert row.cost_per_1000 == pytest.approx(m["llm"]["cost_usd"] / b["accepted"] * 1000)
        assert (sweep / row.job / "report.md").is_file()
    assert rows[0].rejection_share == pytest.approx(16 / 21)
    text = path.read_text(encoding="utf-8")
    assert "common overrides: `model=loopback`" in text
    tokens = m["llm"]["prompt_tokens"] + m["llm"]["completion_tokens"]
    assert rows[0].tokens_per_1000 == pytest.approx(tokens / 5 * 1000)
    assert f"| [0](0/report.md) | `filters.rouge.threshold=0.5` | 5 | 76.2% | 6 | 4 | {tokens * 200:,} | $2.0000 |" in text
    assert f"| [1](1/report.md) | `filters.rouge.threshold=0.7` | 5 | 37.5% | 6 | 4 | {tokens * 200:,} | $0.4000 |" in text
    assert_png(sweep / "figures" / "sweep.png")


def report_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "selfinstruct.report", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_on_a_run_a_sweep_and_a_bad_path(tmp_path: Path, seeds: Path) -> None:
    run = make_run(tmp_path / "run", seeds)
    sweep = make_sweep(tmp_path, seeds)
    done = report_cli(str(run), str(sweep), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Table 1 -- " in done.stdout and "# of instructions" in done.stdout
    assert "Sweep -- " in done.stdout and "filters.rouge.threshold=0.5" in done.stdout
    assert (run / "report.md").is_file() and (sweep / "sweep.md").is_file()
    for args in (["nowhere"], [str(seeds)], [str(tmp_path / "run" / "figures")]):
        bad = report_cli(*args, cwd=tmp_path)
        assert bad.returncode == 2
        assert bad.stderr.startswith("selfinstruct-report: error: ") and bad.stderr.count("\n") == 1, bad.stderr
        assert bad.stdout == ""


# --- the stage ----------------------------------------------------------------------------------

def make_ctx(run: Path, seeds: Path, *overrides: str) -> RunContext:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"seeds.path={seeds}", *overrides])
    return RunContext(cfg=cfg, run_dir=run, seeds=load_seed_tasks(seeds), metrics=RunMetrics(run))


def test_stage_writes_the_report_and_its_metrics_section(run_dir: Path, seeds: Path) -> None:
    stage = ReportStage()
    assert (stage.name, stage.needs_llm) == ("report", False)
    ctx = make_ctx(run_dir, seeds, "pipeline.stages=[report]")
    stage.prepare(ctx)
    asyncio.run(stage.run(ctx))
    assert (run_dir / "report.md").is_file()
    section = read_json(run_dir / "metrics.json")["report"]
    assert section["nearest_neighbour_above_0_5"] == pytest.approx(0.4)
    assert section["cost_per_1000_accepted_usd"] == pytest.approx(0.8)
    assert sorted(section["figures"]) == sorted(f"figures/{n}" for n in FIGURES)


def test_stage_alone_on_an_empty_directory_fails_before_running(tmp_path: Path, seeds: Path) -> None:
    ctx = make_ctx(tmp_path, seeds, "pipeline.stages=[report]")
    with pytest.raises(SelfInstructError, match="nothing to report"):
        ReportStage().prepare(ctx)
    ReportStage().prepare(make_ctx(tmp_path, seeds))  # later in a pipeline: earlier stages write the files


# --- end to end: a sweep through the loopback server, then the command ----------------------------

def test_sweep_through_the_loopback_server_then_the_command(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_cli(["-m", "model=loopback", "filters.rouge.threshold=0.5,0.7", "schedule.num_instructions=40",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path)  # the sweep_report callback is in conf/config.yaml
    assert done.returncode == 0, done.stderr[-3000:]
    for job in ("0", "1"):  # the report stage ran last in each job
        assert (sweep / job / "report.md").is_file()
        assert read_json(sweep / job / "metrics.json")["report"]["mean_nearest_seed_rouge_l"] > 0
    assert (sweep / "sweep.md").is_file()  # written by the callback when the sweep ended
    (sweep / "sweep.md").unlink()
    shutil.rmtree(sweep / "1" / "figures")
    out = report_cli(str(sweep), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = (sweep / "sweep.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert len(rows) == 2
    for job, threshold, line in zip(("0", "1"), ("0.5", "0.7"), rows):
        m = read_json(sweep / job / "metrics.json")
        b = m["bootstrap"]
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == f"`filters.rouge.threshold={threshold}`"
        assert cells[2] == f"{b['accepted']:,}" == "40"
        assert cells[3] == f"{100 * b['rejected_total'] / (b['accepted'] + b['rejected_total']):.1f}%"
        assert cells[4] == f"{m['instances']['instances']:,}"
        for name in FIGURES:
            assert_png(sweep / job / "figures" / name)
    assert_png(sweep / "figures" / "sweep.png")
    assert "filters.rouge.threshold=0.5" in out.stdout and "Sweep -- " in out.stdout


# --- totals over every invocation of a resumed run ------------------------------------------------

def expected_totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report must show, summed straight from llm_calls.jsonl: tokens and cost count the
    requests the model answered (not failed, not refused, not served by the cache)."""
    paid = [c for c in lines if not c["outcome"].startswith("error") and c["outcome"] != "not_sent"
            and not c["cache_hit"]]
    unpriced = [c for c in paid if c["cost_usd"] is None]
    return {"requests": len(lines), "attempts_sent": sum(c["attempts"] for c in lines),
            "cache_hits": sum(bool(c["cache_hit"]) for c in lines),
            "prompt_tokens": sum(c["prompt_tokens"] for c in paid),
            "completion_tokens": sum(c["completion_tokens"] for c in paid),
            "retries": sum(len(c["retries"]) for c in lines),
            "failed": sum(c["outcome"].startswith("error") for c in lines),
            "cost_usd": None if unpriced else sum(c["cost_usd"] for c in paid)}


def run_twice(run: Path, cwd: Path, first: list[str], second: list[str]) -> int:
    """The CLI on ``run`` twice (the second resumes it with a larger target); the first's line count."""
    base = ["model=loopback", f"hydra.run.dir={run}", f"cache.dir={run.parent / (run.name + '_cache')}"]
    done = run_cli([*base, "schedule.num_instructions=6", *first], cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    first_lines = len((run / "llm_calls.jsonl").read_text(encoding="utf-8").splitlines())
    done = run_cli([*base, "schedule.num_instructions=12", *second], cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return first_lines


def usage_row(text: str, label: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {label} |")]
    return [c.strip() for c in line.strip("|").split("|")]


def test_a_resumed_run_reports_totals_over_every_invocation(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    priced, unpriced = sweep / "0", sweep / "1"
    prices = ["model.input_cost_per_token=0.000001", "model.output_cost_per_token=0.000002"]
    no_prices = ["model.input_cost_per_token=null", "model.output_cost_per_token=null"]
    first_lines = run_twice(priced, tmp_path, prices, prices)
    run_twice(unpriced, tmp_path, no_prices, [])  # then the loopback's own price ($0): known, but only since

    lines = read_lines(priced / "llm_calls.jsonl")
    assert len(read_json(priced / "run.json")["invocations"]) == 2 and 0 < first_lines < len(lines)
    m = read_json(priced / "metrics.json")
    assert m["llm"]["requests"] == len(lines) - first_lines  # metrics.json: the last invocation only
    want = expected_totals(lines)
    assert want["cost_usd"] == pytest.approx(1e-6 * want["prompt_tokens"] + 2e-6 * want["completion_tokens"])
    accepted = m["bootstrap"]["accepted"]
    assert accepted == 12

    text = (priced / "report.md").read_text(encoding="utf-8")  # written by the report stage of invocation 2
    assert "Totals over every invocation of this run (2 invocations in run.json) from llm_calls.jsonl" in text
    total_row = usage_row(text, "**all stages**")
    assert total_row[1:7] + total_row[9:11] == [
        f"{want['requests']:,}", f"{want['cache_hits']:,}", f"{want['attempts_sent']:,}", f"{want['prompt_tokens']:,}",
        f"{want['completion_tokens']:,}", fmt_usd(want["cost_usd"]), f"{want['retries']:,}", f"{want['failed']:,}"]
    # per 1,000 accepted instructions, over both invocations (metrics.json says the same)
    tokens = want["prompt_tokens"] + want["completion_tokens"]
    assert total_row[7:9] == [f"{round(tokens * 1000 / accepted):,}", fmt_usd(want["cost_usd"] * 1000 / accepted)]
    per_1000 = m["per_1000_accepted"]["total"]
    assert per_1000["cost_usd"] == pytest.approx(want["cost_usd"] * 1000 / accepted, abs=1e-6)
    assert per_1000["prompt_tokens"] == pytest.approx(want["prompt_tokens"] * 1000 / accepted, abs=0.1)
    for stage in ("bootstrap", "classify", "instances"):
        got = expected_totals([c for c in lines if c["stage"] == stage])
        assert usage_row(text, stage)[1:7] == [f"{got['requests']:,}", f"{got['cache_hits']:,}",
                                               f"{got['attempts_sent']:,}", f"{got['prompt_tokens']:,}",
                                               f"{got['completion_tokens']:,}", fmt_usd(got["cost_usd"])]
    per_1000 = fmt_usd(want["cost_usd"] / accepted * 1000)
    assert f"- cost per 1,000 accepted instructions (all stages): {per_1000}" in text
    assert "cost unknown" not in text

    us = build_report(priced).usage  # the command afterwards: the same totals, exactly
    got = {k: getattr(us.total, k) for k in want}
    assert got == {**want, "cost_usd": pytest.approx(want["cost_usd"])}
    assert us.retries_by_kind == dict(Counter(k for c in lines for k in c["retries"]))
    assert us.invocations == 2 and "summed over 2 invocations" in us.wall_note

    # cost unknown in the first invocation, $0 in the second: metrics.json says 0, the report says unknown
    lines = read_lines(unpriced / "llm_calls.jsonl")
    assert read_json(unpriced / "metrics.json")["llm"]["cost_usd"] == 0
    assert expected_totals(lines)["cost_usd"] is None
    text = (unpriced / "report.md").read_text(encoding="utf-8")
    assert usage_row(text, "**all stages**")[6] == "unknown"
    assert "- cost per 1,000 accepted instructions (all stages): unknown" in text
    assert ("**cost unknown: the model's price is not known; set model.input_cost_per_token / "
            "model.output_cost_per_token**") in text

    out = report_cli(str(sweep), cwd=tmp_path)  # both jobs in a sweep table
    assert out.returncode == 0, out.stderr
    rows = [line for line in (sweep / "sweep.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| [")]
    cost_column = HEADERS.index("cost / 1,000 accepted")
    assert [[c.strip() for c in row.strip("|").split("|")][cost_column] for row in rows] == [per_1000, "unknown"]
    assert "$0" not in rows[1]


def test_without_llm_calls_the_report_says_it_shows_the_last_invocation(tmp_path: Path, seeds: Path) -> None:
    run = make_run(tmp_path / "run", seeds)
    (run / "llm_calls.jsonl").unlink()
    us = build_report(run).usage
    assert us.source == "metrics.json" and not us.partial  # one invocation: its numbers are the run's
    assert (us.total.requests, us.cost_per_1000) == (12, pytest.approx(0.8))
    record = read_json(run / "run.json")
    record["invocations"].insert(0, {"started_at": "2026-01-01T11:00:00+00:00",
                                     "ended_at": "2026-01-01T11:01:40+00:00", "ended": "budget"})
    record["invocations"].append({"started_at": "2026-01-01T13:00:00+00:00", "ended_at": None, "ended": "running"})
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    report = build_report(run)
    us = report.usage
    assert us.partial and us.invocations == 3 and us.run_cost is None and us.cost_per_1000 is None
    assert us.total.cost_usd == pytest.approx(0.004)  # metrics.json's: the last invocation's
    assert us.wall_s == 113 and [r.wall_s for r in us.rows] == [None, None, None]  # 100 s + 13 s; a killed one
    text = render_markdown(report)
    assert "From metrics.json, which describes only the **last invocation** of this run" in text
    assert "cost per 1,000 accepted instructions (all stages): unknown (metrics.json covers only the last of 3" in text
    assert "1 invocation(s) that recorded no end (killed) not counted" in text
    assert "`llm_calls.jsonl`: requests, tokens and cost are metrics.json's" in text
