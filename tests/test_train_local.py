"""The trl backend's local training library: a tiny Llama built from a config (no download), LoRA SFT with
TRL for a few steps, the adapter reloaded with PEFT, served on loopback and asked through LiteLLM, and a
``kill -9`` mid-training that a rerun resumes from the last checkpoint.

Skipped unless the ``train`` extra is installed: pip install 'selfinstruct[train]'.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REASON = "needs the train extra: pip install 'selfinstruct[train]'"
for _mod in ("torch", "transformers", "trl", "peft", "datasets"):
    pytest.importorskip(_mod, reason=REASON)

from selfinstruct.errors import SelfInstructError  # noqa: E402
from selfinstruct.training.data import chat_texts, read_chat_examples  # noqa: E402
from selfinstruct.training.local import TrainResult, train_lora  # noqa: E402
from selfinstruct.training.serve import serve_model  # noqa: E402
from selfinstruct.training.tiny import build_tiny_model  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_STEPS = 12
SAVE_STEPS = 4
# All linear layers and a high rate: a randomly initialised 2-layer model must visibly learn in 12 steps.
TRAIN_KW = dict(
    max_steps=MAX_STEPS, save_steps=SAVE_STEPS, batch_size=4, learning_rate=2e-2, lora_r=8, lora_alpha=16,
    lora_dropout=0.0, max_seq_len=128, seed=7, progress=False,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
)

COUNTRIES = [
    ("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"), ("Poland", "Warsaw"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Greece", "Athens"), ("Egypt", "Cairo"), ("Japan", "Tokyo"),
    ("Peru", "Lima"), ("Chile", "Santiago"), ("Kenya", "Nairobi"), ("Canada", "Ottawa"), ("Cuba", "Havana"),
    ("Ireland", "Dublin"), ("Austria", "Vienna"), ("Portugal", "Lisbon"), ("Finland", "Helsinki"),
    ("Hungary", "Budapest"),
]


def _examples() -> list[dict]:
    """40 chat lines in the export's shape: half with a system message, all ending on the assistant turn."""
    rows = []
    for i, (country, city) in enumerate(COUNTRIES):
        rows.append({"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"What is the capital of {country}?"},
            {"role": "assistant", "content": f"The capital of {country} is {city}."},
        ]})
        rows.append({"messages": [
            {"role": "user", "content": f"Name the capital city.\n\n{country}"},
            {"role": "assistant", "content": f"The capital of {country} is {city}."},
        ]})
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, TrainResult]:
    """(run dir, data path, tiny base model dir, result of one uninterrupted training run)."""
    run = tmp_path_factory.mktemp("run")
    data = run / "finetune" / "openai_chat.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text("".join(json.dumps(r) + "\n" for r in _examples()), encoding="utf-8")
    base = build_tiny_model(run / "tiny_base", chat_texts(data), vocab_size=400, hidden=64, layers=2, heads=4)
    result = train_lora(run, data, str(base), run / "train", **TRAIN_KW)
    return run, data, str(base), result


def test_prompt_completion_split(trained):
    _, data, _, _ = trained
    rows = read_chat_examples(data)
    assert len(rows) == 40
    assert rows[0]["prompt"][0]["role"] == "system" and rows[0]["completion"][0]["role"] == "assistant"
    assert [m["role"] for m in rows[1]["prompt"]] == ["user"]


def test_loss_goes_down_and_curve_is_written(trained):
    run, _, _, result = trained
    losses = [r["loss"] for r in result.losses]
    assert result.steps == MAX_STEPS and len(losses) == MAX_STEPS
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first - 0.1, losses
    curve = [json.loads(line) for line in (run / "train" / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == list(range(1, MAX_STEPS + 1))
    assert set(curve[0]) == {"step", "loss", "epoch", "learning_rate"}
    assert result.examples == 40 and result.tokens_seen > 0 and result.peak_memory_bytes > 0
    assert result.checkpoint and result.checkpoint.endswith(f"checkpoint-{MAX_STEPS}")
    assert result.resumed_from_step is None
    assert len(list((run / "train" / "checkpoints").glob("checkpoint-*"))) <= 2  # save_total_limit


def test_adapter_and_tokenizer_reload_with_peft(trained):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, base, result = trained
    adapter = Path(result.adapter_dir)
    assert (adapter / "adapter_config.json").is_file() and (adapter / "tokenizer.json").is_file()
    tok = AutoTokenizer.from_pretrained(adapter)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter))
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of Peru?"}],
                                  add_generation_prompt=True, return_dict=True, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_served_adapter_answers_through_litellm(trained):
    import litellm

    _, _, base, result = trained
    with serve_model(base, Path(result.adapter_dir), max_new_tokens=16) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        resp = asyncio.run(litellm.acompletion(
            model="openai/local-adapter", api_base=url, api_key="local", num_retries=0,
            messages=[{"role": "user", "content": "What is the capital of Kenya?"}], max_tokens=12,
        ))
    assert resp.choices[0].message.content.strip()
    assert resp.usage.prompt_tokens > 0 and 0 < resp.usage.completion_tokens <= 12


def test_missing_base_model_names_the_config_key(tmp_path, trained):
    _, data, _, _ = trained
    with pytest.raises(SelfInstructError, match=r"stages\.train\.base_model"):
        train_lora(tmp_path, data, str(tmp_path / "no_such_model"), tmp_path / "train", max_steps=1,
                   progress=False)


def test_kill_mid_training_resumes_from_last_checkpoint(tmp_path, trained):
    run, data, base, uninterrupted = trained
    out = tmp_path / "train"
    kw = {k: v for k, v in TRAIN_KW.items()}
    code = (
        "import sys; from pathlib import Path; from selfinstruct.training.local import train_lora; "
        f"train_lora(Path({str(run)!r}), Path({str(data)!r}), {base!r}, Path({str(out)!r}), **{kw!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = out / "checkpoints"
    deadline = time.monotonic() + 60
    try:
        while not list(ckpts.glob("checkpoint-*/trainer_state.json")):
            assert proc.poll() is None, "training ended before any checkpoint was written"
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = max(int(p.parent.name.split("-")[1]) for p in ckpts.glob("checkpoint-*/trainer_state.json"))
    assert saved < MAX_STEPS, "killed too late: the run had already finished"

    result = train_lora(run, data, base, out, **TRAIN_KW)
    assert result.resumed_from_step is not None and result.resumed_from_step >= SAVE_STEPS
    assert result.resumed_from_step % SAVE_STEPS == 0 and result.resumed_from_step < MAX_STEPS
    assert result.steps == MAX_STEPS
    curve = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == list(range(1, MAX_STEPS + 1))
    # Same seed, exact resume: the interrupted run learns what the uninterrupted one did.
    assert [r["loss"] for r in result.losses] == pytest.approx([r["loss"] for r in uninterrupted.losses], rel=1e-4)
    assert (Path(result.adapter_dir) / "adapter_model.safetensors").is_file()
