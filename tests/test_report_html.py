"""report.html: the data it embeds (once, escaped), the report stage and ``selfinstruct-report`` writing it,
and the page itself in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never the
network): counts, search, filters, the tabs, paging, and HTML in an instruction shown as text.

One real run (the CLI on the bundled simulated model and judge, 60 instructions, audit and evaluate on)
is shared by the tests of this module.  The browser tests skip when Playwright or Chromium is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from selfinstruct.report.html import build_data, embed_json, write_html
from selfinstruct.report.load import load_run
from selfinstruct.rundir import (
    AUDIT_FILE,
    EVALUATION_FILE,
    INSTANCES_FILE,
    INSTRUCTIONS_FILE,
    REJECTED_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
)
from tests.cli_helpers import read_lines, run_cli

STAGES = "pipeline.stages=[bootstrap,classify,instances,audit,finetune,evaluate,report]"
CHROMIUM = os.environ.get("SELFINSTRUCT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HOSTILE = '</script><b>x</b><img src=x onerror="window.__pwned=1"> & <!-- "quoted" \u2028 end'
DATA_TAG = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.S)


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def embedded(path: Path) -> dict[str, Any]:
    """The JSON the page embeds, as the page's script reads it."""
    found = DATA_TAG.findall(path.read_text(encoding="utf-8"))
    assert len(found) == 1
    return json.loads(found[0])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run through the CLI: simulated generator and judge, every stage that writes what the page shows."""
    where = tmp_path_factory.mktemp("html_run")
    run_dir = where / "run"
    done = run_cli(["model=loopback", "judge=loopback", "schedule.num_instructions=60", STAGES,
                    f"cache.dir={where / 'cache'}", f"hydra.run.dir={run_dir}"], cwd=where)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def hostile_run(run_dir: Path, n: int = 250) -> Path:
    """A hand-made run: ``n`` instructions (the first with HTML and a closing script tag in it), no audit
    nor evaluation, a cut-off last line; metrics.json says the model is real."""
    run_dir.mkdir(parents=True)
    texts = [f"Hostile {HOSTILE}"] + [f"Task number {i}: describe item {i}." for i in range(1, n)]
    write_lines(run_dir / INSTRUCTIONS_FILE, [
        {"id": f"t{i}", "instruction": t, "round": i // 100, "max_similarity": 0.1,
         "most_similar": {texts[i - 1] if i else "A seed <i>instruction</i>.": 0.1}} for i, t in enumerate(texts)])
    with (run_dir / INSTRUCTIONS_FILE).open("a", encoding="utf-8") as handle:
        handle.write('{"id": "cut", "instruc')
    write_lines(run_dir / REJECTED_FILE, [{"instruction": f"Rejected {HOSTILE}", "reason": "<b>rouge</b>",
                                           "score": 0.9, "round": 0}])
    write_lines(run_dir / INSTANCES_FILE, [
        {"id": "t0", "instruction": texts[0], "is_classification": False,
         "instances": [{"input": HOSTILE, "output": "</SCRIPT >out"}]}])
    (run_dir / "metrics.json").write_text(json.dumps({"model": "openai/x", "simulated_model": False}))
    return run_dir


# ---------------------------------------------------------------- the file (no browser)


def test_the_run_writes_report_html_with_everything_embedded_once(run: Path) -> None:
    path = run / REPORT_HTML_FILE
    assert path.is_file() and (run / REPORT_FILE).is_file()
    html = path.read_text(encoding="utf-8")
    assert html.count("</script") == html.count("<script") == 2
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    data = embedded(path)
    instructions = read_lines(run / INSTRUCTIONS_FILE)
    assert data["run"]["simulated"] is True
    assert sum(t[9] for t in data["tasks"]) == len(instructions)
    assert len(data["rejected"]) == len(read_lines(run / REJECTED_FILE))
    assert len(data["audit"]) == len(read_lines(run / AUDIT_FILE))
    assert len(data["evaluation"]) == len(read_lines(run / EVALUATION_FILE))
    # each text once: the pool's most-similar instructions and the audit's refer to the same entries
    texts = data["texts"]
    assert len(texts) == len(set(texts))
    pool = {text for r in instructions for text in r["most_similar"]}
    assert pool <= set(texts)
    # an audited instance that is one of instances.jsonl's is referred to, not repeated
    by_id = {r["id"]: r for r in read_lines(run / INSTANCES_FILE)}
    for line, row in zip(read_lines(run / AUDIT_FILE), data["audit"]):
        pair = {"input": line["input"], "output": line["output"]}
        if pair in by_id[line["task_id"]]["instances"]:
            assert row[4:6] == [None, None] and by_id[line["task_id"]]["instances"][row[2]] == pair
        else:
            assert row[4:6] == [line["input"], line["output"]]


def test_selfinstruct_report_rewrites_it(run: Path, tmp_path: Path) -> None:
    from selfinstruct.report.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / REPORT_HTML_FILE).unlink()
    main(["-q", str(copy)])
    assert (copy / REPORT_HTML_FILE).is_file()
    assert len(embedded(copy / REPORT_HTML_FILE)["tasks"]) == len(read_lines(run / INSTRUCTIONS_FILE))


def test_missing_files_and_cut_off_lines_are_not_errors(tmp_path: Path) -> None:
    run_dir = hostile_run(tmp_path / "run", n=3)
    (run_dir / REJECTED_FILE).unlink()
    data = build_data(run_dir, load_run(run_dir))
    assert data["has"] == {"instructions": True, "instances": True, "classify": False, "rejected": False,
                           "audit": False, "evaluation": False}
    assert data["rejected"] is None and [t[0] for t in data["tasks"]] == ["t0", "t1", "t2"]
    assert any("unreadable" in p for p in data["run"]["problems"])
    assert write_html(run_dir).name == REPORT_HTML_FILE


def test_embedded_json_cannot_end_the_script_tag() -> None:
    text = embed_json({"a": HOSTILE, "b": "</script>"})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"a": HOSTILE, "b": "</script>"}


# ---------------------------------------------------------------- the page, in headless Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SELFINSTRUCT_TEST_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """One report.html open in the browser, with the few questions the tests ask of it."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                        else (self.errors.append(f"network: {route.request.url}"), route.abort()))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']")

    def count(self) -> tuple[int, int, int]:
        """(shown, matching, total) as the count line says them."""
        self.page.wait_for_selector("body:not([data-busy])", state="attached")  # drawn on the next frame
        c = self.page.locator("#count")
        values = (int(c.get_attribute("data-shown")), int(c.get_attribute("data-matches")),
                  int(c.get_attribute("data-total")))
        text = c.inner_text()
        assert f"Showing {values[0]:,} of {values[1]:,}" in text
        return values

    def texts(self) -> list[str]:
        return self.page.locator("#list > .row > .text").all_inner_texts()

    def tab(self, key: str) -> None:
        self.page.click(f"#tab-{key}")

    def search(self, term: str) -> None:
        self.page.fill("#q", term)

    def close(self) -> None:
        self.page.close()


def test_counts_search_filters_and_tabs(browser: Any, run: Path, tmp_path: Path) -> None:
    instructions = read_lines(run / INSTRUCTIONS_FILE)
    rejected = read_lines(run / REJECTED_FILE)
    instances = read_lines(run / INSTANCES_FILE)
    audit = read_lines(run / AUDIT_FILE)
    evaluation = read_lines(run / EVALUATION_FILE)
    page = Page(browser, run / REPORT_HTML_FILE)
    p = page.page
    try:
        # header: the run's name, its key numbers, the simulated banner
        assert p.inner_text("#title") == run.name
        assert p.inner_text("#stat-accepted b") == f"{len(instructions):,}"
        assert p.inner_text("#stat-rejected b") == f"{len(rejected):,}"
        assert p.inner_text("#stat-instances b") == f"{sum(len(r['instances']) for r in instances):,}"
        assert "SIMULATED DATA" in p.inner_text("#simulated") and p.is_visible("#simulated")

        # accepted: all shown, then a search, counted as Python counts it
        assert page.count() == (len(instructions), len(instructions), len(instructions))
        words = Counter(w for r in instructions for w in set(r["instruction"].lower().split()) if len(w) > 3)
        term = next(w for w, n in words.most_common() if n < len(instructions))
        expected = [r["instruction"] for r in instructions if term in r["instruction"].lower()]
        page.search(term.upper())
        assert page.count() == (len(expected), len(expected), len(instructions))
        assert page.texts() == expected
        # a row opens to its most similar pool instructions, with their scores
        p.click("#list > .row >> nth=0")
        first = next(r for r in instructions if term in r["instruction"].lower())
        assert p.locator("#list .detail .sim .score").count() == len(first["most_similar"])
        assert p.locator("#list .detail .sim .text").first.inner_text() in first["most_similar"]
        p.screenshot(path=str(tmp_path / "accepted.png"))
        page.search("")
        assert page.count()[1] == len(instructions)

        # rejected: by reason, and by round
        page.tab("rejected")
        assert page.count() == (len(rejected), len(rejected), len(rejected))
        reason, n_reason = Counter(r["reason"] for r in rejected).most_common(1)[0]
        p.select_option("#reason", label=f"{reason} ({n_reason:,})")
        assert page.count()[:2] == (n_reason, n_reason)
        assert page.texts() == [r["instruction"] for r in rejected if r["reason"] == reason]
        assert set(p.locator("#list .chip.reason").all_inner_texts()) == {reason}
        p.select_option("#reason", value="")
        p.fill("#round", "0")
        assert page.count()[1] == sum(r.get("round") == 0 for r in rejected)
        p.fill("#round", "1-99999")
        assert page.count()[1] == sum(1 for r in rejected if (r.get("round") or 0) >= 1)
        p.fill("#round", "")
        p.screenshot(path=str(tmp_path / "rejected.png"))

        # instances: every task, each instance's input and output
        page.tab("instances")
        assert page.count()[1] == len(instances)
        shown = page.count()[0]
        assert p.locator("#list .inst").count() == sum(len(r["instances"]) for r in instances[:shown])
        p.select_option("#cls", value="yes")
        assert page.count()[1] == sum(r.get("is_classification") is True for r in instances)
        p.select_option("#cls", value="")

        # audit: every verdict, and the "all valid" filter
        page.tab("audit")
        assert page.count()[1] == len(audit)
        assert "valid instruction" in p.inner_text("#summary")
        p.select_option("#verdict", value="valid")
        assert page.count()[1] == sum(r["all_valid"] is True for r in audit)
        p.screenshot(path=str(tmp_path / "audit.png"))

        # evaluation: every rating, by rating
        page.tab("evaluation")
        assert page.count()[1] == len(evaluation)
        rating = Counter(r["rating"] for r in evaluation if r["rating"]).most_common(1)[0][0]
        p.select_option("#rating", value=rating)
        assert page.count()[1] == sum(r["rating"] == rating for r in evaluation)
        p.screenshot(path=str(tmp_path / "evaluation.png"))
        assert page.errors == []
    finally:
        page.close()


def test_html_in_the_data_is_shown_as_text_and_rows_come_a_page_at_a_time(browser: Any, tmp_path: Path) -> None:
    run_dir = hostile_run(tmp_path / "run")
    write_html(run_dir)
    page = Page(browser, run_dir / REPORT_HTML_FILE)
    p = page.page
    try:
        assert p.locator("#simulated").count() == 0  # metrics.json: a real model
        assert page.count() == (100, 250, 250)
        assert page.texts()[0] == f"Hostile {HOSTILE}"
        assert p.locator("#list b, #list img, #list i").count() == 0
        assert p.evaluate("window.__pwned") is None
        p.click("#more")
        assert page.count() == (200, 250, 250)
        p.click("#more")
        assert page.count() == (250, 250, 250) and p.is_hidden("#more")
        p.click("#list > .row >> nth=1")  # its most similar pool instruction is the hostile one
        assert p.locator("#list .detail .sim .text").inner_text() == f"Hostile {HOSTILE}"
        page.search("</script><b>")
        assert page.count() == (1, 1, 250)
        page.tab("rejected")
        assert page.texts() == [f"Rejected {HOSTILE}"]
        assert p.inner_text("#list .chip.reason") == "<b>rouge</b>"
        page.search("")
        page.tab("instances")
        assert p.locator("#list .inst .box").all_inner_texts() == [f"INPUT 1\n{HOSTILE}", "OUTPUT 1\n</SCRIPT >out"]
        page.tab("audit")
        assert "Not in this run: no audit.jsonl" in p.inner_text("#list")
        assert p.get_attribute("#count", "data-matches") == "0" and p.is_hidden("#more")
        page.tab("evaluation")
        assert "Not in this run: no evaluation.jsonl" in p.inner_text("#list")
        assert "unreadable" in p.inner_text("footer")
        assert p.locator("#list b, #list img, #list i").count() == 0 and p.evaluate("window.__pwned") is None
        p.screenshot(path=str(tmp_path / "hostile.png"))
        assert page.errors == []
    finally:
        page.close()
