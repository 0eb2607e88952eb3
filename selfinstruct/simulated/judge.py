"""Simulated replies for the judge and evaluation stages: ``audit``, ``evaluate:respond``, ``evaluate:rate``.

The evaluated model (``evaluate:respond``) answers at one of four quality levels, drawn with the
per-prompt RNG so that a higher ``answer_quality`` gives more good answers. Each level leaves
features in the text itself (on-topic words, hedges, contradictions, a cut-off ending, an
off-topic sentence or a refusal) and the simulated judge (``evaluate:rate``) rates by those
features alone, so ratings track quality through the real request path without hidden markers.
The auditor (``audit``) answers the three Table 2 questions from real signals in the example
(a too-short instruction, a missing or unneeded input, an empty, copied or cut-off output) and a
correlated draw tuned so that typical simulated data comes out near the paper's yes shares.
``judge_garbage_rate`` makes a judge reply carry no verdict at all, for the client's parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selfinstruct.simulated import synthetic
from selfinstruct.simulated.replies import ReplyContext, register_stage_reply

# --- words -------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+")
_STOP = frozenset("""
about above after again against also among another answer because been before being below between both
could does doing done during each every example following from further given have having here into itself
just like make many more most much must only other over please same should some such than that their them
then there these they this those through under until upon very what when where which while will with
without would your yours write task tell give show find using used into onto it's i'm don't can't
""".split())
# Words a natural sentence never ends on: a reply ending on one was cut off.
_DANGLING = frozenset("the a an of to and or with for in on at by from that which is was are but so because "
                      "if than as into".split())
_REFUSAL = re.compile(r"\b(?:i'?m sorry|i cannot|i can'?t help|i am unable|as an ai)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:i think|probably|more or less|not fully sure|roughly speaking|i guess)\b",
                    re.IGNORECASE)
_CONTRADICTION = re.compile(r"\b(?:actually, (?:that|this|it) is wrong|on second thought|which is not true|"
                            r"that is incorrect|the opposite is true)\b", re.IGNORECASE)
_NOT_DOABLE = re.compile(r"\b(?:image|picture|photo|video|audio|graph|diagram|draw|sketch|file|website|url)s?\b",
                         re.IGNORECASE)
# A task asks something (a question mark) or has a sentence opening with a request word.
_TASK_CUE = re.compile(
    r"(?:^|[.!;:]\s+)(?:write|explain|list|give|describe|tell|summari[sz]e|translate|rewrite|classify|"
    r"identify|find|create|make|generate|suggest|compose|draft|plan|schedule|estimate|compare|convert|sort|"
    r"name|brainstorm|design|outline|recommend|predict|determine|decide|choose|answer|solve|calculate|"
    r"compute|fix|correct|proofread|paraphrase|cut|turn|introduce|convince|help|work|tag|label|guess|"
    r"analy[sz]e|extract|detect|check|rate|judge|given|from|here|someone|i|if|besides|imagine|pretend|"
    r"you|use|provide|propose|select|count|put|add|remove|reply|respond|evaluate|debug|implement|develop|"
    r"prepare|produce|format|split|merge|group|rank|edit|improve|shorten|expand|simplify|complete|fill|"
    r"continue|come|think|consider|assume|read|look|order|adapt|walk|arrange|set|assign|match|pick|spot|"
    r"point|mark|keep|avoid|say|state|show|teach|draw|review|critique|argue|defend|debate|"
    r"discuss|define|clarify)\b|\?",
    re.IGNORECASE)
_REFERS_TO_INPUT = re.compile(r"\b(?:given|following|below|these|passage|snippet|above)\b", re.IGNORECASE)


def _stem(word: str) -> str:
    """Light stemming, so 'plants' meets 'plant' when overlaps are counted."""
    word = word.lower().removesuffix("'s")
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Distinct content words in order of appearance (length >= 4, not a stop word)."""
    seen: dict[str, None] = {}
    for token in _WORD.findall(text):
        low = token.lower()
        if len(low) >= 4 and low not in _STOP and not low.isdigit():
            seen.setdefault(low, None)
    return list(seen)


def _stems(text: str) -> set[str]:
    """Stemmed content words: what two texts must share to be about the same thing."""
    return {_stem(w) for w in content_words(text)}


def _all_tokens(text: str) -> set[str]:
    """Every stemmed token, numbers included: a bare label or number can still echo the task."""
    return {_stem(t) for t in _WORD.findall(text)}


def on_topic_words(response: str, source: str) -> int:
    """How many of the response's content words (stemmed) the source also uses."""
    return len(_stems(response) & _stems(source))


def shares_nothing(response: str, source: str) -> bool:
    """No content word and no number in common: the response is about something else."""
    numbers = {t for t in _WORD.findall(response) if t.isdigit()} & {t for t in _WORD.findall(source) if t.isdigit()}
    return not numbers and on_topic_words(response, source) == 0


def is_cut_off(text: str) -> bool:
    """A reply that stops mid-sentence: a prose last line ending on a dangling word or a one-letter
    fragment after a full sentence, or a long prose line with no closing punctuation."""
    stripped = text.rstrip()
    if not stripped or not stripped[-1].isalpha():
        return False
    last_line = stripped.splitlines()[-1].strip()
    if re.match(r"(?:[-*\d]|[\w ]+:)", last_line):  # a list item, a field or a dialogue line
        return False
    words = last_line.split()
    if len(words) >= 4 and words[-1].lower() in _DANGLING:
        return True
    if len(words[-1]) == 1 and words[-1] not in ("I", "a") and ". " in last_line:
        return True
    return len(words) >= 12


def _field(text: str, start: str, ends: tuple[str, ...]) -> str | None:
    """The text after the first `start` up to the nearest of `ends` (None without `start`)."""
    at = text.find(start)
    if at < 0:
        return None
    rest = text[at + len(start):]
    cut = min((i for i in (rest.find(e) for e in ends) if i >= 0), default=len(rest))
    return rest[:cut].strip()


def _empty(value: str | None) -> str:
    """A template's "(empty)" placeholder (or a missing field) is no input."""
    value = (value or "").strip()
    return "" if value == "(empty)" else value


def _drop_trailing(text: str, marker: str, paragraphs: int) -> str:
    """The field's text without the template's closing block (from `marker`, else the last paragraphs)."""
    at = text.rfind(marker)
    if at >= 0:
        return text[:at].strip()
    parts = text.split("\n\n")
    return "\n\n".join(parts[:-paragraphs] if len(parts) > paragraphs else parts[:1]).strip()


# --- garbage -----------------------------------------------------------------

# Judge replies with no verdict at all (no Q lines, no Yes/No, no rating letter).
_GARBAGE = (
    "I'm not sure how to assess this.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Interesting example; it deserves more thought than I can give here.",
    "Thank you for sharing this. Let me think about it some more before I comment.",
    "It depends on the context, which is hard to judge from here.",
)


def _garbage(ctx: ReplyContext) -> str | None:
    """A verdict-free reply with probability judge_garbage_rate (one draw, always taken)."""
    roll = ctx.rng.random()
    pick = ctx.rng.choice(_GARBAGE)
    return pick if roll < ctx.options.judge_garbage_rate else None


# --- evaluate:respond --------------------------------------------------------

LEVELS = ("good", "minor", "significant", "irrelevant")
_OFF_TOPIC = (
    "The weather in spring is usually mild, and many people enjoy long walks in the park.",
    "My favourite breakfast is toast with butter, jam and a cup of strong tea.",
    "Trains in the countryside often run late on Sundays, so plan your journey early.",
    "Penguins live mostly in the southern hemisphere and cannot fly.",
)
_REFUSALS = ("I'm sorry, but I can't help with that request.", "I'm sorry, I cannot answer this.")


def draw_level(quality: float, ctx: ReplyContext) -> str:
    """P(good) = q; the rest splits over minor / significant / irrelevant, shifting to minor as q grows."""
    roll = ctx.rng.random()
    if roll < quality:
        return "good"
    rest = (roll - quality) / (1.0 - quality) if quality < 1.0 else 0.0
    minor, significant = 0.4 + 0.3 * quality, 0.35 - 0.15 * quality
    if rest < minor:
        return "minor"
    return "significant" if rest < minor + significant else "irrelevant"


def _topic(instruction: str, input_text: str, ctx: ReplyContext) -> list[str]:
    """Up to four content words of the task (input words first), padded with generic ones."""
    words = content_words(input_text) + content_words(instruction)
    words = list(dict.fromkeys(words))[:6]
    ctx.rng.shuffle(words)
    return (words + ["request", "details", "result", "context"])[:4]


def good_answer(words: list[str], ctx: ReplyContext) -> str:
    """Complete, on-topic sentences reusing the task's words."""
    a, b, c, d = words
    opener = ctx.rng.choice((f"Here is a clear answer about {a} and {b}.",
                             f"The task is about {a}, so the answer starts with {b}.",
                             f"To handle the {a}, look first at the {b}."))
    middle = ctx.rng.choice((f"The main point is that {c} depends on {d}, so each part is covered in order.",
                             f"Next, {c} is treated together with {d}, and every step is explained.",
                             f"Both {c} and {d} are included, with a short example for each."))
    closing = ctx.rng.choice(("This keeps the result complete and easy to follow.",
                              "Together these points answer the request in full.",
                              "Nothing from the original request is left out."))
    return f"{opener} {middle} {closing}"


def minor_answer(words: list[str], ctx: ReplyContext) -> str:
    """On topic but terse or hedged."""
    a, b = words[0], words[1]
    return ctx.rng.choice((f"I think it is mostly about {a}.",
                           f"Probably {a} and {b}.",
                           f"The answer concerns {a} and {b}, more or less, though some details are skipped."))


def significant_answer(words: list[str], ctx: ReplyContext) -> str:
    """On topic but contradicting itself, or cut off mid-sentence."""
    a, b = words[0], words[1]
    if ctx.rng.random() < 0.5:
        return (f"The {a} is the most important part of the answer. Actually, that is wrong: "
                f"the {a} does not matter, and the {b} is the opposite of what was asked.")
    return f"To handle the {a}, the first step is to take the {b} and then compare it with the"


def irrelevant_answer(source: str, ctx: ReplyContext) -> str:
    """Off-topic text sharing no word with the task, or a refusal."""
    off = [s for s in _OFF_TOPIC if not on_topic_words(s, source)]
    if off and ctx.rng.random() < 0.6:
        return ctx.rng.choice(off)
    return ctx.rng.choice(_REFUSALS)


def split_task(prompt: str) -> tuple[str, str]:
    """The respond prompt is the instruction, then optionally a blank line and the input."""
    instruction, _, input_text = prompt.strip().partition("\n\n")
    return instruction.strip(), input_text.strip()


def answer_quality(ctx: ReplyContext) -> float:
    """answer_quality, plus finetune_quality_gain (capped at 1) when the request names a fine-tuned
    ``ft:`` model: so evaluating base against tuned shows the gain fine-tuning is meant to bring."""
    quality = ctx.options.answer_quality
    if ctx.model.startswith("ft:"):
        return min(1.0, quality + ctx.options.finetune_quality_gain)
    return quality


@register_stage_reply("evaluate:respond")
def respond_reply(prompt: str, ctx: ReplyContext) -> str:
    """The evaluated model's answer, at a level drawn from answer_quality (higher for a fine-tuned model)."""
    instruction, input_text = split_task(prompt)
    level = draw_level(answer_quality(ctx), ctx)
    words = _topic(instruction, input_text, ctx)
    if level == "good":
        return good_answer(words, ctx)
    if level == "minor":
        return minor_answer(words, ctx)
    if level == "significant":
        return significant_answer(words, ctx)
    return irrelevant_answer(f"{instruction}\n{input_text}", ctx)


# --- evaluate:rate -----------------------------------------------------------

@dataclass(frozen=True)
class RatePrompt:
    """The fields of a rate prompt."""

    instruction: str
    input: str
    reference: str
    response: str


def parse_rate(prompt: str) -> RatePrompt:
    """Instruction:, Input:, an optional reference line and 'Response to rate:' (less the closing line)."""
    instruction = _field(prompt, "Instruction:", ("\nInput:",)) or ""
    input_text = _empty(_field(prompt, "\nInput:", ("\nA reference answer", "\nResponse to rate:")))
    reference = ""
    if "\nA reference answer" in prompt:
        head = prompt.split("\nA reference answer", 1)[1]
        reference = _field(head, ": ", ("\nResponse to rate:",)) or ""
    at = prompt.rfind("Response to rate:")
    response = _drop_trailing(prompt[at + len("Response to rate:"):], "\n\nReply with", 1) if at >= 0 else ""
    return RatePrompt(instruction.strip(), input_text, reference.strip(), response.strip())


def rate(p: RatePrompt) -> tuple[str, str]:
    """A letter and a reason from features of the response text alone."""
    source = f"{p.instruction}\n{p.input}\n{p.reference}"
    response = p.response
    if not response or _REFUSAL.search(response):
        return "D", "the response refuses or says nothing"
    shared = on_topic_words(response, source)
    if shared == 0 and not (_all_tokens(response) <= _all_tokens(source)):
        return "D", "the response is unrelated to the instruction"
    if _CONTRADICTION.search(response):
        return "C", "the response contradicts itself about the task's content"
    if is_cut_off(response):
        return "C", "the response stops mid-sentence and is incomplete"
    if _HEDGE.search(response):
        return "B", "on topic but hedged and missing some details"
    ref_words, words = len(p.reference.split()), len(response.split())
    if (ref_words >= 8 and words < min(0.35 * ref_words, 12)) or (not p.reference and words < 4 and shared < 2):
        return "B", "on topic but too terse to be fully satisfying"
    return "A", "the response addresses the instruction completely and correctly"


_NEIGHBOURS = {"A": "B", "B": "A", "C": "B", "D": "C"}


@register_stage_reply("evaluate:rate", wording=lambda text: "Response to rate:" in text and "Rating" in text)
def rate_reply(prompt: str, ctx: ReplyContext) -> str:
    """One line 'Rating: X - reason', with a little noise (3% move to a neighbouring letter)."""
    garbage = _garbage(ctx)
    if garbage is not None:
        return garbage
    letter, reason = rate(parse_rate(prompt))
    if ctx.rng.random() < 0.03:
        letter, reason = _NEIGHBOURS[letter], "a judgement call; " + reason
    return f"Rating: {letter} - {reason}"


# --- audit ---------------------------------------------------------------------

@dataclass(frozen=True)
class AuditPrompt:
    """The example an audit prompt asks about."""

    instruction: str
    input: str
    output: str


def parse_audit(prompt: str) -> AuditPrompt:
    """Instruction:, Input: and Output: (less the question block and closing line after it)."""
    instruction = _field(prompt, "Instruction:", ("\nInput:",)) or ""
    input_text = _empty(_field(prompt, "\nInput:", ("\nOutput:",)))
    at = prompt.find("\nOutput:")
    output = _drop_trailing(prompt[at + len("\nOutput:"):], "\n\nQ1", 2) if at >= 0 else ""
    return AuditPrompt(instruction.strip(), input_text, output.strip())


def instruction_problem(p: AuditPrompt) -> str | None:
    """Why the instruction is not a valid task, or None."""
    if len(p.instruction.split()) < 4:
        return "the instruction is too short to describe a task"
    if not _TASK_CUE.search(p.instruction.strip()):
        return "the instruction does not ask for anything"
    if _NOT_DOABLE.search(p.instruction):
        return "the task needs media or files a text model cannot use"
    return None


def input_problem(p: AuditPrompt, task: synthetic.SyntheticTask) -> str | None:
    """Why the input does not fit the instruction, or None."""
    if not p.input and (task.takes_input or _REFERS_TO_INPUT.search(p.instruction)):
        return "the instruction refers to an input but none is given"
    if p.input and not task.takes_input and not _REFERS_TO_INPUT.search(p.instruction):
        return "the instruction needs no input, yet one is given"
    if p.input and is_cut_off(p.input):
        return "the input stops mid-sentence"
    return None


def output_problem(p: AuditPrompt, task: synthetic.SyntheticTask) -> str | None:
    """Why the output is not acceptable, or None."""
    out = p.output
    if len(out.split()) == 0 or (len(out) < 2 and not task.is_classification):
        return "the output is empty"
    if p.input and out.strip() == p.input.strip():
        return "the output just repeats the input"
    if on_topic_words(out, p.instruction) >= max(3, len(_stems(out)) - 1) and len(out.split()) >= 4:
        return "the output repeats the instruction instead of answering it"
    if out.rstrip().endswith(":"):
        return "the output is only a preamble"
    if is_cut_off(out):
        return "the output stops mid-sentence"
    if len(out.split()) >= 6 and shares_nothing(out, f"{p.instruction}\n{p.input}"):
        return "the output is unrelated to the instruction"
    if task.is_classification and task.labels and len(out.split()) <= 3:
        if out.strip(" .").lower() not in {lab.lower() for lab in task.labels}:
            return "the label is not one of the instruction's options"
    return None


# Yes-probabilities where no signal says No, tuned on simulated data towards Table 2 (92% / 79% /
# 58%, all three 54%): lower when another question found a real problem (a sloppy example is
# doubted throughout), and the three answers share one latent draw with probability _SHARED.
_BASE_YES_CLEAN = (0.95, 0.91, 0.97)
_BASE_YES_FLAWED = (0.9, 0.6, 0.85)
_SHARED = 0.7


def _verdicts(problems: tuple[str | None, ...], ctx: ReplyContext) -> list[tuple[bool, str]]:
    """Yes unless a problem was found or the (correlated) draw says no."""
    latent = ctx.rng.random()
    out = []
    for k, problem in enumerate(problems):
        u = latent if ctx.rng.random() < _SHARED else ctx.rng.random()
        flawed = any(other is not None for j, other in enumerate(problems) if j != k)
        base = (_BASE_YES_FLAWED if flawed else _BASE_YES_CLEAN)[k]
        if problem is not None:
            out.append((False, problem))
        elif u < base:
            out.append((True, "no problem found"))
        else:
            out.append((False, ("the task is vague", "the input is not quite what the task needs",
                                "the answer is only partly right")[k]))
    return out


_YES_REASONS = ("it is a clear, feasible request", "the input fits what the instruction asks for",
                "it answers the instruction correctly")


@register_stage_reply("audit", wording=lambda text: "Q1." in text and "Q3." in text and "Output:" in text)
def audit_reply(prompt: str, ctx: ReplyContext) -> str:
    """Three lines 'Qn: Yes|No - reason'."""
    garbage = _garbage(ctx)
    if garbage is not None:
        return garbage
    p = parse_audit(prompt)
    task = synthetic.describe(p.instruction)
    problems = (instruction_problem(p), input_problem(p, task), output_problem(p, task))
    lines = []
    for n, ((yes, reason), default) in enumerate(zip(_verdicts(problems, ctx), _YES_REASONS, strict=True), 1):
        reason = default if yes and reason == "no problem found" else reason
        lines.append(f"Q{n}: {'Yes' if yes else 'No'} - {reason}")
    return "\n".join(lines)
