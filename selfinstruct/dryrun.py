"""``dry_run=true``: what each stage would send and what it would cost, with nothing sent."""

from __future__ import annotations

from selfinstruct.llm.cost import estimate_cost
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.stages.base import RunContext, Stage


def _fmt_cost(usd: float | None) -> str:
    return "unknown" if usd is None else f"{usd:.4f}"


def print_plan(stages: list[Stage], ctx: RunContext) -> None:
    """Print a per-stage table: requests, estimated prompt and completion tokens, estimated cost."""
    litellm = import_litellm()
    model = ctx.cfg.model
    rows = []
    for stage in stages:
        plan = stage.plan(ctx)
        if plan is None:
            rows.append((stage.name, 0, 0, 0, 0.0, "sends no requests"))
            continue
        per_prompt = litellm.token_counter(model=model.name, messages=plan.sample_messages)
        prompt_tokens = per_prompt * plan.requests
        completion_tokens = plan.completion_tokens_each * plan.requests
        cost = estimate_cost(litellm, model, prompt_tokens, completion_tokens)
        rows.append((stage.name, plan.requests, prompt_tokens, completion_tokens, cost, plan.note))
    known = all(r[4] is not None for r in rows)
    total = ("total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows),
             sum(r[4] or 0.0 for r in rows) if known else None, "")
    print(f"dry run for model {model.name}: nothing was sent")
    header = f"{'stage':<12}{'requests':>10}{'prompt tokens':>16}{'completion tokens':>20}{'est. cost USD':>16}  note"
    print(header)
    print("-" * len(header))
    for name, requests, prompt_tokens, completion_tokens, cost, note in [*rows, total]:
        print(f"{name:<12}{requests:>10,}{prompt_tokens:>16,}{completion_tokens:>20,}{_fmt_cost(cost):>16}  {note}")
    if not known:
        print(f"(no price for {model.name}: set model.input_cost_per_token and model.output_cost_per_token)")
