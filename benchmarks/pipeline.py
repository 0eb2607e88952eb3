"""The whole pipeline offline: how close to the ideal it runs, and tokens and $ per 1,000 accepted.

Runs the real ``selfinstruct`` command, as a user would, on the bundled simulated model with a
long latency tail (lognormal, median 500 ms, p99 2.5 s), ``model.max_concurrency=64``, the cache
off, stages bootstrap, classify, instances, finetune; for N = 1,000 and 5,000 instructions.

From each run's ``llm_calls.jsonl`` and ``metrics.json``, per stage and overall:

- requests, and the stage's wall time (``metrics.json``: the stage's ``wall_s``);
- ideal = the sum of the stage's logged request latencies (``latency_s``) / the concurrency: the
  time the stage would take if every slot were busy from its first request to its last;
- % of ideal = ideal / wall (the target of issue 17: >= 85% overall, bootstrap included);
- prompt and completion tokens and $ per 1,000 accepted instructions at gpt-4o-mini's list prices
  (LiteLLM's ``model_cost``), for: (a) paper settings; (b) + classify packing, K=10
  (``stages.classify.pack=10``); (b') (b) with the cached prompt tokens at the cached price; (b2) (b) +
  instances packing, K=4 (``stages.instances.pack=4``); (c) (b2) in batch mode (``model.batch=true``,
  batch prices); and estimate rows (the same tokens at batch prices).

The simulated server runs in its own process (``model.loopback.process=true``; ``--in-process`` for
the old way), so the run's client has the interpreter to itself, as with a real provider.
``--window W`` adds runs with ``stages.bootstrap.window=W`` (the bootstrap with no round barrier).

The simulated model counts a token as a word, so token counts are of the simulated text, not of a
real tokenizer.

    python benchmarks/pipeline.py [--n 1000 5000] [--window 256] [--batch] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from selfinstruct.config import CONFIG_DIR  # noqa: E402
from selfinstruct.llm.litellm_import import import_litellm  # noqa: E402

ENTRY = "from selfinstruct.cli import main; main()"
STAGES = ["bootstrap", "classify", "instances", "finetune"]
CONCURRENCY = 64
MEDIAN_MS, P99_MS = 500, 2500
PRICED_MODEL = "gpt-4o-mini"
INSTANCES_PACK = 4  # stages.instances.pack of rows (b2) and (c)
# the simulated server in its own process (model.loopback.process): the run's client then has the
# interpreter to itself, as with a real provider; --in-process measures the two sharing it
SERVER_PROCESS = "true"


def _overrides(n: int, run_dir: Path, *extra: str) -> list[str]:
    return ["model=loopback", f"pipeline.stages=[{','.join(STAGES)}]", f"schedule.num_instructions={n}",
            "cache.enabled=false", f"model.max_concurrency={CONCURRENCY}",
            f"model.loopback.latency_ms={MEDIAN_MS}", "+model.loopback.options.latency_dist=lognormal",
            f"+model.loopback.options.latency_p99_ms={P99_MS}", f"model.loopback.process={SERVER_PROCESS}",
            f"hydra.run.dir={run_dir}", *extra]


def run_pipeline(n: int, run_dir: Path, *extra: str) -> float:
    """Run the selfinstruct command; return its wall time (process start to exit)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", ENTRY, *_overrides(n, run_dir, *extra)], text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"selfinstruct exited {proc.returncode} for N={n} {extra}:\n{proc.stderr[-3000:]}")
    return wall


def classify_pack_exists() -> bool:
    """True once the classify stage has a ``pack`` key (packing K instructions per request)."""
    from omegaconf import OmegaConf

    stage = OmegaConf.load(Path(CONFIG_DIR) / "stages" / "classify.yaml").get("classify", {})
    return "pack" in stage


def analyse(run_dir: Path) -> dict:
    """Per stage: requests, wall, ideal, tokens; plus accepted and the latency sample."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    calls = [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines() if line.strip()]
    stages = {}
    for name in STAGES:
        mine = [c for c in calls if c.get("stage") == name and not c.get("cache_hit")]
        latency = sum(float(c.get("latency_s") or 0.0) for c in mine)
        stages[name] = {"requests": len(mine), "wall_s": float(metrics.get(name, {}).get("wall_s") or 0.0),
                        "ideal_s": latency / CONCURRENCY,
                        "prompt_tokens": sum(int(c.get("prompt_tokens") or 0) for c in mine),
                        "cached_prompt_tokens": sum(int(c.get("cached_prompt_tokens") or 0) for c in mine),
                        "completion_tokens": sum(int(c.get("completion_tokens") or 0) for c in mine)}
    others = {c.get("stage") for c in calls} - set(STAGES)
    latencies = sorted(float(c.get("latency_s") or 0.0) for c in calls if not c.get("cache_hit"))
    return {"stages": stages, "accepted": int(metrics["bootstrap"]["accepted"]), "run_wall_s": metrics.get("wall_s"),
            "latencies": latencies, "other_stages": sorted(map(str, others))}


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def print_ideal(n: int, result: dict, process_wall: float) -> None:
    lat = result["latencies"]
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0
    print(f"\n### N={n:,}: % of ideal (concurrency {CONCURRENCY}, lognormal latency median {MEDIAN_MS} ms, "
          f"p99 {P99_MS} ms)")
    print(f"accepted {result['accepted']:,}; logged request latency: median {statistics.median(lat) if lat else 0:.3f} s, "
          f"p99 {p99:.3f} s over {len(lat):,} requests; run wall (metrics.json) {result['run_wall_s']:.1f} s, "
          f"process wall {process_wall:.1f} s")
    print()
    print("| stage | requests | wall s | ideal s | % of ideal |")
    print("| :--- | ---: | ---: | ---: | ---: |")
    total = {"requests": 0, "wall_s": 0.0, "ideal_s": 0.0}
    for name, s in result["stages"].items():
        print(f"| {name} | {s['requests']:,} | {s['wall_s']:.1f} | {s['ideal_s']:.1f} | {_pct(s['ideal_s'], s['wall_s'])} |")
        for key in total:
            total[key] += s[key]
    print(f"| **overall** (sum of stages) | {total['requests']:,} | {total['wall_s']:.1f} | {total['ideal_s']:.1f} "
          f"| {_pct(total['ideal_s'], total['wall_s'])} |")


def prices() -> dict[str, float]:
    cost = import_litellm().model_cost[PRICED_MODEL]
    return {"in": cost["input_cost_per_token"], "out": cost["output_cost_per_token"],
            "in_batch": cost["input_cost_per_token_batches"], "out_batch": cost["output_cost_per_token_batches"],
            "in_cached": cost.get("cache_read_input_token_cost", cost["input_cost_per_token"])}


def cost_rows(label: str, result: dict, price_in: float, price_out: float,
              price_cached: float | None = None) -> list[str]:
    """One row per stage and a total: tokens and $ per 1,000 accepted (``price_cached``: the price of
    the prompt tokens the provider's prefix cache served; None: they cost as any prompt token)."""
    per = 1000 / result["accepted"]
    rows, tp, tc, total = [], 0.0, 0.0, 0.0
    for name, s in result["stages"].items():
        if not s["requests"]:
            continue
        p, c = s["prompt_tokens"] * per, s["completion_tokens"] * per
        cached = s.get("cached_prompt_tokens", 0) * per if price_cached is not None else 0.0
        usd = (p - cached) * price_in + cached * (price_cached or 0.0) + c * price_out
        tp, tc, total = tp + p, tc + c, total + usd
        rows.append(f"| {label} | {name} | {p / 1e6:.3f}M | {c / 1e6:.3f}M | ${usd:.4f} |")
    rows.append(f"| {label} | **total** | {tp / 1e6:.3f}M | {tc / 1e6:.3f}M | **${total:.4f}** |")
    return rows


def print_costs(n: int, paper: dict, packed: dict | None, batched: dict | None = None,
                both: dict | None = None) -> None:
    pr = prices()
    print(f"\n### N={n:,}: tokens and $ per 1,000 accepted instructions, {PRICED_MODEL} list prices "
          f"(input ${pr['in'] * 1e6:.3f}/M, output ${pr['out'] * 1e6:.3f}/M; batch input ${pr['in_batch'] * 1e6:.3f}/M, "
          f"output ${pr['out_batch'] * 1e6:.3f}/M)")
    print()
    print("| setting | stage | prompt tokens | completion tokens | $ |")
    print("| :--- | :--- | ---: | ---: | ---: |")
    for row in cost_rows("(a) paper settings (pack=1)", paper, pr["in"], pr["out"]):
        print(row)
    if packed is None:
        print("| (b) + classify packing K=10 | not available yet (no stages.classify.pack) | | | |")
    else:
        for row in cost_rows("(b) + classify packing K=10", packed, pr["in"], pr["out"]):
            print(row)
    if packed is not None:
        for row in cost_rows("(b') (b) with cached prompt tokens at the cached price", packed, pr["in"], pr["out"],
                             pr["in_cached"]):
            print(row)
    if both is not None:
        for row in cost_rows(f"(b2) (b) + instances packing K={INSTANCES_PACK}", both, pr["in"], pr["out"]):
            print(row)
    if batched is None:
        print("| (c) + batch (model.batch=true) | not run (--batch) | | | |")
    else:
        # batch prices throughout: cached prompt tokens are not counted at a further discount in a batch
        for row in cost_rows(f"(c) (b2) + batch mode (model.batch=true), batch prices", batched, pr["in_batch"],
                             pr["out_batch"]):
            print(row)
    for row in cost_rows("estimate, not measured: (a)'s tokens at batch prices", paper, pr["in_batch"], pr["out_batch"]):
        print(row)
    if packed is not None:
        for row in cost_rows("estimate, not measured: (b)'s tokens at batch prices", packed, pr["in_batch"],
                             pr["out_batch"]):
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000], help="instructions per run")
    parser.add_argument("--quick", action="store_true", help="N=200 only")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    parser.add_argument("--window", type=int, nargs="*", default=[],
                        help="also run with stages.bootstrap.window=W (the bootstrap with no round barrier)")
    parser.add_argument("--no-paper", action="store_true", help="skip the paper-settings run (with --window)")
    parser.add_argument("--batch", action="store_true", help="also run (b) in batch mode (model.batch=true)")
    parser.add_argument("--in-process", action="store_true",
                        help="serve the simulated model from a thread of the run's process (model.loopback.process=false)")
    args = parser.parse_args()
    global SERVER_PROCESS
    SERVER_PROCESS = "false" if args.in_process else "true"
    sizes = [200] if args.quick else args.n
    packing = classify_pack_exists()
    print(f"selfinstruct pipeline on the simulated model, stages {','.join(STAGES)}; {os.cpu_count()} cores; "
          f"{datetime.date.today().isoformat()}")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = args.keep or Path(tmp)
        for n in sizes:
            for window in args.window:
                window_dir = root / f"n{n}-window{window}"
                wall = run_pipeline(n, window_dir, f"stages.bootstrap.window={window}")
                print(f"\nstages.bootstrap.window={window} (no round barrier):")
                print_ideal(n, analyse(window_dir), wall)
                sys.stdout.flush()
            if args.no_paper:
                continue
            paper_dir = root / f"n{n}-paper"
            wall = run_pipeline(n, paper_dir)
            paper = analyse(paper_dir)
            print_ideal(n, paper, wall)
            packed = both = None
            if packing:
                packed_dir = root / f"n{n}-pack10"
                run_pipeline(n, packed_dir, "stages.classify.pack=10")
                packed = analyse(packed_dir)
                both_dir = root / f"n{n}-pack10-inst{INSTANCES_PACK}"
                run_pipeline(n, both_dir, "stages.classify.pack=10", f"stages.instances.pack={INSTANCES_PACK}")
                both = analyse(both_dir)
            batched = None
            if args.batch and packing:
                batched_dir = root / f"n{n}-pack10-inst{INSTANCES_PACK}-batch"
                run_pipeline(n, batched_dir, "stages.classify.pack=10", f"stages.instances.pack={INSTANCES_PACK}",
                             "model.batch=true", "model.batch_poll_s=0.05", "model.batch_poll_max_s=0.05")
                batched = analyse(batched_dir)
            print_costs(n, paper, packed, batched, both)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
