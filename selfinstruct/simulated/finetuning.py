"""The simulated provider's fine-tuning API: uploaded files and fine-tuning jobs, in memory.

It answers the requests the OpenAI SDK (and so LiteLLM's ``acreate_file``,
``acreate_fine_tuning_job``, ``aretrieve_fine_tuning_job``, ``acancel_fine_tuning_job``) sends, with
OpenAI-shaped objects, so the ``train`` stage runs offline against ``model=loopback`` exactly as it
would against a real provider. Time does not pass here: each *retrieve* of a job advances it one
step (validating_files -> queued -> running -> succeeded over ``finetune_polls`` retrieves), which
makes a polling client's behaviour deterministic and fast to test. ``finetune_fail`` makes jobs end
"failed" with that message instead. Jobs live only as long as the server process, which is why the
test suite runs the server in its own process: a killed client finds its job again.

This module knows nothing about HTTP faults or stats (``core`` applies those before calling in);
it raises ``ApiError`` for OpenAI-style error replies.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

ORGANIZATION_ID = "org-selfinstruct-loopback"
# Purposes the real Files API accepts; anything else is a 400 there too.
PURPOSES = frozenset({"fine-tune", "assistants", "batch", "vision", "user_data", "evals"})
DEFAULT_EPOCHS = 3  # what "auto" resolves to (OpenAI picks by dataset size; a constant keeps it predictable)
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class ApiError(Exception):
    """An OpenAI-style error reply: ``{"error": {"message", "type", "param", "code"}}`` with a status."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


# --- routes ------------------------------------------------------------------

# Operations that change state: a fault that would break their reply after the change is turned
# into one that answers before it, so an error always means "nothing happened".
MUTATING = frozenset({"files.create", "files.delete", "fine_tuning.jobs.create", "fine_tuning.jobs.cancel"})


def route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    """(operation name, path ids) for a fine-tuning API path (with or without /v1), else None."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["v1"]:
        parts = parts[1:]
    table: dict[tuple[str, int], str]
    if parts[:1] == ["files"]:
        table = {("POST", 1): "files.create", ("GET", 1): "files.list", ("GET", 2): "files.retrieve",
                 ("DELETE", 2): "files.delete"}
        if len(parts) == 3 and parts[2] == "content" and method == "GET":
            return "files.content", (parts[1],)
        name = table.get((method, len(parts)))
        return (name, tuple(parts[1:])) if name else None
    if parts[:2] != ["fine_tuning", "jobs"]:
        return None
    ids = tuple(parts[2:3])
    if len(parts) == 2:
        name = {"POST": "fine_tuning.jobs.create", "GET": "fine_tuning.jobs.list"}.get(method)
    elif len(parts) == 3:
        name = "fine_tuning.jobs.retrieve" if method == "GET" else None
    elif len(parts) == 4:
        name = {("POST", "cancel"): "fine_tuning.jobs.cancel",
                ("GET", "events"): "fine_tuning.jobs.events"}.get((method, parts[3]))
    else:
        name = None
    return (name, ids) if name else None


# --- request bodies ----------------------------------------------------------

@dataclass(frozen=True)
class FormPart:
    """One multipart/form-data field: its value, and the filename for a file field."""

    data: bytes
    filename: str | None = None


def parse_multipart(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The fields of a multipart/form-data body (the SDK uploads files so: fields 'file' and 'purpose')."""
    if "multipart/form-data" not in content_type.lower() or "boundary=" not in content_type:
        raise ApiError(400, f"Expected a multipart/form-data upload, got Content-Type {content_type!r}.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "Could not parse the multipart/form-data body.")
    fields: dict[str, FormPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            fields[str(name)] = FormPart(payload if isinstance(payload, bytes) else b"", part.get_filename())
    return fields


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON request body that must be an object."""
    try:
        value = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"We could not parse the JSON body of your request: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return value


def query_params(path: str) -> dict[str, str]:
    """The query string's parameters (last value wins)."""
    query = path.split("?", 1)[1] if "?" in path else ""
    return {k: v[-1] for k, v in parse_qs(query).items()}


# --- training files ----------------------------------------------------------

def training_words(data: bytes) -> tuple[int, str | None]:
    """(words of the message contents, a validation error or None) of a chat-format JSONL file.

    trained_tokens is words * epochs: words of what the model reads, not of the JSON syntax.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return 0, "Invalid file format: the training file is not UTF-8 text."
    words, examples = 0, 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            return words, f"Invalid file format: line {number} is not valid JSON."
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or not messages:
            return words, f"Invalid file format: line {number} has no 'messages' list."
        examples += 1
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            words += len(content.split()) if isinstance(content, str) else 0
    return words, None if examples else "Invalid file format: the training file has no examples."


@dataclass
class StoredFile:
    """An uploaded file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "status_details": None, "expires_at": None}


# --- jobs --------------------------------------------------------------------

@dataclass
class Event:
    id: str
    created_at: int
    level: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"object": "fine_tuning.job.event", "id": self.id, "created_at": self.created_at,
                "level": self.level, "message": self.message, "data": None, "type": "message"}


@dataclass
class Job:
    """A fine-tuning job; ``retrievals`` drives its progress (see ``status_after``)."""

    id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int
    created_at: int
    words: int
    invalid: str | None
    status: str = "validating_files"
    retrievals: int = 0
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None
    finished_at: int | None = None
    events: list[Event] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "fine_tuning.job", "model": self.model, "created_at": self.created_at,
                "status": self.status, "fine_tuned_model": self.fine_tuned_model,
                "training_file": self.training_file, "validation_file": self.validation_file,
                "hyperparameters": dict(self.hyperparameters), "trained_tokens": self.trained_tokens,
                "error": self.error, "finished_at": self.finished_at, "organization_id": ORGANIZATION_ID,
                "result_files": [], "seed": self.seed, "suffix": self.suffix, "estimated_finish": None,
                "integrations": [], "metadata": None,
                "method": {"type": "supervised", "supervised": {"hyperparameters": dict(self.hyperparameters)}}}


def status_after(retrievals: int, polls: int) -> str:
    """The status a job shows after `retrievals` retrieves when it succeeds on retrieve `polls`.

    polls=3: validating_files, queued, running, succeeded; fewer polls skip queued (then running).
    """
    if retrievals >= polls:
        return "succeeded"
    if retrievals == 0:
        return "validating_files"
    return "running" if retrievals == polls - 1 else "queued"


_STATUS_EVENTS = {"queued": "Files validated, moving job to queued state",
                  "running": "Fine-tuning job started"}


def _epochs(hyperparameters: Any) -> tuple[int, dict[str, Any]]:
    """n_epochs as an int ("auto" and missing -> DEFAULT_EPOCHS) and the hyperparameters to echo."""
    given = hyperparameters if isinstance(hyperparameters, dict) else {}
    n = given.get("n_epochs", "auto")
    if n in (None, "auto"):
        n = DEFAULT_EPOCHS
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 50:
        raise ApiError(400, f"Invalid n_epochs: {given.get('n_epochs')!r} (an integer in [1, 50] or 'auto').",
                       param="hyperparameters.n_epochs")
    echoed = {"batch_size": given.get("batch_size", "auto"),
              "learning_rate_multiplier": given.get("learning_rate_multiplier", "auto"), "n_epochs": n}
    return n, echoed


def _page(items: list[dict[str, Any]], params: dict[str, str], default_limit: int) -> dict[str, Any]:
    """An OpenAI list page (newest first): ``after`` is the id of the last item already seen."""
    after = params.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    try:
        limit = max(1, int(params.get("limit", default_limit)))
    except ValueError as exc:
        raise ApiError(400, f"Invalid limit: {params.get('limit')!r}", param="limit") from exc
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


class FineTuningStore:
    """Files and jobs of one server process, behind one lock (handlers run on many threads)."""

    def __init__(self, seed: int, polls: int, fail_message: str = "") -> None:
        self.seed, self.polls, self.fail_message = seed, polls, fail_message
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._jobs: dict[str, Job] = {}
        self._counter = 0

    def _new_id(self, prefix: str, length: int = 24) -> str:
        """Deterministic ids from (seed, prefix, counter): reruns of a test see the same ids. Lock held."""
        self._counter += 1
        digest = hashlib.sha256(f"{self.seed}\x1f{prefix}\x1f{self._counter}".encode()).hexdigest()
        return f"{prefix}-{digest[:length]}"

    # files

    def add_file(self, form: dict[str, FormPart]) -> dict[str, Any]:
        """files.create: store the 'file' field of a multipart upload."""
        upload, purpose = form.get("file"), form.get("purpose")
        if upload is None:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        purpose_text = purpose.data.decode("utf-8", "replace").strip() if purpose else ""
        if purpose_text not in PURPOSES:
            raise ApiError(400, f"Invalid purpose: {purpose_text!r}; expected one of {sorted(PURPOSES)}.",
                           param="purpose")
        return self.store(upload.filename or "upload", purpose_text, upload.data).to_json()

    def store(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        """Keep a file (an upload, or a file the provider makes: a batch's results) and return it."""
        with self._lock:
            stored = StoredFile(self._new_id("file"), filename, purpose, data, int(time.time()))
            self._files[stored.id] = stored
            return stored

    def _file(self, file_id: str) -> StoredFile:
        """The stored file or a 404 like OpenAI's. Lock held."""
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return stored

    def get_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            return self._file(file_id).to_json()

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._file(file_id).data

    def list_files(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            files = [f.to_json() for f in reversed(self._files.values())
                     if not params.get("purpose") or f.purpose == params["purpose"]]
        return _page(files, params, 10000)

    def delete_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            self._file(file_id)
            del self._files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    # jobs

    def _job(self, job_id: str) -> Job:
        """The job or a 404 like OpenAI's. Lock held."""
        job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"Could not find fine tune: {job_id}", param="fine_tune_id",
                           code="fine_tune_not_found")
        return job

    def _event(self, job: Job, message: str, level: str = "info") -> None:
        """Append an event to the job's log. Lock held."""
        job.events.append(Event(self._new_id("ftevent"), int(time.time()), level, message))

    def create_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """fine_tuning.jobs.create: validate the request and start the job at validating_files."""
        model, training_file = request.get("model"), request.get("training_file")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "Missing required parameter: 'model'.", param="model")
        if not isinstance(training_file, str) or not training_file:
            raise ApiError(400, "Missing required parameter: 'training_file'.", param="training_file")
        _, hyper = _epochs(request.get("hyperparameters"))
        seed = request.get("seed")
        with self._lock:
            stored = self._files.get(training_file)
            if stored is None:
                raise ApiError(400, f"invalid training_file: {training_file}", param="training_file",
                               code="invalid_training_file")
            if stored.purpose != "fine-tune":
                raise ApiError(400, f"File {training_file} has purpose {stored.purpose!r}, not 'fine-tune'.",
                               param="training_file", code="invalid_training_file")
            words, invalid = training_words(stored.data)
            job_id = self._new_id("ftjob")
            job = Job(job_id, model, training_file, request.get("validation_file"), hyper, request.get("suffix"),
                      seed if isinstance(seed, int) else int(job_id[-6:], 16), int(time.time()), words, invalid)
            self._jobs[job.id] = job
            self._event(job, f"Created fine-tuning job: {job.id}")
            self._event(job, f"Validating training file: {training_file}")
            return job.to_json()

    def retrieve_job(self, job_id: str) -> dict[str, Any]:
        """fine_tuning.jobs.retrieve: every retrieve of a live job advances it one step."""
        with self._lock:
            job = self._job(job_id)
            if job.status not in TERMINAL:
                job.retrievals += 1
                self._advance(job)
            return job.to_json()

    def _advance(self, job: Job) -> None:
        """Move the job to the status its retrieve count calls for. Lock held."""
        if job.invalid is not None:
            self._finish(job, "failed", job.invalid, "invalid_training_file")
            return
        status = status_after(job.retrievals, self.polls)
        if status == job.status:
            return
        if status != "succeeded":
            job.status = status
            self._event(job, _STATUS_EVENTS.get(status, status))
        elif self.fail_message:
            self._finish(job, "failed", self.fail_message, "invalid_training_file")
        else:
            job.fine_tuned_model = fine_tuned_name(job)
            job.trained_tokens = job.words * int(job.hyperparameters["n_epochs"])
            self._event(job, f"New fine-tuned model created: {job.fine_tuned_model}")
            self._finish(job, "succeeded", "The job has successfully completed")

    def _finish(self, job: Job, status: str, message: str, code: str | None = None) -> None:
        """End the job (succeeded, failed or cancelled) with a closing event. Lock held."""
        job.status, job.finished_at = status, int(time.time())
        if status == "failed":
            job.error = {"code": code or "failed", "message": message, "param": "training_file"}
        self._event(job, message, "error" if status == "failed" else "info")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """fine_tuning.jobs.cancel: a live job becomes cancelled; a finished one cannot be."""
        with self._lock:
            job = self._job(job_id)
            if job.status in ("succeeded", "failed"):
                raise ApiError(400, f"Job {job_id} has already {job.status}; it cannot be cancelled.",
                               param="fine_tuning_job_id", code="job_not_cancellable")
            if job.status != "cancelled":
                self._finish(job, "cancelled", "Fine-tuning job cancelled")
            return job.to_json()

    def list_jobs(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            jobs = [j.to_json() for j in reversed(self._jobs.values())]
        return _page(jobs, params, 20)

    def list_events(self, job_id: str, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            events = [e.to_json() for e in reversed(self._job(job_id).events)]
        return _page(events, params, 20)


def fine_tuned_name(job: Job) -> str:
    """OpenAI's shape ft:{base}:{org}:{suffix}:{short id}; chat requests naming it answer better."""
    return f"ft:{job.model}:selfinstruct-loopback:{job.suffix or 'custom'}:{job.id.split('-', 1)[1][:8]}"
