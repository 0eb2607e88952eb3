"""The loopback server in a process of its own (``model.loopback.process=true``).

In the run's own process the simulated server's threads share the interpreter lock with the client,
so on a small machine a fast run measures the two together.  In a child process the server has its
own interpreter, as a real provider would: benchmarks then measure the pipeline, not the simulator.
The child is started with ``python -m selfinstruct.simulated`` (the same options, as flags), dies
with its parent (Linux: a parent-death signal), and every wait on it is bounded.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import fields
from typing import Any

from selfinstruct.simulated.options import ServerOptions

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


def option_flags(options: ServerOptions) -> list[str]:
    """``options`` as ``python -m selfinstruct.simulated`` flags (only those that differ from the defaults)."""
    default = ServerOptions()
    flags: list[str] = []
    for f in fields(ServerOptions):
        value = getattr(options, f.name)
        if value == getattr(default, f.name) or value is None:
            continue
        if isinstance(value, (tuple, list)):
            value = ",".join(map(str, value))
        flags += [f"--{f.name.replace('_', '-')}", str(value)]
    return flags


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux only: the child gets SIGTERM when the run's process dies, even by ``kill -9``."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LoopbackProcess:
    """Same interface as ``LoopbackServer`` (start() -> base URL, stop()), served by a child process."""

    def __init__(self, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self._proc: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def start(self) -> str:
        if self._proc is not None:
            raise RuntimeError("server already started")
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "selfinstruct.simulated", *option_flags(self.options)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, preexec_fn=preexec,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = self._first_line()
        return self.url

    def _first_line(self) -> str:
        """The child's first stdout line (its URL), waited for at most START_TIMEOUT_S."""
        assert self._proc is not None and self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if sel.select(timeout=0.2):
                    line = self._proc.stdout.readline().strip()
                    if line.startswith("http"):
                        return line
                    break
                if self._proc.poll() is not None:
                    break
        code = self._proc.poll()
        self.stop()
        raise RuntimeError(f"the simulated server process did not start (exit {code}); "
                           f"run `python -m selfinstruct.simulated` to see why")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> LoopbackProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
