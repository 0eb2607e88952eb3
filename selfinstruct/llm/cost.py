"""What a call cost: LiteLLM's price table, or the per-token prices set in model config."""

from __future__ import annotations

from typing import Any

from selfinstruct.config import ModelConfig


def configured_prices(model: ModelConfig) -> tuple[float, float] | None:
    if model.input_cost_per_token is None and model.output_cost_per_token is None:
        return None
    return model.input_cost_per_token or 0.0, model.output_cost_per_token or 0.0


def call_cost(litellm: Any, model: ModelConfig, response: Any, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = configured_prices(model)
    if prices is not None:
        return prompt_tokens * prices[0] + completion_tokens * prices[1]
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
