"""README "Add a stage": one module with a stage class on PYTHONPATH, one YAML file in a --config-dir
folder (stages/NAME.yaml), one template; no file of the package is edited.  The stage needs no LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MODULE = '''
import json
from pathlib import Path

from selfinstruct.prompts import PromptTemplate
from selfinstruct.stages.base import Stage


class SummaryStage(Stage):
    name = "summary"
    needs_llm = False

    def __init__(self, template: str, top: int = 3) -> None:
        self.template_path, self.top = template, top

    def prepare(self, ctx):
        self.template = PromptTemplate(self.template_path, f"{self.config_key}.template")

    async def run(self, ctx):
        lines = (ctx.run_dir / "instructions.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        text = self.template.render(count=len(records), first=[r["instruction"] for r in records[: self.top]])
        (ctx.run_dir / "summary.md").write_text(text + "\\n")
'''

YAML = '''summary:
  _target_: my_stages.SummaryStage
  template: TEMPLATE
  top: 2
'''

TEMPLATE = '''{{ count }} instructions; the first {{ first | length }}:
{% for text in first %}
- {{ text }}
{% endfor %}
'''


def test_a_stage_of_ones_own_runs_after_bootstrap(tmp_path: Path) -> None:
    code, conf = tmp_path / "code", tmp_path / "conf"
    (conf / "stages").mkdir(parents=True)
    code.mkdir()
    (code / "my_stages.py").write_text(MODULE)
    (code / "summary.txt").write_text(TEMPLATE)
    (conf / "stages" / "summary.yaml").write_text(YAML.replace("TEMPLATE", str(code / "summary.txt")))
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(code)}
    result = subprocess.run(
        [sys.executable, "-c", "from selfinstruct.cli import main; main()", "--config-dir", str(conf),
         "model=loopback", "pipeline.stages=[bootstrap,summary]", "schedule.num_instructions=5",
         "cache.enabled=false", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = (run_dir / "summary.md").read_text().splitlines()
    assert summary[0] == "5 instructions; the first 2:" and len(summary) == 3
    assert "summary:" in (run_dir / ".hydra" / "config.yaml").read_text()  # the saved config has its entry


LLM_MODULE = '''
import asyncio
import json

from selfinstruct.data import append_jsonl
from selfinstruct.prompts import StagePrompt
from selfinstruct.simulated import register_stage_reply
from selfinstruct.stages.base import Stage


class RateStage(Stage):
    """Ask the model whether each accepted instruction is clear; write ratings.jsonl."""

    name = "rate"

    def __init__(self, template: str, sampling=None, system=None, variables=None) -> None:
        self.prompt = StagePrompt(self.config_key, template, system, sampling, variables)

    def prepare(self, ctx):
        self.template = self.prompt.load()
        self.template.check(instruction=ctx.seeds[0].instruction, **self.prompt.variables)

    async def run(self, ctx):
        lines = (ctx.run_dir / "instructions.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        replies = await asyncio.gather(*(
            ctx.llm.complete(self.prompt.messages(instruction=r["instruction"]), self.prompt.sampling, stage=self.name)
            for r in records))
        append_jsonl(ctx.run_dir / "ratings.jsonl",
                     [{"id": r["id"], "clear": reply.text.strip()} for r, reply in zip(records, replies)])


@register_stage_reply("rate")  # what the simulated model (model=loopback) answers this stage
def simulated_rating(prompt_text, ctx):
    return ctx.rng.choice(["Yes", "No"])
'''

LLM_YAML = '''rate:
  _target_: my_rating.RateStage
  template: TEMPLATE
  sampling: {temperature: 0.0, max_tokens: 3}
  variables: {scale: yes or no}
'''

LLM_TEMPLATE = '''Is the following instruction clear enough to act on? Answer {{ scale }}.
Instruction: {{ instruction }}
Answer:'''


def test_a_stage_that_prompts_gets_its_simulated_reply_by_stage_name(tmp_path: Path) -> None:
    code, conf = tmp_path / "code", tmp_path / "conf"
    (conf / "stages").mkdir(parents=True)
    code.mkdir()
    (code / "my_rating.py").write_text(LLM_MODULE)
    (code / "rate.txt").write_text(LLM_TEMPLATE)
    (conf / "stages" / "rate.yaml").write_text(LLM_YAML.replace("TEMPLATE", str(code / "rate.txt")))
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(code)}
    result = subprocess.run(
        [sys.executable, "-c", "from selfinstruct.cli import main; main()", "--config-dir", str(conf),
         "model=loopback", "pipeline.stages=[bootstrap,rate]", "schedule.num_instructions=6",
         "cache.enabled=false", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ratings = [line for line in (run_dir / "ratings.jsonl").read_text().splitlines() if line.strip()]
    assert len(ratings) == 6
    assert {json.loads(line)["clear"] for line in ratings} <= {"Yes", "No"}
    calls = [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines()]
    assert sum(c["stage"] == "rate" for c in calls) == 6
