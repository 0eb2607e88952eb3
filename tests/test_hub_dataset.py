"""finetune/ as a Hugging Face dataset repository, and the push stage against a loopback Hub stand-in.

Two runs through the real CLI: one on the bundled simulated model (model=loopback), one against the
simulated server started standalone and configured as an ordinary OpenAI-compatible endpoint (not
marked simulated: the data is what such an endpoint answered, so the run may be pushed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from selfinstruct.export.hub import folder_files
from selfinstruct.simulated.hub import LoopbackHub
from tests.cli_helpers import read_json, run_cli
from tests.conftest import start_llm_server

FORMATS = {"prompt_completion": "prompt_completion.jsonl", "alpaca": "alpaca.json",
           "openai_chat": "openai_chat.jsonl", "sharegpt": "sharegpt.json"}
TOKEN = "hf_loopbackTESTtoken_9f8e7d6c5b"
SYSTEM = "You are a careful assistant."
N = 12
CARD = "stages.finetune.dataset_card=true"


def _records(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _front_matter(card: Path) -> tuple[dict[str, Any], str]:
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sim")
    run = base / "run"
    result = run_cli(["model=loopback", f"schedule.num_instructions={N}", "cache.enabled=false", CARD,
                      f"hydra.run.dir={run}"], cwd=base)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A run against an OpenAI-compatible endpoint (the simulated server, standalone), with a system prompt."""
    base = tmp_path_factory.mktemp("real")
    server = start_llm_server(base, seed=4)
    try:
        run = base / "run"
        result = run_cli(["model.name=openai/sim", f"model.api_base={server.url}", f"schedule.num_instructions={N}",
                          "cache.enabled=false", f"export.system_prompt={SYSTEM}", CARD, f"hydra.run.dir={run}"],
                         cwd=base, env={"OPENAI_API_KEY": "sk-loopback-test-key"})
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        server.stop()
    yield run


@pytest.fixture
def hub() -> Iterator[LoopbackHub]:
    with LoopbackHub(token=TOKEN) as stand_in:
        yield stand_in


def _push(run: Path, hub: LoopbackHub, *extra: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env: dict[str, str | None] = {"HF_ENDPOINT": hub.url, "HF_TOKEN": token, "HF_HOME": str(run.parent / "hf_home"),
                                  "HF_HUB_OFFLINE": None, "HF_HUB_DISABLE_TELEMETRY": "1"}
    return run_cli(["pipeline.stages=[push]", f"hydra.run.dir={run}", "export.hub.repo_id=selfinstruct-test/data",
                    *extra], cwd=run.parent, env=env, timeout=120)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ the folder


def test_load_dataset_reads_every_format_offline(sim_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets", reason="datasets is not installed (pip install selfinstruct[train])")
    script = ("import json, sys\nfrom datasets import load_dataset\nout = {}\n"
              "for name in json.loads(sys.argv[2]):\n"
              "    ds = load_dataset(sys.argv[1], name, split='train', cache_dir=sys.argv[3])\n"
              "    out[name] = [ds.num_rows, sorted(ds.column_names)]\n"
              "out['<default>'] = sorted(load_dataset(sys.argv[1], cache_dir=sys.argv[3])['train'].column_names)\n"
              "print(json.dumps(out))\n")
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    result = subprocess.run([sys.executable, "-c", script, str(sim_run / "finetune"), json.dumps(list(FORMATS)),
                             str(tmp_path / "cache")], env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    metrics = read_json(sim_run / "metrics.json")["finetune"]["formats"]
    for name, file in FORMATS.items():
        records = _records(sim_run / "finetune" / file)
        assert loaded[name][0] == len(records) == metrics[name]["records"] > 0
        assert loaded[name][1] == sorted(records[0])  # the file's own columns, nothing added
    assert loaded["<default>"] == ["completion", "prompt"]  # the first format is the default config


def test_the_card_parses_and_lists_every_format(sim_run: Path) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(sim_run / "finetune" / "README.md")
    configs = card.data.configs
    assert [c["config_name"] for c in configs] == list(FORMATS)
    assert [c["data_files"][0]["path"] for c in configs] == list(FORMATS.values())
    assert configs[0].get("default") is True and not any(c.get("default") for c in configs[1:])
    assert card.data.license == "apache-2.0"  # the bundled seeds: the project's own, Apache-2.0
    assert card.data.task_categories == ["text-generation"] and card.data.language == ["en"]
    assert {"synthetic", "self-instruct", "simulated", "openai-selfinstruct-loopback"} <= set(card.data.tags)
    assert card.data.size_categories == ["n<1K"]

    meta, body = _front_matter(sim_run / "finetune" / "README.md")
    assert meta["configs"] == configs  # plain YAML, the same for any reader
    first = body.splitlines()[0]
    assert first.startswith("**SIMULATED") and first.endswith("**")
    assert card.text.lstrip().splitlines()[0] == first
    marker = (sim_run / "finetune" / "SIMULATED").read_text()
    assert "simulated" in marker.lower() and "not train" in marker.lower()
    # the body: Table 1, rejections, the command and the config
    rejected = [json.loads(line) for line in (sim_run / "rejected.jsonl").read_text().splitlines()]
    assert f"| # of instructions | {N} |" in body
    assert f"| total | {len(rejected)} |" in body
    assert f"selfinstruct model=loopback schedule.num_instructions=12 cache.enabled=false {CARD} " \
        "hydra.run.dir=NEW_RUN_DIR" in body
    assert "name: openai/selfinstruct-loopback" in body


def test_records_stay_plain_and_the_system_column_only_when_set(sim_run: Path, real_run: Path) -> None:
    for name, file in FORMATS.items():
        for record in _records(sim_run / "finetune" / file):
            assert "simulated" not in json.dumps(sorted(record)).lower()
    assert all(set(r) == {"instruction", "input", "output"} for r in _records(sim_run / "finetune" / "alpaca.json"))
    assert all(r["system"] == SYSTEM and set(r) == {"instruction", "input", "output", "system"}
               for r in _records(real_run / "finetune" / "alpaca.json"))

    for run, system in ((sim_run, False), (real_run, True)):
        info = read_json(run / "finetune" / "dataset_info.json")
        assert set(info) == {"alpaca", "openai_chat", "sharegpt"}  # prompt_completion: no LLaMA-Factory form
        for entry in info.values():
            assert (run / "finetune" / entry["file_name"]).is_file()
        assert info["alpaca"]["formatting"] == "alpaca"
        expected = {"prompt": "instruction", "query": "input", "response": "output"}
        assert info["alpaca"]["columns"] == ({**expected, "system": "system"} if system else expected)
        assert info["sharegpt"] == {"file_name": "sharegpt.json", "formatting": "sharegpt",
                                    "columns": {"messages": "conversations"},
                                    "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                             "assistant_tag": "gpt", "system_tag": "system"}}
        assert info["openai_chat"]["columns"] == {"messages": "messages"}
        assert info["openai_chat"]["tags"]["role_tag"] == "role"
        sharegpt = _records(run / "finetune" / "sharegpt.json")
        assert (sharegpt[0]["conversations"][0]["from"] == "system") is system


def test_a_real_endpoints_run_is_not_marked_simulated(real_run: Path) -> None:
    assert not (real_run / "finetune" / "SIMULATED").exists()
    meta, body = _front_matter(real_run / "finetune" / "README.md")
    assert "simulated" not in meta["tags"] and "openai-sim" in meta["tags"]
    assert body.splitlines()[0].startswith("# Self-Instruct data")
    assert "SIMULATED" not in body


def test_simulated_data_stays_marked_and_a_stale_marker_goes(sim_run: Path, real_run: Path, tmp_path: Path) -> None:
    # re-exporting simulated data under a real model's config keeps the marker: the data did not change
    sim_copy = tmp_path / "sim"
    shutil.copytree(sim_run, sim_copy)
    result = run_cli(["pipeline.stages=[finetune]", f"hydra.run.dir={sim_copy}", CARD], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (sim_copy / "finetune" / "SIMULATED").exists()
    assert _front_matter(sim_copy / "finetune" / "README.md")[1].startswith("**SIMULATED")
    # the marker does not depend on the dataset card: the simulated model's export always has it
    (sim_copy / "finetune" / "SIMULATED").unlink()
    result = run_cli(["model=loopback", "pipeline.stages=[finetune]", f"hydra.run.dir={sim_copy}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (sim_copy / "finetune" / "SIMULATED").exists()
    # a marker the real run's data does not deserve is removed by the next export
    real_copy = tmp_path / "real"
    shutil.copytree(real_run, real_copy)
    (real_copy / "finetune" / "SIMULATED").write_text("stale\n")
    result = run_cli(["pipeline.stages=[finetune]", f"hydra.run.dir={real_copy}", f"export.system_prompt={SYSTEM}",
                      CARD], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (real_copy / "finetune" / "SIMULATED").exists()
    for name in ("alpaca.json", "sharegpt.json", "dataset_info.json"):
        assert (real_copy / "finetune" / name).read_bytes() == (real_run / "finetune" / name).read_bytes()


# ------------------------------------------------------------------------------------------ push


def test_push_uploads_every_file_privately_with_the_token_as_bearer(real_run: Path, hub: LoopbackHub) -> None:
    result = _push(real_run, hub)
    assert result.returncode == 0, result.stderr[-3000:]
    repo = hub.repo("datasets", "selfinstruct-test/data")
    assert repo is not None and repo.private is True and len(repo.commits) == 1
    local = {p.relative_to(real_run / "finetune").as_posix(): p.read_bytes()
             for p in folder_files(real_run / "finetune")}
    assert set(local) == {*FORMATS.values(), "README.md", "dataset_info.json"}
    assert repo.files == local  # every file, byte-identical
    assert hub.auth_headers and set(hub.auth_headers) == {f"Bearer {TOKEN}"}
    assert not any("lfs" in path or "xet" in path for _, path in hub.requests)
    # the token is nowhere: not in the run directory's files, not on stdout or stderr
    for path in real_run.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in result.stdout and TOKEN not in result.stderr
    pushed = read_json(real_run / "metrics.json")["push"]
    assert pushed["repo_id"] == "selfinstruct-test/data" and pushed["private"] is True
    assert sorted(pushed["files"]) == sorted(local)
    assert f"pushed to the Hub: selfinstruct-test/data (private, {len(local)} files)" in result.stdout

    # private=false creates a public repository; pushing again adds a commit
    result = _push(real_run, hub, "export.hub.repo_id=selfinstruct-test/public", "export.hub.private=false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert hub.repo("datasets", "selfinstruct-test/public").private is False


def test_push_refuses_simulated_data_before_anything(sim_run: Path, hub: LoopbackHub) -> None:
    result = _push(sim_run, hub)
    assert result.returncode == 2
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and "simulated data is not pushed" in lines[0], result.stderr
    assert hub.requests == []
    # and a run on the simulated model now, whatever the directory holds
    result = run_cli(["model=loopback", "pipeline.stages=[push]", f"hydra.run.dir={sim_run}",
                      "export.hub.repo_id=selfinstruct-test/data"], cwd=sim_run.parent,
                     env={"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.url})
    assert result.returncode == 2 and "simulated data is not pushed" in result.stderr
    assert hub.requests == []


def test_push_without_a_token_names_the_variable(real_run: Path, hub: LoopbackHub) -> None:
    result = _push(real_run, hub, token=None)
    assert result.returncode == 2
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and "HF_TOKEN" in lines[0] and "export.hub.token_env" in lines[0], result.stderr
    assert hub.requests == []


def test_push_stage_is_a_quiet_no_op_without_a_repo(real_run: Path, hub: LoopbackHub) -> None:
    result = _push(real_run, hub, "export.hub.repo_id=null", token=None)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nothing pushed" in result.stderr and hub.requests == []


def test_a_hub_error_is_one_line_and_loses_nothing(real_run: Path, hub: LoopbackHub) -> None:
    before = {p: p.read_bytes() for p in (real_run / "finetune").iterdir()}
    hub.fail["commit"] = 500
    result = _push(real_run, hub, "export.hub.repo_id=selfinstruct-test/broken")
    assert result.returncode == 2
    lines = _error_lines(result.stderr)
    errors = [line for line in lines if "ERROR" in line]
    assert len(errors) == 1 and "500" in errors[0] and "nothing local was changed" in errors[0], result.stderr
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    assert {p: p.read_bytes() for p in (real_run / "finetune").iterdir()} == before
    assert hub.repo("datasets", "selfinstruct-test/broken").files == {}


def test_push_needs_the_dataset_card(real_run: Path, hub: LoopbackHub, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    (run / "finetune" / "README.md").unlink()
    result = _push(run, hub)
    assert result.returncode == 2 and "stages.finetune.dataset_card=true" in result.stderr, result.stderr
    result = _push(run, hub, "pipeline.stages=[finetune,push]", "stages.finetune.dataset_card=false")  # card off
    assert result.returncode == 2 and "stages.finetune.dataset_card=true" in result.stderr, result.stderr
    assert hub.requests == []
    result = _push(run, hub, "pipeline.stages=[finetune,push]", CARD, f"export.system_prompt={SYSTEM}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(hub.files("datasets", "selfinstruct-test/data")) == sorted(
        p.name for p in (run / "finetune").iterdir())
