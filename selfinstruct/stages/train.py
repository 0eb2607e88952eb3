"""Stage 5: fine-tune a model on the run's data, as the paper did (section 2.3), then record it in train.json.

Two backends, picked by ``stages.train._target_`` (``train=provider`` or ``train=trl``):

- ``ProviderTrainStage``: the paper's way, a provider's fine-tuning API through LiteLLM.  It uploads
  the chat-format export, creates the job, and polls it with backoff.  train.json is written
  atomically at every step, the job id before anything else happens after the job is created, so a
  ``kill -9`` and the same command poll the same job: nothing is uploaded or created twice.
  ``wait: false`` submits and ends the run (exit 0); the same command later picks the job up.
- ``TrlTrainStage``: local LoRA supervised fine-tuning with TRL and PEFT (``pip install
  'selfinstruct[train]'``), checkpoints in the run directory, resumed after a kill.

Either way train.json names the tuned model, which ``stages.evaluate.models=[base,tuned]`` evaluates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from selfinstruct.data import write_json_atomic
from selfinstruct.errors import ConfigError, SelfInstructError
from selfinstruct.llm.budget import BudgetExhausted
from selfinstruct.llm.finetune_jobs import (
    FINAL_STATES,
    FineTuningAPI,
    ProviderEndpoint,
    job_error,
    job_field,
    training_price,
)
from selfinstruct.llm.models import ModelRef, train_ref
from selfinstruct.rundir import TRAIN_DIR, TRAIN_FILE
from selfinstruct.stages.base import RunContext, Stage, StagePlan

log = logging.getLogger(__name__)

DEFAULT_DATA = "finetune/openai_chat.jsonl"
SIMULATED_POLL_S = 0.1  # the simulated provider's jobs move on every poll: no need to wait between them


def read_train_record(run_dir: Path) -> dict[str, Any]:
    """train.json, or {} before the train stage first ran."""
    path = run_dir / TRAIN_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise SelfInstructError(f"{path}: not valid JSON; the file is damaged") from None


def data_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_examples(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def count_training_tokens(path: Path, model: str) -> int:
    """Tokens of every example once, as LiteLLM's tokenizer for ``model`` counts them (the provider
    bills these times the epochs)."""
    from selfinstruct.llm.litellm_import import import_litellm

    litellm = import_litellm()
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            total += litellm.token_counter(model=model, messages=json.loads(line)["messages"])
    return total


class TrainStage(Stage):
    """What both backends share: the data file, epochs, train.json."""

    name = "train"

    def __init__(self, base_model: str, epochs: float = 2, data: str = DEFAULT_DATA) -> None:
        key = self.config_key
        if not isinstance(base_model, str) or not base_model.strip():
            raise ConfigError(f"{key}.base_model: a model is required (a provider model to fine-tune, or for "
                              f"train=trl a Hugging Face model id or directory)")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or epochs <= 0:
            raise ConfigError(f"{key}.epochs: must be a number above 0, got {epochs}")
        self.base_model, self.epochs, self.data = base_model.strip(), epochs, data

    def data_path(self, ctx: RunContext) -> Path:
        path = Path(self.data)
        return path if path.is_absolute() else ctx.run_dir / path

    def require_data(self, ctx: RunContext) -> Path:
        path = self.data_path(ctx)
        if not path.is_file():
            raise SelfInstructError(
                f"{path}: not found; the train stage trains on the finetune stage's chat export ({self.config_key}"
                f".data), so run the finetune stage first (pipeline.stages=[...,finetune,train]) with the "
                f"openai_chat format in export.formats")
        return path

    def write_record(self, ctx: RunContext, record: dict[str, Any]) -> None:
        write_json_atomic(ctx.run_dir / TRAIN_FILE, record)


class ProviderTrainStage(TrainStage):
    """``train=provider``: the provider's fine-tuning API (OpenAI, Azure, Vertex through LiteLLM)."""

    def __init__(self, base_model: str = "gpt-4o-mini-2024-07-18", epochs: float = 2, data: str = DEFAULT_DATA,
                 provider: str = "openai", hyperparameters: Any = None, suffix: str | None = "selfinstruct",
                 seed: int | None = None, wait: bool = True, poll_s: float = 10.0, poll_max_s: float = 120.0,
                 max_wait_s: float = 86400.0, cost_per_token: float | None = None, api_base: str | None = None,
                 api_key_env: str | None = None) -> None:
        super().__init__(base_model, epochs, data)
        key = self.config_key
        for name, value in (("poll_s", poll_s), ("poll_max_s", poll_max_s), ("max_wait_s", max_wait_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{key}.{name}: must be a number of seconds above 0, got {value}")
        if cost_per_token is not None and (not isinstance(cost_per_token, (int, float)) or cost_per_token < 0):
            raise ConfigError(f"{key}.cost_per_token: must be null or dollars per training token (>= 0)")
        if not isinstance(wait, bool):
            raise ConfigError(f"{key}.wait: must be true or false, got {wait!r}")
        extra = OmegaConf.to_container(hyperparameters, resolve=True) if OmegaConf.is_config(hyperparameters) \
            else dict(hyperparameters or {})
        self.hyperparameters: dict[str, Any] = {"n_epochs": epochs, **extra}
        self.provider, self.suffix, self.seed, self.wait = provider, suffix, seed, wait
        self.poll_s, self.poll_max_s, self.max_wait_s = float(poll_s), float(poll_max_s), float(max_wait_s)
        self.cost_per_token = cost_per_token
        self.api_base, self.api_key_env = api_base, api_key_env

    # ------------------------------------------------------------------ where the API is

    def ref(self, ctx: RunContext) -> ModelRef:
        """The training endpoint as a model of the run: the generator's own simulated server when the
        generator is simulated and no stages.train.api_base is set, else the provider's."""
        return train_ref(ctx.cfg)

    def models(self, ctx: RunContext) -> list[ModelRef]:
        return [self.ref(ctx)]

    def simulated(self, ctx: RunContext) -> bool:
        """Whether the simulated server plays the provider (free, and its jobs move in a few quick polls)."""
        return bool(self.ref(ctx).config.simulated)

    def price(self, ctx: RunContext) -> float | None:
        """Dollars per training token: stages.train.cost_per_token, else free on the simulated provider,
        else the published price of base_model (None: unknown)."""
        if self.cost_per_token is None and self.simulated(ctx):
            return 0.0
        return training_price(self.base_model, self.cost_per_token)

    def prepare(self, ctx: RunContext) -> None:
        price = self.price(ctx)
        if ctx.cfg.budget.max_usd is not None and price is None:
            raise ConfigError(
                f"budget.max_usd={ctx.cfg.budget.max_usd}: the training price of {self.config_key}.base_model="
                f"{self.base_model} is not known, so the job's cost cannot be held to the cap; set "
                f"{self.config_key}.cost_per_token (dollars per training token), or drop budget.max_usd")

    def plan(self, ctx: RunContext) -> StagePlan:
        path = self.data_path(ctx)
        tokens = count_training_tokens(path, self.base_model) if path.is_file() else None
        price = self.price(ctx)
        if tokens is None:
            note = "training cost: known once the finetune stage has written the data"
        elif price is None:
            note = f"{tokens:,} tokens x {self.epochs} epochs; training price unknown (set {self.config_key}.cost_per_token)"
        else:
            note = (f"{tokens:,} tokens x {self.epochs} epochs x ${price * 1e6:.2f}/1M = "
                    f"${tokens * self.epochs * price:.4f} training")
        return StagePlan(requests=0, sample_messages=[{"role": "user", "content": ""}], completion_tokens_each=0,
                         note=f"fine-tune {self.base_model}: {note}", model=self.ref(ctx), label="train (provider)",
                         fixed_cost_usd=(tokens * self.epochs * price) if tokens is not None and price is not None
                         else None)

    # ------------------------------------------------------------------ run

    async def run(self, ctx: RunContext) -> None:
        started = time.perf_counter()
        data = self.require_data(ctx)
        digest = data_digest(data)
        record = read_train_record(ctx.run_dir)
        if record.get("backend") == "provider" and record.get("data_sha256") not in (None, digest) \
                and record.get("job_id"):
            raise SelfInstructError(
                f"{ctx.run_dir / TRAIN_FILE}: job {record['job_id']} was trained on other data than {data} holds "
                f"now; train in a new run directory (or delete {TRAIN_FILE} to train again here)")
        if record.get("status") == "succeeded" and record.get("job_id"):
            log.info("train: job %s already succeeded: %s", record["job_id"], record.get("tuned_model"))
            return
        assert ctx.pool is not None  # models() names the training endpoint, so the engine opened it
        endpoint = ctx.pool.endpoint(self.ref(ctx))
        api = FineTuningAPI(
            ProviderEndpoint(self.provider, endpoint.api_base, endpoint.api_key, self.config_key),
            max_retries=int(ctx.cfg.model.max_retries), retry_base_s=float(ctx.cfg.model.retry_base_s),
            retry_max_s=float(ctx.cfg.model.retry_max_s), sleep=ctx.pool.stop.sleep)
        if not record.get("job_id"):
            record = await self._submit(ctx, api, data, digest)
            if not self.wait:
                ctx.pause(f"train: fine-tuning job {record['job_id']} submitted (stages.train.wait=false); "
                          f"the same command picks it up and waits for it")
                return
        await self._poll(ctx, api, record, started)

    async def _submit(self, ctx: RunContext, api: FineTuningAPI, data: Path, digest: str) -> dict[str, Any]:
        """Check the cost against the budget, upload, create the job; train.json after each step."""
        examples = count_examples(data)
        tokens = count_training_tokens(data, self.base_model)
        price = self.price(ctx)
        estimate = tokens * self.epochs * price if price is not None else None
        record: dict[str, Any] = {
            "backend": "provider", "provider": self.provider, "base_model": self.base_model, "data": self.data,
            "data_sha256": digest, "examples": examples, "epochs": self.epochs, "data_tokens": tokens,
            "estimated_cost_usd": round(estimate, 6) if estimate is not None else None,
            "file_id": None, "job_id": None, "status": "uploading", "tuned_model": None,
            "trained_tokens": None, "cost_usd": None, "error": None,
        }
        assert ctx.pool is not None
        budget = ctx.pool.budget
        try:
            record["reservation"] = [budget.ledger.invocation, await budget.reserve(estimate)]
        except BudgetExhausted as exc:
            raise SelfInstructError(
                f"{self.config_key}: the training job would cost about ${estimate or 0:.4f} ({tokens:,} tokens x "
                f"{self.epochs} epochs); {exc}; refused before the upload") from None
        self.write_record(ctx, record)
        log.info("train: uploading %s (%d examples, %d tokens; about %s for %s epochs)", data, examples, tokens,
                 f"${estimate:.4f}" if estimate is not None else "an unknown cost", self.epochs)
        record["file_id"] = await api.upload(data)
        self.write_record(ctx, record)
        job = await api.create(self.base_model, record["file_id"], self.hyperparameters, self.suffix, self.seed)
        record.update(job_id=str(job_field(job, "id")), status=str(job_field(job, "status") or "validating_files"))
        self.write_record(ctx, record)  # before anything else: a kill from here on resumes this job
        log.info("train: fine-tuning job %s created (%s)", record["job_id"], record["status"])
        return record

    async def _poll(self, ctx: RunContext, api: FineTuningAPI, record: dict[str, Any], started: float) -> dict[str, Any]:
        """Poll with backoff until the job ends, the wait runs out (the run pauses) or the run is interrupted."""
        assert ctx.pool is not None
        simulated = self.simulated(ctx)
        delay = min(self.poll_s, SIMULATED_POLL_S) if simulated else self.poll_s
        longest = min(self.poll_max_s, SIMULATED_POLL_S) if simulated else self.poll_max_s
        deadline = time.monotonic() + self.max_wait_s
        stop = ctx.pool.stop
        while True:
            job = await api.retrieve(record["job_id"])
            status = str(job_field(job, "status"))
            if status != record.get("status"):
                log.info("train: job %s: %s", record["job_id"], status)
                record["status"] = status
                self.write_record(ctx, record)
            if status in FINAL_STATES:
                break
            if stop.reason:
                return record
            if time.monotonic() + delay > deadline:
                ctx.pause(f"train: job {record['job_id']} is still {status} after {self.config_key}.max_wait_s="
                          f"{self.max_wait_s:g} s; the same command goes on waiting for it")
                return record
            await stop.sleep(delay)
            delay = min(delay * 1.5, longest)
        if status != "succeeded":
            record["error"] = job_error(job)
            self.write_record(ctx, record)
            raise SelfInstructError(f"{self.config_key}: fine-tuning job {record['job_id']} {status}: {record['error']}")
        trained = job_field(job, "trained_tokens")
        price = self.price(ctx)
        cost = trained * price if isinstance(trained, (int, float)) and price is not None else record.get(
            "estimated_cost_usd")
        record.update(tuned_model=str(job_field(job, "fine_tuned_model")), trained_tokens=trained,
                      cost_usd=round(cost, 6) if cost is not None else None)
        self._settle(ctx, record, cost)
        self.write_record(ctx, record)
        ctx.metrics.update(self.name, {"backend": "provider", "job_id": record["job_id"],
                                       "tuned_model": record["tuned_model"], "examples": record["examples"],
                                       "epochs": self.epochs, "trained_tokens": trained, "cost_usd": record["cost_usd"],
                                       "wall_s": round(time.perf_counter() - started, 3)})
        ctx.metrics.write()
        log.info("train: job %s succeeded: %s (%s trained tokens)", record["job_id"], record["tuned_model"], trained)
        return record

    @staticmethod
    def _settle(ctx: RunContext, record: dict[str, Any], cost: float | None) -> None:
        """The job's real cost replaces the reservation made before the upload (in whichever invocation)."""
        reservation = record.pop("reservation", None)
        if not reservation:
            return
        assert ctx.pool is not None
        ctx.pool.budget.settle_any(int(reservation[0]), int(reservation[1]), cost)
        ctx.pool.log_cost("train", record["base_model"], cost, tokens=record.get("trained_tokens") or 0)


class TrlTrainStage(TrainStage):
    """``train=trl``: LoRA supervised fine-tuning on this machine with TRL and PEFT (loss on the
    completion only, the paper's prompt loss weight 0), checkpoints under RUN/train/, resumed after a kill."""

    needs_llm = False

    def __init__(self, base_model: str, epochs: float = 2, data: str = DEFAULT_DATA, learning_rate: float = 2e-4,
                 lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05, target_modules: Any = None,
                 batch_size: int = 4, grad_accum: int = 1, max_seq_len: int = 512, max_steps: int | None = None,
                 save_steps: int = 50, seed: int = 42) -> None:
        super().__init__(base_model, epochs, data)
        key = self.config_key
        for name, value in (("lora_r", lora_r), ("lora_alpha", lora_alpha), ("batch_size", batch_size),
                            ("grad_accum", grad_accum), ("max_seq_len", max_seq_len), ("save_steps", save_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key}.{name}: must be a whole number of at least 1, got {value}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
            raise ConfigError(f"{key}.max_steps: must be null or a whole number of at least 1, got {max_steps}")
        if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ConfigError(f"{key}.learning_rate: must be above 0, got {learning_rate}")
        modules = OmegaConf.to_container(target_modules) if OmegaConf.is_config(target_modules) else target_modules
        self.options: dict[str, Any] = dict(
            epochs=epochs, learning_rate=float(learning_rate), lora_r=lora_r, lora_alpha=lora_alpha,
            lora_dropout=float(lora_dropout), target_modules=modules, batch_size=batch_size, grad_accum=grad_accum,
            max_seq_len=max_seq_len, max_steps=max_steps, save_steps=save_steps, seed=int(seed))

    def models(self, ctx: RunContext) -> list[ModelRef]:
        return []

    def prepare(self, ctx: RunContext) -> None:
        import importlib.util

        missing = [m for m in ("torch", "transformers", "trl", "peft", "datasets") if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"{self.config_key}: train=trl needs {', '.join(missing)}: "
                              f"pip install 'selfinstruct[train]'")

    def plan(self, ctx: RunContext) -> StagePlan | None:
        return None

    async def run(self, ctx: RunContext) -> None:
        import asyncio

        from selfinstruct.training.local import train_lora

        data = self.require_data(ctx)
        digest = data_digest(data)
        record = read_train_record(ctx.run_dir)
        out_dir = ctx.run_dir / TRAIN_DIR
        if record.get("status") == "trained" and record.get("data_sha256") == digest:
            log.info("train: already trained: %s", record.get("tuned_model"))
            return
        self.write_record(ctx, {"backend": "trl", "base_model": self.base_model, "data": self.data,
                                "data_sha256": digest, "examples": count_examples(data), "epochs": self.epochs,
                                "status": "training", "checkpoint": record.get("checkpoint"), "tuned_model": None,
                                "options": self.options})
        started = time.perf_counter()
        # training holds the CPU/GPU for minutes: off the event loop, so Ctrl-C is still heard
        result = await asyncio.to_thread(train_lora, ctx.run_dir, data, self.base_model, out_dir, **self.options)
        record = {"backend": "trl", "base_model": self.base_model, "data": self.data, "data_sha256": digest,
                  "examples": result.examples, "epochs": self.epochs, "status": "trained",
                  "checkpoint": str(result.checkpoint) if result.checkpoint else None,
                  "tuned_model": str(result.adapter_dir), "steps": result.steps, "train_loss": result.train_loss,
                  "compute_s": round(result.compute_s, 3), "tokens_seen": result.tokens_seen,
                  "peak_memory_bytes": result.peak_memory_bytes, "options": self.options}
        self.write_record(ctx, record)
        ctx.metrics.update(self.name, {"backend": "trl", "tuned_model": record["tuned_model"], "steps": result.steps,
                                       "train_loss": result.train_loss, "examples": result.examples,
                                       "compute_s": record["compute_s"],
                                       "wall_s": round(time.perf_counter() - started, 3)})
        ctx.metrics.write()
        log.info("train: %d steps, final loss %.4f; adapter in %s", result.steps, result.train_loss,
                 result.adapter_dir)
