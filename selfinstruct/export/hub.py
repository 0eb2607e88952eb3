"""Push a run's finetune/ folder to the Hugging Face Hub as a (private by default) dataset repository.

One ``create_repo`` (``exist_ok``) and one ``create_commit`` of every file of the folder, through
``huggingface_hub``.  The token comes from an environment variable and is passed to ``HfApi`` only: it
is registered for redaction and never written, logged or printed.  The endpoint is the library's
(``HF_ENDPOINT``, else https://huggingface.co).  Every HTTP wait is bounded by ``timeout_s``.  Any
failure becomes one SelfInstructError line; nothing local is touched either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from selfinstruct import __version__
from selfinstruct.errors import SelfInstructError, one_line
from selfinstruct.secrets import redact, register_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    repo_url: str
    commit_url: str
    files: list[str]
    bytes: int
    endpoint: str


def folder_files(folder: Path) -> list[Path]:
    """Every file to upload under ``folder``, sorted: temporary files of an interrupted write (hidden
    names) and anything that is not a plain file are left out."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _bounded_session(timeout_s: float) -> None:
    """huggingface_hub's shared HTTP client waits forever by default: give it a timeout."""
    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils import _http

    def factory() -> "httpx2.Client":
        client = _http.default_client_factory()
        client.timeout = httpx2.Timeout(timeout_s)
        return client

    set_client_factory(factory)


def push_folder(folder: Path, repo_id: str, *, token: str, private: bool = True, timeout_s: float = 60.0,
                commit_message: str | None = None) -> PushResult:
    """Create the dataset repository if needed and commit every file of ``folder`` to it."""
    register_secret(token)
    try:
        from huggingface_hub import CommitOperationAdd, HfApi, constants
    except ImportError as exc:  # a core dependency: only a broken install gets here
        raise SelfInstructError(f"export.hub: huggingface_hub cannot be imported ({one_line(exc)}); "
                                f"reinstall selfinstruct") from None
    endpoint = constants.ENDPOINT
    for name in ("httpx2", "httpx"):  # one INFO line per HTTP request otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    files = folder_files(folder)
    if not files:
        raise SelfInstructError(f"{folder}: no files to push; run the finetune stage first")
    where = f"{endpoint}/datasets/{repo_id}"
    try:
        try:
            _bounded_session(timeout_s)
        except Exception as exc:  # noqa: BLE001 - a library change: push anyway, with its own defaults
            log.debug("push: could not bound the Hub client's timeouts: %s", exc)
        api = HfApi(endpoint=endpoint, token=token, library_name="selfinstruct", library_version=__version__)
        repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p))
                      for p in files]
        info = api.create_commit(repo_id, operations, repo_type="dataset",
                                 commit_message=commit_message or f"selfinstruct {__version__}: {folder.parent.name}")
    except SelfInstructError:
        raise
    except Exception as exc:  # noqa: BLE001 - HTTP, network, timeout, a refused README: one line, redacted
        raise SelfInstructError(redact(f"export.hub.repo_id: pushing {folder} to {where} failed: {one_line(exc)}; "
                                       f"nothing local was changed, rerun to retry")) from None
    return PushResult(repo_url=str(repo_url), commit_url=str(info.commit_url),
                      files=[p.relative_to(folder).as_posix() for p in files],
                      bytes=sum(p.stat().st_size for p in files), endpoint=endpoint)
