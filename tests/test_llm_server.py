"""Behaviour of the loopback LLM server and its synthetic instruction grammar.

The server stands in for a real chat model in every offline test of the
pipeline, so these tests pin down what the pipeline relies on: OpenAI-shaped
replies through LiteLLM, determinism per prompt, stop/max_tokens semantics,
faults, defect rates and the diversity of the generated instructions.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import hashlib
import http.client
import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import litellm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from selfinstruct.filters.rouge import NearDuplicate
from selfinstruct.simulated import synthetic
from selfinstruct.simulated import (
    FAULT_KINDS,
    UNKNOWN_REPLY,
    LoopbackServer,
    ServerOptions,
    apply_max_tokens,
    apply_stop,
)
from selfinstruct.simulated.cli import build_parser

STOP = ["\n\n", "\n16", "16.", "16 ."]
DEMOS = [
    "Give three tips for staying healthy.",
    "What are the three primary colors?",
    "Describe the structure of an atom.",
    "How can we reduce air pollution?",
    "Describe a time when you had to make a difficult decision.",
    "Identify the odd one out: Twitter, Instagram, Telegram.",
    "Explain why the following fraction is equivalent to 1/4: 4/16",
    "Write a short story in third person narration about a protagonist who has to make an important career decision.",
    "Generate a list of ten items a person might need for a camping trip.",
    "Rewrite the given sentence in passive voice.",
    "Suggest a name for a new coffee shop near a university campus.",
    "Convert the following temperature from Celsius to Fahrenheit: 25 degrees.",
]
KEYWORD_RE = re.compile(r"\b(" + "|".join(re.escape(k) for k in synthetic.BANNED_KEYWORDS) + r")\b", re.I)
NO_DEFECTS = {"near_copy_rate": 0.0, "keyword_rate": 0.0, "short_rate": 0.0, "bad_start_rate": 0.0,
              "truncate_rate": 0.0}
ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


# ---------------------------------------------------------------- helpers


def bootstrap_prompt(variant: int = 0, header: str = "Come up with a series of tasks:") -> tuple[str, list[str]]:
    """The fixed Self-Instruct template with 8 demos (rotated by variant), ending '9.'."""
    demos = [DEMOS[(variant + i) % len(DEMOS)] for i in range(8)]
    body = "".join(f"{i}. {demo}\n" for i, demo in enumerate(demos, 1))
    return f"{header}\n{body}9.", demos


def chat(url: str, content: str, timeout: float = 5.0, **params: Any) -> tuple[int, dict[str, str], bytes]:
    """POST one chat request with urllib; returns status, headers and raw body."""
    payload = {"model": "sim", "messages": [{"role": "user", "content": content}], **params}
    request = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def content_of(body: bytes) -> tuple[str, str]:
    choice = json.loads(body)["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


_ITEM = re.compile(r"^\s*(\d+)\s*[.)]\s*(.*)$", re.M)


def parse_items(content: str, start: int = 9) -> list[tuple[int, str]]:
    """Numbered items of a bootstrap reply, the way a tolerant client reads them."""
    text = content.split("\n\n")[0]
    if text and not text[0].isspace() and not text[0].isdigit():
        text = text.partition("\n")[2]  # one-line chat preamble
    if not re.match(r"\s*\d+\s*[.)]", text):
        text = f"{start}.{text}"  # plain continuation of the prompt's 'N.'
    return [(int(n), item.strip()) for n, item in _ITEM.findall(text)]


def rouge_l(a: str, b: str) -> float:
    return ROUGE.score(a, b)["rougeL"].fmeasure


DIVERSITY_SAMPLE = 1000


def greedy_kept(instructions: list[str], threshold: float) -> int:
    """How many survive the paper's greedy ROUGE-L filter (its exactness is tested in test_filters)."""
    flt = NearDuplicate(threshold=threshold)
    kept = 0
    for text in instructions:
        if flt.check(text).keep:
            flt.add(text)
            kept += 1
    return kept


def items_from(url: str, prompts: int, **params: Any) -> list[tuple[list[str], list[tuple[int, str]], str]]:
    out = []
    for variant in range(prompts):
        prompt, demos = bootstrap_prompt(variant)
        status, _, body = chat(url, prompt, stop=STOP, max_tokens=1024, **params)
        assert status == 200
        content, finish = content_of(body)
        out.append((demos, parse_items(content), finish))
    return out


# ---------------------------------------------------------------- LiteLLM path


def complete(url: str, content: str, **params: Any) -> Any:
    return litellm.completion(model="openai/sim", api_base=url, api_key="sk-test", num_retries=0,
                              messages=[{"role": "user", "content": content}], **params)


def test_bootstrap_reply_through_litellm(llm_server):
    srv = llm_server(**NO_DEFECTS)
    prompt, _ = bootstrap_prompt(0)
    first = complete(srv.url, prompt, stop=STOP, max_tokens=1024, temperature=0.7, top_p=0.5,
                     presence_penalty=2)
    again = complete(srv.url, prompt, stop=STOP, max_tokens=1024, temperature=0.7, top_p=0.5)
    other = complete(srv.url, bootstrap_prompt(1)[0], stop=STOP, max_tokens=1024)

    content = first.choices[0].message.content
    items = parse_items(content)
    assert [n for n, _ in items] == list(range(9, 9 + len(items)))
    assert 4 <= len(items) <= 7  # 4-8 generated, overflow past 16 is cut at 15
    assert all(len(text.split()) > 3 for _, text in items)
    assert first.choices[0].finish_reason == "stop"
    assert again.choices[0].message.content == content
    assert other.choices[0].message.content != content
    usage = first.usage
    assert usage.prompt_tokens == len(prompt.split())
    assert usage.completion_tokens == len(content.split()) > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    complete(srv.url, "What's the weather like?")
    stats = srv.stats()
    assert stats["requests"] == 4
    assert stats["by_kind"] == {"bootstrap": 3, "unknown": 1}
    assert stats["by_status"] == {"200": 4}


def test_unknown_prompt_stop_and_max_tokens_through_litellm(loopback_url):
    plain = complete(loopback_url, "Hello?")
    assert plain.choices[0].message.content == UNKNOWN_REPLY
    assert plain.choices[0].finish_reason == "stop"

    stopped = complete(loopback_url, "Hello?", stop=["loopback", "server"])
    assert stopped.choices[0].message.content == "This is the selfinstruct "
    assert stopped.choices[0].finish_reason == "stop"

    capped = complete(loopback_url, "Hello?", max_tokens=3)
    assert capped.choices[0].message.content == "This is the"
    assert capped.choices[0].finish_reason == "length"
    assert capped.usage.completion_tokens == 3


def test_max_tokens_cuts_a_bootstrap_reply(loopback_url):
    status, _, body = chat(loopback_url, bootstrap_prompt(2)[0], stop=STOP, max_tokens=5)
    content, finish = content_of(body)
    assert status == 200 and finish == "length"
    assert len(content.split()) == 5


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab \n16.", max_size=40),
       stops=st.lists(st.text(alphabet="ab \n16.", min_size=1, max_size=3), max_size=4),
       limit=st.integers(min_value=0, max_value=10))
def test_stop_and_max_tokens_are_prefix_cuts(text, stops, limit):
    cut = apply_stop(text, stops)
    assert text.startswith(cut)
    assert not any(s in cut for s in stops)
    if cut != text:  # cut exactly at the earliest stop occurrence
        assert any(text[len(cut):].startswith(s) for s in stops)
    capped, was_cut = apply_max_tokens(text, limit)
    assert text.startswith(capped)
    assert len(capped.split()) == min(limit, len(text.split()))
    assert was_cut == (len(text.split()) > limit)


# ---------------------------------------------------------------- reply shapes


def test_reply_styles_overflow_and_chatter():
    """All reply styles occur; overflow past 16 and trailing chatter are cut by the stop list."""
    styles: set[str] = set()
    overflowed = chatter = 0
    with LoopbackServer(ServerOptions(seed=3, **NO_DEFECTS)) as srv:
        for variant in range(60):
            prompt, _ = bootstrap_prompt(variant % 12, header=f"Come up with a series of tasks ({variant}):")
            raw, _ = content_of(chat(srv.url, prompt, max_tokens=4096)[2])
            cut, finish = content_of(chat(srv.url, prompt, stop=STOP)[2])
            assert finish == "stop" and cut == apply_stop(raw, STOP)
            styles.add("plain" if raw.startswith(" ") else "paren" if raw.startswith("9)")
                       else "restated" if raw.startswith("9.") else "preamble")
            overflowed += bool(re.search(r"^1[78][.)]", raw, re.M))  # ran past 16
            chatter += "\n\n" in raw
            numbers = [n for n, _ in parse_items(cut)]
            assert numbers == list(range(9, 9 + len(numbers))) and 4 <= len(numbers) <= 7
            assert "\n\n" not in cut
    assert styles == {"plain", "restated", "paren", "preamble"}
    assert 4 <= overflowed <= 25 and chatter >= 1


def test_classification_header_biases_toward_classification_tasks():
    with LoopbackServer(ServerOptions(seed=1, **NO_DEFECTS)) as srv:
        def share(header: str) -> float:
            flags = []
            for variant in range(10):
                content, _ = content_of(chat(srv.url, bootstrap_prompt(variant, header)[0], stop=STOP)[2])
                for _, text in parse_items(content):
                    task = synthetic.task_for(text)
                    assert task is not None, text
                    flags.append(task.is_classification)
            return sum(flags) / len(flags)

        biased = share("Come up with a series of classification tasks. "
                       "Try to specify the possible output labels when possible.")
        normal = share("Come up with a series of tasks:")
    assert biased >= 0.6 and normal <= 0.45


# ---------------------------------------------------------------- defects


def has_keyword(text: str) -> bool:
    return bool(KEYWORD_RE.search(text))


def is_short(text: str) -> bool:
    return len(text.split()) <= 3


def bad_start(text: str) -> bool:
    return not (text[:1].isascii() and text[:1].isalnum()) or text.startswith("Write a program")


DEFECTS = {
    "keyword_rate": lambda text, demos: has_keyword(text),
    "short_rate": lambda text, demos: is_short(text),
    "bad_start_rate": lambda text, demos: bad_start(text),
    "near_copy_rate": lambda text, demos: max(rouge_l(text, d) for d in demos) > 0.7,
}


@pytest.mark.parametrize("rate_name", sorted(DEFECTS))
def test_defect_rate_one_affects_every_item(rate_name):
    options = ServerOptions(seed=11, truncate_rate=0.0, **{rate_name: 1.0})  # other rates at defaults
    with LoopbackServer(options) as srv:
        replies = items_from(srv.url, 8)
    checked = 0
    for demos, items, finish in replies:
        assert finish == "stop"
        for _, text in items:
            assert DEFECTS[rate_name](text, demos), text
            checked += 1
    assert checked >= 32


def test_no_defects_when_rates_are_zero():
    with LoopbackServer(ServerOptions(seed=11, **NO_DEFECTS)) as srv:
        replies = items_from(srv.url, 12)
    for demos, items, finish in replies:
        assert finish == "stop"
        for _, text in items:
            assert not any(check(text, demos) for check in DEFECTS.values()), text
            assert synthetic.task_for(text) is not None, text


def test_default_rates_mix_clean_and_defective_items():
    with LoopbackServer(ServerOptions(seed=5)) as srv:
        replies = items_from(srv.url, 40)
    texts = [(text, demos) for demos, items, _ in replies for _, text in items]
    defective = sum(any(check(t, d) for check in DEFECTS.values()) for t, d in texts)
    assert 0.1 <= defective / len(texts) <= 0.45  # defaults sum to ~0.24 per item


def test_truncate_rate_one_cuts_the_last_item_mid_way():
    base = ServerOptions(seed=2, **NO_DEFECTS)
    cut_options = ServerOptions(seed=2, **{**NO_DEFECTS, "truncate_rate": 1.0})
    with LoopbackServer(base) as whole, LoopbackServer(cut_options) as cut:
        for variant in range(8):
            prompt, _ = bootstrap_prompt(variant)
            full, full_finish = content_of(chat(whole.url, prompt, stop=STOP)[2])
            short, finish = content_of(chat(cut.url, prompt, stop=STOP)[2])
            assert full_finish == "stop" and finish == "length"
            assert full.startswith(short) and len(short) < len(full)
            assert short.count("\n") == full.count("\n")  # only the last item is cut
            assert not short.endswith((".", "?", "!"))


# ---------------------------------------------------------------- faults


def test_fault_429_has_retry_after_and_is_logged(llm_server):
    srv = llm_server(fault_rate=1, faults="429", retry_after_s=2, log=True)
    prompt, _ = bootstrap_prompt(0)
    status, headers, body = chat(srv.url, prompt)
    assert status == 429
    assert headers["Retry-After"] == "2"
    error = json.loads(body)["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert srv.stats()["faults"] == {"429": 1, "500": 0, "timeout": 0, "malformed": 0,
                                     "401": 0, "500echo": 0, "context": 0}
    (line,) = srv.log_lines()
    assert line["status"] == 429 and line["fault"] == "429" and line["retry_after"] == 2
    assert line["kind"] == "bootstrap"
    assert line["prompt_sha"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert abs(line["t"] - time.time()) < 30


def test_fault_500_returns_openai_error(llm_server):
    srv = llm_server(fault_rate=1, faults="500")
    status, _, body = chat(srv.url, "anything")
    assert status == 500
    assert json.loads(body)["error"]["type"] == "server_error"
    with pytest.raises(litellm.exceptions.InternalServerError):
        complete(srv.url, "anything")
    assert srv.stats()["by_status"] == {"500": 2}


def test_fault_malformed_body_does_not_parse(llm_server):
    srv = llm_server(fault_rate=1, faults="malformed")
    status, headers, body = chat(srv.url, bootstrap_prompt(0)[0])
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body) > 0
    with pytest.raises(ValueError):
        json.loads(body)
    assert srv.stats()["faults"]["malformed"] == 1


def test_fault_timeout_exceeds_client_timeout(llm_server):
    srv = llm_server(fault_rate=1, faults="timeout", slow_s=1)
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        chat(srv.url, "first", timeout=0.5)
    assert time.monotonic() - started < 0.9
    time.sleep(0.7)  # the server now replies to a client that has gone away
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        chat(srv.url, "second", timeout=0.3)
    assert srv.stats()["faults"]["timeout"] == 2
    assert srv.stop() == 0  # a handler still sleeping must not block shutdown
    assert srv.stderr_path.read_text() == ""  # disconnects are handled silently


def raw_error(url: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
    """POST one chat request with (or without) an Authorization header; status and error object."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    payload = {"model": "sim", "messages": [{"role": "user", "content": "hi"}]}
    request = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(payload).encode(), headers=headers)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    return info.value.code, json.loads(info.value.read())["error"]


def test_fault_401_echoes_the_key_through_litellm(llm_server):
    srv = llm_server(fault_rate=1, faults="401")
    with pytest.raises(litellm.exceptions.AuthenticationError) as info:
        litellm.completion(model="openai/sim", api_base=srv.url, api_key="sk-live-SECRET-123", num_retries=0,
                           messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert "Invalid credentials: Bearer sk-live-SECRET-123" in str(info.value)
    status, error = raw_error(srv.url, "Bearer  odd key\twith spaces")
    assert status == 401
    assert error == {"message": "Invalid credentials: Bearer  odd key\twith spaces", "type": "invalid_request_error",
                     "param": None, "code": "invalid_api_key"}
    assert raw_error(srv.url, None)[0] == 401  # no header: still a 401, nothing to echo
    stats = srv.stats()
    assert stats["faults"]["401"] == 3 and stats["by_status"] == {"401": 3}
    assert sum(stats["faults"].values()) == 3


def test_fault_500echo_quotes_the_key_through_litellm(llm_server):
    srv = llm_server(fault_rate=1, faults="500echo")
    with pytest.raises(litellm.exceptions.InternalServerError) as info:
        complete(srv.url, "anything")
    assert "Internal error while handling request with Authorization: Bearer sk-test" in str(info.value)
    status, error = raw_error(srv.url, "Bearer sk-other")
    assert status == 500 and error["type"] == "server_error"
    assert error["message"] == "Internal error while handling request with Authorization: Bearer sk-other"
    assert srv.stats()["faults"]["500echo"] == 2 and srv.stats()["faults"]["500"] == 0


def test_fault_context_is_openais_context_window_error(llm_server):
    srv = llm_server(fault_rate=1, faults="context")
    with pytest.raises(litellm.exceptions.ContextWindowExceededError) as info:
        complete(srv.url, bootstrap_prompt(0)[0])
    assert isinstance(info.value, litellm.exceptions.BadRequestError) and info.value.status_code == 400
    status, error = raw_error(srv.url, "Bearer sk-x")
    assert status == 400
    assert error == {"message": "This model's maximum context length is 8192 tokens. However, your messages "
                                "resulted in 9000 tokens. Please reduce the length of the messages.",
                     "type": "invalid_request_error", "param": None, "code": "context_length_exceeded"}
    assert "sk-x" not in error["message"]
    assert srv.stats()["faults"]["context"] == 2 and srv.stats()["by_kind"] == {"bootstrap": 1, "unknown": 1}


def test_fault_429_with_an_hour_long_retry_after(llm_server):
    srv = llm_server(fault_rate=1, faults="429", retry_after_s=3600, log=True)
    status, headers, _ = chat(srv.url, "hi")
    assert status == 429 and headers["Retry-After"] == "3600"
    with pytest.raises(litellm.exceptions.RateLimitError) as info:
        complete(srv.url, "hi")
    assert info.value.response.headers["retry-after"] == "3600"
    assert [line["retry_after"] for line in srv.log_lines()] == [3600, 3600]


def test_new_fault_kinds_are_opt_in():
    assert ServerOptions().faults == ("429", "500", "timeout", "malformed")
    assert set(ServerOptions().faults) < set(FAULT_KINDS)
    assert {"401", "500echo", "context"} <= set(FAULT_KINDS)
    assert build_parser().parse_args([]).faults == ServerOptions().faults
    assert build_parser().parse_args(["--faults", "401,context"]).faults == ("401", "context")
    assert ServerOptions(faults="500echo, 429").faults == ("500echo", "429")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--faults", "403"])
    # Every request faults, with the default kinds only: none of the new ones ever appears.
    with LoopbackServer(ServerOptions(seed=5, fault_rate=1, slow_s=0, retry_after_s=0)) as srv:
        statuses = {chat(srv.url, f"prompt {i}")[0] for i in range(40)}
        faults = srv.stats()["faults"]
    assert statuses <= {200, 429, 500}
    assert faults["401"] == faults["500echo"] == faults["context"] == 0
    assert sum(faults.values()) == 40 and all(faults[k] > 0 for k in ("429", "500", "timeout", "malformed"))


def test_mixed_new_faults_are_counted_by_kind():
    options = ServerOptions(seed=2, fault_rate=0.6, faults=("401", "500echo", "context"))
    with LoopbackServer(options) as srv:
        statuses = [chat(srv.url, "same prompt")[0] for _ in range(60)]
        stats = srv.stats()
    faults = stats["faults"]
    assert faults["401"] == statuses.count(401)
    assert faults["context"] == statuses.count(400)
    assert faults["500echo"] == statuses.count(500)
    assert statuses.count(200) == 60 - sum(faults.values()) > 0
    assert min(faults["401"], faults["500echo"], faults["context"]) > 0


def test_faults_follow_the_request_counter_deterministically():
    def statuses(seed: int) -> list[int]:
        options = ServerOptions(seed=seed, fault_rate=0.5, faults=("429", "500"), retry_after_s=0)
        with LoopbackServer(options) as srv:
            return [chat(srv.url, "same prompt every time")[0] for _ in range(24)]

    first = statuses(7)
    assert first == statuses(7)
    assert first != statuses(8)
    assert {200, 429, 500} <= set(first)  # retries of one prompt can succeed


def test_latency_is_applied():
    with LoopbackServer(ServerOptions(latency_ms=150)) as srv:
        started = time.monotonic()
        assert chat(srv.url, "hi")[0] == 200
        assert time.monotonic() - started >= 0.15


# ---------------------------------------------------------------- HTTP plumbing


def test_keep_alive_models_stats_reset_and_errors(llm_server):
    srv = llm_server()
    host, port = srv.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)

    def call(method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        assert int(resp.headers["Content-Length"]) == len(raw)
        assert resp.headers.get("Connection", "").lower() != "close"
        return resp.status, json.loads(raw)

    status, models = call("GET", "/v1/models")
    sock = conn.sock
    assert status == 200 and [m["id"] for m in models["data"]] == ["loopback"]
    status, _ = call("POST", "/v1/chat/completions", {"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    status, err = call("POST", "/v1/chat/completions",
                       {"model": "x", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and err["error"]["type"] == "invalid_request_error"
    status, err = call("POST", "/v1/chat/completions", {"model": "x"})
    assert status == 400 and "error" in err
    status, _ = call("GET", "/v1/nothing-here")
    assert status == 404
    assert conn.sock is sock  # every response reused the same connection

    status, stats = call("GET", "/stats")
    assert stats["requests"] == 3 and stats["by_status"] == {"200": 1, "400": 2}
    assert call("POST", "/reset", {})[0] == 200
    assert call("GET", "/stats")[1] == {"requests": 0, "by_status": {}, "by_kind": {},
                                        "faults": {"429": 0, "500": 0, "timeout": 0, "malformed": 0,
                                                   "401": 0, "500echo": 0, "context": 0},
                                        "uploads": 0, "jobs_created": 0, "job_retrievals": 0, "jobs_cancelled": 0,
                                        "batches_created": 0, "batch_retrievals": 0, "batch_lines": 0}
    conn.close()


def test_bursts_of_concurrent_connections_are_all_served():
    """A client with many workers connects at once; none may be reset or stalled."""
    with LoopbackServer(ServerOptions(seed=1)) as srv:
        with ThreadPoolExecutor(48) as pool:
            statuses = list(pool.map(lambda i: chat(srv.url, f"hello {i}", timeout=0.9)[0], range(48)))
        assert statuses == [200] * 48
        assert srv.stats()["requests"] == 48


def test_in_process_server_lifecycle():
    server = LoopbackServer(ServerOptions(seed=4))
    url = server.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
    assert chat(url, "hi")[0] == 200
    assert server.stats()["by_kind"] == {"unknown": 1}
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        chat(url, "hi", timeout=1)
    with pytest.raises(ValueError):
        ServerOptions(faults=("teapot",))
    assert ServerOptions(faults="429, timeout").faults == ("429", "timeout")
    assert ServerOptions(faults=500).faults == ("500",)


def test_cli_prints_url_first_and_exits_cleanly_on_signals():
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-m", "selfinstruct.simulated", "--port", "0",
                                 "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=root)
        try:
            first = proc.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", first)
            assert chat(first, "hi")[0] == 200
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert out == "" and err == ""


# ---------------------------------------------------------------- synthetic grammar


def test_diversity_under_the_rouge_l_filter():
    instructions = synthetic.SyntheticGenerator(seed=0).instructions(DIVERSITY_SAMPLE)
    kept_07 = greedy_kept(instructions, 0.7) / len(instructions)
    kept_05 = greedy_kept(instructions, 0.5) / len(instructions)
    assert kept_07 >= 0.85
    assert kept_05 <= kept_07 - 0.15


def test_generator_metadata_and_lookup():
    tasks = synthetic.SyntheticGenerator(seed=1).tasks(4000)
    assert tasks[:50] == synthetic.SyntheticGenerator(seed=1).tasks(50)
    assert [t.instruction for t in tasks[:50]] != synthetic.SyntheticGenerator(seed=2).instructions(50)
    assert len({t.instruction for t in tasks}) >= 3900
    assert 0.20 <= sum(t.is_classification for t in tasks) / len(tasks) <= 0.25
    assert 0.50 <= sum(t.takes_input for t in tasks) / len(tasks) <= 0.60
    assert len({t.family for t in tasks}) >= 10
    for task in tasks[:1500]:
        assert synthetic.task_for(task.instruction) == task
        assert bool(task.labels) == task.is_classification
        assert task.instruction[0].isascii() and task.instruction[0].isalpha()
        assert len(task.instruction.split()) > 3 and not has_keyword(task.instruction)
        assert not task.instruction.startswith("Write a program")
    assert synthetic.task_for("  " + tasks[0].instruction.upper() + " ") is not None
    assert synthetic.task_for("Tell me about your day.") is None
    assert synthetic.task_for("") is None
    rng = random.Random(3)
    assert synthetic.task_for(synthetic.keyword_instruction(rng)).family == "keyword"
    assert synthetic.task_for("Write a program that transposes a matrix.").family == "coding"
    labelled = synthetic.task_for("Classify the following movie review as positive, negative, or neutral.")
    assert labelled.is_classification and labelled.labels == ("positive", "negative", "neutral")


# ---------------------------------------------------------------- classify, instance and alpaca prompts

REPO = Path(__file__).resolve().parents[1]
SEEDS = [json.loads(line) for line in (REPO / "seeds" / "seed_tasks.jsonl").read_text().splitlines() if line.strip()]
INSTANCE_RATES = ("conflict_rate", "empty_output_rate", "colon_rate", "duplicate_rate", "same_io_rate")
NO_INSTANCE_DEFECTS = {**NO_DEFECTS, **dict.fromkeys(INSTANCE_RATES, 0.0)}
INPUT_FIRST_STOP = ["Example 6", "\nTask:"]
OUTPUT_FIRST_STOP = ["\nTask:"]
ALPACA_STOP = ["\n20", "20.", "20 ."]


def render(template: str, **variables: Any) -> str:
    """A prompt exactly as the client renders it (same Jinja2 options, stripped)."""
    import jinja2

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.from_string((REPO / "prompts" / template).read_text()).render(**variables).strip()


def seed_demos(k: int, variant: int, classification_only: bool = False) -> list[dict[str, Any]]:
    pool = [s for s in SEEDS if s["is_classification"] or not classification_only]
    demos = random.Random(variant).sample(pool, k)
    return [{**d, "takes_input": any(i["input"] for i in d["instances"]),
             "input": d["instances"][0]["input"], "output": d["instances"][0]["output"]} for d in demos]


def classify_prompt(instruction: str, variant: int = 0) -> str:
    return render("self_instruct/classify.txt", demos=seed_demos(30, variant), instruction=instruction)


def input_first_prompt(instruction: str, variant: int = 0) -> str:
    return render("self_instruct/instances_input_first.txt", demos=seed_demos(10, variant), instruction=instruction)


def output_first_prompt(instruction: str, variant: int = 0) -> str:
    return render("self_instruct/instances_output_first.txt", demos=seed_demos(12, variant, True),
                  instruction=instruction)


def alpaca_prompt(variant: int = 0) -> str:
    return render("alpaca/bootstrap.txt", demos=seed_demos(3, variant), num_tasks=20)


def tasks_where(n: int, seed: int, keep) -> list[synthetic.SyntheticTask]:
    gen = synthetic.SyntheticGenerator(seed)
    out: list[synthetic.SyntheticTask] = []
    while len(out) < n:
        task = gen.task(0.5)
        if keep(task):
            out.append(task)
    return out


_MARKER = re.compile(r"^(?:\*\*)?(Example \d+:?|Input(?: \d+)?:|Output(?: \d+)?:)(?:\*\*)?[ ]?(.*)$")


def parse_input_first(reply: str) -> list[dict[str, str]]:
    """Examples of an input-first reply: dicts with 'output' and, when given, 'input'."""
    lines = reply.splitlines()
    if lines and lines[0].startswith("Task:"):
        lines = lines[1:]
    examples: list[dict[str, str]] = []
    current: dict[str, list[str]] | None = None
    field = None
    for line in lines:
        match = _MARKER.match(line)
        if not match:
            if current is not None and field:
                current[field].append(line)
            continue
        marker, rest = match.groups()
        name = marker.split()[0].rstrip(":").lower()
        if name == "example" or current is None or name in current or (name == "input" and "output" in current):
            current = {}
            examples.append(current)  # type: ignore[arg-type]
        if name != "example":
            field = name
            current[name] = [rest] if rest else []
    return [{k: "\n".join(v).strip() for k, v in ex.items()} for ex in examples if ex]


_LABEL = re.compile(r"^(?:\*\*)?Class label(?: \d+)?:(?:\*\*)?[ ]?(.*)$")
_LABEL_INPUT = re.compile(r"^(?:\*\*)?Input(?: \d+)?:(?:\*\*)?[ ]?(.*)$")


def parse_output_first(reply: str) -> list[dict[str, str]]:
    """Examples of an output-first reply: dicts with 'output' (the label) and maybe 'input'."""
    examples: list[dict[str, list[str]]] = []
    field = None
    for line in reply.splitlines():
        label, given = _LABEL.match(line), _LABEL_INPUT.match(line)
        if label:
            examples.append({"output": [label.group(1)]})
            field = "output"
        elif given and examples:
            examples[-1]["input"] = [given.group(1)] if given.group(1) else []
            field = "input"
        elif examples and field and not line.startswith("Task:"):
            examples[-1][field].append(line)
    return [{k: "\n".join(v).strip() for k, v in ex.items()} for ex in examples]


_ALPACA_FIELD = re.compile(r"^(\d+)\. (Instruction|Input|Output):[ ]?(.*)$")


def parse_alpaca(reply: str, start: int) -> list[dict[str, Any]]:
    """###-separated blocks; the first continues the prompt's 'N. Instruction:'."""
    blocks = []
    for k, block in enumerate(re.split(r"\n###[ \t]*(?:\n|$)", reply)):
        if k == 0 and not _ALPACA_FIELD.match(block.lstrip().partition("\n")[0]):
            block = f"{start}. Instruction: {block.lstrip()}"
        fields: dict[str, list[str]] = {}
        numbers: set[int] = set()
        name = None
        for line in block.strip("\n").splitlines():
            match = _ALPACA_FIELD.match(line)
            if match:
                numbers.add(int(match.group(1)))
                name = match.group(2).lower()
                fields[name] = [match.group(3)] if match.group(3) else []
            elif name:
                fields[name].append(line)
        parsed = {k: "\n".join(v).strip() for k, v in fields.items()}
        if parsed.get("input") == "<noinput>":
            parsed["input"] = ""
        blocks.append({**parsed, "numbers": numbers})
    return blocks


def pool_map(fn, items: list[Any], workers: int = 16) -> list[Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def test_classify_answers_match_the_grammar_through_litellm(llm_server):
    srv = llm_server()
    tasks = synthetic.SyntheticGenerator(seed=21).tasks(300)

    def ask(item: tuple[int, synthetic.SyntheticTask]) -> Any:
        i, task = item
        return complete(srv.url, classify_prompt(task.instruction, i % 5), max_tokens=3, stop=["\n"],
                        temperature=0)

    replies = pool_map(ask, list(enumerate(tasks)))
    styles = set()
    for task, reply in zip(tasks, replies):
        content = reply.choices[0].message.content
        styles.add(content)
        first = re.sub(r"[^\w]", "", content.split()[0]).lower()
        assert first == ("yes" if task.is_classification else "no"), (task.instruction, content)
        assert reply.choices[0].finish_reason == ("length" if len(content.split()) == 3 else "stop")
    assert {"Yes", "yes", " Yes.", "Yes, because it", "No", "No.", "no - the"} <= styles
    assert srv.stats()["by_kind"] == {"classify": 300}


def test_classify_knows_every_instruction_the_server_generates():
    """Junk prefixes, near-copies, keyword and bad-start items: the answer never guesses wrong."""
    rng = random.Random(4)
    cases: list[tuple[str, bool]] = []
    for task in synthetic.SyntheticGenerator(seed=8).tasks(120):
        cases.append((rng.choice(synthetic.BAD_PREFIXES) + task.instruction, task.is_classification))
        cases.append((synthetic.near_copy(task.instruction, rng), task.is_classification))
    cases += [(synthetic.keyword_instruction(rng), False) for _ in range(20)]
    cases += [("Write a program that transposes a matrix.", False), ("Tell jokes.", False)]
    with LoopbackServer(ServerOptions(seed=2)) as srv:
        for instruction, truth in cases:
            content, _ = content_of(chat(srv.url, classify_prompt(instruction), max_tokens=3, stop=["\n"])[2])
            assert content.strip().lower().startswith("yes" if truth else "no"), (instruction, content)
        # seed tasks are unknown to the grammar: the keyword heuristic gets nearly all of them
        right = sum(content_of(chat(srv.url, classify_prompt(s["instruction"]))[2])[0].strip().lower()
                    .startswith("yes" if s["is_classification"] else "no") for s in SEEDS)
    assert right >= 0.9 * len(SEEDS)


def test_input_first_reply_shapes_through_litellm(llm_server):
    srv = llm_server(**NO_INSTANCE_DEFECTS)
    tasks = synthetic.SyntheticGenerator(seed=13).tasks(60)

    def ask(item: tuple[int, synthetic.SyntheticTask]) -> Any:
        i, task = item
        return complete(srv.url, input_first_prompt(task.instruction, i), max_tokens=350, stop=INPUT_FIRST_STOP,
                        temperature=0)

    replies = pool_map(ask, list(enumerate(tasks)))
    assert ask((0, tasks[0])).choices[0].message.content == replies[0].choices[0].message.content
    counts = set()
    starts = set()
    for task, reply in zip(tasks, replies):
        content = reply.choices[0].message.content
        assert reply.choices[0].finish_reason == "stop"
        starts.add(re.sub(r"\d+", "N", content.partition("\n")[0].split(":")[0][:11]))
        examples = parse_input_first(content)
        if task.takes_input:
            assert 1 <= len(examples) <= 5, content
            counts.add(len(examples))
            assert all(ex.get("input") and ex.get("output") for ex in examples), content
            assert len({ex["input"] for ex in examples}) == len(examples)
        else:
            assert examples == [{"output": examples[0]["output"]}] and examples[0]["output"], content
            assert "Input" not in content
    assert counts == {1, 2, 3, 4, 5}
    assert {"Example N", "Input N", "**Example N", "Task", "Output"} <= starts
    assert srv.stats()["by_kind"] == {"instances_input_first": 61}


def test_input_first_styles_and_multiline_values():
    with LoopbackServer(ServerOptions(seed=6, **NO_INSTANCE_DEFECTS)) as srv:
        contents = [content_of(chat(srv.url, input_first_prompt(t.instruction, i), stop=INPUT_FIRST_STOP)[2])[0]
                    for i, t in enumerate(tasks_where(80, 3, lambda t: t.takes_input))]
    assert any(re.search(r"^Example 1:$", c, re.M) for c in contents)
    assert any(re.search(r"^Input 1: ", c, re.M) for c in contents)
    assert any(re.search(r"^\*\*Input:\*\* ", c, re.M) for c in contents)
    assert any(c.startswith("Task: ") for c in contents)
    assert any(re.search(r"^Output:\n(?:1\.|-) ", c, re.M) for c in contents)  # a list over several lines
    assert any(re.search(r"^Input:\n", c, re.M) for c in contents)  # e.g. a code snippet


def test_output_first_replies_carry_every_label_through_litellm(llm_server):
    srv = llm_server(**NO_INSTANCE_DEFECTS)
    tasks = tasks_where(30, 5, lambda t: t.is_classification)

    def ask(item: tuple[int, synthetic.SyntheticTask]) -> Any:
        i, task = item
        return complete(srv.url, output_first_prompt(task.instruction, i), max_tokens=300,
                        stop=OUTPUT_FIRST_STOP, temperature=0)

    for task, reply in zip(tasks, pool_map(ask, list(enumerate(tasks)))):
        content = reply.choices[0].message.content
        examples = parse_output_first(content)
        assert [ex["output"] for ex in examples] == list(task.labels), content
        assert all(ex.get("input") for ex in examples), content
        assert len({ex["input"] for ex in examples}) == len(examples)
    # a task that needs no input gets its labels alone; unknown tasks fall back to Yes/No
    no_input = "Suggest a name for a new coffee shop near a university campus."
    content = complete(srv.url, output_first_prompt(no_input), stop=OUTPUT_FIRST_STOP).choices[0].message.content
    assert "Input" not in content
    assert [ex for ex in parse_output_first(content)] == [{"output": "Yes"}, {"output": "No"}]
    assert srv.stats()["by_kind"] == {"instances_output_first": 31}


def test_output_first_styles():
    tasks = tasks_where(100, 9, lambda t: t.is_classification)
    with LoopbackServer(ServerOptions(seed=3, **NO_INSTANCE_DEFECTS)) as srv:
        contents = [content_of(chat(srv.url, output_first_prompt(t.instruction, i), stop=OUTPUT_FIRST_STOP)[2])[0]
                    for i, t in enumerate(tasks)]
    assert any(c.startswith("Class label: ") for c in contents)
    assert any(c.startswith("Class label 1: ") for c in contents)
    assert any(c.startswith("**Class label:** ") for c in contents)
    assert any(c.startswith("Task: ") for c in contents)


def test_alpaca_blocks_continue_from_n_through_litellm(llm_server):
    srv = llm_server(**NO_INSTANCE_DEFECTS)
    for variant in range(6):
        prompt = alpaca_prompt(variant)
        assert prompt.endswith("###\n4. Instruction:")
        reply = complete(srv.url, prompt, max_tokens=3072, stop=ALPACA_STOP, temperature=1.0)
        content = reply.choices[0].message.content
        assert reply.choices[0].finish_reason == "stop"
        blocks = parse_alpaca(content, 4)
        assert content.endswith("\n###") and blocks[-1] == {"numbers": set()}  # "20. ..." was cut by the stop
        blocks = blocks[:-1]
        assert [b["numbers"] for b in blocks] == [{n} for n in range(4, 20)]
        for block in blocks:
            assert block["instruction"] and block["output"] and "input" in block, block
            assert synthetic.task_for(block["instruction"]) is not None
        assert any(b["input"] for b in blocks) and any(not b["input"] for b in blocks)
    assert srv.stats()["by_kind"] == {"alpaca": 6}


def test_alpaca_reply_styles():
    """The first task continues 'N. Instruction:' with or without a space, or restates the number."""
    firsts, inline = set(), False
    with LoopbackServer(ServerOptions(seed=8, **NO_INSTANCE_DEFECTS)) as srv:
        for variant in range(30):
            content, _ = content_of(chat(srv.url, alpaca_prompt(variant), stop=ALPACA_STOP)[2])
            firsts.add("space" if content.startswith(" ") else "restated" if content.startswith("4.") else "bare")
            inline |= bool(re.search(r"^5\. Input: \S", content, re.M))
            assert len(parse_alpaca(content, 4)) == 17
    assert firsts == {"space", "restated", "bare"} and inline


def test_alpaca_instruction_defects_apply():
    with LoopbackServer(ServerOptions(seed=5, truncate_rate=0.0, short_rate=1.0)) as srv:
        blocks = parse_alpaca(content_of(chat(srv.url, alpaca_prompt(), stop=ALPACA_STOP)[2])[0], 4)[:-1]
    assert len(blocks) == 16 and all(is_short(b["instruction"]) for b in blocks)
    with LoopbackServer(ServerOptions(seed=5, **{**NO_INSTANCE_DEFECTS, "near_copy_rate": 1.0})) as srv:
        prompt = alpaca_prompt(1)
        demos = [d["instruction"] for d in seed_demos(3, 1)]
        blocks = parse_alpaca(content_of(chat(srv.url, prompt, stop=ALPACA_STOP)[2])[0], 4)[:-1]
    assert all(max(rouge_l(b["instruction"], d) for d in demos) > 0.7 for b in blocks)


# --- instance defects: each rate at 1 shows everywhere, at 0 nowhere ----------


def has_conflict(examples: list[dict[str, str]]) -> bool:
    outputs: dict[tuple[str, str], set[str]] = {}
    for ex in examples:
        if ex.get("input"):
            outputs.setdefault((ex.get("instruction", ""), ex["input"]), set()).add(ex["output"])
    return any(len(v) > 1 for v in outputs.values())


def has_duplicate(examples: list[dict[str, str]]) -> bool:
    keys = [(ex.get("instruction", ""), ex.get("input", ""), ex["output"]) for ex in examples]
    return len(set(keys)) < len(keys)


EXAMPLE_DEFECTS = {
    "empty_output_rate": lambda ex: ex["output"] == "",
    "colon_rate": lambda ex: ex.get("input", "").endswith(":") or ex["output"].endswith(":"),
    "same_io_rate": lambda ex: bool(ex.get("input")) and ex["output"] == ex["input"],
}
REPLY_DEFECTS = {"conflict_rate": has_conflict, "duplicate_rate": has_duplicate}


def instance_replies(options: ServerOptions, n: int = 12) -> list[tuple[str, list[dict[str, str]]]]:
    """(kind, examples) for n input-first, n output-first and 3 alpaca replies."""
    with_input = tasks_where(n, 17, lambda t: t.takes_input and not t.is_classification)
    classification = tasks_where(n, 18, lambda t: t.is_classification)
    out = []
    with LoopbackServer(options) as srv:
        for i, task in enumerate(with_input):
            content, _ = content_of(chat(srv.url, input_first_prompt(task.instruction, i), stop=INPUT_FIRST_STOP)[2])
            out.append(("input_first", parse_input_first(content)))
        for i, task in enumerate(classification):
            content, _ = content_of(chat(srv.url, output_first_prompt(task.instruction, i), stop=OUTPUT_FIRST_STOP)[2])
            out.append(("output_first", parse_output_first(content)))
        for variant in range(3):
            content, _ = content_of(chat(srv.url, alpaca_prompt(variant), stop=ALPACA_STOP)[2])
            out.append(("alpaca", [b for b in parse_alpaca(content, 4) if b["numbers"]]))
    return out


@pytest.mark.parametrize("rate_name", INSTANCE_RATES)
def test_instance_defect_rate_one_shows_everywhere(rate_name):
    options = ServerOptions(seed=23, truncate_rate=0.0, **{rate_name: 1.0})  # other rates at defaults
    checked = 0
    for kind, examples in instance_replies(options):
        assert examples, kind
        if rate_name in REPLY_DEFECTS:
            assert REPLY_DEFECTS[rate_name](examples), (kind, examples)
            continue
        check = EXAMPLE_DEFECTS[rate_name]
        for ex in examples:
            if rate_name == "same_io_rate" and not ex.get("input"):
                continue  # only an example with an input can repeat it
            assert check(ex), (kind, ex)
            checked += 1
    assert rate_name in REPLY_DEFECTS or checked >= 60


def test_no_instance_defects_when_rates_are_zero():
    for kind, examples in instance_replies(ServerOptions(seed=23, **NO_INSTANCE_DEFECTS), n=20):
        assert examples
        assert not has_conflict(examples) and not has_duplicate(examples), (kind, examples)
        for ex in examples:
            assert not any(check(ex) for check in EXAMPLE_DEFECTS.values()), (kind, ex)


def test_default_instance_rates_mix_clean_and_defective_examples():
    examples = [ex for _, exs in instance_replies(ServerOptions(seed=31, truncate_rate=0.0), n=30) for ex in exs]
    defective = sum(any(check(ex) for check in EXAMPLE_DEFECTS.values()) for ex in examples)
    assert 0.04 <= defective / len(examples) <= 0.25  # defaults sum to ~0.13 per example


def test_instance_rates_reach_the_cli(llm_server):
    srv = llm_server(duplicate_rate=1, conflict_rate=0, truncate_rate=0)
    task = tasks_where(1, 2, lambda t: t.is_classification)[0]
    reply = complete(srv.url, output_first_prompt(task.instruction), stop=OUTPUT_FIRST_STOP)
    content = reply.choices[0].message.content
    examples = parse_output_first(content)
    assert has_duplicate(examples) and len(examples) == len(task.labels) + 1
    with pytest.raises(ValueError):
        ServerOptions(colon_rate=1.5)


def test_truncate_rate_one_cuts_instance_and_alpaca_replies_mid_instance():
    task = tasks_where(1, 4, lambda t: t.takes_input and not t.is_classification)[0]
    label_task = tasks_where(1, 4, lambda t: t.is_classification)[0]
    prompts = [(input_first_prompt(task.instruction), INPUT_FIRST_STOP),
               (output_first_prompt(label_task.instruction), OUTPUT_FIRST_STOP),
               (alpaca_prompt(), ALPACA_STOP)]
    for seed in range(6):
        with LoopbackServer(ServerOptions(seed=seed, **{**NO_INSTANCE_DEFECTS, "truncate_rate": 1.0})) as cut, \
                LoopbackServer(ServerOptions(seed=seed, **NO_INSTANCE_DEFECTS)) as whole:
            for prompt, stop in prompts:
                content, finish = content_of(chat(cut.url, prompt, stop=stop)[2])
                full, full_finish = content_of(chat(whole.url, prompt, stop=stop)[2])
                assert finish == "length" and full_finish == "stop", content
                assert full.startswith(content) and len(content) < len(full.rstrip("\n#"))
                assert not content.endswith(("###", "\n")) and content.strip()
