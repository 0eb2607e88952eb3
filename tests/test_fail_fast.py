"""Fail fast, fail clearly, never hang: what retries cannot fix stops the run with one line naming the cause.

Each test bounds the process with a subprocess timeout (a hang fails the test); none asserts a duration.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import read_json, read_lines, run_cli, start_cli

KEY = {"OPENAI_API_KEY": "sk-test-failfast"}


def _args(url: str, run_dir: Path, n: int, *extra: str) -> list[str]:
    return ["model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            f"hydra.run.dir={run_dir}", *extra]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "[ERROR]" in line or line.startswith("selfinstruct: error")]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_endpoint_stops_the_run_naming_model_api_base(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    result = run_cli(_args(url, tmp_path / "run", 20), cwd=tmp_path, env=KEY, timeout=60)
    assert result.returncode == 2
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and f"model.api_base={url}" in errors[0] and "connection" in errors[0].lower()
    assert "InternalServerError" not in result.stderr and "loosen the filters" not in result.stderr
    calls = read_lines(tmp_path / "run" / "llm_calls.jsonl") if (tmp_path / "run" / "llm_calls.jsonl").exists() else []
    assert all(c["outcome"] != "ok" for c in calls)
    assert read_json(tmp_path / "run" / "run.json")["ended"] == "error"


def test_a_context_window_error_stops_at_once_quoting_the_provider(llm_server, tmp_path: Path) -> None:
    server = llm_server(faults="context", fault_rate=1.0)
    result = run_cli(_args(server.url, tmp_path / "run", 20, "model.max_concurrency=4"), cwd=tmp_path, env=KEY)
    assert result.returncode == 2
    assert server.stats()["requests"] <= 4
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "maximum context length" in errors[0]
    assert "loosen the filters" not in result.stderr


@pytest.mark.parametrize("override, key", [
    ("model.max_concurrency=0", "model.max_concurrency"),
    ("model.max_concurrency=-5", "model.max_concurrency"),
    ("model.timeout_s=-1", "model.timeout_s"),
    ("+schedule.typo=1", "schedule.typo"),
    ("+schedule.num_instrucions=5", "schedule.num_instructions"),
])
def test_bad_values_are_refused_in_one_line_naming_the_key(tmp_path: Path, override: str, key: str) -> None:
    result = run_cli(["model=loopback", f"hydra.run.dir={tmp_path / 'run'}", override], cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and key in errors[0], result.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_long_retry_after_fails_quoting_the_providers_wait(llm_server, tmp_path: Path) -> None:
    server = llm_server(faults="429", fault_rate=1.0, retry_after_s=3600)
    result = run_cli(_args(server.url, tmp_path / "run", 20), cwd=tmp_path, env=KEY, timeout=60)
    assert result.returncode == 2
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "3600" in errors[0] and "model.max_retry_after_s" in errors[0]


def test_sigterm_during_a_backoff_exits_at_once_with_the_resume_line(llm_server, tmp_path: Path) -> None:
    server = llm_server(faults="500", fault_rate=1.0)
    run_dir = tmp_path / "run"
    proc = start_cli(_args(server.url, run_dir, 20, "model.retry_base_s=300", "model.retry_max_s=600",
                           "model.max_concurrency=2"), cwd=tmp_path, env=KEY)
    assert server.wait_for_requests(2, timeout=60, process=proc)  # both first attempts failed: now backing off
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=20)  # a 300 s backoff, cut short
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 143
    assert "Resume with" in stderr and f"hydra.run.dir={run_dir}" in stderr
    assert server.stats()["requests"] == 2


def test_a_round_where_no_reply_arrived_is_not_blamed_on_the_filters(llm_server, tmp_path: Path) -> None:
    server = llm_server(faults="500", fault_rate=1.0)
    result = run_cli(_args(server.url, tmp_path / "run", 20, "model.max_retries=1", "model.retry_base_s=0.01",
                           "model.retry_max_s=0.02", "schedule.requests_per_round=2"), cwd=tmp_path, env=KEY)
    assert result.returncode == 2
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "every request" in errors[0] and "InternalServerError" in errors[0]
    assert "loosen the filters" not in result.stderr


def test_a_directory_selfinstruct_did_not_write_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "theirs"
    run_dir.mkdir()
    (run_dir / "report.md").write_text("somebody's report\n")
    (run_dir / "metrics.json").write_text("{}\n")
    result = run_cli(["model=loopback", "schedule=smoke", f"hydra.run.dir={run_dir}"], cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "hydra.run.dir" in errors[0] and "report.md" in errors[0]
    assert (run_dir / "report.md").read_text() == "somebody's report\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["metrics.json", "report.md"]


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    return done.returncode == 0


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A 1 MB tmpfs (needs root and mount rights: skipped with the reason otherwise)."""
    where = tmp_path / "tmpfs"
    if os.geteuid() != 0 or not _mount_tmpfs(where, "1m"):
        pytest.skip("mounting a tmpfs needs root and mount rights in this sandbox")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


STAGES = "pipeline.stages=[bootstrap,classify,instances,finetune]"
COMPARED = ["instructions.jsonl", "rejected.jsonl", "rounds.jsonl", "classify.jsonl", "instances.jsonl",
            "finetune/alpaca.json", "finetune/openai_chat.jsonl"]


def test_a_full_disk_under_the_run_stops_in_one_line_and_resumes_identically(llm_server, small_tmpfs: Path,
                                                                           tmp_path: Path) -> None:
    server = llm_server(seed=51)
    args = [STAGES, "model.max_concurrency=8"]
    reference = run_cli(_args(server.url, tmp_path / "ref", 1000, *args), cwd=tmp_path, env=KEY)
    assert reference.returncode == 0, reference.stderr[-2000:]
    run_dir = small_tmpfs / "run"
    full = run_cli(_args(server.url, run_dir, 1000, *args), cwd=tmp_path, env=KEY)
    assert full.returncode == 2, full.stderr[-2000:]
    errors = _error_lines(full.stderr)
    assert len(errors) == 1 and "no space left on device" in errors[0] and str(run_dir) in errors[0]
    assert "resume with" in errors[0] and "Traceback" not in full.stderr
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    resumed = run_cli(_args(server.url, run_dir, 1000, *args), cwd=tmp_path, env=KEY)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name in COMPARED:
        assert (run_dir / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_a_full_disk_under_the_cache_is_a_warning_and_the_run_finishes(llm_server, small_tmpfs: Path,
                                                                       tmp_path: Path) -> None:
    filler = small_tmpfs / "filler"
    with filler.open("wb") as handle:  # fill the tmpfs to the last byte
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    server = llm_server(seed=52)
    result = run_cli(_args(server.url, tmp_path / "run", 20, STAGES, f"cache.dir={small_tmpfs / 'cache'}"),
                     cwd=tmp_path, env=KEY)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "response cache" in line and "WARNING" in line]
    assert len(warnings) == 1
    assert len(read_lines(tmp_path / "run" / "instructions.jsonl")) == 20


def test_files_of_a_finished_run_follow_the_umask_and_no_temp_file_remains(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "finetune").mkdir(parents=True)
    (run_dir / "run.json").write_text('{"invocations": []}\n')  # a selfinstruct run killed earlier ...
    (run_dir / "finetune" / ".alpaca.json.abcd1234.tmp").write_text("half")  # ... left its temp files
    (run_dir / ".metrics.json.x1y2z3w4.tmp").write_text("half")
    result = subprocess.run(_cli_command(["model=loopback", "schedule=smoke", f"hydra.run.dir={run_dir}"]),
                            cwd=tmp_path, capture_output=True, text=True, timeout=240,
                            preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr[-2000:]
    files = [p for p in run_dir.rglob("*") if p.is_file() and p.name != ".selfinstruct.lock"]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o644)}
    assert not [p for p in run_dir.rglob("*.tmp")]


def _cli_command(args: list[str]) -> list[str]:
    import sys

    from tests.cli_helpers import ENTRY

    return [sys.executable, "-c", ENTRY, *args]
