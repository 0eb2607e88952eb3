"""model.loopback.process=true: the simulated server runs in a child process (the client has the
interpreter to itself, as with a real provider). Same replies as the in-thread server; the child never
outlives the run, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from selfinstruct.simulated import ServerOptions
from selfinstruct.simulated.cli import build_parser, options_from_args
from selfinstruct.simulated.process import LoopbackProcess, option_flags
from tests.cli_helpers import run_cli, start_cli

FILES = ("instructions.jsonl", "rejected.jsonl", "classify.jsonl", "instances.jsonl", "finetune/alpaca.json")


def _args(run_dir: Path, *extra: str) -> list[str]:
    return ["model=loopback", "schedule.num_instructions=40", f"hydra.run.dir={run_dir}", "cache.enabled=false",
            "pipeline.stages=[bootstrap,classify,instances,finetune]", "+model.loopback.options.keyword_rate=0.2",
            *extra]


def test_option_flags_round_trip_through_the_server_command_line() -> None:
    options = ServerOptions(latency_ms=12.5, latency_dist="lognormal", latency_p99_ms=80.0, seed=7,
                            faults=("429", "500"), keyword_rate=0.2, batch_polls=2, finetune_fail="boom")
    assert options_from_args(build_parser().parse_args(option_flags(options))) == options
    assert option_flags(ServerOptions()) == []


def test_a_run_served_from_a_child_process_writes_the_same_files(tmp_path: Path) -> None:
    thread = run_cli(_args(tmp_path / "thread"), cwd=tmp_path)
    child = run_cli(_args(tmp_path / "child", "model.loopback.process=true"), cwd=tmp_path)
    assert thread.returncode == 0 and child.returncode == 0, thread.stderr[-2000:] + child.stderr[-2000:]
    assert "(its own process)" in child.stderr and "(its own process)" not in thread.stderr
    for name in FILES:
        assert (tmp_path / "thread" / name).read_bytes() == (tmp_path / "child" / name).read_bytes(), name


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to find the server's process")
def test_the_server_process_dies_with_a_killed_run(tmp_path: Path) -> None:
    proc = start_cli(_args(tmp_path / "run", "model.loopback.process=true", "model.loopback.latency_ms=200",
                           "schedule.num_instructions=2000"), cwd=tmp_path)
    deadline, server = time.monotonic() + 60, None
    while time.monotonic() < deadline and server is None:
        time.sleep(0.2)
        server = next(iter(_children(proc.pid)), None)
    assert server is not None, "the run started no server process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(server):
        time.sleep(0.1)
    assert not _alive(server), "the simulated server outlived its run"


def test_start_fails_with_one_line_when_the_child_cannot_serve() -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        LoopbackProcess(ServerOptions(host="256.0.0.1")).start()
