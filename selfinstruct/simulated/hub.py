"""A loopback stand-in for the Hugging Face Hub: just what ``huggingface_hub``'s ``create_repo`` and
``create_commit`` (of small, regular files) send, served on 127.0.0.1 with the standard library.

For tests and offline trials of the push stage (``HF_ENDPOINT=URL``)::

    with LoopbackHub(token="hf_test_token") as hub:
        ...  # HF_ENDPOINT=hub.url selfinstruct 'pipeline.stages=[push]' ...
        hub.files("datasets", "org/name")  # {path: bytes} of the last commit

Endpoints: ``POST /api/repos/create``; ``POST /api/validate-yaml`` (a README.md's front matter);
``POST /api/{type}s/{repo}/preupload/{rev}`` (answers ``regular`` for every file, so the client sends
contents base64 in the commit: no LFS and no Xet storage, which this server does not speak);
``POST /api/{type}s/{repo}/commit/{rev}`` (NDJSON: header, then one line per file); ``GET
/api/{type}s/{repo}`` (repo info). Every request's Authorization header is recorded
(``auth_headers``); with ``token`` set, any other credential is refused (401). ``fail[KIND] = STATUS``
makes the next requests of a kind (create, validate, preupload, commit, info) fail with that status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

_REPO_PATH = re.compile(r"^/api/(models|datasets|spaces)/(.+?)(?:/(preupload|commit)/([^/]+))?$")


@dataclass
class HubRepo:
    """One repository: its visibility and the files of its last commit."""

    repo_id: str
    repo_type: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "selfinstruct-loopback-hub/1"
    timeout = 30
    server: "_HubHTTPServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: ``requests`` records what came."""

    # ------------------------------------------------------------------ plumbing

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status >= 400 and isinstance(data, dict) and "error" in data:
                self.send_header("X-Error-Message", str(data["error"]))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def _authorised(self, method: str, path: str) -> bool:
        hub = self.server.hub
        auth = self.headers.get("Authorization")
        with hub.lock:
            hub.auth_headers.append(auth)
            hub.requests.append((method, path))
        if hub.token is not None and auth != f"Bearer {hub.token}":
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def _fault(self, kind: str) -> bool:
        status = self.server.hub.fail.get(kind)
        if status:
            self._error(status, f"simulated {status} on {kind}")
            return True
        return False

    # ------------------------------------------------------------------ routes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/api/agent-harnesses":  # huggingface_hub's best-effort, unauthenticated registry fetch
            self._error(404, "not served by the loopback hub")
            return
        if not self._authorised("GET", path):
            return
        match = _REPO_PATH.match(path)
        if match and not match.group(3):
            if self._fault("info"):
                return
            repo = self.server.hub.repo(match.group(1), match.group(2))
            if repo is None:
                self._error(404, "Repository not found")
                return
            self._send(200, {"id": repo.repo_id, "private": repo.private, "sha": repo.sha,
                             "siblings": [{"rfilename": name} for name in sorted(repo.files)]})
            return
        self._error(404, f"No route for GET {path}")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._body()
        if not self._authorised("POST", path):
            return
        if path == "/api/repos/create":
            self._create(body)
        elif path == "/api/validate-yaml":
            self._validate(body)
        else:
            match = _REPO_PATH.match(path)
            if match and match.group(3) == "preupload":
                self._preupload(match.group(1), match.group(2), body)
            elif match and match.group(3) == "commit":
                self._commit(match.group(1), match.group(2), match.group(4), body)
            else:
                self._error(404, f"No route for POST {path}")

    def _create(self, body: bytes) -> None:
        if self._fault("create"):
            return
        payload = json.loads(body or b"{}")
        name, org = payload.get("name"), payload.get("organization")
        repo_type = payload.get("type") or "model"
        repo_id = f"{org}/{name}" if org else f"user/{name}"
        hub = self.server.hub
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        with hub.lock:
            key = (f"{repo_type}s", repo_id)
            if key in hub.repos:
                self._error(409, "You already created this repo")
                return
            hub.repos[key] = HubRepo(repo_id, repo_type, payload.get("visibility") == "private"
                                     or bool(payload.get("private")))
        self._send(200, {"url": f"{hub.url}/{prefix}{repo_id}", "name": repo_id, "id": repo_id})

    def _validate(self, body: bytes) -> None:
        if self._fault("validate"):
            return
        content = json.loads(body or b"{}").get("content", "")
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.DOTALL)
        if match:
            try:
                meta = yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                self._send(400, {"error": "invalid YAML", "errors": [{"message": " ".join(str(exc).split())}]})
                return
            if meta is not None and not isinstance(meta, dict):
                self._send(400, {"error": "invalid metadata", "errors": [{"message": "metadata is not a mapping"}]})
                return
        self._send(200, {"errors": [], "warnings": []})

    def _preupload(self, kind: str, repo_id: str, body: bytes) -> None:
        if self._fault("preupload"):
            return
        if self.server.hub.repo(kind, repo_id) is None:
            self._error(404, "Repository not found")
            return
        files = json.loads(body or b"{}").get("files", [])
        self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                                   for f in files]})

    def _commit(self, kind: str, repo_id: str, revision: str, body: bytes) -> None:
        if self._fault("commit"):
            return
        hub = self.server.hub
        repo = hub.repo(kind, repo_id)
        if repo is None:
            self._error(404, "Repository not found")
            return
        header: dict[str, Any] = {}
        added: dict[str, bytes] = {}
        deleted: list[str] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value") or {}
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    self._error(400, f"unsupported encoding {value.get('encoding')!r}")
                    return
                added[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
            else:  # lfsFile: this stand-in told the client to send everything inline
                self._error(422, f"unsupported commit operation {key!r} (the loopback hub takes regular files only)")
                return
        digest = hashlib.sha1(body).hexdigest()
        with hub.lock:
            for name in deleted:
                folder = name.rstrip("/") + "/"
                repo.files = {p: b for p, b in repo.files.items() if p != name and not p.startswith(folder)}
            repo.files.update(added)
            repo.commits.append({"oid": digest, "revision": revision, "summary": header.get("summary"),
                                 "files": sorted(added), "deleted": deleted})
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self._send(200, {"commitUrl": f"{hub.url}/{prefix}{repo.repo_id}/commit/{digest}", "commitOid": digest,
                         "pullRequestUrl": None})


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], hub: "LoopbackHub") -> None:
        self.hub = hub
        super().__init__(address, _Handler)


class LoopbackHub:
    """The stand-in on a background thread: ``start()`` returns its URL (use it as HF_ENDPOINT)."""

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.host, self.port = host, port
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.auth_headers: list[str | None] = []
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}
        self.lock = threading.Lock()
        self.url = ""
        self._httpd: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def repo(self, kind: str, repo_id: str) -> HubRepo | None:
        with self.lock:
            return self.repos.get((kind, repo_id))

    def files(self, kind: str, repo_id: str) -> dict[str, bytes]:
        repo = self.repo(kind, repo_id)
        return dict(repo.files) if repo is not None else {}

    def start(self) -> str:
        self._httpd = _HubHTTPServer((self.host, self.port), self)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="loopback-hub", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "LoopbackHub":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
