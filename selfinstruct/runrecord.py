"""The run directory as an experiment record: run.json (versions, seeds hash, times, outcome) and the lock.

The lock is an flock on ``.selfinstruct.lock``: the kernel drops it when the process dies, even by
SIGKILL, so a stale lock never blocks a resume, while a second live run on the same directory is
refused at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from selfinstruct import __version__
from selfinstruct.data import reporting_disk_full, write_json_atomic
from selfinstruct.errors import SelfInstructError
from selfinstruct.resources import PACKAGE_DIR, REPO_DIR
from selfinstruct.rundir import HYDRA_CONFIG_FILE, LOCK_FILE, RUN_FILE

# Any of these marks a directory as a selfinstruct run (run.json and the lock since 0.1; .hydra/ before)
RUN_MARKERS = (RUN_FILE, LOCK_FILE, HYDRA_CONFIG_FILE)


def check_run_directory(run_dir: Path) -> None:
    """A run directory is new (absent or empty) or a selfinstruct run to resume; anything else is refused,
    so a mistyped hydra.run.dir never overwrites somebody's report.md or metrics.json."""
    if not run_dir.is_dir():
        if run_dir.exists():
            raise SelfInstructError(f"hydra.run.dir={run_dir}: not a directory")
        return
    entries = sorted(p.name for p in run_dir.iterdir())
    if not entries or any((run_dir / marker).exists() for marker in RUN_MARKERS):
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise SelfInstructError(
        f"hydra.run.dir={run_dir}: holds files selfinstruct did not write ({shown}); "
        f"choose a new or empty directory, or a selfinstruct run directory to resume")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunLock:
    """Exclusive use of a run directory for the life of this process."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SelfInstructError(
                f"{self.path.parent}: another selfinstruct run is using this directory ({holder}); "
                f"wait for it to finish or choose another hydra.run.dir"
            ) from None
        self._handle = handle
        with reporting_disk_full(self.path):
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {platform.node()}\n")
            handle.flush()

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _git_commit() -> str | None:
    """The project's commit when running from a checkout (not from an installed wheel)."""
    if not (REPO_DIR / ".git").exists() or (PACKAGE_DIR / "conf").is_dir():
        return None
    try:
        out = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunRecord:
    """run.json: one entry per invocation on this directory, rewritten atomically."""

    def __init__(self, run_dir: Path, seeds_path: Path, overrides: list[str]) -> None:
        self.path = run_dir / RUN_FILE
        previous: dict[str, Any] = {}
        if self.path.exists():
            try:
                previous = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                previous = {}
        self.data: dict[str, Any] = {
            "selfinstruct": __version__,
            "litellm": _version("litellm"),
            "python": platform.python_version(),
            "git_commit": _git_commit(),
            "seeds_path": str(seeds_path),
            "seeds_sha256": sha256_file(seeds_path),
            "invocations": previous.get("invocations", []),
        }
        self.current: dict[str, Any] = {"started_at": now(), "ended_at": None, "ended": "running",
                                        "command": ["selfinstruct", *overrides],
                                        # where it ran: sweeps on joblib or Slurm run jobs on other processes and hosts
                                        "host": platform.node(), "pid": os.getpid()}
        if os.environ.get("SLURM_JOB_ID"):
            self.current["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
        self.data["invocations"].append(self.current)

    @property
    def invocation(self) -> int:
        """This invocation's index in run.json's ``invocations`` (0 for a new run)."""
        return len(self.data["invocations"]) - 1

    def note(self, invocation: int, **fields: Any) -> None:
        """Add facts to an invocation's entry (e.g. an earlier one's requests that never saw a reply)."""
        if 0 <= invocation < len(self.data["invocations"]):
            self.data["invocations"][invocation].update(fields)

    def start(self) -> None:
        self._write()

    def finish(self, ended: str, detail: str | None = None) -> None:
        """``ended``: done, budget, interrupted or error."""
        self.current.update(ended_at=now(), ended=ended, detail=detail)
        self.data["ended"] = ended
        self._write()

    def _write(self) -> None:
        self.data["started_at"] = self.data["invocations"][0]["started_at"]
        self.data["ended_at"] = self.current["ended_at"]
        write_json_atomic(self.path, self.data)
