"""Fail before the first request when the provider's key is missing, naming the variable to set."""

from __future__ import annotations

import os

from selfinstruct.config import ModelConfig
from selfinstruct.errors import CredentialsError
from selfinstruct.llm.litellm_import import import_litellm
from selfinstruct.secrets import register_secret


def key_from_env(variable: str | None, where: str) -> str | None:
    """The key held by environment variable ``variable`` (named by config key ``where``), or None when unnamed."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise CredentialsError(f"{where} names {variable}, which is not set: export {variable}=...")
    register_secret(value)  # masked wherever text leaves the process, whatever the variable's name
    return value


def resolve_api_key(model: ModelConfig, where: str = "model") -> str | None:
    """The key to pass explicitly: from ``WHERE.api_key_env`` when set, else None (provider default).
    ``where`` is the config key of this model (``model``, ``judge``, ``stages.evaluate.models[1]``)."""
    return key_from_env(model.api_key_env, f"{where}.api_key_env")


def check_credentials(model: ModelConfig, where: str = "model") -> None:
    """Raise CredentialsError when LiteLLM says the provider needs a variable that is not set."""
    if model.api_key_env:
        resolve_api_key(model, where)
        return
    from selfinstruct.llm.models import name_key

    check_provider_environment(model.name, model.api_base, name_key(where))


def check_provider_environment(name: str, api_base: str | None, where: str) -> None:
    """LiteLLM's own check of the variables a provider needs (an explicit api_base stands in for *_API_BASE)."""
    litellm = import_litellm()
    try:
        report = litellm.validate_environment(model=name, api_base=api_base)
    except Exception:  # an unknown provider: let the first request say what is wrong
        return
    missing = [
        variable
        for variable in report.get("missing_keys", [])
        # an explicit model.api_base stands in for a *_API_BASE variable
        if not (api_base and variable.endswith(("_API_BASE", "_BASE_URL")))
    ]
    if missing:
        names = " and ".join(missing)
        raise CredentialsError(
            f"{where}={name} needs {names} in the environment: export {missing[0]}=... "
            f"(or try selfinstruct offline with the simulated model: selfinstruct model=loopback)"
        )
