"""Throughput of the LLM layer against the loopback server with a fixed latency.

For concurrency 1, 8, 32 and 64: requests per second, the share of the ideal (concurrency /
latency), and CPU milliseconds per request spent in this process (the server runs in another
process).  The baseline is the original scripts' way: one blocking request at a time.  A last
row measures LiteLLM's own async call without our layer, to show what bounds the CPU cost.

    python benchmarks/throughput.py [--latency-ms 500] [--waves 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from selfinstruct.config import ModelConfig  # noqa: E402
from selfinstruct.llm.client import LLMClient  # noqa: E402
from selfinstruct.llm.litellm_import import import_litellm  # noqa: E402

SAMPLING = {"temperature": 0.7, "max_tokens": 256, "stop": ["\n\n"]}


def _prompt(i: int) -> list[dict[str, str]]:
    demos = "\n".join(f"{k + 1}. Describe task number {i * 8 + k} in one sentence." for k in range(8))
    return [{"role": "user", "content": f"Come up with a series of tasks:\n{demos}\n9."}]


def start_server(latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "selfinstruct.simulated", "--port", "0",
                             "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def ours(url: str, concurrency: int, n: int, offset: int) -> tuple[float, float]:
    model = ModelConfig(name="openai/bench", max_concurrency=concurrency, timeout_s=60)
    client = LLMClient(model, api_base=url, api_key="bench-no-key")
    await client.complete(_prompt(offset - 1), SAMPLING)  # warm-up: connection and LiteLLM's lazy imports
    wall, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(client.complete(_prompt(offset + i), SAMPLING) for i in range(n)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return wall, cpu


async def litellm_alone(url: str, concurrency: int, n: int, offset: int) -> tuple[float, float]:
    litellm = import_litellm()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await litellm.acompletion(model="openai/bench", api_base=url, api_key="x", messages=_prompt(i),
                                      num_retries=0, **SAMPLING)

    await one(offset - 1)
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(offset + i) for i in range(n)))
    return time.perf_counter() - wall, time.process_time() - cpu


def one_at_a_time(url: str, n: int, offset: int) -> tuple[float, float]:
    litellm = import_litellm()
    litellm.completion(model="openai/bench", api_base=url, api_key="x", messages=_prompt(offset - 1), num_retries=0, **SAMPLING)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        litellm.completion(model="openai/bench", api_base=url, api_key="x", messages=_prompt(offset + i),
                           num_retries=0, **SAMPLING)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--waves", type=int, default=4, help="requests per run = concurrency x waves")
    parser.add_argument("--pairs", type=int, default=5,
                        help="paired runs at concurrency 64 (ours, then LiteLLM alone) for the CPU comparison")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    proc, url = start_server(args.latency_ms)
    rows = []
    try:
        n_base = 8
        wall, cpu = one_at_a_time(url, n_base, 10_000)
        baseline = n_base / wall
        rows.append(("one at a time (original)", 1, n_base, wall, baseline, 1 / latency, cpu / n_base))
        for i, concurrency in enumerate((1, 8, 32, 64)):
            n = concurrency * args.waves if concurrency > 1 else 8
            wall, cpu = asyncio.run(ours(url, concurrency, n, 100_000 * (i + 1)))
            rows.append(("selfinstruct LLMClient", concurrency, n, wall, n / wall, concurrency / latency, cpu / n))
        n = 64 * args.waves
        wall, cpu = asyncio.run(litellm_alone(url, 64, n, 900_000))
        rows.append(("litellm.acompletion alone", 64, n, wall, n / wall, 64 / latency, cpu / n))
        pairs = [paired_cpu(url, 64 * args.waves, 2_000_000 + 10_000 * k) for k in range(args.pairs)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"loopback server latency {args.latency_ms} ms; {os.cpu_count()} cores")
    header = (f"{'client':<27}{'conc.':>6}{'requests':>9}{'wall s':>8}{'req/s':>8}{'% ideal':>9}"
              f"{'x baseline':>11}{'CPU ms/req':>11}")
    print(header)
    print("-" * len(header))
    for name, conc, n, wall, rate, ideal, cpu in rows:
        print(f"{name:<27}{conc:>6}{n:>9}{wall:>8.2f}{rate:>8.1f}{100 * rate / ideal:>8.1f}%"
              f"{rate / baseline:>11.1f}{cpu * 1000:>11.2f}")
    print_pairs(pairs, 64 * args.waves)


def paired_cpu(url: str, n: int, offset: int) -> tuple[float, float]:
    """CPU ms per request at concurrency 64: our client, then LiteLLM alone, back to back."""
    _, ours_cpu = asyncio.run(ours(url, 64, n, offset))
    _, bare_cpu = asyncio.run(litellm_alone(url, 64, n, offset + 5_000))
    return 1000 * ours_cpu / n, 1000 * bare_cpu / n


def print_pairs(pairs: list[tuple[float, float]], n: int) -> None:
    """The client's CPU cost over LiteLLM's own (issue 17's target: within 10%), as the median of pairs."""
    if not pairs:
        return
    ratios = sorted(o / b for o, b in pairs)
    print(f"\nCPU ms per request at concurrency 64, {len(pairs)} paired runs of {n} requests "
          f"(our LLMClient, then litellm.acompletion alone):")
    print(f"{'pair':>5}{'ours':>8}{'litellm':>9}{'ours/litellm':>14}")
    for k, (o, b) in enumerate(pairs, 1):
        print(f"{k:>5}{o:>8.2f}{b:>9.2f}{o / b:>14.3f}")
    print(f"median ours/litellm: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
