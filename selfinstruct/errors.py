"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class SelfInstructError(Exception):
    """A problem with the user's input or setup; its message names the file, line or config key."""


class SeedError(SelfInstructError):
    """A seed file that cannot be read; the message starts with ``path:line:``."""


class ConfigError(SelfInstructError):
    """A config value that composes but cannot work; the message names the key."""


class CredentialsError(SelfInstructError):
    """A provider key that is missing; the message names the variable to set."""


class LLMFatalError(SelfInstructError):
    """The provider refuses every request (bad key, unknown model): no point in retrying."""


class DiskFullError(SelfInstructError):
    """A write that failed for want of space (ENOSPC) or quota (EDQUOT); the message is one line
    ``PATH: no space left on device (...)``.  Nothing is left half-written: rerun to resume once there is room."""

    def __init__(self, path: object, detail: str = "") -> None:
        self.path = str(path)
        self.errno: int | None = None  # ENOSPC or EDQUOT, where known
        self.detail = detail or "free some space and rerun the same command to resume"
        super().__init__(" ".join(f"{self.path}: no space left on device ({self.detail})".split()))


def one_line(exc: BaseException) -> str:
    """The innermost cause of an exception as a single line (Hydra wraps causes in long messages)."""
    while exc.__cause__ is not None and not isinstance(exc, SelfInstructError):  # ours already say it all
        exc = exc.__cause__
    return " ".join(str(exc).split()) or type(exc).__name__
