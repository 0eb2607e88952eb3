"""The first hour (issue 18): a summary on stdout at the end of every run, whose counts are the files';
a --help that says what the tool does and how people run it; --version that is ours."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from selfinstruct import __version__
from tests.cli_helpers import ENTRY, _cli_env, run_cli

LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d ")


def _count(path: Path) -> int:
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return len(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("summary")
    run_dir = tmp / "run"
    result = run_cli(["model=loopback", "schedule.num_instructions=50", f"hydra.run.dir={run_dir}"], cwd=tmp)
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir, result


def test_stdout_holds_the_summary_alone_and_its_counts_are_the_files(finished) -> None:
    run_dir, result = finished
    out = result.stdout
    assert out.strip(), "a finished run printed nothing on stdout"
    assert not any(LOG_LINE.match(line) for line in out.splitlines()), "a log line reached stdout"
    assert "stage report: done" in result.stderr  # the logs are on stderr
    assert "selfinstruct: run done in" in out and f"run directory: {run_dir}" in out
    assert "SIMULATED DATA" in out.splitlines()[1]  # the banner comes first
    listed = dict(re.findall(r"^  (\S+)\s+([\d,]+) ", out, flags=re.M))
    expected = ["instructions.jsonl", "rejected.jsonl", "classify.jsonl", "instances.jsonl",
                "finetune/alpaca.json", "finetune/openai_chat.jsonl", "finetune/prompt_completion.jsonl",
                "finetune/sharegpt.json"]
    for name in expected:
        assert name in listed, f"{name} is not in the summary:\n{out}"
        assert int(listed[name].replace(",", "")) == _count(run_dir / name), name
    instances = sum(len(json.loads(line)["instances"])
                    for line in (run_dir / "instances.jsonl").read_text().splitlines())
    assert f"{instances:,} instances" in out
    rejected = [json.loads(line)["reason"] for line in (run_dir / "rejected.jsonl").read_text().splitlines()]
    reasons = re.search(r"^rejected by reason: (.*)$", out, flags=re.M).group(1)
    assert {r: rejected.count(r) for r in set(rejected)} == {
        k: int(v) for k, v in (part.rsplit(" ", 1) for part in reasons.split(", "))}
    calls = _count(run_dir / "llm_calls.jsonl")
    assert re.search(rf"^LLM: {calls:,} requests", out, flags=re.M), out
    assert "resume with" not in out


def test_a_budget_stopped_run_says_so_and_prints_the_command_that_resumes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["model=loopback", "schedule.num_instructions=200", "budget.max_requests=6", "cache.enabled=false",
            f"hydra.run.dir={run_dir}"]
    result = run_cli(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "selfinstruct: run stopped on budget" in result.stdout
    resume = re.search(r"^resume with: (.*)$", result.stdout, flags=re.M).group(1)
    assert f"hydra.run.dir={run_dir}" in resume and "budget.max_requests=6" in resume
    assert f"{_count(run_dir / 'instructions.jsonl'):,} instructions" in result.stdout


def test_an_interrupted_run_prints_its_summary_and_the_resume_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["model=loopback", "schedule.num_instructions=3000", "model.loopback.latency_ms=200",
            "model.max_concurrency=4", "cache.enabled=false", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=tmp_path, env=_cli_env(None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run_dir / "llm_calls.jsonl"
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.is_file() and log.stat().st_size > 0):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "selfinstruct: run interrupted" in out
    assert re.search(rf"^resume with: selfinstruct .*hydra.run.dir={re.escape(str(run_dir))}$", out, flags=re.M)


def test_help_starts_with_what_the_tool_does_and_how_people_run_it(tmp_path: Path) -> None:
    result = run_cli(["--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    head = result.stdout.splitlines()[:30]
    assert head[0].startswith("selfinstruct: seed tasks + any LLM")
    text = "\n".join(head)
    for command in ("selfinstruct model=loopback", "dry_run=true", "selfinstruct -m ", "hydra.run.dir=",
                    "--config-path"):
        assert command in text, command
    assert "Hydra" not in result.stdout.splitlines()[0] and len(result.stdout.splitlines()) < 120
    assert "model: anthropic, loopback, ollama, openai, router, vllm" in result.stdout


def test_every_public_key_in_help_exists_in_the_composed_config(tmp_path: Path) -> None:
    """The help's key table cannot drift from the config: each key resolves (or is a pattern)."""
    helptext = run_cli(["--help"], cwd=tmp_path).stdout
    block = helptext.split("Public keys", 1)[1].split("Groups", 1)[0]
    keys = [line.split()[0] for line in block.splitlines()[1:] if line.startswith("  ") and line.strip()]
    assert len(keys) >= 12, keys
    composed = run_cli(["--cfg", "job", "model=loopback"], cwd=tmp_path)
    assert composed.returncode == 0, composed.stderr
    cfg = OmegaConf.create(composed.stdout)
    for key in keys:
        if "NAME" in key or key.startswith("hydra."):
            continue
        assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", f"--help names {key}, not in the config"


def test_version_is_ours(tmp_path: Path) -> None:
    result = run_cli(["--version"], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"selfinstruct {__version__} ")
    assert "Hydra 1." not in result.stdout


def _red_pixels(png: Path) -> int:
    """Pixels of the watermark's red (#C44E52) in the figure's lowest tenth, where its small line sits."""
    import matplotlib.image as mpimg
    import numpy as np

    image = mpimg.imread(png)[..., :3]
    foot = image[int(image.shape[0] * 0.9):, int(image.shape[1] * 0.6):]
    target = np.array([0xC4, 0x4E, 0x52]) / 255
    return int((np.abs(foot - target).max(axis=-1) < 0.12).sum())


def test_a_simulated_runs_figures_are_watermarked_and_a_real_runs_are_not(finished, tmp_path: Path) -> None:
    import shutil

    run_dir, _ = finished
    real = tmp_path / "real"
    shutil.copytree(run_dir, real)
    metrics = json.loads((real / "metrics.json").read_text())
    metrics["simulated_model"] = False
    (real / "metrics.json").write_text(json.dumps(metrics))
    result = subprocess.run([sys.executable, "-m", "selfinstruct.report", str(real)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert len(names) >= 4
    for name in names:
        assert _red_pixels(run_dir / "figures" / name) > 50, f"{name} of a simulated run has no watermark"
        assert _red_pixels(real / "figures" / name) == 0, f"{name} of a real run carries the watermark"
