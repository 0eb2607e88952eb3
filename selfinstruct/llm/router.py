"""Many servers or keys for one model: LiteLLM's Router over ``model.deployments``.

The Router balances requests over the deployments, enforces their own limits, and takes a
failing deployment out for ``model.router.cooldown_s``; our client keeps its retry loop, cache,
cost and budget on top, and retries a failed attempt at once on another deployment (failover)
before it backs off.  Keys are read from each deployment's ``api_key_env`` when the Router is
built and live only in memory.
"""

from __future__ import annotations

from typing import Any

from selfinstruct.config import ModelConfig, to_plain
from selfinstruct.errors import ConfigError
from selfinstruct.llm.credentials import check_provider_environment, key_from_env, resolve_api_key

ROUTER_GROUP = "selfinstruct"  # the Router's model group: every deployment serves it


def deployment_ids(model: ModelConfig) -> list[str]:
    """The name each deployment is logged under: its id, else its api_base, else its model string."""
    ids: list[str] = []
    for i, deployment in enumerate(model.deployments):
        name = deployment.id or deployment.api_base or deployment.model
        ids.append(name if name not in ids else f"{name}#{i}")
    return ids


def in_flight_limit(model: ModelConfig) -> int:
    """Requests in flight at once: ``model.max_concurrency``, and with deployments that all cap
    their parallel requests, at most the sum of the caps (the Router refuses what is beyond them)."""
    caps = [d.max_parallel_requests for d in model.deployments]
    if caps and all(cap is not None for cap in caps):
        return max(1, min(model.max_concurrency, sum(caps)))
    return model.max_concurrency


def check_deployments(model: ModelConfig) -> None:
    """Fail before any request on an unusable deployment list, naming the config key."""
    if model.loopback.enabled:
        raise ConfigError("model.deployments: not used with the loopback model (model=loopback); "
                          "point deployments at running servers instead")
    for i, deployment in enumerate(model.deployments):
        where = f"model.deployments[{i}]"
        if not deployment.model:
            raise ConfigError(f"{where}.model: a LiteLLM model string is required")
        if deployment.api_key_env:
            key_from_env(deployment.api_key_env, f"{where}.api_key_env")
        elif model.api_key_env:
            resolve_api_key(model)
        else:
            check_provider_environment(deployment.model, deployment.api_base, f"{where}.model")


def router_model_list(model: ModelConfig) -> list[dict[str, Any]]:
    """LiteLLM Router ``model_list`` entries, keys resolved from the environment."""
    entries = []
    for i, (deployment, name) in enumerate(zip(model.deployments, deployment_ids(model))):
        params: dict[str, Any] = dict(to_plain(deployment.extra))
        params["model"] = deployment.model
        if deployment.api_base:
            params["api_base"] = deployment.api_base
        key = key_from_env(deployment.api_key_env, f"model.deployments[{i}].api_key_env")
        if key:
            params["api_key"] = key
        for limit in ("rpm", "tpm", "max_parallel_requests", "weight"):
            value = getattr(deployment, limit)
            if value is not None:
                params[limit] = value
        entries.append({"model_name": ROUTER_GROUP, "litellm_params": params, "model_info": {"id": name}})
    return entries


def build_router(litellm: Any, model: ModelConfig, api_key: str | None = None) -> Any:
    """A Router with its own retries off (ours run on top) and per-deployment cooldown on failures.

    ``api_key`` (from ``model.api_key_env``) is the key of deployments that do not name their own.
    """
    model_list = router_model_list(model)
    if api_key:
        for entry in model_list:
            entry["litellm_params"].setdefault("api_key", api_key)
    return litellm.Router(
        model_list=model_list,
        routing_strategy=model.router.routing_strategy,
        num_retries=0,
        allowed_fails=model.router.allowed_fails,
        cooldown_time=model.router.cooldown_s,
        timeout=model.timeout_s,
    )
