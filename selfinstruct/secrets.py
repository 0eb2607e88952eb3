"""Keep API keys out of logs, errors and files: every message we write passes through ``redact``."""

from __future__ import annotations

import logging
import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{6,}")


def secret_values() -> list[str]:
    """Values of environment variables whose names look like credentials (longest first)."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """The text with credential values from the environment and key-shaped strings masked."""
    for value in secret_values():
        text = text.replace(value, "***")
    return _KEY_SHAPED.sub(r"\1-***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to every handler of the root logger (Hydra's console and file)."""
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
