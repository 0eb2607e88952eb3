"""Keep API keys out of everything that leaves the process: one redaction point, ``redact``.

Keys are masked by value, whatever road they came by: the values of the environment variables a
run reads keys from (``model.api_key_env``, each deployment's, the provider's usual variables)
are registered as they are read, and every variable whose name looks like a credential is masked
too.  Text leaves the process by four doors, and each passes through ``redact``:

- log records (a filter on every handler: console and ``selfinstruct.log``);
- standard output and standard error (wrapped: prints, tracebacks, warnings, progress bars);
- files the run writes (``selfinstruct.data``'s writers: run.json, metrics.json, report.md,
  llm_calls.jsonl, the saved config, every JSONL);
- the one-line error and the printed resume command (through the two above).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import threading
from typing import Any, TextIO

# Names of environment variables that hold credentials (OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY,
# WATSONX_APIKEY, AZURE_AD_TOKEN, DB_PASSWORD, GOOGLE_APPLICATION_CREDENTIALS ...).
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH)", re.IGNORECASE)
# Key-shaped strings that may arrive from nowhere we know of (a provider echoing another key).
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{6,}")
# Shorter values would mask ordinary words; real keys are far longer.
MIN_SECRET_LENGTH = 6
MASK = "***"

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` from now on, wherever it appears in text that leaves the process."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def secret_values() -> list[str]:
    """Every value to mask, longest first (so a key containing another is masked whole)."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
    with _lock:
        values |= _registered
    return sorted(values, key=len, reverse=True)


def redact(text: str, key_shapes: bool = True) -> str:
    """The text with every known secret value masked, and key-shaped strings (``sk-...``) too unless
    ``key_shapes`` is off (data files: a generated instruction may mention such a string)."""
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return _KEY_SHAPED.sub(r"\1-" + MASK, text) if key_shapes else text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets on the way to the wrapped one (stdout or stderr)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.wrapped = stream

    def write(self, text: str) -> int:
        self.wrapped.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.wrapped.flush()

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.wrapped, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def install_stream_redaction() -> None:
    """Wrap sys.stdout and sys.stderr (once) so nothing printed can show a key."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]


def install_log_redaction() -> None:
    """Attach the redacting filter to every handler of the root logger (Hydra's console and file)."""
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
