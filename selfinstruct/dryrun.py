"""``dry_run=true``: what each stage would send and what it would cost, with nothing sent."""

from __future__ import annotations

from selfinstruct.llm.cost import estimate_cost
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.stages.base import RunContext, Stage


def _fmt_cost(usd: float | None) -> str:
    return "unknown" if usd is None else f"{usd:.4f}"


def print_plan(stages: list[Stage], ctx: RunContext) -> None:
    """Print a per-stage table: requests, estimated prompt and completion tokens, estimated cost, each
    row at the price of the model that answers it (the generator, the judge, an evaluated model)."""
    litellm = import_litellm()
    model = ctx.cfg.model
    rows = []
    unpriced: list[str] = []
    for stage in stages:
        plans = stage.plan(ctx)
        if plans is None:
            rows.append((stage.name, 0, 0, 0, 0.0, "sends no requests"))
            continue
        for plan in plans if isinstance(plans, list) else [plans]:
            answering = plan.model.config if plan.model is not None else model
            per_prompt = litellm.token_counter(model=answering.name, messages=plan.sample_messages)
            prompt_tokens = per_prompt * plan.requests
            completion_tokens = plan.completion_tokens_each * plan.requests
            cost = estimate_cost(litellm, answering, prompt_tokens, completion_tokens)
            if cost is not None:  # plus what is not per request (a fine-tuning job), None: unknown
                cost = None if plan.fixed_cost_usd is None else cost + plan.fixed_cost_usd
            if cost is None:
                unpriced.append(plan.model.where if plan.model is not None else "model")
            note = plan.note
            if plan.model is not None and plan.model.where != "model":
                note = f"{plan.model.where}: {answering.name}" + (f"; {note}" if note else "")
            rows.append((plan.label or stage.name, plan.requests, prompt_tokens, completion_tokens, cost, note))
    known = all(r[4] is not None for r in rows)
    total = ("total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows),
             sum(r[4] or 0.0 for r in rows) if known else None, "")
    print(f"dry run for model {model.name}: nothing was sent")
    width = max(12, *(len(r[0]) + 2 for r in rows))
    header = f"{'stage':<{width}}{'requests':>10}{'prompt tokens':>16}{'completion tokens':>20}{'est. cost USD':>16}  note"
    print(header)
    print("-" * len(header))
    for name, requests, prompt_tokens, completion_tokens, cost, note in [*rows, total]:
        print(f"{name:<{width}}{requests:>10,}{prompt_tokens:>16,}{completion_tokens:>20,}{_fmt_cost(cost):>16}  {note}")
    for key in dict.fromkeys(unpriced):
        print(f"(no price for {key}: set {key}.input_cost_per_token and {key}.output_cost_per_token)")
    if model.batch and total[4] is not None:
        from selfinstruct.llm.batch import batch_price_factor

        factor = batch_price_factor(litellm, model)
        jobs = sum(r[4] or 0.0 for r in rows if r[0].startswith("train"))  # a fine-tuning job is not batched
        print(f"model.batch=true: requests go as provider batch jobs at {factor:g} x the live price: "
              f"about {_fmt_cost((total[4] - jobs) * factor + jobs)} USD instead of {_fmt_cost(total[4])}")
