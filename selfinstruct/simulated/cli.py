"""``python -m selfinstruct.simulated``: serve the simulated model until SIGTERM/SIGINT.

The first stdout line is the base URL (``http://127.0.0.1:PORT/v1``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields

from selfinstruct.simulated.options import DEFAULT_FAULTS, FAULT_KINDS, ServerOptions
from selfinstruct.simulated.options import LATENCY_DISTS
from selfinstruct.simulated.server import LoopbackServer


def _parse_faults(text: str) -> tuple[str, ...]:
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in faults if f not in FAULT_KINDS]
    if bad or not faults:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {bad}; choose from {','.join(FAULT_KINDS)}")
    return faults


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be within [0, 1]")
    return value


def _polls(flag: str) -> Callable[[str], int]:
    """An argparse type for ``flag``: a whole number of retrieves, at least 1."""
    def parse(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be >= 1")
        return value
    parse.__name__ = "int"  # argparse's message for a non-number: "invalid int value: 'x'"
    return parse


def build_parser() -> argparse.ArgumentParser:
    d = ServerOptions()
    p = argparse.ArgumentParser(prog="python -m selfinstruct.simulated",
                                description="Loopback OpenAI-compatible LLM server for selfinstruct tests.")
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    p.add_argument("--latency-ms", type=float, default=d.latency_ms)
    p.add_argument("--latency-dist", choices=LATENCY_DISTS, default=d.latency_dist,
                   help="fixed: every reply waits --latency-ms; lognormal: --latency-ms is the median")
    p.add_argument("--latency-p99-ms", type=float, default=d.latency_p99_ms,
                   help="99th percentile of the latency with --latency-dist lognormal")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--fault-rate", type=_rate, default=d.fault_rate)
    p.add_argument("--faults", type=_parse_faults, default=d.faults,
                   help=f"comma-separated subset of {','.join(FAULT_KINDS)} (default {','.join(DEFAULT_FAULTS)})")
    p.add_argument("--slow-s", type=float, default=d.slow_s, help="delay of a 'timeout' fault")
    p.add_argument("--retry-after-s", type=float, default=d.retry_after_s)
    p.add_argument("--near-copy-rate", type=_rate, default=d.near_copy_rate)
    p.add_argument("--keyword-rate", type=_rate, default=d.keyword_rate)
    p.add_argument("--short-rate", type=_rate, default=d.short_rate)
    p.add_argument("--bad-start-rate", type=_rate, default=d.bad_start_rate)
    p.add_argument("--truncate-rate", type=_rate, default=d.truncate_rate)
    p.add_argument("--conflict-rate", type=_rate, default=d.conflict_rate,
                   help="per instance reply: two examples share an input but not the output")
    p.add_argument("--empty-output-rate", type=_rate, default=d.empty_output_rate, help="per example")
    p.add_argument("--colon-rate", type=_rate, default=d.colon_rate,
                   help="per example: the input or output ends with a colon")
    p.add_argument("--duplicate-rate", type=_rate, default=d.duplicate_rate,
                   help="per instance reply: one example repeated exactly")
    p.add_argument("--same-io-rate", type=_rate, default=d.same_io_rate,
                   help="per example with an input: the output equals the input")
    p.add_argument("--answer-quality", type=_rate, default=d.answer_quality,
                   help="evaluate:respond: higher gives more answers the simulated judge rates A")
    p.add_argument("--judge-garbage-rate", type=_rate, default=d.judge_garbage_rate,
                   help="audit / evaluate:rate: share of judge replies with no verdict")
    p.add_argument("--packed-garbage-rate", type=_rate, default=d.packed_garbage_rate,
                   help="classify:packed: share of packed replies that are malformed (items missing or unclear)")
    p.add_argument("--finetune-polls", type=_polls("--finetune-polls"), default=d.finetune_polls,
                   help="fine-tuning API: retrieves of a job until it succeeds (or fails)")
    p.add_argument("--finetune-fail", default=d.finetune_fail,
                   help="fine-tuning API: non-empty makes every job end 'failed' with this message")
    p.add_argument("--finetune-quality-gain", type=_rate, default=d.finetune_quality_gain,
                   help="evaluate:respond: answer quality gained by a fine-tuned ('ft:...') model")
    p.add_argument("--batch-polls", type=_polls("--batch-polls"), default=d.batch_polls,
                   help="batch API: retrieves of a batch until it completes (or fails)")
    p.add_argument("--batch-line-fail-rate", type=_rate, default=d.batch_line_fail_rate,
                   help="batch API: share of a batch's lines that fail (error file)")
    p.add_argument("--batch-fail", default=d.batch_fail,
                   help="batch API: non-empty makes every batch end 'failed' with this message")
    p.add_argument("--log", default=None, help="append one JSON line per request")
    return p


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    names = {f.name for f in fields(ServerOptions)}
    return ServerOptions(**{k: v for k, v in vars(args).items() if k in names})


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the base URL is the first stdout line."""
    options = options_from_args(build_parser().parse_args(argv))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with LoopbackServer(options) as server:
        print(server.url, flush=True)
        while not done.wait(0.5):
            pass
    return 0

