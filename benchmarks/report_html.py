"""report.html at scale: its size, the time to write it, and the time headless Chromium takes to show it.

Two run directories:

- a real run of N instructions (default 5,000) on the bundled simulated model, made with the
  ``selfinstruct`` command (stages bootstrap, classify, instances, finetune, report; no latency, the
  cache off), or the one given with ``--run DIR``;
- a synthetic run of 50,000 instructions (``--synthetic``), written directly as JSONL: plausible
  records of every file the page shows (instructions with 10 most-similar pool instructions each,
  rejected candidates, 1-3 instances per task, classify answers, a 200-instance audit, 2 x 40 ratings).

For each: report.html's size; the time to write it (``selfinstruct.report.html.write_html``: read the
run, build the data, render, write); in Debian's /usr/bin/chromium driven by Playwright (headless, no
network), the time from navigation to the first rows on screen, and the time a search takes to update
the list (typing a common and a rare word; measured in the page, from the input event to the rows drawn).

    python benchmarks/report_html.py [--n 5000] [--run DIR] [--synthetic 50000] [--keep DIR] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from selfinstruct.report.html import write_html
from selfinstruct.rundir import (
    AUDIT_FILE,
    CLASSIFY_FILE,
    EVALUATION_FILE,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    METRICS_FILE,
    REJECTED_FILE,
)

ENTRY = "from selfinstruct.cli import main; main()"
STAGES = "pipeline.stages=[bootstrap,classify,instances,finetune,report]"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REPEATS = 3  # page loads and searches per run: the median is shown

VERBS = ["Write", "Explain", "Summarize", "Classify", "List", "Describe", "Translate", "Generate", "Rewrite",
         "Identify", "Compare", "Suggest", "Create", "Find", "Give", "Plan", "Compose", "Convert"]
OBJECTS = ["a short poem", "the main idea", "a product description", "the sentiment", "three examples", "a recipe",
           "a cover letter", "the following sentence", "a travel itinerary", "a haiku", "an email", "a summary",
           "a list of tips", "a SQL query", "a Python function", "the key differences", "a story", "a headline"]
TOPICS = ["the ocean", "remote work", "a rainy afternoon", "machine learning", "a city council meeting", "budgeting",
          "gardening in spring", "a job interview", "climate change", "a birthday party", "learning French",
          "the history of tea", "public transport", "a museum visit", "healthy breakfast", "time management"]
WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
         "they you were her she there been one all we their has would when if so no what up out who them some "
         "could him into its then two more these about time can only new other people now like very just any").split()


def run_pipeline(n: int, run_dir: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", ENTRY, "model=loopback", f"schedule.num_instructions={n}", STAGES,
                           "cache.enabled=false", "model.loopback.latency_ms=0", f"hydra.run.dir={run_dir}"],
                          text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"selfinstruct exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def synthesize(n: int, run_dir: Path, seed: int = 1) -> None:
    """A plausible run directory of ``n`` accepted instructions (no LLM, no filter: JSONL written directly)."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    texts: list[str] = []
    rounds_per = 16 * 0.7  # about 11 accepted per round of 16 requests
    with (run_dir / INSTRUCTIONS_FILE).open("w", encoding="utf-8") as ins, \
         (run_dir / INSTANCES_FILE).open("w", encoding="utf-8") as inst, \
         (run_dir / CLASSIFY_FILE).open("w", encoding="utf-8") as cls, \
         (run_dir / REJECTED_FILE).open("w", encoding="utf-8") as rej:
        for i in range(n):
            text = (f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} about {rng.choice(TOPICS)}"
                    f"{'' if rng.random() < 0.5 else ' for ' + rng.choice(TOPICS)} ({i}).")
            pool = rng.sample(texts, min(10, len(texts))) if texts else []
            scores = sorted((round(rng.uniform(0.1, 0.69), 6) for _ in pool), reverse=True)
            most = dict(zip(pool, scores))
            r = int(i / rounds_per)
            is_cls = rng.random() < 0.2
            ins.write(json.dumps({"id": f"machine_task_{i}", "instruction": text, "round": r,
                                  "max_similarity": scores[0] if scores else 0.0, "most_similar": most,
                                  "is_classification": is_cls}) + "\n")
            instances = [{"input": "" if rng.random() < 0.6 else _sentence(rng, rng.randint(5, 30)),
                          "output": rng.choice(["positive", "negative", "neutral"]) if is_cls
                          else _sentence(rng, rng.randint(10, 60))} for _ in range(rng.randint(1, 3))]
            inst.write(json.dumps({"id": f"machine_task_{i}", "instruction": text, "is_classification": is_cls,
                                   "instances": instances, "truncated": False}) + "\n")
            cls.write(json.dumps({"id": f"machine_task_{i}", "is_classification": is_cls, "parsed": True,
                                  "answer": "yes" if is_cls else "no"}) + "\n")
            for _ in range(rng.choices([0, 1, 2], [0.6, 0.3, 0.1])[0]):
                reason = rng.choices(["rouge", "length", "keywords", "punctuation"], [0.8, 0.1, 0.07, 0.03])[0]
                rej.write(json.dumps({"instruction": text.replace(f"({i})", f"again ({i})"), "reason": reason,
                                      "score": round(rng.uniform(0.7, 1.0), 6) if reason == "rouge" else None,
                                      "round": r}) + "\n")
            texts.append(text)
    with (run_dir / INSTANCES_FILE).open(encoding="utf-8") as handle:
        tasks = [json.loads(line) for line in handle]
    audit = []
    for t in sorted(rng.sample(range(n), min(200, n))):
        task = tasks[t]
        k = rng.randrange(len(task["instances"]))
        answers = [rng.random() < p for p in (0.92, 0.79, 0.58)]
        audit.append({"id": f"{task['id']}#{k}", "task_id": task["id"], "instruction": task["instruction"],
                      **task["instances"][k], "valid_instruction": answers[0], "appropriate_input": answers[1],
                      "acceptable_output": answers[2], "all_valid": all(answers),
                      "reasons": {"valid_instruction": "clear", "appropriate_input": "fits",
                                  "acceptable_output": "correct" if answers[2] else "wrong"}})
    (run_dir / AUDIT_FILE).write_text("".join(json.dumps(a) + "\n" for a in audit), encoding="utf-8")
    ratings = []
    for model in ("openai/gpt-3.5-turbo", "tuned"):
        for j in range(40):
            ratings.append({"id": f"user_task_{j}#0", "task": f"user_task_{j}", "instance": 0, "model": model,
                            "instruction": f"User task {j}: {_sentence(rng, 12)}", "input": "",
                            "reference": _sentence(rng, 40), "response": _sentence(rng, 60),
                            "rating": rng.choice("ABCD"), "reason": "judged"})
    (run_dir / EVALUATION_FILE).write_text("".join(json.dumps(r) + "\n" for r in ratings), encoding="utf-8")
    (run_dir / METRICS_FILE).write_text(json.dumps({"model": "synthetic", "simulated_model": True,
                                                    "notice": "synthetic records written by benchmarks/report_html.py"}))


WAIT_DRAWN = """async (term) => {
  const q = document.getElementById("q");
  const t0 = performance.now();
  q.value = term;
  q.dispatchEvent(new Event("input"));
  await new Promise((done) => {
    const check = () => document.body.dataset.busy ? requestAnimationFrame(check) : done();
    requestAnimationFrame(check);
  });
  const ms = performance.now() - t0;
  return [ms, Number(document.getElementById("count").dataset.matches)];
}"""


def measure_page(browser: Any, path: Path, terms: list[str]) -> dict[str, Any]:
    loads, searches = [], {term: [] for term in terms}
    matches = {}
    for _ in range(REPEATS):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        started = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="commit")
        page.wait_for_selector("#list > .row")
        loads.append(time.perf_counter() - started)
        for term in terms:
            ms, found = page.evaluate(WAIT_DRAWN, term)
            searches[term].append(ms / 1000)
            matches[term] = found
            page.evaluate(WAIT_DRAWN, "")
        page.close()
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {"load_s": med(loads), "search_s": {t: med(v) for t, v in searches.items()}, "matches": matches}


def count_lines(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="instructions of the real (simulated-model) run")
    parser.add_argument("--run", type=Path, default=None, help="use this run directory instead of making one")
    parser.add_argument("--synthetic", type=int, default=50000, help="instructions of the synthetic run (0: none)")
    parser.add_argument("--keep", type=Path, default=None, help="make the run directories here and keep them")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    where = args.keep or Path(tempfile.mkdtemp(prefix="report_html_"))
    where.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, Path]] = []
    if args.run is not None:
        runs.append(("given run", args.run))
    elif args.n:
        run_dir = where / f"run_{args.n}"
        if not (run_dir / INSTRUCTIONS_FILE).is_file():
            wall = run_pipeline(args.n, run_dir)
            print(f"made {run_dir} with the simulated model in {wall:.1f} s", file=sys.stderr)
        runs.append(("simulated model", run_dir))
    if args.synthetic:
        run_dir = where / f"synthetic_{args.synthetic}"
        started = time.perf_counter()
        synthesize(args.synthetic, run_dir)
        print(f"wrote {run_dir} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        runs.append(("synthetic", run_dir))

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for label, run_dir in runs:
            started = time.perf_counter()
            path = write_html(run_dir)
            write_s = time.perf_counter() - started
            result = measure_page(browser, path, ["the", "zebra"] if label != "synthetic" else ["poem", "(4999"])
            jsonl = sum((run_dir / f).stat().st_size for f in (INSTRUCTIONS_FILE, REJECTED_FILE, INSTANCES_FILE,
                                                               CLASSIFY_FILE, AUDIT_FILE, EVALUATION_FILE)
                        if (run_dir / f).is_file())
            rows.append((label, count_lines(run_dir / INSTRUCTIONS_FILE),
                         count_lines(run_dir / REJECTED_FILE) if (run_dir / REJECTED_FILE).is_file() else 0,
                         path.stat().st_size, jsonl, write_s, result))
        browser.close()

    print(f"\nreport.html, headless Chromium ({args.chromium}); load and search: median of {REPEATS}\n")
    print("| run | instructions | rejected | report.html | its JSONL inputs | write | load to first rows "
          "| search (matches): time to update |")
    print("| :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |")
    for label, n, rejected, size, jsonl, write_s, result in rows:
        searches = "; ".join(f"'{t}' ({result['matches'][t]:,}): {s * 1000:.0f} ms" for t, s in result["search_s"].items())
        print(f"| {label} | {n:,} | {rejected:,} | {size / 1e6:.1f} MB | {jsonl / 1e6:.1f} MB | {write_s:.2f} s "
              f"| {result['load_s']:.2f} s | {searches} |")
    if args.keep is None:
        print(f"\n(run directories in {where}; pass --keep DIR to choose where)", file=sys.stderr)


if __name__ == "__main__":
    main()
