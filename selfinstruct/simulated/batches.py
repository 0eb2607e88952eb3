"""The simulated provider's Batch API (``/v1/batches``), in memory, as LiteLLM's OpenAI path calls it.

``litellm.acreate_file(purpose="batch")`` uploads a JSONL file of request lines (the files store of
``finetuning`` keeps it)::

    {"custom_id": "q-1", "method": "POST", "url": "/v1/chat/completions", "body": {...chat request...}}

``litellm.acreate_batch`` starts a batch over it (status "validating"); like fine-tuning jobs, time
does not pass here: each *retrieve* advances the batch one step (validating -> in_progress -> ...
-> completed on retrieve ``batch_polls``). On completion every line is answered by the same code
path as a live ``/v1/chat/completions`` request (``core._Core.batch_line``), so a line's reply
equals the live reply to the same request for the same seed; the results go to an output file (and
failed lines to an error file) in the files store, read with ``litellm.afile_content``.

Loopback-only extension: a line may carry ``"x_selfinstruct_stage": "classify"`` (in the line
object, next to ``custom_id``, never inside ``body``). It plays the role of the
``X-Selfinstruct-Stage`` header of a live request (batch lines have no headers). A client must not
send it to a real provider.

Options: ``batch_polls`` (retrieves until the batch ends), ``batch_fail`` (non-empty: the batch
ends "failed" with that message instead), ``batch_line_fail_rate`` (share of lines that end in the
error file; drawn per (seed, custom_id, how many times that custom_id was answered before in this
server), so a retry of a failed line in a later batch or live may pass). ``POST .../cancel`` makes
a live batch "cancelling", and the next retrieve "cancelled".

Like ``finetuning``, this module knows nothing about HTTP faults or stats; it raises ``ApiError``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from selfinstruct.simulated.finetuning import ApiError, FineTuningStore, _page

# The line field that stands in for the X-Selfinstruct-Stage header (loopback only).
STAGE_FIELD = "x_selfinstruct_stage"
ENDPOINTS = frozenset({"/v1/chat/completions"})
COMPLETION_WINDOWS = frozenset({"24h"})
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
EXPIRY_S = 24 * 3600
LINE_FAIL_ERROR = {"code": "server_error", "message": "The loopback server failed this request (simulated)."}

# Operations that change state (a fault answers before them, see core.api).
MUTATING = frozenset({"batches.create", "batches.cancel"})

# answer(body, stage, custom_id) -> (chat.completion body, None) or (None, {"code", "message"})
Answer = Callable[[dict[str, Any], str | None, str], tuple[dict[str, Any] | None, dict[str, Any] | None]]


def route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    """(operation name, path ids) for a Batch API path (with or without /v1), else None."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["v1"]:
        parts = parts[1:]
    if parts[:1] != ["batches"]:
        return None
    if len(parts) == 1:
        name = {"POST": "batches.create", "GET": "batches.list"}.get(method)
    elif len(parts) == 2:
        name = "batches.retrieve" if method == "GET" else None
    elif len(parts) == 3 and parts[2] == "cancel":
        name = "batches.cancel" if method == "POST" else None
    else:
        name = None
    return (name, tuple(parts[1:2])) if name else None


@dataclass
class Line:
    """One validated request line of a batch's input file."""

    custom_id: str
    body: dict[str, Any]
    stage: str | None


@dataclass
class Batch:
    """A batch; ``retrievals`` drives its progress (see ``BatchStore._advance``)."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    created_at: int
    status: str = "validating"
    retrievals: int = 0
    lines: list[Line] = field(default_factory=list)
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    times: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        t = self.times
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "model": self.model,
                "errors": None if self.errors is None else {"object": "list", "data": list(self.errors)},
                "input_file_id": self.input_file_id, "completion_window": self.completion_window,
                "status": self.status, "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
                "created_at": self.created_at, "in_progress_at": t.get("in_progress"),
                "expires_at": self.created_at + EXPIRY_S, "finalizing_at": t.get("finalizing"),
                "completed_at": t.get("completed"), "failed_at": t.get("failed"), "expired_at": None,
                "cancelling_at": t.get("cancelling"), "cancelled_at": t.get("cancelled"),
                "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
                "usage": self.usage, "metadata": self.metadata}


def _line_error(number: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": number}


def parse_lines(data: bytes, endpoint: str) -> tuple[list[Line], list[dict[str, Any]]]:
    """The request lines of an input file, and the validation errors (OpenAI's batch ``errors`` items)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], [_line_error(1, "invalid_file", "The input file is not UTF-8 text.")]
    lines: list[Line] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError:
            return lines, [_line_error(number, "invalid_json_line", f"Line {number} is not valid JSON.")]
        if not isinstance(row, dict):
            return lines, [_line_error(number, "invalid_json_line", f"Line {number} is not a JSON object.")]
        custom_id, body, stage = row.get("custom_id"), row.get("body"), row.get(STAGE_FIELD)
        if not isinstance(custom_id, str) or not custom_id:
            return lines, [_line_error(number, "missing_required_parameter",
                                       f"Line {number} has no custom_id.", "custom_id")]
        if custom_id in seen:
            return lines, [_line_error(number, "duplicate_custom_id",
                                       f"The custom_id {custom_id!r} appears more than once.", "custom_id")]
        if row.get("method") != "POST":
            return lines, [_line_error(number, "invalid_method", f"Line {number}: method must be POST.", "method")]
        if row.get("url") != endpoint:
            return lines, [_line_error(number, "invalid_url",
                                       f"Line {number}: url {row.get('url')!r} is not the batch's endpoint "
                                       f"{endpoint!r}.", "url")]
        if not isinstance(body, dict):
            return lines, [_line_error(number, "invalid_request", f"Line {number}: body must be an object.",
                                       "body")]
        if stage is not None and not isinstance(stage, str):
            return lines, [_line_error(number, "invalid_request",
                                       f"Line {number}: {STAGE_FIELD} must be a string.", STAGE_FIELD)]
        seen.add(custom_id)
        lines.append(Line(custom_id, body, stage))
    if not lines:
        return lines, [_line_error(1, "empty_file", "The input file has no request lines.")]
    return lines, []


class BatchStore:
    """Batches of one server process. Their input and result files live in the fine-tuning API's
    files store (one ``/v1/files``), whose lock this store also holds while it touches them."""

    def __init__(self, files: FineTuningStore, seed: int, polls: int, answer: Answer,
                 fail_message: str = "") -> None:
        self.files, self.seed, self.polls, self.answer = files, seed, polls, answer
        self.fail_message = fail_message
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self._counter = 0

    def _new_id(self, prefix: str) -> str:
        """Deterministic ids from (seed, prefix, counter). Lock held."""
        self._counter += 1
        digest = hashlib.sha256(f"{self.seed}\x1f{prefix}\x1f{self._counter}".encode()).hexdigest()
        return f"{prefix}_{digest[:32]}"

    def _batch(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        """batches.create: check the request and the input file, start at "validating"."""
        input_file_id, endpoint = request.get("input_file_id"), request.get("endpoint")
        window, metadata = request.get("completion_window"), request.get("metadata")
        if not isinstance(input_file_id, str) or not input_file_id:
            raise ApiError(400, "Missing required parameter: 'input_file_id'.", param="input_file_id")
        if endpoint not in ENDPOINTS:
            raise ApiError(400, f"Invalid endpoint {endpoint!r}; the loopback server batches {sorted(ENDPOINTS)}.",
                           param="endpoint")
        if window not in COMPLETION_WINDOWS:
            raise ApiError(400, f"Invalid completion_window {window!r}; expected '24h'.",
                           param="completion_window")
        if metadata is not None and not isinstance(metadata, dict):
            raise ApiError(400, "metadata must be an object.", param="metadata")
        try:
            stored = self.files.get_file(input_file_id)
        except ApiError:
            raise ApiError(400, f"Invalid input_file_id: {input_file_id}", param="input_file_id") from None
        if stored["purpose"] != "batch":
            raise ApiError(400, f"File {input_file_id} has purpose {stored['purpose']!r}, not 'batch'.",
                           param="input_file_id")
        with self._lock:
            batch = Batch(self._new_id("batch"), input_file_id, endpoint, window, metadata, int(time.time()))
            self._batches[batch.id] = batch
            return batch.to_json()

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """batches.retrieve: every retrieve of a live batch advances it one step."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.status not in TERMINAL:
                batch.retrievals += 1
                self._advance(batch)
            return batch.to_json()

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """batches.cancel: a live batch becomes "cancelling" (then "cancelled" on the next retrieve)."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.status in ("completed", "failed", "expired"):
                raise ApiError(400, f"Cannot cancel a batch with status '{batch.status}'.", param="batch_id")
            if batch.status not in ("cancelling", "cancelled"):
                batch.status = "cancelling"
                batch.times["cancelling"] = int(time.time())
            return batch.to_json()

    def list(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            batches = [b.to_json() for b in reversed(self._batches.values())]
        page = _page(batches, params, 20)
        page["first_id"] = page["data"][0]["id"] if page["data"] else None
        page["last_id"] = page["data"][-1]["id"] if page["data"] else None
        return page

    # progress (lock held)

    def _advance(self, batch: Batch) -> None:
        now = int(time.time())
        if batch.status == "cancelling":
            batch.status, batch.times["cancelled"] = "cancelled", now
            return
        if batch.status == "validating":
            lines, errors = parse_lines(self.files.file_content(batch.input_file_id), batch.endpoint)
            if errors:
                batch.status, batch.errors, batch.times["failed"] = "failed", errors, now
                return
            batch.lines, batch.total = lines, len(lines)
            models = {str(line.body.get("model")) for line in lines if line.body.get("model")}
            batch.model = min(models) if models else None
        if batch.retrievals < self.polls:
            if batch.status != "in_progress":
                batch.status, batch.times["in_progress"] = "in_progress", now
            return
        batch.times.setdefault("in_progress", now)
        if self.fail_message:
            batch.status, batch.times["failed"] = "failed", now
            batch.errors = [{"code": "batch_failed", "message": self.fail_message, "param": None, "line": None}]
            return
        self._complete(batch, now)

    def _complete(self, batch: Batch, now: int) -> None:
        """Answer every line through the live chat path; write the output (and error) file."""
        batch.times["finalizing"] = now
        out, err = [], []
        usage = {"input_tokens": 0, "output_tokens": 0}
        for line in batch.lines:
            request_id = self._new_id("req")
            body, error = self.answer(line.body, line.stage, line.custom_id)
            row_id = self._new_id("batch_req")
            if error is not None or body is None:
                err.append({"id": row_id, "custom_id": line.custom_id, "response": None,
                            "error": error or dict(LINE_FAIL_ERROR)})
                continue
            out.append({"id": row_id, "custom_id": line.custom_id,
                        "response": {"status_code": 200, "request_id": request_id, "body": body}, "error": None})
            usage["input_tokens"] += body["usage"]["prompt_tokens"]
            usage["output_tokens"] += body["usage"]["completion_tokens"]
        batch.completed, batch.failed = len(out), len(err)
        batch.usage = {"input_tokens": usage["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens": usage["output_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
                       "total_tokens": usage["input_tokens"] + usage["output_tokens"]}
        if out:
            batch.output_file_id = self._store_file(f"{batch.id}_output.jsonl", out)
        if err:
            batch.error_file_id = self._store_file(f"{batch.id}_error.jsonl", err)
        batch.status, batch.times["completed"] = "completed", int(time.time())
        batch.lines = []

    def _store_file(self, filename: str, rows: list[dict[str, Any]]) -> str:
        """Put a result file into the files store (purpose batch_output); its id."""
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        return self.files.store(filename, "batch_output", data).id
