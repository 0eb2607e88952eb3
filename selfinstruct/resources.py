"""Where the bundled configs, prompt templates and seeds live.

A wheel ships the repo-root folders inside the package (``selfinstruct/conf`` ...);
a checkout or an editable install keeps them at the repository root.  Everything
that needs a bundled file asks here, so both layouts behave the same.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def bundled_dir(name: str) -> Path:
    """The folder ``name`` (conf, prompts, seeds): inside the package when installed, else the repo's."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else REPO_DIR / name


def resolve_path(path: str | Path, kind: str) -> Path:
    """A user path as given (absolute or relative to the working directory) if it exists,
    else the bundled file of that name under ``kind`` (``prompts`` or ``seeds``)."""
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return given
    bundled = bundled_dir(kind) / given
    return bundled if bundled.exists() else given
