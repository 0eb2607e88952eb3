"""Shared fixtures: a loopback LLM server running as a real subprocess.

Tests that talk to the server through LiteLLM need it on a real socket in a
separate process (as `selfinstruct model=loopback` users will see it); the
`llm_server` factory starts as many as a test needs and always cleans up.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 15.0


@dataclass
class LLMServerHandle:
    """A running `python -m selfinstruct.simulated` process."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path | None = None
    stderr_path: Path | None = None
    args: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        """The server origin (the base URL without /v1)."""
        return self.url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/stats", timeout=5) as resp:
            return json.load(resp)

    def wait_for_requests(self, count: int, timeout: float, process: subprocess.Popen[str] | None = None) -> bool:
        """Poll /stats until the server has received ``count`` requests; False on timeout, or as soon as
        ``process`` (the run talking to it) has ended."""
        deadline = time.monotonic() + timeout
        while self.stats()["requests"] < count:
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                return False
            time.sleep(0.05)
        return True

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.root}/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=5).close()

    def log_lines(self) -> list[dict[str, Any]]:
        assert self.log_path is not None, "start the server with log=True or log=<path>"
        text = self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Signal the server and wait; returns its exit code (kills if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


def _cli_args(options: dict[str, Any]) -> list[str]:
    """fault_rate=1 -> ['--fault-rate', '1']; sequences become comma lists."""
    args: list[str] = []
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def _read_first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The URL line, without hanging the test if the server never prints it."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


def start_llm_server(workdir: Path, **options: Any) -> LLMServerHandle:
    """Start one server subprocess; log=True puts the log file in workdir."""
    options = {"fault_rate": 0.0, "latency_ms": 0, "seed": 0, **options}
    log_path = None
    if options.get("log") is True:
        options["log"] = workdir / "llm_server.log.jsonl"
    if options.get("log"):
        log_path = Path(options["log"])
    args = [sys.executable, "-m", "selfinstruct.simulated", "--port", "0", *_cli_args(options)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    fd, name = tempfile.mkstemp(prefix="llm_server.", suffix=".stderr", dir=workdir)
    stderr_path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                                   cwd=REPO_ROOT)
    handle = LLMServerHandle("", process, log_path, stderr_path, args)
    url = _read_first_line(process, START_TIMEOUT_S)
    if not url.startswith("http://"):
        handle.stop(signal.SIGKILL)
        raise RuntimeError(f"llm_server did not start ({args}): {stderr_path.read_text()}")
    handle.url = url
    return handle


@pytest.fixture
def llm_server(tmp_path: Path) -> Iterator[Callable[..., LLMServerHandle]]:
    """Factory: start(fault_rate=0.0, latency_ms=0, seed=0, **cli_options) -> handle."""
    started: list[LLMServerHandle] = []

    def start(**options: Any) -> LLMServerHandle:
        handle = start_llm_server(tmp_path, **options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def loopback_url(llm_server: Callable[..., LLMServerHandle]) -> str:
    """Base URL (ending in /v1) of one default loopback server."""
    return llm_server().url
