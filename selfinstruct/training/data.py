"""Read the run's chat export into TRL's conversational prompt-completion format.

Splitting each conversation at the (last) assistant turn makes TRL compute the loss on the completion only:
the chat-format equivalent of the paper's "prompt loss weight 0".  The reading itself needs no extras, so the
stage can count and validate examples (and fail early on a bad file) without torch installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfinstruct.errors import SelfInstructError

Message = dict[str, str]
_ROLES = {"system", "user", "assistant"}


def read_chat_examples(data_path: Path) -> list[dict[str, list[Message]]]:
    """Rows ``{"prompt": [...messages before the assistant turn], "completion": [assistant message]}``.

    The last message of each line must be the assistant's: that is the part the model learns to write.
    Errors name ``path:line`` so a broken export can be found and fixed.
    """
    data_path = Path(data_path)
    if not data_path.is_file():
        raise SelfInstructError(f"{data_path}: training data not found (run the finetune stage first)")
    rows: list[dict[str, list[Message]]] = []
    with data_path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            rows.append(_split(_parse_line(line, f"{data_path}:{lineno}"), f"{data_path}:{lineno}"))
    if not rows:
        raise SelfInstructError(f"{data_path}: no training examples")
    return rows


def _parse_line(line: str, where: str) -> list[Message]:
    """The ``messages`` list of one JSONL line, checked for roles and string contents."""
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SelfInstructError(f"{where}: not JSON ({exc.msg})") from None
    messages = obj.get("messages") if isinstance(obj, dict) else None
    if not isinstance(messages, list) or not messages:
        raise SelfInstructError(f"{where}: expected {{\"messages\": [...]}}")
    out: list[Message] = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise SelfInstructError(f"{where}: each message needs a role in {sorted(_ROLES)} and string content")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _split(messages: list[Message], where: str) -> dict[str, list[Message]]:
    """Prompt = everything before the final assistant message; completion = that message."""
    if messages[-1]["role"] != "assistant" or len(messages) < 2:
        raise SelfInstructError(f"{where}: the last message must be the assistant's reply, after a prompt")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def load_chat_dataset(data_path: Path) -> Any:
    """A ``datasets.Dataset`` with conversational ``prompt``/``completion`` columns (needs the extra)."""
    from datasets import Dataset  # lazy: optional extra

    return Dataset.from_list(read_chat_examples(data_path))


def chat_texts(data_path: Path) -> list[str]:
    """Every message's text, e.g. to train a tiny tokenizer on the same data."""
    return [m["content"] for row in read_chat_examples(data_path) for m in row["prompt"] + row["completion"]]
