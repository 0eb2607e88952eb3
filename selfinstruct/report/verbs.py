"""Leading verb and its object, by a light offline heuristic (the paper's Figure 2, without a parser).

The paper parses each instruction with the Berkeley Neural Parser and keeps the verb closest to
the root with its first direct noun object.  Here no model is downloaded: most instructions are
imperatives, so the verb is the first word after a lead-in ("Please", "Can you", "I want you to",
or a "Given ..., " clause) when it is a known verb or ends like one (-ize, -ise, -ify, -ate), and the
object is the head of the noun phrase that follows -- determiners, numbers, hyphenated and common
adjectives skipped, the last word before a preposition, conjunction, participle or punctuation
taken, plural folded to singular.  Instructions that start otherwise ("What is ...?") count as
having no verb-object structure, as they do in the paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERBS = frozenset("""
act add adjust advise bake book buy calculate cancel cook cut draw drink eat enter introduce
keep leave proofread schedule stop tag work analyse analyze answer apply approximate argue arrange ask assess assign
brainstorm break build calculate categorise categorize change check choose cite clarify classify
clean come compare compile complete compose compute condense construct continue convert convince
correct count craft create critique debug decide decode define delete demonstrate describe design
detect determine develop devise diagnose discuss divide do draft edit elaborate encode estimate
evaluate expand explain express extract fill find finish fix format formulate generate get give
group guess help highlight identify illustrate imagine implement improve infer interpret invent
judge justify label let list locate look make mark match measure mention merge modify name note
offer optimise optimize order organise organize outline output paraphrase pick plan play point
polish predict prepare present pretend print produce propose provide put quote rank rate read
recommend reconstruct recreate rectify reduce refactor reformulate remove rename reorder rephrase
replace reply report represent respond restate restructure return reverse review revise rewrite
reword say score search select separate share shorten show simplify solve sort spell split spot
state suggest sum summarise summarize take talk teach tell test think tidy transform translate
try turn underline update use verify vote walk weigh write
""".split())

# words that start many instructions but are not the instruction's verb
NOT_VERBS = frozenset("""
a an the this that these those what which who whom whose when where why how is are was were be
been am do does did can could would should will shall may might must i i'm im we you it they he
she there here my your our their its in on at for from of to with by as if given based using
suppose assume imagine consider according after before during while since because although
besides despite unlike like without within though even once today yesterday tomorrow every all
some most any each no not someone somebody everyone everybody anyone people please
""".split()) - {"do", "imagine", "consider"}

DETERMINERS = frozenset("""
a an the this that these those my your our their his her its some any each every all both few
several many much more most no one two three four five six seven eight nine ten first second
third last next another other such me us him them it myself yourself you i short brief long new simple
good great small big large little quick detailed concise complete full whole basic single
different same short funny creative catchy formal informal professional friendly polite simple
clear original unique possible interesting engaging persuasive personal appropriate suitable
following given main key common best better top additional very
""".split())

STOPS = frozenset("""
for about of to in on at with from by into onto over under between among through and or but nor
so if than as that which who whom whose where when while why how what whether based using given
including such like per via without within across around before after during until because
below above here there now then today instead only please again too also just etc behind beside
besides toward towards against along upon inside outside near beyond throughout off up down out
underneath since are am
is are was were be will would can could should must may might has have had do does did
""".split())

_LEAD_INS = (
    re.compile(r"^(?:please|kindly|now|then|also|next|finally|ok|okay|hey|hi)\b[\s,]*", re.I),
    re.compile(r"^(?:can|could|would|will)\s+you\s+(?:please\s+)?", re.I),
    re.compile(r"^i\s+(?:want|need|would\s+like|'d\s+like|d\s+like)\s+(?:you\s+)?to\s+", re.I),
    re.compile(r"^(?:your\s+task\s+is|you\s+need|you\s+have|you\s+are\s+asked)\s+to\s+", re.I),
)
_DETERMINER_CUES = frozenset("a an the this these those my your our me us".split())
_CLAUSE_STARTS = frozenset({"given", "based", "using", "if", "for", "in", "from", "with", "after", "suppose",
                            "assume", "according", "as", "when", "while"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d[\d.,]*|[^\sA-Za-z\d]")
_VERB_ENDINGS = ("ize", "ise", "ify", "ate")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _is_verb(word: str) -> bool:
    if word in NOT_VERBS or not word.isalpha():
        return False
    return word in VERBS or (len(word) > 4 and word.endswith(_VERB_ENDINGS))


_INVARIANT = frozenset({"series", "species", "means", "lyrics", "news", "pants", "clothes"})


def singular(word: str) -> str:
    """A crude plural fold: stories -> story, boxes -> box, lists -> list (not: class, status, analysis)."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ics", "ws")) or word in _INVARIANT:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _strip_lead_ins(text: str) -> str:
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for pattern in _LEAD_INS:
            stripped = pattern.sub("", text, count=1)
            if stripped != text:
                text, changed = stripped, True
    return text


_PARTICIPLES = frozenset("""
announcing apologizing asking comparing containing describing detailing explaining expressing
highlighting including inviting introducing listing outlining requesting responding saying showing
summarizing telling thanking using asking arguing
""".split())
_LY_NOUNS = frozenset("reply supply family assembly rally anomaly ally butterfly jelly belly italy".split())
_PRONOUNS = frozenset("me us him them it myself yourself you i".split())
_COMPLEMENTS = frozenset("to the a an this that these those my your how why what whether if all".split())


def _is_participle(word: str, following: str) -> bool:
    """'responding' in "an email responding to", 'sorted' in "a list sorted by" (but not 'rating')."""
    if word in _PARTICIPLES:
        return True
    if word.endswith("ing") and len(word) > 5:
        return following in _COMPLEMENTS
    return word.endswith("ed") and not word.endswith("eed") and len(word) > 4


def _object(words: list[str]) -> str | None:
    """The head noun of the phrase at the start of ``words`` (lowercased)."""
    phrase: list[str] = []
    determined = False
    for i, raw in enumerate(words[:8]):
        word = raw.lower()
        if not word[0].isalpha():
            if word[0].isdigit() and not phrase:
                determined = True  # "Write 3 tips"
                continue
            break
        if word in STOPS:
            break
        if word in DETERMINERS or (word.endswith("ly") and len(word) > 4 and word not in _LY_NOUNS):
            if phrase:
                break  # a second noun phrase starts: "Give the cat a name"
            determined = determined or word not in _PRONOUNS
            continue
        if phrase and _is_participle(word, words[i + 1].lower() if i + 1 < len(words) else ""):
            break  # "an email responding to", "a list sorted by"
        if not phrase and not determined and (word in VERBS or (word.endswith("ed") and len(word) > 4)):
            return None  # "Help me write ...": another verb, not an object
        phrase.append(word)
        if len(phrase) >= 4:
            break
    while phrase and ("-" in phrase[-1] or phrase[-1] in DETERMINERS):
        phrase.pop()
    if not phrase:
        return None
    head = phrase[-1].strip("'-")
    return singular(head) if head.isalpha() else None


@dataclass(frozen=True)
class VerbObject:
    verb: str | None
    object: str | None


def verb_object(instruction: str) -> VerbObject:
    """The leading verb and its object (either may be None)."""
    text = _strip_lead_ins(instruction)
    words = _words(text)
    if not words:
        return VerbObject(None, None)
    first = words[0].lower()
    if first in _CLAUSE_STARTS and "," in words:
        # "Given a list of numbers, sort them": the verb opens the main clause
        rest = _strip_lead_ins(text.split(",", 1)[1])
        words = _words(rest)
        if not words:
            return VerbObject(None, None)
        first = words[0].lower()
    if not _is_verb(first):
        following = words[1].lower() if len(words) > 1 else ""
        # an unlisted word followed by a determiner is most likely an imperative: "Reschedule the ..."
        if not (first.isalpha() and first not in NOT_VERBS and following in _DETERMINER_CUES):
            return VerbObject(None, None)
    return VerbObject(first, _object(words[1:]))
