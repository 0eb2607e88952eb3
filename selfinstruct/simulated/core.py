"""The request-independent core: parse a chat request, pick its reply, apply faults, keep stats.

The reply is chosen by the ``X-Selfinstruct-Stage`` header when the request has one (see
``replies``), else by the prompt's wording; its RNG is keyed by (seed, kind, prompt text), so a
prompt gets the same reply whichever way it was recognised. Fine-tuning API calls (``api``) get
the same faults and stats, and are answered by ``finetuning``; Batch API calls likewise, answered
by ``batches``, whose lines go through ``batch_line`` (the live chat path, without faults).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# the built-in kinds register themselves on import
from selfinstruct.simulated import alpaca, bootstrap, judge, tasks  # noqa: F401
from selfinstruct.simulated.batches import MUTATING as BATCH_MUTATING
from selfinstruct.simulated.batches import BatchStore
from selfinstruct.simulated.completion import apply_max_tokens, apply_stop, truncate_last_line
from selfinstruct.simulated.finetuning import (
    MUTATING,
    ApiError,
    FineTuningStore,
    parse_json_object,
    parse_multipart,
    query_params,
)
from selfinstruct.simulated.options import CONTEXT_ERROR, FAULT_KINDS, MODEL_ID, ServerOptions
from selfinstruct.simulated.options import Z99
from selfinstruct.simulated.replies import STAGE_HEADER, ReplyContext, reply_kind, responder

@dataclass
class Reply:
    """An HTTP reply plan: wait delay_s (interruptible), then send; or, when ``run`` is set, call it
    after the wait and send what it returns (a slow side effect happens only if the wait ends)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"
    run: Callable[[], Reply] | None = None


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    """An OpenAI-style error body."""
    err = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply(status, _json_bytes(err))


def _message_text(message: Any) -> str:
    """Text of a chat message whose content may be a string or a list of parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def prompt_text(messages: list[Any]) -> str:
    """The last user message, or every message joined when there is none."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message)
    return "\n".join(_message_text(m) for m in messages)


def _rng(seed: int, *parts: object) -> random.Random:
    """A RNG keyed by content (sha256), independent of PYTHONHASHSEED."""
    key = "\x1f".join(map(str, (seed, *parts))).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:16], "big"))


def latency_s(options: ServerOptions, number: int, *scope: str) -> float:
    """The reply delay of request ``number``: latency_ms, or with latency_dist=lognormal a draw whose
    median is latency_ms and 99th percentile latency_p99_ms, keyed like the fault draw (seed, request
    number) so a run's delays are reproducible."""
    if options.latency_dist != "lognormal":
        return options.latency_ms / 1000
    sigma = math.log(options.latency_p99_ms / options.latency_ms) / Z99
    z = _rng(options.seed, "latency", *scope, number).gauss(0.0, 1.0)
    return options.latency_ms * math.exp(sigma * z) / 1000


class _Core:
    """Chat semantics and bookkeeping, separate from the socket handling."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._log = open(options.log, "a", encoding="utf-8") if options.log else None
        self._counter = 0
        self._api_counter = 0
        self._stats = self._empty_stats()
        self.finetuning = FineTuningStore(options.seed, options.finetune_polls, options.finetune_fail)
        self.batches = BatchStore(self.finetuning, options.seed, options.batch_polls, self.batch_line,
                                  options.batch_fail)
        self._batch_counter = 0
        self._batch_attempts: dict[str, int] = {}  # custom_id -> batch lines answered with it so far
        # A simulated cut-off reply is one that needs more tokens than the first budget asked for
        # its prompt: asking again with a larger max_tokens gets the whole reply, as with a real model.
        self._first_budget: dict[str, int | None] = {}
        self._prefix_cache = PrefixCache()

    @staticmethod
    def _empty_stats() -> dict[str, Any]:
        return {"requests": 0, "by_status": {}, "by_kind": {}, "faults": dict.fromkeys(FAULT_KINDS, 0),
                **dict.fromkeys(_API_COUNTERS.values(), 0), "batch_lines": 0}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset(self) -> None:
        with self._lock:
            self._stats = self._empty_stats()

    def close(self) -> None:
        with self._lock:
            if self._log:
                self._log.close()
                self._log = None

    def _next_number(self) -> int:
        """1-based sequence number of a valid chat request (keys the fault draw)."""
        with self._lock:
            self._counter += 1
            return self._counter

    def _record(self, status: int, kind: str, fault: str | None, prompt_sha: str | None) -> None:
        """Count and log one request (a chat request, or a fine-tuning API call by its operation)."""
        retry_after = self.options.retry_after_s if fault == "429" else None
        with self._lock:
            s = self._stats
            s["requests"] += 1
            s["by_status"][str(status)] = s["by_status"].get(str(status), 0) + 1
            s["by_kind"][kind] = s["by_kind"].get(kind, 0) + 1
            if fault:
                s["faults"][fault] += 1
            if status == 200 and kind in _API_COUNTERS:
                s[_API_COUNTERS[kind]] += 1
            if self._log:
                line = {"t": time.time(), "status": status, "kind": kind, "fault": fault,
                        "retry_after": retry_after, "prompt_sha": prompt_sha}
                self._log.write(json.dumps(line) + "\n")
                self._log.flush()

    def _fault_for(self, number: int, *scope: str) -> str | None:
        """Request-counter-keyed fault draw, so a retry of the same prompt may pass."""
        rng = _rng(self.options.seed, "fault", *scope, number)
        if rng.random() >= self.options.fault_rate:
            return None
        return rng.choice(self.options.faults)

    def chat(self, raw: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        """Turn a /v1/chat/completions body (and the request's headers) into a reply plan."""
        try:
            request = json.loads(raw or b"{}")
            messages = request["messages"]
            if not isinstance(request, dict) or not isinstance(messages, list):
                raise TypeError("messages must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            self._record(400, "invalid", None, None)
            return _error(400, f"Invalid request body: {exc}", "invalid_request_error")
        text = prompt_text(messages)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        kind, parsed = reply_kind(text, _header(headers, STAGE_HEADER))
        if request.get("stream"):
            self._record(400, kind, None, sha)
            return _error(400, "Streaming is not supported by the loopback server.",
                          "invalid_request_error", "stream_not_supported")
        number = self._next_number()
        fault = self._fault_for(number)
        status = _FAULT_STATUS.get(fault or "", 200)
        self._record(status, kind, fault, sha)
        if fault in _FAULT_STATUS:
            reply = self._faulted(fault, _authorization(headers))
        else:
            reply = self._completion(request, text, kind, parsed, number)
        if fault == "malformed":
            reply.body = reply.body[: len(reply.body) // 2]
        reply.delay_s = latency_s(self.options, number) + (self.options.slow_s if fault == "timeout" else 0)
        return reply

    def _within_first_budget(self, kind: str, text: str, limit: Any) -> bool:
        """True unless this prompt was asked before with a smaller max_tokens than now."""
        budget = limit if isinstance(limit, int) else None
        with self._lock:
            first = self._first_budget.setdefault(f"{kind}\0{text}", budget)
        return first is None or budget is None or budget <= first

    def _faulted(self, fault: str, authorization: str) -> Reply:
        """The error reply of a fault that answers with an HTTP error status."""
        if fault == "429":
            reply = _error(429, "Rate limit reached for loopback; please retry later.",
                           "rate_limit_error", "rate_limit_exceeded")
            reply.headers["Retry-After"] = _format_seconds(self.options.retry_after_s)
            return reply
        if fault == "401":
            return _error(401, f"Invalid credentials: {authorization}", "invalid_request_error",
                          "invalid_api_key")
        if fault == "500echo":
            return _error(500, f"Internal error while handling request with Authorization: {authorization}",
                          "server_error")
        if fault == "context":
            return _error(400, CONTEXT_ERROR, "invalid_request_error", "context_length_exceeded")
        return _error(500, "The loopback server had an internal error (simulated).", "server_error")

    def _completion(self, request: dict[str, Any], text: str, kind: str, parsed: Any,
                    number: int) -> Reply:
        """A successful chat.completion with stop and max_tokens applied."""
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        ctx = ReplyContext(_rng(self.options.seed, kind, text), self.options, model=str(request.get("model") or ""),
                           max_tokens=limit if isinstance(limit, int) else None)
        draft = responder(kind)(parsed, ctx)
        content = apply_stop(draft.text, request.get("stop"))
        finish = "stop"
        if draft.truncate_at is not None and self._within_first_budget(kind, text, limit):
            truncated = truncate_last_line(content, draft.truncate_at)
            finish = "length" if truncated != content else finish
            content = truncated
        content, cut = apply_max_tokens(content, limit if isinstance(limit, int) else None)
        finish = "length" if cut else finish
        prompt_tokens = sum(_word_count(_message_text(m)) for m in request["messages"])
        usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": _word_count(content),
                                 "total_tokens": prompt_tokens + _word_count(content)}
        cached = self._prefix_cache.cached_words(request["messages"])
        if cached:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        body = {
            "id": f"chatcmpl-loopback-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model") or MODEL_ID),
            "system_fingerprint": "loopback",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        }
        return Reply(200, _json_bytes(body))

    def batch_line(self, request: dict[str, Any], stage: str | None, custom_id: str
                   ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Answer one batch line's body as ``chat`` answers a live request (``stage`` standing in for
        the stage header): (chat.completion, None), or (None, {"code", "message"}) for a line that
        fails. No generic faults here; ``batch_line_fail_rate`` fails a line, drawn per (seed,
        custom_id, earlier answers with that custom_id), so a retried line may pass. Batch lines keep
        a counter of their own, leaving the chat requests' fault draws as they were."""
        with self._lock:
            attempt = self._batch_attempts.get(custom_id, 0)
            self._batch_attempts[custom_id] = attempt + 1
            self._batch_counter += 1
            number = self._batch_counter
            self._stats["batch_lines"] += 1
        messages = request.get("messages")
        if not isinstance(messages, list):
            return None, {"code": "invalid_request_error", "message": "Invalid request body: messages must be a list"}
        if request.get("stream"):
            return None, {"code": "stream_not_supported",
                          "message": "Streaming is not supported by the loopback server."}
        if _rng(self.options.seed, "batch_line", custom_id, attempt).random() < self.options.batch_line_fail_rate:
            return None, {"code": "server_error", "message": "The loopback server failed this request (simulated)."}
        text = prompt_text(messages)
        kind, parsed = reply_kind(text, stage)
        body = json.loads(self._completion(request, text, kind, parsed, number).body)
        body["id"] = f"chatcmpl-loopback-batch-{number}"
        return body, None

    def _next_api_number(self) -> int:
        """Sequence number of a fine-tuning API call. A counter of its own (and its own fault key), so
        a train stage's calls leave the fault draws of every chat request, and so every other stage's
        output, exactly as they were."""
        with self._lock:
            self._api_counter += 1
            return self._api_counter

    def api(self, operation: str, ids: tuple[str, ...], path: str, raw: bytes,
            headers: Mapping[str, str] | None) -> Reply:
        """Plan the reply to a fine-tuning API call (``finetuning.route`` named it).

        Faults are drawn as for chat (--fault-rate, --faults) so a polling client must retry, but
        none lands after a side effect: error faults answer before the operation runs, a timeout
        delays before it (the handler calls ``run`` after the wait) and a malformed reply to a call
        that changes state becomes a 500, so an error always means nothing was stored or changed.
        """
        number = self._next_api_number()
        fault = self._fault_for(number, "api")
        if fault == "malformed" and (operation in MUTATING or operation in BATCH_MUTATING):
            fault = "500"
        delay = latency_s(self.options, number, "api") + (self.options.slow_s if fault == "timeout" else 0)
        if fault in _FAULT_STATUS:
            self._record(_FAULT_STATUS[fault], operation, fault, None)
            reply = self._faulted(fault, _authorization(headers))
            reply.delay_s = delay
            return reply

        def run() -> Reply:
            reply = self._api_reply(operation, ids, path, raw, headers)
            self._record(reply.status, operation, fault, None)
            if fault == "malformed":
                reply.body = reply.body[: len(reply.body) // 2]
            return reply

        return Reply(0, b"", delay_s=delay, run=run)

    def _api_reply(self, operation: str, ids: tuple[str, ...], path: str, raw: bytes,
                   headers: Mapping[str, str] | None) -> Reply:
        """Run one fine-tuning API operation; ApiError becomes OpenAI's error body."""
        store, params = self.finetuning, query_params(path)
        content_type = _header(headers, "Content-Type") or ""
        first = ids[0] if ids else ""
        operations: dict[str, Callable[[], Any]] = {
            "files.create": lambda: store.add_file(parse_multipart(content_type, raw)),
            "files.list": lambda: store.list_files(params),
            "files.retrieve": lambda: store.get_file(first),
            "files.content": lambda: store.file_content(first),
            "files.delete": lambda: store.delete_file(first),
            "fine_tuning.jobs.create": lambda: store.create_job(parse_json_object(raw)),
            "fine_tuning.jobs.list": lambda: store.list_jobs(params),
            "fine_tuning.jobs.retrieve": lambda: store.retrieve_job(first),
            "fine_tuning.jobs.cancel": lambda: store.cancel_job(first),
            "fine_tuning.jobs.events": lambda: store.list_events(first, params),
            "batches.create": lambda: self.batches.create(parse_json_object(raw)),
            "batches.list": lambda: self.batches.list(params),
            "batches.retrieve": lambda: self.batches.retrieve(first),
            "batches.cancel": lambda: self.batches.cancel(first),
        }
        try:
            result = operations[operation]()
        except ApiError as exc:
            return Reply(exc.status, _json_bytes(exc.body()))
        if isinstance(result, bytes):
            return Reply(200, result, content_type="application/octet-stream")
        return Reply(200, _json_bytes(result))



# Stats counters of successful (200) fine-tuning API calls, by operation.
_API_COUNTERS: dict[str, str] = {"files.create": "uploads", "fine_tuning.jobs.create": "jobs_created",
                                 "fine_tuning.jobs.retrieve": "job_retrievals",
                                 "fine_tuning.jobs.cancel": "jobs_cancelled",
                                 "batches.create": "batches_created", "batches.retrieve": "batch_retrievals"}
class PrefixCache:
    """A provider's prompt caching, simulated: a prompt whose first words (in blocks of ``BLOCK``,
    from ``MIN_WORDS`` on) were sent before gets those words reported as ``cached_tokens``, as OpenAI
    reports a cached prefix; so the client's cached-price accounting can be tested and measured."""

    BLOCK = 64
    MIN_WORDS = 256

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def cached_words(self, messages: list[Any]) -> int:
        words = " ".join(_message_text(m) for m in messages).split()
        prefixes = {n: hashlib.sha256(" ".join(words[:n]).encode("utf-8")).hexdigest()
                    for n in range(self.MIN_WORDS, len(words) + 1, self.BLOCK)}
        with self._lock:
            cached = max((n for n, key in prefixes.items() if key in self._seen), default=0)
            self._seen.update(prefixes.values())
        return cached


# Faults that answer with an error status instead of a (possibly slow or broken) completion.
_FAULT_STATUS: dict[str, int] = {"429": 429, "500": 500, "401": 401, "500echo": 500, "context": 400}


def _word_count(text: str) -> int:
    return len(text.split())


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A request header exactly as received (case-insensitive lookup), or None."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return None if value is None else str(value)


def _authorization(headers: Mapping[str, str] | None) -> str:
    """The Authorization header exactly as received."""
    value = _header(headers, "Authorization")
    return "(no Authorization header)" if value is None else value


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
