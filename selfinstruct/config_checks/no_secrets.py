"""No credential in the config (it is saved in the run directory), checked on the composed config and
on the raw command line before Hydra composes or prints it."""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, ListConfig

from selfinstruct.errors import ConfigError
from selfinstruct.config_checks.paths import Path, children, fmt_path, is_mapping, raw_node


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------

_SECRET_WORDS = frozenset({
    "key", "apikey", "api_key", "token", "secret", "password", "passwd", "pwd", "passphrase",
    "access_token", "refresh_token", "auth", "authorization", "credential", "credentials", "bearer",
})
_SECRET_SUFFIXES = (
    "_key", "_apikey", "_token", "_secret", "_password", "_passwd", "_passphrase",
    "_credential", "_credentials", "_auth", "_authorization",
)
# Names that end like a credential but are not one: prices, tokenizer tokens, cache and sort keys.
_NOT_SECRET_SUFFIXES = ("_env", "_per_token")
_NOT_SECRET_NAMES = frozenset({
    "bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token",
    "stop_token", "start_token", "end_token", "cache_key", "sort_key",
})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
# scheme://userinfo@ : the user name or password of a URL, anywhere in a string
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@\"'\[\]{},]+@")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAVED = "a secret in the config would be saved in the run directory"
_UNWRITTEN = "(nothing was written)"


def is_secret_name(name: Any) -> bool:
    """Whether a config key is named like a credential (``api_key``, ``X-Api-Key``, ``aws_session_token``).

    ``api_key_env`` and other ``*_env`` names (they name an environment variable) are not, nor are
    ``max_tokens``, ``completion_tokens``, ``input_cost_per_token``, ``eos_token``, ``keywords``.
    """
    if not isinstance(name, str):
        return False
    norm = _CAMEL.sub(r"\1_\2", name).replace("-", "_").replace(" ", "_").lower()
    if norm.endswith(_NOT_SECRET_SUFFIXES) or norm in _NOT_SECRET_NAMES:
        return False
    return norm in _SECRET_WORDS or norm.endswith(_SECRET_SUFFIXES)


def _env_hint(path: Sequence[Any], what: str) -> str:
    """Where ``what`` goes instead of the config: the ``api_key_env`` that names its variable."""
    parts = list(path)
    if parts[:2] == ["model", "deployments"] and len(parts) > 2 and isinstance(parts[2], int):
        return f"put {what} in an environment variable and name it with model.deployments[{parts[2]}].api_key_env=VAR"
    if parts[:1] == ["model"]:
        return f"put {what} in an environment variable and name it with model.api_key_env=VAR"
    return f"put {what} in an environment variable (exported before running selfinstruct) instead"


def _secret_message(path: Sequence[Any]) -> str:
    return f"{fmt_path(path)}: {_SAVED}; {_env_hint(path, 'it')} {_UNWRITTEN}"


def _url_message(path: Sequence[Any]) -> str:
    return (f"{fmt_path(path)}: the URL carries a user name or password, which would be saved in the run "
            f"directory; drop it from the URL, {_env_hint(path, 'the key')} {_UNWRITTEN}")


def _env_name_message(path: Sequence[Any]) -> str:
    return (f"{fmt_path(path)}: must name an environment variable (letters, digits and _), "
            f"not hold the key itself {_UNWRITTEN}")


def _holds_value(value: Any) -> bool:
    """Whether a value under a credential-named key holds anything (null, '', ??? and booleans do not)."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value not in ("", "???")
    if isinstance(value, (int, float)):
        return True
    if is_mapping(value) or isinstance(value, (ListConfig, list, tuple)):
        return any(_holds_value(raw_node(child)) for _, child in children(value))
    sweep_items = _sweep_items(value)
    if sweep_items is not None:
        return any(_holds_value(v) for v in sweep_items)
    return True


def _is_component(value: Any) -> bool:
    """A ``{_target_: ...}`` entry (a filter, stage or format named e.g. ``token``): not a credential."""
    return is_mapping(value) and "_target_" in value


def _scan(path: Path, value: Any) -> Optional[str]:
    """The first secret under ``path`` (a config node or a parsed override value), as a message."""
    name = path[-1] if path else None
    raw = raw_node(value)
    if is_secret_name(name) and not _is_component(raw) and _holds_value(raw):
        return _secret_message(path)
    if name == "api_key_env" and isinstance(raw, str) and raw not in ("", "???"):
        if not _ENV_NAME.match(raw) and not (raw.startswith("${") and raw.endswith("}")):
            return _env_name_message(path)
    if isinstance(raw, str):
        return _url_message(path) if _URL_USERINFO.search(raw) else None
    sweep_items = _sweep_items(raw)
    if sweep_items is not None:
        for item in sweep_items:
            found = _scan(path, item)
            if found:
                return found
        return None
    for key, child in children(raw):
        found = _scan((*path, key), child)
        if found:
            return found
    return None


def check_no_secrets(cfg: DictConfig) -> None:
    """Refuse a credential anywhere in the composed config, naming its key (never its value).

    A non-null value under a key named like a credential (``model.extra.api_key``, ``...token``,
    ``...password``; not ``api_key_env``), a URL with a user name or password in any string, and an
    ``api_key_env`` that is not a variable name.  Values are read unresolved.  Raises ConfigError.
    """
    found = _scan((), cfg)
    if found:
        raise ConfigError(found)


def _sweep_items(value: Any) -> Optional[list[Any]]:
    """The values of a parsed Hydra sweep (``a,b``, ``choice(..)``, ``glob(..)``); None for anything else."""
    items = getattr(value, "list", None)
    if isinstance(items, list) and type(value).__name__.endswith("Sweep"):
        return items
    if type(value).__name__ == "Glob":
        return list(getattr(value, "include", [])) + list(getattr(value, "exclude", []))
    return None


# Hydra's own command-line options that take a value (the next argument when not written with =).
_VALUE_FLAGS = frozenset({"-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir",
                          "-p", "--package", "-c", "--cfg", "--experimental-rerun"})
_INFO_FLAGS = frozenset({"-i", "--info"})
_INFO_CHOICES = frozenset({"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"})


def _override_path(key: str) -> Path:
    key = key.split("@", 1)[0]
    return tuple(int(p) if p.isdigit() else p for p in key.split(".") if p)


def _check_override(parser: Any, arg: str) -> Optional[str]:
    try:
        override = parser.parse_overrides([arg])[0]
        path = _override_path(override.key_or_group)
        value = override.value()
    except Exception:  # noqa: BLE001 - an override Hydra cannot parse: fall back on its text
        key, sep, value = arg.lstrip("+~").partition("=")
        path = _override_path(key.strip())
        if sep and value.strip() and value.strip() != "null":
            if any(is_secret_name(part) for part in path):
                return _secret_message(path)
        return _url_message(path or ("the command line",)) if _URL_USERINFO.search(arg) else None
    if any(is_secret_name(part) for part in path[:-1]) and _holds_value(value):
        # e.g. model.extra.headers.Authorization.x=... : the whole node is a credential
        first = next(i for i, part in enumerate(path) if is_secret_name(part))
        return _secret_message(path[: first + 1])
    found = _scan(path, value) if path else None
    if found:
        return found
    if _URL_USERINFO.search(arg):
        return _url_message(path or ("the command line",))
    return None


def check_command_line(args: Sequence[str]) -> Optional[str]:
    """The one-line error for a credential in the raw command-line overrides, or None.

    ``args`` are the arguments of ``selfinstruct ...`` (``sys.argv[1:]``), looked at before Hydra
    composes anything, so that nothing is written and Hydra's own messages (which echo the value)
    never appear.  ``+``/``++``/``~`` prefixes, sweeps (``a,b``) and dict/list values are read with
    Hydra's own override parser; Hydra's options (``-m``, ``--config-dir DIR`` ...) are skipped.
    The message names the key, never the value.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if "=" not in arg and flag in _VALUE_FLAGS:
                skip_next = True
            elif "=" not in arg and flag in _INFO_FLAGS and i + 1 < len(args) and args[i + 1] in _INFO_CHOICES:
                skip_next = True
            continue
        found = _check_override(parser, arg)
        if found:
            return found
    return None
