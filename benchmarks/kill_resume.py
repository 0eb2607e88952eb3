"""Kill -9 a full pipeline run at random moments, rerun the same command each time, and compare.

Starts two loopback servers with the same seed: one serves an uninterrupted reference run, the
other a run that is SIGKILLed ``--kills`` times at random moments and then run to the end.
Prints where each kill landed and checks the final files against the reference.

    python benchmarks/kill_resume.py [--n 300] [--kills 10] [--seed 7] [--window W]

``--window W`` runs the bootstrap with no round barrier (``stages.bootstrap.window=W``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ENTRY = "from selfinstruct.cli import main; main()"
FILES = ["instructions.jsonl", "rejected.jsonl", "rounds.jsonl", "classify.jsonl", "instances.jsonl",
         "finetune/prompt_completion.jsonl", "finetune/alpaca.json", "finetune/openai_chat.jsonl", "finetune/sharegpt.json"]


def server(seed: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "selfinstruct.simulated", "--port", "0", "--seed", str(seed),
                             "--latency-ms", "40"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def served(url: str) -> int:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats") as response:
        return json.load(response)["requests"]


def command(url: str, run_dir: Path, n: int, window: int | None = None) -> list[str]:
    return [sys.executable, "-c", ENTRY, "model.name=openai/sim", f"model.api_base={url}", f"schedule.num_instructions={n}",
            "pipeline.stages=[bootstrap,classify,instances,finetune]", f"hydra.run.dir={run_dir}",
            *([f"stages.bootstrap.window={window}"] if window else [])]


def stage_of(run_dir: Path) -> str:
    """Where the run was when it died, judged from its files."""
    for name, label in (("finetune/alpaca.json", "finetune"), ("instances.jsonl", "instances"),
                        ("classify.jsonl", "classify"), ("rounds.jsonl", "bootstrap")):
        if (run_dir / name).exists():
            lines = (run_dir / name).read_text().count("\n") if name.endswith(".jsonl") else 0
            return f"{label} ({lines} lines)" if lines else label
    return "starting up"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--window", type=int, default=None, help="stages.bootstrap.window (no round barrier)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")} | {"OPENAI_API_KEY": "sk-local"}
    (ref_proc, ref_url), (kill_proc, kill_url) = server(31), server(31)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "a"), Path(tmp, "b")
        a.mkdir(), b.mkdir()
        try:
            started = time.perf_counter()
            subprocess.run(command(ref_url, a / "run", args.n, args.window), cwd=a, env=env, check=True, capture_output=True)
            duration = time.perf_counter() - started
            print(f"reference run: {duration:.1f} s, {served(ref_url)} requests")
            rng = random.Random(args.seed)
            for k in range(args.kills):
                proc = subprocess.Popen(command(kill_url, b / "run", args.n, args.window), cwd=b, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                moment = rng.uniform(1.0, duration)
                time.sleep(moment)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                print(f"kill {k + 1:>2} at {moment:5.2f} s: died in {stage_of(b / 'run')}")
            subprocess.run(command(kill_url, b / "run", args.n, args.window), cwd=b, env=env, check=True, capture_output=True)
            lines = [json.loads(line) for line in (b / "run" / "instructions.jsonl").read_text().splitlines()]
            print(f"final: {len(lines)} accepted, {len({r['id'] for r in lines})} distinct ids, "
                  f"{len({r['instruction'] for r in lines})} distinct instructions")
            for name in FILES:
                same = (a / "run" / name).read_bytes() == (b / "run" / name).read_bytes()
                print(f"  {name:<34} {'identical to the reference' if same else 'DIFFERS'}")
            print(f"requests served: killed run {served(kill_url)}, reference {served(ref_url)} "
                  f"(bound: reference + {args.kills} kills x 16 in flight = {served(ref_url) + args.kills * 16})")
        finally:
            ref_proc.terminate(), kill_proc.terminate()


if __name__ == "__main__":
    main()
