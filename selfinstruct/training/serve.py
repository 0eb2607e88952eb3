"""Serve a base model (+ LoRA adapter) on 127.0.0.1 behind a minimal OpenAI-compatible API.

The evaluate stage reaches every model through LiteLLM; serving the locally trained adapter as an
``openai/...`` model with ``api_base=<url>`` keeps that single path.  This is a CPU-friendly test/eval server
(greedy decoding, one request at a time): on a GPU, ``vllm serve BASE --enable-lora`` with a
``hosted_vllm/...`` model string is the faster route.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from selfinstruct.training import require_extras

DEFAULT_MODEL_NAME = "local-adapter"


class ChatModel:
    """Base + optional adapter, answering chat messages greedily through the tokenizer's chat template."""

    def __init__(self, base_model: str, adapter_dir: Path | None, max_new_tokens: int) -> None:
        require_extras()
        import torch

        from selfinstruct.training.local import load_model, load_tokenizer

        self.max_new_tokens = max_new_tokens
        use_cuda = torch.cuda.is_available()
        # The adapter dir holds the tokenizer used in training (with its chat template): prefer it.
        self.tokenizer = load_tokenizer(str(adapter_dir) if adapter_dir else base_model)
        model = load_model(base_model, use_cuda=use_cuda)
        if adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_dir))
        self.model = model.to("cuda" if use_cuda else "cpu").eval()
        self.lock = threading.Lock()  # generate() is not re-entrant on one model: one request at a time

    def chat(self, messages: list[dict[str, str]], max_tokens: int | None) -> dict[str, Any]:
        """Greedy reply: {"content", "prompt_tokens", "completion_tokens", "finish_reason"}."""
        import torch

        enc = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        input_ids = enc["input_ids"].to(self.model.device)
        attention = enc["attention_mask"].to(self.model.device)
        limit = max(1, min(max_tokens or self.max_new_tokens, self.max_new_tokens))
        with self.lock, torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=limit,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        new = out[0, input_ids.shape[1]:].tolist()
        stopped = bool(new) and new[-1] == self.tokenizer.eos_token_id
        return {
            "content": self.tokenizer.decode(new, skip_special_tokens=True).strip(),
            "prompt_tokens": int(input_ids.shape[1]),
            "completion_tokens": len(new),
            "finish_reason": "stop" if stopped or len(new) < limit else "length",
        }


def _handler(model: ChatModel, model_name: str) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one loaded model."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests and stages own stderr
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": status}})

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": model_name, "object": "model", "created": 0, "owned_by": "selfinstruct"}]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                messages = [{"role": m["role"], "content": _text(m.get("content"))} for m in req["messages"]]
            except (ValueError, KeyError, TypeError) as exc:
                self._error(400, f"bad request: {exc}")
                return
            if req.get("stream"):
                self._error(400, "stream=true is not supported by the local adapter server")
                return
            max_tokens = req.get("max_completion_tokens") or req.get("max_tokens")
            reply = model.chat(messages, int(max_tokens) if max_tokens else None)
            self._send(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": req.get("model") or model_name,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": reply["content"]},
                    "finish_reason": reply["finish_reason"],
                }],
                "usage": {
                    "prompt_tokens": reply["prompt_tokens"],
                    "completion_tokens": reply["completion_tokens"],
                    "total_tokens": reply["prompt_tokens"] + reply["completion_tokens"],
                },
            })

    return Handler


def _text(content: Any) -> str:
    """OpenAI content may be a string or a list of parts; only text parts matter here."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


@contextlib.contextmanager
def serve_model(
    base_model: str,
    adapter_dir: Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_new_tokens: int = 128,
    model_name: str = DEFAULT_MODEL_NAME,
) -> Iterator[str]:
    """Load the model, serve it in a background thread, and yield ``http://HOST:PORT/v1``.

    Use it from LiteLLM as ``model="openai/<anything>", api_base=url, api_key="local"``.  The server stops
    (and the port is released) when the ``with`` block exits.
    """
    model = ChatModel(base_model, Path(adapter_dir) if adapter_dir else None, max_new_tokens)
    server = ThreadingHTTPServer((host, port), _handler(model, model_name))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="selfinstruct-serve", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
