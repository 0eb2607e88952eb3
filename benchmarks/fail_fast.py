"""How fast does a run fail when nothing can succeed, and how fast does it stop when asked?

Runs the real ``selfinstruct`` command, as a user would, on the bundled simulated model (faults
set through ``model.loopback.options``) or a dead endpoint, and prints one row per scenario: exit
code, wall time (or time from SIGTERM to exit), the target, and whether it was met.

    python benchmarks/fail_fast.py [--repeat 3]

Targets (issue 13): a dead endpoint stops in 30 s with the defaults; a bad value is refused in 5 s;
a 429 asking to wait an hour stops the run in 60 s; SIGTERM during a backoff ends it in 5 s; a
400 context-window error is sent no more than model.max_concurrency times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = "from selfinstruct.cli import main; main()"
ENV = {**os.environ, "OPENAI_API_KEY": "sk-benchmark-no-key"}


def _cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=ENV, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _loopback(run_dir: Path, options: dict[str, str], *extra: str) -> list[str]:
    """The simulated model answering every request with a fault (options: its server's settings)."""
    return ["model=loopback", *(f"+model.loopback.options.{k}={v}" for k, v in options.items()),
            "model.loopback.fault_rate=1.0", f"hydra.run.dir={run_dir}", "cache.enabled=false", *extra]


def _attempts(run_dir: Path) -> int:
    path = run_dir / "llm_calls.jsonl"
    if not path.exists():
        return 0
    return sum(json.loads(line)["attempts"] for line in path.read_text().splitlines() if line.strip())


def timed(args: list[str], cwd: Path) -> tuple[int, float, str]:
    started = time.perf_counter()
    proc = _cli(args, cwd)
    _, stderr = proc.communicate(timeout=600)
    return proc.returncode, time.perf_counter() - started, stderr


def sigterm_in_backoff(cwd: Path, run_dir: Path) -> tuple[int, float, str]:
    """Start a run whose every request fails with a 500 and backs off 30 s, then SIGTERM it."""
    proc = _cli(_loopback(run_dir, {"faults": "[500]"}, "model.retry_base_s=30", "model.retry_max_s=60",
                          "schedule.num_instructions=20"), cwd)
    deadline = time.monotonic() + 120
    while _attempts_in_flight_log(run_dir) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(2.0)  # every first attempt has failed: all requests are sleeping in their backoff
    started = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, time.perf_counter() - started, stderr


def _attempts_in_flight_log(run_dir: Path) -> int:
    """The run has started sending once its spend record has a reservation."""
    path = run_dir / "spend.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        scenarios = [
            ("dead endpoint (127.0.0.1:9), defaults", 30.0,
             lambda d: timed(["model.name=openai/gpt-4o-mini", "model.api_base=http://127.0.0.1:9/v1",
                              f"hydra.run.dir={d}"], cwd), "model.api_base"),
            ("400 context window, concurrency 16", None,
             lambda d: timed(_loopback(d, {"faults": "[context]"}), cwd), "maximum context length"),
            ("model.max_concurrency=0", 5.0, lambda d: timed(["model=loopback", "model.max_concurrency=0",
                                                               f"hydra.run.dir={d}"], cwd), "model.max_concurrency"),
            ("model.timeout_s=-1", 5.0, lambda d: timed(["model=loopback", "model.timeout_s=-1",
                                                         f"hydra.run.dir={d}"], cwd), "model.timeout_s"),
            ("+schedule.typo=1", 5.0, lambda d: timed(["model=loopback", "+schedule.typo=1",
                                                       f"hydra.run.dir={d}"], cwd), "schedule.typo"),
            ("429 with Retry-After: 3600", 60.0,
             lambda d: timed(_loopback(d, {"faults": "[429]", "retry_after_s": "3600"}), cwd), "3600"),
            ("SIGTERM during a 30 s backoff (time after the signal)", 5.0,
             lambda d: sigterm_in_backoff(cwd, d), "Resume with"),
        ]
        for n, (name, target, run, expected) in enumerate(scenarios):
            wanted_exit = 143 if name.startswith("SIGTERM") else 2
            walls, codes, said, sent = [], set(), True, []
            for k in range(args.repeat):
                run_dir = cwd / f"s{n}_{k}"
                code, wall, stderr = run(run_dir)
                walls.append(wall)
                codes.add(code)
                said &= expected in stderr
                sent.append(_attempts(run_dir))
            said &= codes == {wanted_exit}
            met = (target is None or max(walls) <= target) and said
            if target is None:  # the context-window row is judged by what was sent
                met = said and max(sent) <= 16
            rows.append((name, ",".join(map(str, sorted(codes))), min(walls), statistics.median(walls), max(walls),
                         f"<= {target:g} s" if target else "<= 16 requests", max(sent), "yes" if met else "NO"))
    header = ("scenario", "exit", "min s", "median s", "max s", "target", "requests logged (max)", "met")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" :--- " if i == 0 else " ---: " for i in range(len(header))) + "|")
    for row in rows:
        name, code, lo, mid, hi, target, sent, met = row
        print(f"| {name} | {code} | {lo:.1f} | {mid:.1f} | {hi:.1f} | {target} | {sent} | {met} |")


if __name__ == "__main__":
    main()
