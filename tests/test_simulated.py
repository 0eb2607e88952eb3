"""The simulated model answers by stage (the X-Selfinstruct-Stage header), not by the prompt's wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfinstruct.config import CONFIG_DIR, bundled_dir
from selfinstruct.simulated import STAGE_HEADER, UNKNOWN_REPLY, ServerOptions, register_stage_reply
from selfinstruct.simulated.core import _Core
from tests.cli_helpers import run_cli

PROMPTS = bundled_dir("prompts") / "self_instruct"
CLASSIFY = "Task: Sort the list of numbers.\nIs it classification? No\n\nTask: Classify the review as positive or negative.\n"
INPUT_FIRST = "Task: Sort the list of numbers.\nExample 1\nInput: 3, 1\nOutput: 1, 3\n\nTask: Classify the review as positive or negative.\n"


def _reply(core: _Core, text: str, stage: str | None) -> str:
    body = json.dumps({"model": "loopback", "messages": [{"role": "user", "content": text}]}).encode()
    reply = core.chat(body, {STAGE_HEADER: stage} if stage else {})
    return json.loads(reply.body)["choices"][0]["message"]["content"]


@pytest.fixture()
def core():
    c = _Core(ServerOptions(seed=3))
    yield c
    c.close()


@pytest.mark.parametrize(("bundled_first", "body", "stage", "question"), [
    ("Decide whether each task below is a classification task.\n\n", CLASSIFY, "classify", "Is it classification?"),
    ("Write examples for each task below.\n\n", INPUT_FIRST, "instances:input_first", ""),
])
def test_a_stage_header_makes_rewording_harmless(core, bundled_first, body, stage, question):
    bundled = bundled_first + body + question
    reworded = "Here are some tasks; answer the last one.\n\n" + body + question.replace("Is it", "Is this")
    by_header = _reply(core, reworded, stage)
    assert by_header != UNKNOWN_REPLY
    # same reply as the bundled wording gets without the header (the RNG is keyed by prompt, kind)
    assert _reply(core, bundled, None) == _reply(core, bundled, stage)
    if question:  # without the header, the classify question is recognised by its wording only
        assert _reply(core, reworded, None) == UNKNOWN_REPLY


def test_a_new_stage_is_one_registered_function(core):
    @register_stage_reply("audit_test")
    def audit(prompt: str, ctx) -> str:
        return f"Score: {ctx.rng.randint(1, 5)} for {len(prompt)} chars"

    first = _reply(core, "Rate this.", "audit_test")
    assert first.startswith("Score: ") and first.endswith("for 10 chars")
    assert _reply(core, "Rate this.", "audit_test") == first  # seeded by the prompt
    assert _reply(core, "Rate this.", None) == UNKNOWN_REPLY


def test_the_client_sends_the_stage_header_only_to_the_simulated_endpoint():
    from hydra import compose, initialize_config_dir

    from selfinstruct.llm.client import LLMClient

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        model = compose("config", ["model=openai"]).model
    real = LLMClient(model, "http://example.invalid/v1", "k")._kwargs([], {}, "classify")
    assert "extra_headers" not in real
    simulated = LLMClient(model, "http://127.0.0.1:1/v1", "k", stage_header=STAGE_HEADER)
    assert simulated._kwargs([], {}, "instances:input_first")["extra_headers"] == {STAGE_HEADER: "instances:input_first"}


def _template_key(stage: str, mode: str | None = None) -> str:
    """stages.NAME[.MODE].template once stages have their own entries, else prompts.*.template."""
    if (Path(CONFIG_DIR) / "stages" / f"{stage}.yaml").exists():
        return f"stages.{stage}.{mode}.template" if mode else f"stages.{stage}.template"
    return f"prompts.{stage}_{mode}.template" if mode else f"prompts.{stage}.template"


def test_reworded_templates_leave_offline_replies_parsed(tmp_path):
    """Copies of the bundled templates with their fixed wording changed: the run goes as before."""
    overrides = []
    rewording = {"Is it classification?": "Is this task a classification task?"}
    for name, key in (("bootstrap", _template_key("bootstrap")), ("classify", _template_key("classify")),
                      ("instances_input_first", _template_key("instances", "input_first")),
                      ("instances_output_first", _template_key("instances", "output_first"))):
        head, rest = (PROMPTS / f"{name}.txt").read_text().split("\n", 1)
        for old, new in rewording.items():
            rest = rest.replace(old, new)
        copy = tmp_path / f"{name}.txt"
        copy.write_text(f"Reworded opening line for {name}, nothing like the bundled one.\n{rest}")
        overrides.append(f"{key}={copy}")
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", "schedule=smoke", "cache.enabled=false", f"hydra.run.dir={run_dir}",
                      *overrides], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    calls = (run_dir / "llm_calls.jsonl").read_text() if (run_dir / "llm_calls.jsonl").exists() else ""
    assert UNKNOWN_REPLY not in calls
    instructions = [json.loads(line) for line in (run_dir / "instructions.jsonl").read_text().splitlines()]
    assert len(instructions) >= 20
    assert all(isinstance(r.get("is_classification"), bool) for r in instructions)
    tasks = [json.loads(line) for line in (run_dir / "instances.jsonl").read_text().splitlines()]
    assert sum(bool(t["instances"]) for t in tasks) >= len(tasks) * 0.8
