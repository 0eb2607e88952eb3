"""Import LiteLLM the safe way: offline price table, quiet loggers, no telemetry."""

from __future__ import annotations

import logging
import os
from types import ModuleType

_QUIET_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "httpcore", "openai")


def import_litellm() -> ModuleType:
    """LiteLLM, configured never to fetch its price table from the internet nor chatter in our logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm
