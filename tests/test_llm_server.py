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
from selfinstruct.testing import synthetic
from selfinstruct.testing.llm_server import (
    UNKNOWN_REPLY,
    LoopbackServer,
    ServerOptions,
    apply_max_tokens,
    apply_stop,
)

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
    assert srv.stats()["faults"] == {"429": 1, "500": 0, "timeout": 0, "malformed": 0}
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
                                        "faults": {"429": 0, "500": 0, "timeout": 0, "malformed": 0}}
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
        proc = subprocess.Popen([sys.executable, "-m", "selfinstruct.testing.llm_server", "--port", "0",
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
