"""The paper's near-duplicate filter at scale: the exact ROUGE-L index against rouge-score brute force.

Streams instructions through the Self-Instruct filter (keep a candidate only if its ROUGE-L F
against every pool instruction is <= 0.7; kept ones join the pool), first the real corpora, then
a synthetic stream, and prints one table:

    python benchmarks/dedup.py --corpus ../shared/data [--synthetic 1000000] [--skip-synthetic]

Real stream: the seed tasks (seed_tasks.jsonl) go into the pool first, unfiltered, as the
bootstrap stage does; then every ``*.json`` list in the corpus directory, in file-name order, is
streamed through the filter (about 21,000 instructions written by GPT-3/GPT-4).

Synthetic stream (ours, for scale; see README.md): the real instructions as templates (the tool
description of tool-use prompts dropped), half of them spliced with the tail of another;
every word outside the corpus's 300 most frequent ones is re-drawn from a growing vocabulary (a
Simon / preferential-attachment process seeded with the corpus's own content words, new words at
the rate that gives the corpus's Heaps exponent, 0.45); 12% of items are near-copies of a recent
item (geometric number of one-word edits), on top of the near-duplicates the templates make.

Columns: our wall time (the index, this process, tokenizing included; generating and loading
excluded); rouge-score brute force: the original scripts' way, every candidate against every pool
instruction with ``rouge_scorer._score_lcs`` on pre-tokenized instructions, on one core (the
original spreads it over a process pool), measured for the first 1,000 and 3,000 candidates and
beyond that extrapolated from the exact number of pairs the stream needs at the measured rate;
decisions: compared with a brute-force scan (rouge-score itself up to 3,000; above that an
independent exact scan: rouge-score's tokenizer and rapidfuzz's LCS against every pool item; in
full for the real stream, on a random sample of positions for the synthetic one); peak RSS of the
process that ran the index (each measurement runs in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

THRESHOLD = 0.7
SYNTHETIC_SEED = 1
SAMPLE_CHECKS = 300
MEASURED = (1000, 3000)


# ------------------------------------------------------------------------------------------- data

def load_real(corpus: Path) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """Seed instructions, the streamed instructions, and (file, count) of each streamed file."""
    seeds_path = corpus / "seed_tasks.jsonl"
    if not seeds_path.is_file():
        raise SystemExit(f"no seed_tasks.jsonl in {corpus}")
    seeds = [json.loads(line)["instruction"] for line in seeds_path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    stream, sources = [], []
    for path in sorted(corpus.glob("*.json")):
        records = json.loads(path.read_text(encoding="utf-8"))
        texts = [r["instruction"] for r in records if isinstance(r, dict) and isinstance(r.get("instruction"), str)]
        stream += texts
        sources.append((path.name, len(texts)))
    if not stream:
        raise SystemExit(f"no *.json instruction lists in {corpus}")
    return seeds, stream, sources


_RUN = re.compile(r"[a-z0-9]+")
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "pe", "du", "ga", "ri", "zo", "be", "fu", "ha",
              "an", "el", "or", "is"]


def _new_word(k: int) -> str:
    word, k = "", k + 400
    while k:
        word += _SYLLABLES[k % 20]
        k //= 20
    return word


def synthetic_stream(texts: list[str], n: int, seed: int = SYNTHETIC_SEED, function_words: int = 300,
                     heaps: float = 0.45, near_copies: float = 0.12, splice: float = 0.5,
                     chunk: int = 5000) -> list[str]:
    """A deterministic stream of ``n`` instruction-like texts built from ``texts`` (see the module doc)."""
    rng = np.random.default_rng(seed)
    tokens = [_RUN.findall(t.lower()) for t in texts]
    df: dict[str, int] = {}
    for toks in tokens:
        for w in set(toks):
            df[w] = df.get(w, 0) + 1
    frequent = set(sorted(df, key=lambda w: (-df[w], w))[:function_words])
    words = sorted({w for toks in tokens for w in toks if w not in frequent})
    word_id = {w: i for i, w in enumerate(words)}
    bag = np.array([word_id[w] for toks in tokens for w in toks if w not in frequent], dtype=np.int64)
    lines = [t.strip().splitlines()[-1] if t.startswith("toolformer:") else t for t in texts]
    templates = [t.split() for t in lines if _RUN.search(t.lower())]
    out: list[str] = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        new_rate = heaps * len(words) / len(bag)  # Heaps' law: dV/dT = beta * V / T
        draws = bag[rng.integers(0, len(bag), (stop - start) * 80)]
        novel = rng.random((stop - start) * 80) < new_rate
        grown: list[int] = []
        d = 0
        for i in range(start, stop):
            if i and rng.random() < near_copies:
                copy = out[int(rng.integers(max(0, i - 50000), i))].split(" ")
                for _ in range(int(rng.geometric(0.5)) - 1):
                    at, op = int(rng.integers(0, len(copy) + 1)), int(rng.integers(0, 3))
                    word = words[int(draws[d % len(draws)])]
                    d += 1
                    if op == 0 and at < len(copy):
                        copy[at] = word
                    elif op == 1 and at < len(copy) and len(copy) > 1:
                        del copy[at]
                    else:
                        copy.insert(at, word)
                out.append(" ".join(copy))
                continue
            template = templates[int(rng.integers(0, len(templates)))]
            if rng.random() < splice:
                other = templates[int(rng.integers(0, len(templates)))]
                cut, tail = int(rng.integers(1, len(template) + 1)), int(rng.integers(0, len(other)))
                template = template[:cut] + other[tail:]
            result = []
            for word in template:
                runs = _RUN.findall(word.lower())
                if len(runs) == 1 and runs[0] not in frequent:
                    j = d % len(draws)
                    d += 1
                    if novel[j]:
                        k = len(words)
                        words.append(_new_word(k))
                    else:
                        k = int(draws[j])
                    grown.append(k)
                    result.append(word.lower().replace(runs[0], words[k], 1))
                else:
                    result.append(word)
            out.append(" ".join(result))
        bag = np.concatenate([bag, np.array(grown, dtype=np.int64)])
    return out


def stream_for(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    seeds, real, _ = load_real(Path(args.corpus))
    if args.stream == "real":
        return seeds, real[: args.n] if args.n else real
    return seeds, synthetic_stream(seeds + real, args.n)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------ the phases

def phase_ours(args: argparse.Namespace) -> dict:
    from selfinstruct.filters.rouge_index import RougeLIndex

    started = time.perf_counter()
    seeds, stream = stream_for(args)
    prepared = time.perf_counter() - started
    checkpoints = sorted({c for c in (1000, 3000, 10000, 100000) if c < len(stream)} | {len(stream)})
    index = RougeLIndex(threshold=THRESHOLD, top_k=10, floor=args.floor)
    wall = time.perf_counter()
    index.add_all(seeds)
    keep = np.zeros(len(stream), dtype=bool)
    pool_before = np.zeros(len(stream), dtype=np.int64)
    marks, done = [], 0
    for stop in checkpoints:
        for i in range(done, stop):
            pool_before[i] = len(index)
            keep[i] = index.check_and_add(stream[i]).keep
        done = stop
        marks.append({"n": stop, "wall": time.perf_counter() - wall, "rss": peak_rss_mib(),
                      "kept": int(keep[:stop].sum()), "pairs": int(pool_before[:stop].sum())})
    np.save(args.out, keep)
    return {"checkpoints": marks, "prepare_s": prepared, "seeds": len(seeds)}


def phase_rouge_score(args: argparse.Namespace) -> dict:
    """The original scripts' filter: rouge-score's LCS against every pool instruction, one core."""
    from rouge_score import rouge_scorer

    seeds, stream = stream_for(args)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    score_lcs = rouge_scorer._score_lcs
    started = time.perf_counter()
    pool = [scorer._tokenizer.tokenize(s) for s in seeds]
    keep, pairs = [], 0
    for text in stream:
        tokens = scorer._tokenizer.tokenize(text)
        best = max((score_lcs(other, tokens).fmeasure for other in pool), default=0.0)
        pairs += len(pool)
        keep.append(best <= THRESHOLD)
        if keep[-1]:
            pool.append(tokens)
    np.save(args.out, np.array(keep, dtype=bool))
    return {"wall": time.perf_counter() - started, "pairs": pairs}


class _ExactScan:
    """An independent exact filter: rouge-score's tokenizer, rapidfuzz's LCS against every pool item."""

    def __init__(self) -> None:
        from rouge_score.tokenizers import DefaultTokenizer

        self.tokenize = DefaultTokenizer(use_stemmer=False).tokenize
        self.ids: dict[str, str] = {}
        self.pool: list[str] = []

    def encode(self, text: str) -> str:
        out = []
        for token in self.tokenize(text):
            char = self.ids.get(token)
            if char is None:
                code = len(self.ids) + 1
                char = self.ids[token] = chr(code + 0x800 if code >= 0xD800 else code)
            out.append(char)
        return "".join(out)

    def best(self, text: str, pool_size: int | None = None) -> float:
        from rapidfuzz import process
        from rapidfuzz.distance import LCSseq

        from selfinstruct.filters.rouge_index import rouge_l_f_array

        query = self.encode(text)
        pool = self.pool if pool_size is None else self.pool[:pool_size]
        if not pool or not query:
            return 0.0
        lcs = process.cdist([query], pool, scorer=LCSseq.similarity, dtype=np.int32, workers=-1)[0]
        lengths = np.fromiter((len(p) for p in pool), dtype=np.int64, count=len(pool))
        return float(rouge_l_f_array(lcs, len(query), lengths).max())


def phase_scan(args: argparse.Namespace) -> dict:
    """Decisions of the exact scan: for every position (real) or a random sample of positions."""
    seeds, stream = stream_for(args)
    scan = _ExactScan()
    started = time.perf_counter()
    scan.pool = [scan.encode(s) for s in seeds]
    if args.sample:
        ours = np.load(args.ours)  # the sampled check replays our pool: kept items in stream order
        kept_order = [i for i in range(len(stream)) if ours[i]]
        scan.pool += [scan.encode(stream[i]) for i in kept_order]
        kept_before = np.concatenate(([0], np.cumsum(ours)))
        positions = sorted(random.Random(7).sample(range(len(stream)), min(args.sample, len(stream))))
        agree = sum(bool(ours[i]) == (scan.best(stream[i], len(seeds) + int(kept_before[i])) <= THRESHOLD)
                    for i in positions)
        return {"wall": time.perf_counter() - started, "checked": len(positions), "agree": int(agree)}
    keep = []
    for text in stream:
        keep.append(scan.best(text) <= THRESHOLD)
        if keep[-1]:
            scan.pool.append(scan.encode(text))
    np.save(args.out, np.array(keep, dtype=bool))
    return {"wall": time.perf_counter() - started}


PHASES = {"ours": phase_ours, "rouge-score": phase_rouge_score, "scan": phase_scan}


def run_phase(corpus: str, phase: str, stream: str, n: int, out: Path, **extra: object) -> dict:
    """One measurement in a fresh process, so that its peak RSS is its own."""
    cmd = [sys.executable, __file__, "--corpus", corpus, "--phase", phase, "--stream", stream, "--n", str(n),
           "--out", str(out)]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ table

def _seconds(s: float) -> str:
    if s < 100:
        return f"{s:.2f} s"
    if s < 2 * 3600:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="directory with seed_tasks.jsonl and *.json lists")
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="synthetic stream length")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--floor", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--stream", choices=("real", "synthetic"), default="real", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--ours", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child process: one measurement, its result as one JSON line
        result = PHASES[args.phase](args)
        result["rss"] = peak_rss_mib()
        print(json.dumps(result))
        return
    corpus = str(Path(args.corpus).resolve())
    seeds, real, sources = load_real(Path(corpus))
    print(f"corpus {corpus}: {len(seeds)} seeds into the pool, then {len(real):,} instructions from "
          + ", ".join(f"{name} ({count:,})" for name, count in sources), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="dedup-bench-"))
    rows = []

    # rouge-score itself, on the first 1,000 and 3,000 candidates: the measured baseline
    brute: dict[int, dict] = {}
    for n in MEASURED:
        brute[n] = run_phase(corpus, "rouge-score", "real", n, tmp / f"rs{n}.npy")
        print(f"rouge-score brute force, first {n:,}: {brute[n]['wall']:.1f} s, {brute[n]['pairs']:,} pairs",
              flush=True)
    rate = brute[MEASURED[-1]]["pairs"] / brute[MEASURED[-1]]["wall"]  # pairs per second, one core

    scan = run_phase(corpus, "scan", "real", 0, tmp / "scan.npy")
    scan_keep = np.load(tmp / "scan.npy")
    print(f"exact scan of the real stream: {scan['wall']:.1f} s", flush=True)
    for floor in (0.0, THRESHOLD):
        ours = run_phase(corpus, "ours", "real", 0, tmp / f"real{floor}.npy", floor=floor)
        keep = np.load(tmp / f"real{floor}.npy")
        for mark in ours["checkpoints"]:
            n = mark["n"]
            if n in brute:
                reference = np.load(tmp / f"rs{n}.npy")
                cost, how = brute[n]["wall"], "measured"
                check = f"{int((reference == keep[:n]).sum()):,}/{n:,} (rouge-score)"
            else:
                cost, how = mark["pairs"] / rate, "extrapolated"
                check = f"{int((scan_keep[:n] == keep[:n]).sum()):,}/{n:,} (exact scan)"
            rows.append(("real", floor, n, mark["kept"], mark["wall"], cost, how, check, mark["rss"]))
        print(f"index, real stream, floor {floor}: {ours['checkpoints'][-1]['wall']:.2f} s", flush=True)

    if not args.skip_synthetic:
        ours = run_phase(corpus, "ours", "synthetic", args.synthetic, tmp / "syn.npy", floor=THRESHOLD)
        print(f"index, synthetic stream: {ours['checkpoints'][-1]['wall']:.1f} s "
              f"(+{ours['prepare_s']:.0f} s to generate it)", flush=True)
        sample = run_phase(corpus, "scan", "synthetic", args.synthetic, tmp / "unused.npy",
                           ours=tmp / "syn.npy", sample=SAMPLE_CHECKS)
        for mark in ours["checkpoints"]:
            n = mark["n"]
            check = (f"{sample['agree']}/{sample['checked']} sampled (exact scan)" if n == args.synthetic else "")
            rows.append(("synthetic", THRESHOLD, n, mark["kept"], mark["wall"], mark["pairs"] / rate,
                         "extrapolated", check, mark["rss"]))

    print()
    print(f"rouge-score brute force rate on this machine: {rate:,.0f} pairs/s on one core")
    print("floor 0.0: max score and top-10 exact over the whole pool; floor 0.7: decision exact, "
          "top-10 exact among scores >= 0.7")
    print()
    print("| stream | N | kept | floor | ours (wall) | rouge-score brute force | speed-up | "
          "decisions identical to brute force | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for stream, floor, n, kept, wall, cost, how, check, rss in rows:
        mark = "" if how == "measured" else "~"
        note = "" if how == "measured" else " (extrapolated)"
        print(f"| {stream} | {n:,} | {kept:,} | {floor:.1f} | {_seconds(wall)} | {mark}{_seconds(cost)}{note} | "
              f"{mark}{cost / wall:,.0f}x | {check} | {rss:,.0f} MiB |")


if __name__ == "__main__":
    main()
