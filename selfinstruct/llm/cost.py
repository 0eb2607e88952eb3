"""What a call cost: LiteLLM's price table, or the per-token prices set in model config."""

from __future__ import annotations

import json
from typing import Any

from selfinstruct.config import ModelConfig


def configured_prices(model: ModelConfig) -> tuple[float, float] | None:
    if model.input_cost_per_token is None and model.output_cost_per_token is None:
        return None
    return model.input_cost_per_token or 0.0, model.output_cost_per_token or 0.0


def cached_prompt_tokens(response: Any) -> int:
    """Prompt tokens the provider served from its prompt cache (usage.prompt_tokens_details.cached_tokens)."""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
    cached = details.get("cached_tokens") if isinstance(details, dict) else getattr(details, "cached_tokens", None)
    return int(cached) if isinstance(cached, (int, float)) and not isinstance(cached, bool) and cached > 0 else 0


def call_cost(litellm: Any, model: ModelConfig, response: Any, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = configured_prices(model)
    if prices is not None:
        cached = min(cached_prompt_tokens(response), prompt_tokens)
        cached_price = model.cached_input_cost_per_token
        cached_price = prices[0] if cached_price is None else cached_price
        return (prompt_tokens - cached) * prices[0] + cached * cached_price + completion_tokens * prices[1]
    # LiteLLM prices every reply it returns (response._hidden_params): pricing it again costs a
    # fraction of a millisecond of CPU per request, a fifth of the client's share at high concurrency
    hidden = getattr(response, "_hidden_params", None)
    known = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(known, (int, float)) and not isinstance(known, bool):
        return float(known)
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # a model missing from the price table: cost unknown, not an error
        return None


def estimate_cost(litellm: Any, model: ModelConfig, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Cost of a planned number of tokens (dry run); None when the model has no known price."""
    prices = configured_prices(model)
    if prices is not None:
        return prompt_tokens * prices[0] + completion_tokens * prices[1]
    try:
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=model.name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return None
    return float(prompt_usd) + float(completion_usd)


def price_known(litellm: Any, model: ModelConfig) -> bool:
    """Whether a request's cost can be computed: prices set in config, or the model in LiteLLM's table."""
    return configured_prices(model) is not None or estimate_cost(litellm, model, 1, 1) is not None


# The worst case of a prompt's tokens: LiteLLM's count (tiktoken for most models) times this, plus
# the slack, covers providers whose tokenizers count more (and the chat format's few extra tokens).
PROMPT_TOKEN_MARGIN = 1.25
PROMPT_TOKEN_SLACK = 32


def worst_case_cost(litellm: Any, model: ModelConfig, messages: list[dict[str, str]], sampling: dict[str, Any],
                    count_tokens: bool = True) -> float | None:
    """What one attempt can cost at most, for the budget's reservation: prompt tokens as LiteLLM
    counts them, with a margin, plus max_tokens, at the model's prices.  ``count_tokens=False`` takes
    the characters' generous bound instead (half the JSON's characters, non-ASCII escaped to six):
    for a run with no dollar cap, whose reservations only price requests a kill leaves unanswered,
    where counting every prompt would be the client's largest CPU cost per request."""
    from selfinstruct.errors import LLMFatalError

    max_tokens = sampling.get("max_tokens") or sampling.get("max_completion_tokens")
    if not max_tokens:
        try:
            max_tokens = litellm.get_max_tokens(model.name)
        except Exception:
            max_tokens = None
    if not max_tokens:
        raise LLMFatalError("budget.max_usd: the prompt sets no max_tokens and the model's longest reply "
                            "is not known, so no request can be bounded; set stages.NAME.sampling.max_tokens")
    prompt_tokens = None
    if count_tokens:
        try:
            prompt_tokens = int(litellm.token_counter(model=model.name, messages=messages))
        except Exception:  # an unknown tokenizer: the characters' bound below
            prompt_tokens = None
    if prompt_tokens is None:  # a generous count from the characters
        prompt_tokens = len(json.dumps(messages)) // 2
    prompt_tokens = int(prompt_tokens * PROMPT_TOKEN_MARGIN) + PROMPT_TOKEN_SLACK
    return estimate_cost(litellm, model, prompt_tokens, int(max_tokens))
