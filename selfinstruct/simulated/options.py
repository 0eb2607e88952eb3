"""The simulated model's settings (``ServerOptions``, mirrored by the CLI flags) and fault kinds."""

from __future__ import annotations

from dataclasses import dataclass

MODEL_ID = "loopback"
# Every fault the server can simulate; --faults picks a subset (default: DEFAULT_FAULTS).
#   429        rate limited, with a Retry-After header (--retry-after-s)
#   500        internal server error
#   timeout    the reply is delayed by --slow-s
#   malformed  a 200 whose JSON body is cut in half
#   401        invalid key; the message echoes the request's Authorization header, as some providers do
#   500echo    internal error whose message quotes the Authorization header
#   context    400 context_length_exceeded, OpenAI's context-window error
FAULT_KINDS: tuple[str, ...] = ("429", "500", "timeout", "malformed", "401", "500echo", "context")
DEFAULT_FAULTS: tuple[str, ...] = ("429", "500", "timeout", "malformed")
CONTEXT_ERROR = ("This model's maximum context length is 8192 tokens. However, your messages resulted in "
                 "9000 tokens. Please reduce the length of the messages.")
RATE_FIELDS: tuple[str, ...] = (
    "fault_rate", "near_copy_rate", "keyword_rate", "short_rate", "bad_start_rate", "truncate_rate",
    "conflict_rate", "empty_output_rate", "colon_rate", "duplicate_rate", "same_io_rate",
    "answer_quality", "judge_garbage_rate", "finetune_quality_gain",
    "packed_garbage_rate", "batch_line_fail_rate",
)


@dataclass
class ServerOptions:
    """Everything that shapes the server's behaviour; mirrors the CLI flags."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    # "fixed": every reply waits latency_ms; "lognormal": latency_ms is the median and latency_p99_ms
    # the 99th percentile, drawn per request (keyed by seed and request number, so reproducible)
    latency_dist: str = "fixed"
    latency_p99_ms: float = 0.0
    seed: int = 0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = DEFAULT_FAULTS
    slow_s: float = 5.0
    retry_after_s: float = 1.0
    near_copy_rate: float = 0.1
    keyword_rate: float = 0.05
    short_rate: float = 0.05
    bad_start_rate: float = 0.04
    truncate_rate: float = 0.05
    conflict_rate: float = 0.05
    empty_output_rate: float = 0.05
    colon_rate: float = 0.05
    duplicate_rate: float = 0.05
    same_io_rate: float = 0.03
    # evaluate:respond: how good the simulated model's answers are (higher -> more rated A)
    answer_quality: float = 0.7
    # audit / evaluate:rate: share of judge replies with no verdict at all
    judge_garbage_rate: float = 0.0
    # classify:packed and instances:MODE:packed: share of packed replies that are malformed (prose, items
    # or sections missing or unclear); never a wrong label or another task's examples
    packed_garbage_rate: float = 0.0
    # fine-tuning API: retrieves of a job until it ends (validating_files -> queued -> running -> succeeded)
    finetune_polls: int = 3
    # non-empty: every job ends "failed" with this error message instead
    finetune_fail: str = ""
    # evaluate:respond: answer_quality gained by a fine-tuned ("ft:...") model, capped at 1
    finetune_quality_gain: float = 0.15
    # batch API: retrieves of a batch until it ends (validating -> in_progress -> completed)
    batch_polls: int = 3
    # batch API: share of a batch's lines that fail (error file), drawn per custom_id and attempt
    batch_line_fail_rate: float = 0.0
    # batch API: non-empty makes every batch end "failed" with this message instead
    batch_fail: str = ""
    log: str | None = None

    def __post_init__(self) -> None:
        # Configs may hand over "429,500", a bare 429 or a list; normalise to strings.
        raw = self.faults.split(",") if isinstance(self.faults, str) else self.faults
        raw = raw if isinstance(raw, (list, tuple)) else [raw]
        self.faults = tuple(str(f).strip() for f in raw if str(f).strip())
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown or not self.faults:
            raise ValueError(f"faults must be a non-empty subset of {FAULT_KINDS}, got {self.faults}")
        if isinstance(self.finetune_polls, bool) or not isinstance(self.finetune_polls, int) \
                or self.finetune_polls < 1:
            raise ValueError(f"finetune_polls must be an integer >= 1, got {self.finetune_polls!r}")
        self.finetune_fail = str(self.finetune_fail or "")
        if isinstance(self.batch_polls, bool) or not isinstance(self.batch_polls, int) or self.batch_polls < 1:
            raise ValueError(f"batch_polls must be an integer >= 1, got {self.batch_polls!r}")
        self.batch_fail = str(self.batch_fail or "")
        _check_latency(self)
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


LATENCY_DISTS: tuple[str, ...] = ("fixed", "lognormal")
# the standard normal's 99th percentile: sigma = ln(p99 / median) / Z99
Z99 = 2.3263478740408408


def _check_latency(options: ServerOptions) -> None:
    """latency_dist is known; lognormal needs p99 > median > 0; no latency is negative."""
    options.latency_dist = str(options.latency_dist).strip().lower()
    if options.latency_dist not in LATENCY_DISTS:
        raise ValueError(f"latency_dist must be one of {LATENCY_DISTS}, got {options.latency_dist!r}")
    if options.latency_ms < 0 or options.latency_p99_ms < 0:
        raise ValueError("latency_ms and latency_p99_ms must be >= 0")
    if options.latency_dist == "lognormal" and not options.latency_p99_ms > options.latency_ms > 0:
        raise ValueError("latency_dist=lognormal needs latency_p99_ms > latency_ms (the median) > 0, got "
                         f"latency_ms={options.latency_ms}, latency_p99_ms={options.latency_p99_ms}")
