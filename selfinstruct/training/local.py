"""LoRA supervised fine-tuning with TRL's SFTTrainer and PEFT, resumable after a kill.

Design points the stage relies on:
- The data is conversational prompt/completion (see :mod:`.data`), so TRL masks the prompt: loss on the
  completion only, the paper's "prompt loss weight 0".
- Checkpoints go to ``out_dir/checkpoints`` (the last two kept).  A rerun with the same arguments resumes
  from the newest one (model, optimizer, scheduler, RNG and data position), so ``kill -9`` costs at most
  ``save_steps`` steps and the run ends where an uninterrupted run would.
- ``out_dir/loss.jsonl`` holds the curve; ``out_dir/adapter`` the adapter and tokenizer (written to a temp
  dir and renamed, so a half-written adapter is never mistaken for a finished one).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selfinstruct.errors import SelfInstructError
from selfinstruct.training import require_extras

BASE_MODEL_KEY = "stages.train.base_model"


@dataclass
class TrainResult:
    """What one ``train_lora`` call produced; ``asdict`` gives JSON-ready values."""

    adapter_dir: str
    checkpoint: str | None  # the last checkpoint dir, None if none was written
    steps: int  # global step reached (counts steps done before a resume too)
    epochs: float  # epochs completed (fractional)
    train_loss: float | None  # mean training loss over the logged steps
    losses: list[dict[str, float]] = field(default_factory=list)  # {step, loss, epoch, learning_rate}
    compute_s: float = 0.0  # wall time of trainer.train() in THIS call (not counting a killed earlier run)
    tokens_seen: int = 0  # non-padding input tokens processed so far (restored from the checkpoint on resume)
    examples: int = 0
    peak_memory_bytes: int = 0  # CUDA max allocated, or this process's peak RSS on CPU
    resumed_from_step: int | None = None  # the checkpoint step this call resumed from, None for a fresh start

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def resolve_base_model(base_model: str) -> tuple[str, str | None]:
    """(directory or hub id, gguf file name or None) for ``from_pretrained``.

    A path to a ``.gguf`` file loads through transformers' GGUF support (dequantised to float weights).
    Anything that looks like a path must exist; the message names the config key to fix.
    """
    p = Path(base_model).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise SelfInstructError(f"{BASE_MODEL_KEY}: GGUF file {base_model} not found")
        return str(p.parent), p.name
    if p.is_dir():
        return str(p), None
    looks_like_path = base_model.startswith(("/", ".", "~")) or base_model.count("/") > 1 or p.exists()
    if looks_like_path:
        raise SelfInstructError(f"{BASE_MODEL_KEY}: model directory {base_model} not found")
    return base_model, None  # a hub id: checked when loaded


def load_tokenizer(base_model: str) -> Any:
    """The base model's tokenizer with a pad token and a chat template (the tiny one if it has none)."""
    from transformers import AutoTokenizer

    from selfinstruct.training.tiny import SIMPLE_CHAT_TEMPLATE

    src, gguf = resolve_base_model(base_model)
    try:
        tok = AutoTokenizer.from_pretrained(src, gguf_file=gguf) if gguf else AutoTokenizer.from_pretrained(src)
    except Exception as exc:  # noqa: BLE001 - hub, network and format errors all mean "fix base_model"
        raise SelfInstructError(f"{BASE_MODEL_KEY}: cannot load tokenizer for {base_model!r} ({_short(exc)})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        tok.chat_template = SIMPLE_CHAT_TEMPLATE
    return tok


def load_model(base_model: str, *, use_cuda: bool) -> Any:
    """The base causal LM in float32 on CPU (bf16 where the GPU supports it)."""
    import torch
    from transformers import AutoModelForCausalLM

    src, gguf = resolve_base_model(base_model)
    dtype = torch.bfloat16 if use_cuda and torch.cuda.is_bf16_supported() else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype}
    if gguf:
        kwargs["gguf_file"] = gguf
    try:
        model = AutoModelForCausalLM.from_pretrained(src, **kwargs)
    except Exception as exc:  # noqa: BLE001 - hub, network and format errors all mean "fix base_model"
        raise SelfInstructError(f"{BASE_MODEL_KEY}: cannot load model {base_model!r} ({_short(exc)})") from None
    if gguf:
        _forget_gguf_quantization(model)
    return model


def _forget_gguf_quantization(model: Any) -> None:
    """GGUF weights are dequantised to ``dtype`` on load, yet the model stays flagged as GGUF-quantized and the
    Trainer refuses to fine-tune it; the tensors are plain floats, so drop the flag (LoRA trains on top)."""
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` (one with trainer_state.json: a killed save lacks it)."""
    if not ckpt_dir.is_dir():
        return None
    done = [
        d for d in ckpt_dir.iterdir()
        if d.is_dir() and d.name.startswith("checkpoint-") and d.name[11:].isdigit()
        and (d / "trainer_state.json").is_file()
    ]
    return max(done, key=lambda d: int(d.name[11:]), default=None)


def _checkpoint_step(ckpt: Path) -> int:
    return int(ckpt.name.split("-")[-1])


def _loss_records(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The per-step training losses from the trainer's log (the restored part included after a resume)."""
    out = []
    for rec in log_history:
        if "loss" in rec and "step" in rec:
            out.append({
                "step": int(rec["step"]),
                "loss": float(rec["loss"]),
                "epoch": float(rec.get("epoch", 0.0)),
                "learning_rate": float(rec.get("learning_rate", 0.0)),
            })
    return out


def _write_jsonl_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def _make_loss_callback(loss_path: Path) -> Any:
    """A callback that rewrites loss.jsonl at every log, so a killed run still leaves its curve so far."""
    from transformers import TrainerCallback

    class LossFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            _write_jsonl_atomic(loss_path, _loss_records(state.log_history))

    return LossFile()


def _quiet_progress_bars() -> None:
    """Silence the datasets/transformers bars (tokenizing, loading weights) when the caller wants no progress."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def _peak_memory_bytes(use_cuda: bool) -> int:
    if use_cuda:
        import torch

        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def train_lora(
    run_dir: Path,
    data_path: Path,
    base_model: str,
    out_dir: Path,
    *,
    epochs: float = 2,
    learning_rate: float = 2e-4,
    lora_r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.05,
    target_modules: list[str] | None = None,
    batch_size: int = 4,
    grad_accum: int = 1,
    max_seq_len: int = 512,
    max_steps: int | None = None,
    save_steps: int = 50,
    seed: int = 42,
    progress: bool = True,
) -> TrainResult:
    """Train a LoRA adapter on ``data_path`` (openai_chat.jsonl) and save it under ``out_dir/adapter``.

    ``run_dir`` is only used to resolve a relative ``data_path``/``out_dir``.  Rerunning with the same
    arguments after a kill resumes from the last checkpoint; rerunning after completion re-saves the same
    adapter without training further.  Changing ``epochs``/``max_steps``/``batch_size`` between a kill and a
    rerun is not supported (delete ``out_dir/checkpoints`` to start over).
    """
    require_extras()
    import torch
    from peft import LoraConfig
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from selfinstruct.training.data import load_chat_dataset

    run_dir = Path(run_dir)
    data_path = data_path if Path(data_path).is_absolute() else run_dir / data_path
    out_dir = Path(out_dir) if Path(out_dir).is_absolute() else run_dir / out_dir
    ckpt_dir = out_dir / "checkpoints"
    out_dir.mkdir(parents=True, exist_ok=True)

    use_cuda = torch.cuda.is_available()
    if not progress:
        _quiet_progress_bars()
    set_seed(seed)
    dataset = load_chat_dataset(Path(data_path))
    tokenizer = load_tokenizer(base_model)
    model = load_model(base_model, use_cuda=use_cuda)

    bf16 = use_cuda and torch.cuda.is_bf16_supported()
    args = SFTConfig(
        output_dir=str(ckpt_dir),
        num_train_epochs=float(epochs),
        max_steps=max_steps if max_steps is not None else -1,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        max_length=max_seq_len,
        completion_only_loss=True,  # the paper's prompt loss weight 0
        packing=False,
        logging_steps=1,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        seed=seed,
        data_seed=seed,
        use_cpu=not use_cuda,
        bf16=bf16,
        fp16=False,
        report_to="none",
        disable_tqdm=not progress,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        dataset_num_proc=None,
    )
    peft_config = LoraConfig(
        r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=target_modules,
        task_type="CAUSAL_LM",
    )
    loss_path = out_dir / "loss.jsonl"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_make_loss_callback(loss_path)],
    )

    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints every log dict when the bar is off
    resume = last_checkpoint(ckpt_dir)
    if use_cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    compute_s = time.perf_counter() - started

    adapter_dir = out_dir / "adapter"
    tmp_dir = out_dir / "adapter.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp_dir))
    tokenizer.save_pretrained(str(tmp_dir))
    shutil.rmtree(adapter_dir, ignore_errors=True)
    os.replace(tmp_dir, adapter_dir)

    losses = _loss_records(trainer.state.log_history)
    _write_jsonl_atomic(loss_path, losses)
    final = last_checkpoint(ckpt_dir)
    return TrainResult(
        adapter_dir=str(adapter_dir),
        checkpoint=str(final) if final else None,
        steps=int(trainer.state.global_step),
        epochs=float(trainer.state.epoch or 0.0),
        train_loss=(sum(r["loss"] for r in losses) / len(losses)) if losses else None,
        losses=losses,
        compute_s=compute_s,
        tokens_seen=int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0),
        examples=len(dataset),
        peak_memory_bytes=_peak_memory_bytes(use_cuda),
        resumed_from_step=_checkpoint_step(resume) if resume else None,
    )
