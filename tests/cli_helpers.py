"""Run the real ``selfinstruct`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ENTRY = "from selfinstruct.cli import main; main()"


def _cli_env(env: dict[str, str | None] | None, extra_path: str | None = None) -> dict[str, str]:
    """The test's environment without provider keys, plus ``env`` (a None value removes a variable)."""
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    if extra_path:
        full_env["PYTHONPATH"] = extra_path
    return full_env


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str | None] | None = None, timeout: float = 240,
            extra_path: str | None = None) -> subprocess.CompletedProcess[str]:
    """``selfinstruct ARGS`` with the test interpreter; ``env`` entries are added (None removes)."""
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=_cli_env(env, extra_path),
                          capture_output=True, text=True, timeout=timeout)


def start_cli(args: list[str], *, cwd: Path, env: dict[str, str | None] | None = None) -> subprocess.Popen[str]:
    """``selfinstruct ARGS`` started in the background (for tests that act while it runs)."""
    return subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=_cli_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
