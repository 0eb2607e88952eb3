"""Provider prompt caching (issue 17): cached prompt tokens are counted and priced at the cached price.

The simulated server reports ``usage.prompt_tokens_details.cached_tokens`` for a prompt whose opening
words it has seen before, as OpenAI does; every classify prompt opens with the same demonstrations."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import read_json, read_lines, run_cli

PRICES = ["model.input_cost_per_token=1e-6", "model.output_cost_per_token=2e-6"]


def _run(tmp_path: Path, name: str, *extra: str) -> Path:
    run_dir = tmp_path / name
    result = run_cli(["model=loopback", "schedule.num_instructions=40", f"hydra.run.dir={run_dir}",
                      "cache.enabled=false", "pipeline.stages=[bootstrap,classify]", *PRICES, *extra], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return run_dir


def test_cached_prompt_tokens_are_counted_and_priced_at_the_cached_price(tmp_path: Path) -> None:
    full = _run(tmp_path, "full")
    cheap = _run(tmp_path, "cheap", "model.cached_input_cost_per_token=1e-7")
    calls = [c for c in read_lines(cheap / "llm_calls.jsonl") if c["stage"] == "classify"]
    cached = sum(c.get("cached_prompt_tokens", 0) for c in calls)
    prompt = sum(c["prompt_tokens"] for c in calls)
    assert cached > prompt / 2  # after the first prompt, the demonstrations come from the prompt cache
    metrics = read_json(cheap / "metrics.json")["classify"]
    assert metrics["cached_prompt_tokens"] == cached
    full_cost = read_json(full / "metrics.json")["classify"]["cost_usd"]
    expected = full_cost - cached * (1e-6 - 1e-7)  # metrics.json rounds dollars to 6 places
    assert full_cost - expected > 1e-4
    assert abs(metrics["cost_usd"] - expected) <= 1e-6 and metrics["cost_usd"] < full_cost
