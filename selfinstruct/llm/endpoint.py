"""Where requests go: a real provider (key checked first) or the bundled simulated model.

The endpoint also says what the client needs to know about where it sends: the cache namespace
that keeps its replies apart (the simulated model's replies depend on its options) and, for the
simulated model only, the header that tells it which stage asks (``stage_header``).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from omegaconf import OmegaConf

from selfinstruct.config import ModelConfig, to_plain
from selfinstruct.llm.credentials import check_credentials, resolve_api_key

log = logging.getLogger(__name__)

SIMULATED_NOTICE = (
    "SIMULATED model (the bundled loopback server): for trying configs, sweeps and the pipeline "
    "offline; its output is not real data"
)
# The loopback server accepts any key; this placeholder is not a secret.
_LOOPBACK_KEY = "loopback-no-key-needed"


@dataclass(frozen=True)
class Endpoint:
    api_base: str | None
    api_key: str | None
    # appended to the model name in response-cache keys
    cache_namespace: str = ""
    # the simulated model only: the request header that names the asking stage (None: send none)
    stage_header: str | None = None


def loopback_cache_namespace(model: ModelConfig) -> str:
    """The simulated model's replies depend on its server options: keep them apart in the cache
    (where it is served from, ``process``, changes no reply)."""
    options = {k: v for k, v in OmegaConf.to_container(OmegaConf.structured(model.loopback)).items()
               if k != "process"}
    return f"@loopback:{OmegaConf.to_yaml(options)}"


@contextmanager
def open_endpoint(model: ModelConfig, where: str = "model") -> Iterator[Endpoint]:
    """The endpoint of one model of the run (``where`` is its config key); starts (and finally stops)
    a loopback server for a simulated one (model=loopback, judge=loopback)."""
    if model.deployments:
        from selfinstruct.llm.router import check_deployments

        check_deployments(model)
        yield Endpoint(api_base=None, api_key=resolve_api_key(model))
        return
    if not model.loopback.enabled:
        check_credentials(model, where)
        yield Endpoint(api_base=model.api_base, api_key=resolve_api_key(model, where))
        return
    from selfinstruct.simulated import STAGE_HEADER, LoopbackServer, ServerOptions
    from selfinstruct.simulated.process import LoopbackProcess

    options = ServerOptions(
        port=0,
        seed=model.loopback.seed,
        latency_ms=model.loopback.latency_ms,
        fault_rate=model.loopback.fault_rate,
        **to_plain(model.loopback.options),
    )
    server = LoopbackProcess(options) if model.loopback.process else LoopbackServer(options)
    url = server.start()
    log.info("loopback server for %s (%s) listening at %s%s", where, model.name, url,
             " (its own process)" if model.loopback.process else "")
    try:
        yield Endpoint(api_base=url, api_key=_LOOPBACK_KEY, cache_namespace=loopback_cache_namespace(model),
                       stage_header=STAGE_HEADER)
    finally:
        server.stop()
