"""Where requests go: a real provider (key checked first) or the bundled simulated model."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

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


@contextmanager
def open_endpoint(model: ModelConfig) -> Iterator[Endpoint]:
    """The endpoint for this run; starts (and finally stops) the loopback server for model=loopback."""
    if model.deployments:
        from selfinstruct.llm.router import check_deployments

        check_deployments(model)
        yield Endpoint(api_base=None, api_key=resolve_api_key(model))
        return
    if not model.loopback.enabled:
        check_credentials(model)
        yield Endpoint(api_base=model.api_base, api_key=resolve_api_key(model))
        return
    from selfinstruct.testing.llm_server import LoopbackServer, ServerOptions

    options = ServerOptions(
        port=0,
        seed=model.loopback.seed,
        latency_ms=model.loopback.latency_ms,
        fault_rate=model.loopback.fault_rate,
        **to_plain(model.loopback.options),
    )
    server = LoopbackServer(options)
    url = server.start()
    log.info("loopback server listening at %s", url)
    try:
        yield Endpoint(api_base=url, api_key=_LOOPBACK_KEY)
    finally:
        server.stop()
