"""The simulated model answers the audit and evaluation stages through the real HTTP path.

Prompts are the bundled templates rendered as the stages render them; replies come from an
in-process ``LoopbackServer`` with the stage header our client sends.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfinstruct.prompts import PromptTemplate
from selfinstruct.simulated import STAGE_HEADER, LoopbackServer, ServerOptions
from selfinstruct.simulated.cli import build_parser, options_from_args

USER_TASKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "user_oriented_instructions.jsonl"
AUDIT = PromptTemplate("judge/audit.txt", "test.audit")
RATE = PromptTemplate("judge/rate.txt", "test.rate")
RESPOND = PromptTemplate("evaluate/respond.txt", "test.respond")
AUDIT_LINE = re.compile(r"^Q([123]): (Yes|No) - \S.*$")
RATING_LINE = re.compile(r"^Rating: ([ABCD]) - \S.*$")


class Client:
    """Posts chat requests to a loopback server; ask(text, stage) returns the reply text.

    A fresh connection per request: on a kept-alive one, the server's two writes per reply meet
    the client's delayed ACK and every request waits ~40 ms.
    """

    def __init__(self, url: str) -> None:
        self.url = f"{url}/chat/completions"

    def ask(self, text: str, stage: str) -> str:
        body = json.dumps({"model": "loopback", "messages": [{"role": "user", "content": text}]}).encode()
        request = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": "application/json", STAGE_HEADER: stage})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
            data = json.loads(reply.read())
        return data["choices"][0]["message"]["content"]


def serve(**options: float) -> Iterator[Client]:
    with LoopbackServer(ServerOptions(seed=7, **options)) as srv:
        yield Client(srv.url)


@pytest.fixture(scope="module")
def judge() -> Iterator[Client]:
    yield from serve()


def _tasks() -> list[tuple[str, str, str]]:
    """(instruction, input, reference) of the user-oriented tasks, else made-up ones."""
    if USER_TASKS.is_file():
        rows = [json.loads(line) for line in USER_TASKS.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(r["instruction"], r["instances"][0]["input"], r["instances"][0]["output"]) for r in rows]
    topics = ["photosynthesis", "compound interest", "the French Revolution", "binary search", "volcanoes",
              "sourdough bread", "the water cycle", "electric cars", "remote work", "chess openings"]
    made_up = []
    for topic in topics:
        made_up += [(f"Explain {topic} to a curious teenager in a short paragraph.", "", ""),
                    (f"Write three tips for someone learning about {topic}.", "", ""),
                    (f"Summarize the following note about {topic} in one sentence.",
                     f"My notes on {topic}: it matters more than people think and takes practice.", ""),
                    (f"List common mistakes people make with {topic}.", "", "")]
    return made_up


def _audit(client: Client, instruction: str, input_text: str, output: str) -> list[bool]:
    reply = client.ask(AUDIT.render(instruction=instruction, input=input_text, output=output), "audit")
    lines = reply.splitlines()
    assert [AUDIT_LINE.match(line).group(1) for line in lines] == ["1", "2", "3"], reply
    return [AUDIT_LINE.match(line).group(2) == "Yes" for line in lines]


def test_replies_are_deterministic_and_well_formed(judge):
    instruction, input_text = "Summarize the following paragraph in one sentence.", "Cats sleep a lot. They nap."
    respond = RESPOND.render(instruction=instruction, input=input_text)
    answer = judge.ask(respond, "evaluate:respond")
    assert answer and judge.ask(respond, "evaluate:respond") == answer
    assert not re.search(r"\[[A-D]\]|Rating:|Q1:", answer)  # reads like an answer, no hidden marker
    rate = RATE.render(instruction=instruction, input=input_text, reference="Cats nap often.", response=answer)
    rating = judge.ask(rate, "evaluate:rate")
    assert RATING_LINE.match(rating) and "\n" not in rating
    assert judge.ask(rate, "evaluate:rate") == rating
    audit = AUDIT.render(instruction=instruction, input=input_text, output="Cats sleep and nap a lot.")
    assert judge.ask(audit, "audit") == judge.ask(audit, "audit")
    _audit(judge, instruction, input_text, "Cats sleep and nap a lot.")


def test_the_judge_rates_by_the_text():
    """Obvious cases get the letter the scale defines (no garbage, so only 3% noise can move them)."""
    from selfinstruct.simulated.judge import RatePrompt, rate

    task = ("Describe how volcanoes form.", "", "")
    good = "Volcanoes form where magma rises through the crust. Pressure builds until the magma erupts."
    assert rate(RatePrompt(*task, good))[0] == "A"
    assert rate(RatePrompt(*task, "I think volcanoes form from magma."))[0] == "B"
    assert rate(RatePrompt(*task, "Volcanoes form from magma. Actually, that is wrong: they do not."))[0] == "C"
    assert rate(RatePrompt(*task, "Volcanoes form when magma rises through the"))[0] == "C"
    assert rate(RatePrompt(*task, "Penguins cannot fly."))[0] == "D"
    assert rate(RatePrompt(*task, "I'm sorry, but I can't help with that request."))[0] == "D"


def _a_share(model: Client, judge: Client, tasks: list[tuple[str, str, str]]) -> float:
    letters = Counter()
    for instruction, input_text, reference in tasks:
        response = model.ask(RESPOND.render(instruction=instruction, input=input_text), "evaluate:respond")
        reply = judge.ask(RATE.render(instruction=instruction, input=input_text, reference=reference,
                                      response=response), "evaluate:rate")
        letters[RATING_LINE.match(reply).group(1)] += 1
    return letters["A"] / len(tasks)


def test_a_better_model_gets_more_a_ratings(judge):
    tasks = _tasks()
    shares = {}
    for quality in (0.9, 0.3):
        for model in serve(answer_quality=quality):
            shares[quality] = _a_share(model, judge, tasks)
    assert shares[0.9] >= 0.7 and shares[0.3] <= 0.45
    assert shares[0.9] - shares[0.3] >= 0.3, shares


def test_garbage_judge_replies_carry_no_verdict():
    for client in serve(judge_garbage_rate=1.0):
        for n in range(10):
            audit = client.ask(AUDIT.render(instruction=f"Write a poem about rivers, take {n}.", input="",
                                            output="Rivers run to the sea."), "audit")
            rating = client.ask(RATE.render(instruction=f"Write a poem about rivers, take {n}.", input="",
                                            reference="", response="Rivers run to the sea."), "evaluate:rate")
            for reply in (audit, rating):
                assert not re.search(r"Q[123]\s*:|Rating\s*:|\b(?:yes|no)\b|\b[ABCD]\b", reply, re.IGNORECASE), reply
        # the evaluated model's answers are not judge replies: unaffected
        answer = client.ask(RESPOND.render(instruction="Explain how rivers form.", input=""), "evaluate:respond")
        assert answer and "assess" not in answer


def test_audit_finds_real_problems(judge):
    assert _audit(judge, "Sort it.", "", "Done.")[0] is False  # under four words
    assert _audit(judge, "Summarize the following paragraph in two sentences.", "",
                  "It is about rivers.")[1] is False  # refers to an input that is missing
    assert _audit(judge, "Write a haiku about autumn leaves.", "", "")[2] is False  # empty output
    assert _audit(judge, "Fix the grammar of the given sentence.", "She go home.", "She go home.")[2] is False
    assert _audit(judge, "Explain why the sky is blue to a child.", "",
                  "Penguins live in the southern hemisphere and cannot fly at all.")[2] is False  # off topic


def _made_up_examples() -> list[tuple[str, str, str]]:
    """A small simulated-looking set: mostly fine examples, some with the usual defects."""
    topics = ["volcanoes", "tides", "rainbows", "bread dough", "vaccines", "earthquakes", "magnets", "glaciers",
              "solar panels", "honey bees"]
    examples = []
    for topic in topics:
        examples += [
            (f"Explain how {topic} work to a ten-year-old.", "",
             f"Think of {topic} as a simple machine: each part does one job, and together the {topic} work."),
            (f"Write a short poem about {topic}.", "",
             f"Quiet {topic} in the morning light,\nslowly changing day and night."),
            (f"Summarize the following note about {topic} in one sentence.",
             f"Notes: {topic} were studied for years; researchers found they change with the seasons.",
             f"Researchers found that {topic} change with the seasons."),
            (f"List three facts about {topic}.", "", "Nobody in Vienna expected the morning to end the way it did."),
            (f"Rewrite the given sentence about {topic} more formally.", f"{topic} are kinda cool",
             f"{topic} are kinda cool"),
        ]
    return examples


def test_audit_shares_on_a_made_up_set(judge):
    verdicts = [_audit(judge, *example) for example in _made_up_examples()]
    n = len(verdicts)
    shares = [sum(v[k] for v in verdicts) / n for k in range(3)]
    all_three = sum(all(v) for v in verdicts) / n
    assert 0.75 <= shares[0] <= 1.0 and 0.6 <= shares[1] <= 0.98 and 0.35 <= shares[2] <= 0.8, shares
    assert 0.3 <= all_three <= shares[2]


def test_options_and_flags_are_validated():
    args = build_parser().parse_args(["--answer-quality", "0.2", "--judge-garbage-rate", "0.5"])
    options = options_from_args(args)
    assert (options.answer_quality, options.judge_garbage_rate) == (0.2, 0.5)
    assert (ServerOptions().answer_quality, ServerOptions().judge_garbage_rate) == (0.7, 0.0)
    for bad in ({"answer_quality": 1.5}, {"judge_garbage_rate": -0.1}):
        with pytest.raises(ValueError):
            ServerOptions(**bad)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--answer-quality", "2"])


def test_a_client_without_the_stage_header_gets_the_same_judge_replies(judge: Client) -> None:
    """A standalone server (python -m selfinstruct.simulated) recognises the judge templates by their wording."""
    audit = AUDIT.render(instruction="Summarize the following review in one sentence.",
                         input="The battery lasts two days and the screen is bright.",
                         output="The phone has a long battery life and a bright screen.")
    rate = RATE.render(instruction="Name three primary colours.", input="", reference="Red, blue and yellow.",
                       response="Red, blue and yellow are the three primary colours.")
    for prompt, stage in ((audit, "audit"), (rate, "evaluate:rate")):
        assert judge.ask(prompt, "") == judge.ask(prompt, stage)
