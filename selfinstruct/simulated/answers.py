"""Plausible (not correct) examples for any task: the answer builders (see ``synthetic``).

``make_instance`` dispatches on the task's family (coding, math, rewriting,
extraction, writing, qa, reasoning, planning, advice, classification, ...) to a
builder returning ``(input, output)``; ``other_output`` gives a conflicting
answer for the same input.
"""

from __future__ import annotations

import random
import re

from selfinstruct.simulated.grammar import (
    ADVICE_SENTENCES,
    CASUAL_FORMAL,
    EXPLAIN_SENTENCES,
    GENERIC_TEXTS,
    GRAMMAR_PAIRS,
    IDEA_ITEMS,
    PLAN_ITEMS,
    POEM_LINES,
    REFUSALS,
    STORY_SENTENCES,
    TRANSLATIONS,
    YES_NO,
    SyntheticInstance,
    SyntheticTask,
)
from selfinstruct.simulated.instance_vocab import (
    Vocab,
    format_lines,
    input_for_label,
    item_count,
    paragraph,
    summary,
)
from selfinstruct.simulated.recognition import task_slots

_Answer = tuple[str, str]


def _code(v: Vocab, lang: str | None = None) -> str:
    """A small, plausible-looking function in the requested language."""
    lang = lang or v.get("prog_lang") or "Python"
    task = v.get("coding_task") or v.fill("{coding_task}")
    words = [w for w in re.findall(r"[a-z]+", task.lower()) if w not in ("a", "an", "the", "of", "two", "given")]
    snake = "_".join(words[:3]) or "solve"
    camel = words[0] + "".join(w.capitalize() for w in words[1:3]) if words else "solve"
    if lang in ("JavaScript", "TypeScript"):
        sig = "items: number[]): number[]" if lang == "TypeScript" else "items)"
        return (f"function {camel}({sig} {{\n  const result = [];\n  for (const item of items) {{\n"
                f"    if (item !== undefined) result.push(item);\n  }}\n  return result;\n}}")
    if lang in ("Java", "C#", "Kotlin", "Scala", "Swift", "C++", "PHP"):
        return (f"// {lang}: {task}\nstatic List<Integer> {camel}(List<Integer> items) {{\n"
                f"    List<Integer> result = new ArrayList<>();\n    for (int item : items) {{\n"
                f"        result.add(item);\n    }}\n    return result;\n}}")
    if lang == "Rust":
        return (f"fn {snake}(items: &[i32]) -> Vec<i32> {{\n    let mut result = Vec::new();\n"
                f"    for item in items {{\n        result.push(*item);\n    }}\n    result\n}}")
    if lang in ("Ruby", "Elixir", "Julia"):
        return f"def {snake}(items)\n  result = []\n  items.each do |item|\n    result << item\n  end\n  result\nend"
    if lang == "Bash":
        return f"{snake}() {{\n  for item in \"$@\"; do\n    echo \"$item\"\n  done\n}}"
    if lang == "Haskell":
        return f"{camel} :: [Int] -> [Int]\n{camel} [] = []\n{camel} (x:xs) = x : {camel} xs"
    return (f"def {snake}(items):\n    \"\"\"{task[:1].upper()}{task[1:]}.\"\"\"\n    result = []\n"
            f"    for item in items:\n        result.append(item)\n    return result")


def _sql(v: Vocab) -> str:
    table = v.pick(("orders", "bookings", "users", "rides", "loans", "episodes"))
    return (f"SELECT customer_id, COUNT(*) AS total\nFROM {table}\nWHERE created_at >= '2023-01-01'\n"
            f"GROUP BY customer_id\nORDER BY total DESC\nLIMIT 10;")


def _coding(task: SyntheticTask, v: Vocab) -> _Answer:
    text = task.instruction
    if "SQL" in text:
        return "", _sql(v)
    if "edge cases" in text:
        return "", format_lines(["An empty input.", "A single element.", "Very large inputs.", "Duplicate values.",
                           "Invalid types such as None or strings."], "bullets")
    if "unit tests" in text:
        name = _code(v, "Python").split("(")[0].removeprefix("def ")
        return "", (f"import unittest\n\nclass Test{name.title().replace('_', '')}(unittest.TestCase):\n"
                    f"    def test_empty(self):\n        self.assertEqual({name}([]), [])\n\n"
                    f"    def test_simple(self):\n        self.assertEqual({name}([3, 1, 2]), [3, 1, 2])")
    if not task.takes_input:
        return "", _code(v)
    if "error" in text:
        return "TypeError: unsupported operand type(s) for +: 'int' and 'str'", (
            "You are adding a number and a string. Convert one of them first, for example with int() or str().")
    snippet = _code(v)
    if re.search(r"\b(Rewrite|Port)\b", text):
        return snippet, _code(v, v.get("prog_lang2") or "Python")
    if re.search(r"\b(bug|fail)\b", text):
        return snippet.replace("result", "reslt", 1), (
            "The variable is declared as 'reslt' but used as 'result', so the first line of the loop fails. "
            "Use the same name everywhere.")
    if "comments" in text or "Rename" in text:
        return snippet, "# Collect the items one by one.\n" + snippet
    if "risks" in text:
        return snippet, format_lines(["No input validation.", "It loads everything into memory.",
                                "Errors are not logged.", "There are no tests."], "bullets")
    return snippet, v.fill("It walks through the input once, keeps each item in a new list and returns that "
                           "list, so it runs in linear time. The {prog_lang} version is straightforward to read.")


def _numbers(v: Vocab, k: int = 6) -> list[int]:
    return [v.rng.randint(3, 95) for _ in range(k)]


def _math(task: SyntheticTask, v: Vocab) -> _Answer:
    if {"coef", "const", "rhs"} <= v.keys():
        a, b, c = int(v["coef"]), int(v["const"]), int(v["rhs"])
        x = (c - b) / a
        shown = str(int(x)) if x.is_integer() else f"{x:.2f}"
        return "", f"Subtract {b} from both sides: {a}x = {c - b}.\nDivide both sides by {a}: x = {shown}."
    if task.takes_input:
        values = _numbers(v)
        mean = sum(values) / len(values)
        return ", ".join(map(str, values)), f"The {v.get('stat', 'mean')} is about {mean:.1f}."
    if "quantity" in v:
        q = int(v["quantity"])
        return "", (f"Multiply by the conversion factor: {q} x 1.6 = {q * 1.6:.1f}. "
                    f"So the answer is about {q * 1.6:.0f}.")
    return "", format_lines(v.sample((
        "Write down the numbers you know: a budget of {amount} a month.",
        "Estimate the main costs first, then add about 10 percent for surprises.",
        "Divide the total by the number of weeks to get a weekly figure.",
        "Round to a sensible amount and check it against last month's spending.",
        "Compare the result with the target and adjust one item at a time.",
    ), 4))


def _rewriting(task: SyntheticTask, v: Vocab) -> _Answer:
    text = task.instruction
    if "language2" in v or re.search(r"\b(Translate|Render)\b", text):
        pair = v.rng.choice(TRANSLATIONS)
        source = pair.get(v.get("language", "English"), pair["English"])
        target = pair.get(v.get("language2", "Spanish"), pair["Spanish"])
        return source, target if target != source else pair["French"]
    if re.search(r"\b(grammar|Proofread)\b", text):
        return v.rng.choice(GRAMMAR_PAIRS)
    if "notes_kind" in v:
        notes = format_lines(v.sample(("budget approved: {amount}", "launch moved to {date}",
                                 "{name} owns the press contacts", "next check-in {weekday} {time}",
                                 "survey response rate {pct}%"), 3), "bullets")
        return notes, v.fill("The budget of {amount} has been approved and {name} will handle the press contacts. "
                             "The team meets again on {weekday} at {time}.")
    if "word_limit" in v:
        return paragraph(v), summary(v)
    casual, formal = v.rng.choice(CASUAL_FORMAL)
    return (v.fill(casual), v.fill(formal)) if v.rng.random() < 0.6 else (v.fill(formal), v.fill(casual))


def _extraction(task: SyntheticTask, v: Vocab) -> _Answer:
    kind = (v.get("entity_type") or ("deadline" if "deadline" in task.instruction else "person name")).lower()
    makers = {"date": "date", "deadline": "date", "person name": "name", "location": "place",
              "email address": "email", "phone number": "phone", "monetary amount": "amount",
              "medication": "medication", "product name": "product", "street address": "street",
              "company name": "company_kind", "job title": "profession"}
    slot = makers.get(kind)
    if slot is None:
        text = paragraph(v)
        return text, format_lines([s.rstrip(".") for s in re.split(r"(?<=\.) ", text)][:3], "bullets")
    found = [v[f"{slot}{i}"] for i in range(1, 6)]
    found = list(dict.fromkeys(found))[:v.rng.randint(2, 3)]
    sentences = [f"The first update came from {found[0]}.", f"Later, {found[1]} was mentioned in the minutes."]
    sentences += [f"Everything else was postponed until {found[2]}."] if len(found) > 2 else []
    style = "bullets" if "bullet" in v.get("output_format", "bullet") else "numbered"
    if "comma" in v.get("output_format", "") or "JSON" in v.get("output_format", ""):
        return " ".join(sentences), ", ".join(found)
    return " ".join(sentences), format_lines(found, style)


def _writing(task: SyntheticTask, v: Vocab) -> _Answer:
    text = task.instruction.lower()
    if task.takes_input:
        if "headline" in text or "title" in text:
            return paragraph(v), v.fill("{Topic}: What {place} Learned This Year")
        if "continue" in text:
            return v.pick(STORY_SENTENCES), " ".join(v.sample(STORY_SENTENCES, 3))
        return v.pick(GENERIC_TEXTS), v.fill("Thank you for letting me know. I understand, and I'll follow up by "
                                             "{weekday} with a clear answer.")
    if re.search(r"poem|haiku|limerick|sonnet|rhyme|verse", text):
        return "", "\n".join(line[:1].upper() + line[1:] for line in v.sample(POEM_LINES, v.rng.randint(3, 5)))
    if re.search(r"slogan|tagline|motto", text):
        return "", v.pick(('"Fresh every morning, right around the corner."', '"Small shop, big ideas."',
                           '"Made slowly, enjoyed quickly."', '"Go further, worry less."'))
    if re.search(r"email|letter|message", text):
        return "", v.fill("Dear {Name2},\n\nI am writing about {situation}. I would appreciate a short call "
                          "this week to agree on the next steps.\n\nBest regards,\n{name}")
    if "dialogue" in text or "script" in text:
        a, b = v.fill("{Profession}"), v.fill("{Profession2}")
        return "", f"{a}: I still think we are underestimating it.\n{b}: Maybe, but the numbers say otherwise.\n" \
                   f"{a}: Numbers don't tell the whole story.\n{b}: Then let's find the rest of it together."
    return "", " ".join(v.sample(STORY_SENTENCES, v.rng.randint(3, 4)))


def _list_answer(v: Vocab, bank: tuple[str, ...], style: str = "numbered", ordered: bool = False) -> str:
    return format_lines(v.sample(bank, item_count(v), ordered), style)


def _qa(task: SyntheticTask, v: Vocab) -> _Answer:
    text = task.instruction.lower()
    if not task.takes_input:
        return "", " ".join(v.sample(EXPLAIN_SENTENCES, v.rng.randint(3, 4)))
    if "quiz" in text or "multiple-choice" in text:
        return paragraph(v), format_lines(v.sample(("What did the survey find?", "Who published the final report?",
                                               "Why do critics object?", "Where did the debate start?"), 3))
    if "trend" in text:
        values = sorted(_numbers(v, 5))
        return ", ".join(map(str, values)), f"The values rise steadily from {values[0]} to {values[-1]}."
    if re.search(r"question|problem|exercise|homework", text):
        return v.pick(("What is the area of a circle with a radius of 3 cm?",
                       "Balance the equation: H2 + O2 -> H2O.", "Why does ice float on water?")), \
            " ".join(v.sample(EXPLAIN_SENTENCES, 2))
    return paragraph(v), v.fill("According to the text, the council will publish its report on {date}.")


def _reasoning(task: SyntheticTask, v: Vocab) -> _Answer:
    text = task.instruction.lower()
    answer = " ".join(v.sample(EXPLAIN_SENTENCES, 2)) + " " + v.pick((
        "So the most likely answer is the second option.", "Therefore the claim does not hold.",
        "That leaves only one possibility."))
    if not task.takes_input:
        return "", answer
    if "fallacy" in text or "logic" in text or "flaw" in text or "assumption" in text:
        return v.fill("Everyone in {place} is switching to electric bikes, so you should too."), \
            "This is an appeal to popularity: many people doing something does not make it right for you."
    clues = format_lines(v.sample(("{Name} arrived at {time}.", "The back door was locked all evening.",
                             "Someone left muddy footprints by the window.",
                             "{Name2} says they never left the kitchen.", "The lights went out at {time2}."), 3),
                   "bullets")
    return clues, answer


def _planning(task: SyntheticTask, v: Vocab) -> _Answer:
    plan = _list_answer(v, PLAN_ITEMS, v.rng.choice(("numbered", "bullets")), ordered=True)
    if task.takes_input:
        return format_lines(v.sample(("Budget: {amount}", "Guests: {n}", "Available: {weekday} after {time}",
                                "Must finish by {date}", "Venue: community hall"), 3), "bullets"), plan
    return "", plan


def _advice(task: SyntheticTask, v: Vocab) -> _Answer:
    answer = " ".join(v.sample(ADVICE_SENTENCES, v.rng.randint(2, 3)))
    if "questions" in task.instruction:
        answer = _list_answer(v, ("What is the main goal here?", "Who is responsible for each step?",
                                  "What happens if the deadline slips?", "Which costs are not covered?",
                                  "How will success be measured?", "What was left out, and why?",
                                  "Who needs to approve it?"))
    if task.takes_input:
        return v.pick(GENERIC_TEXTS), answer
    return ("", format_lines(v.sample(ADVICE_SENTENCES, item_count(v)), "bullets")) if v.rng.random() < 0.4 else ("", answer)


def _classification(task: SyntheticTask, v: Vocab) -> _Answer:
    label = v.rng.choice(task.labels or YES_NO)
    text = input_for_label(task, label, v.rng) if task.takes_input else ""
    return text, label


def _unknown(task: SyntheticTask, v: Vocab) -> _Answer:
    if task.is_classification:
        return _classification(task, v)
    answer = " ".join(v.sample(EXPLAIN_SENTENCES + ADVICE_SENTENCES, v.rng.randint(2, 3)))
    return (paragraph(v, 2, 3), answer) if task.takes_input else ("", answer)


_FAMILY_ANSWERS = {
    "coding": _coding, "math": _math, "rewriting": _rewriting, "extraction": _extraction,
    "summarization": lambda t, v: (paragraph(v), summary(v)), "writing": _writing, "qa": _qa,
    "reasoning": _reasoning, "planning": _planning, "advice": _advice, "classification": _classification,
    "brainstorming": lambda t, v: ("", _list_answer(v, IDEA_ITEMS)),
    "keyword": lambda t, v: ("", v.pick(REFUSALS)),
}


def _tidy(text: str) -> str:
    """Natural answers never end with a colon (that is a defect the filters look for)."""
    return text.strip().rstrip(":").rstrip()


def make_instance(task: SyntheticTask, rng: random.Random) -> SyntheticInstance:
    """A plausible example of the task: an input when it takes one, and an answer."""
    v = Vocab(rng, task_slots(task.instruction))
    answer = _classification if task.is_classification else _FAMILY_ANSWERS.get(task.family, _unknown)
    text, output = answer(task, v)
    text, output = (_tidy(text) if task.takes_input else ""), _tidy(output)
    if not output or output == text:
        output = _tidy(" ".join(v.sample(EXPLAIN_SENTENCES, 2)))
    return SyntheticInstance(text, output)


def other_output(task: SyntheticTask, instance: SyntheticInstance, rng: random.Random) -> str:
    """A different answer for the same input (what a conflicting example carries)."""
    if task.is_classification:
        others = [label for label in task.labels or YES_NO if label != instance.output]
        return rng.choice(others) if others else f"not {instance.output}"
    for _ in range(4):
        output = make_instance(task, rng).output
        if output not in (instance.output, instance.input):
            return output
    return instance.output + " " + rng.choice(EXPLAIN_SENTENCES)
