"""Local fine-tuning (LoRA SFT with TRL + PEFT) and a loopback OpenAI-compatible server for the result.

Nothing here imports torch, transformers, trl, peft or datasets at module import time: they are the
optional ``train`` extra (``pip install 'selfinstruct[train]'``), so ``import selfinstruct`` and
``import selfinstruct.training`` work without them.  Import the submodules for the functions:

- :func:`selfinstruct.training.local.train_lora` - train an adapter, resumable after a kill.
- :func:`selfinstruct.training.serve.serve_model` - serve base + adapter on 127.0.0.1 for LiteLLM.
- :func:`selfinstruct.training.tiny.build_tiny_model` - a tiny Llama built from a config, for tests.
- :func:`selfinstruct.training.data.load_chat_dataset` - openai_chat.jsonl -> prompt/completion rows.
"""

from __future__ import annotations

from selfinstruct.errors import SelfInstructError

INSTALL_HINT = "pip install 'selfinstruct[train]'"


def require_extras() -> None:
    """Fail with one actionable line when the ``train`` extra is missing (instead of an ImportError deep inside)."""
    missing = []
    for name in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SelfInstructError(
            f"local training needs {', '.join(missing)}: install the extra with {INSTALL_HINT}"
        )


__all__ = ["INSTALL_HINT", "require_extras"]
