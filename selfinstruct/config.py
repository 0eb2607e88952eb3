"""Typed schemas for every config group, registered in Hydra's ConfigStore.

``conf/config.yaml`` lists ``base_config`` first in its defaults, so every group file and
every command-line override is merged into these dataclasses: a wrong type or an unknown
key fails at composition, naming the key, before any request is sent.

Types only: a value the YAML files give is ``MISSING`` here, so each default is written once (in
``conf/``).  Stage entries (``stages.NAME``, ``conf/stages/NAME.yaml``) are open mappings: each
stage's constructor receives and checks its own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from selfinstruct.resources import bundled_dir


@dataclass
class LoopbackConfig:
    """The bundled simulated model (``model=loopback``): started and stopped by the run itself."""

    enabled: bool = False
    seed: int = 0
    latency_ms: int = 0
    fault_rate: float = 0.0
    # Serve from a child process instead of a thread of the run's own: the client then has the
    # interpreter to itself, as with a real provider (benchmarks; a fast run on few cores).
    process: bool = False
    # Any other field of selfinstruct.simulated.ServerOptions (defect rates, ...).
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DeploymentConfig:
    """One server or key behind LiteLLM's Router (``model=router``); all serve the same model."""

    # LiteLLM model string this deployment is reached with (openai/..., hosted_vllm/..., ollama/...).
    model: str = "${model.name}"
    api_base: Optional[str] = None
    # Environment variable holding this deployment's key (never the key itself).
    api_key_env: Optional[str] = None
    # Never set: always refused (config_checks), so a key given here is named, never echoed.
    api_key: Optional[str] = None
    # Name shown in llm_calls.jsonl and metrics; default: its api_base, else its model string.
    id: Optional[str] = None
    # Per-deployment limits, enforced by the Router.
    rpm: Optional[int] = None
    tpm: Optional[int] = None
    max_parallel_requests: Optional[int] = None
    # Relative share of the traffic under the simple-shuffle strategy.
    weight: Optional[float] = None
    # Extra litellm_params for this deployment (api_version, headers, ...).
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class RouterConfig:
    """How LiteLLM's Router spreads requests over ``model.deployments`` and fails over."""

    # simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2, ...
    routing_strategy: str = "simple-shuffle"
    # Failures within a minute a deployment may have before it is taken out for cooldown_s.
    allowed_fails: int = 3
    cooldown_s: float = 30.0


@dataclass
class ModelConfig:
    """Which LLM, reached through a LiteLLM model string, and how hard to push it."""

    name: str = MISSING
    api_base: Optional[str] = None
    # Name of the environment variable holding the key, when not the provider's usual one.
    # The key itself never goes in the config: configs are saved in the run directory.
    api_key_env: Optional[str] = None
    # Never set: always refused (selfinstruct.config_checks), so Hydra's '+model.api_key' hint
    # never prints a key; it exists only to be a known key that our check refuses by name.
    api_key: Optional[str] = None
    max_concurrency: int = MISSING
    timeout_s: float = 120.0
    # Per-minute limits (optional): requests, and prompt+max completion tokens.
    rpm: Optional[int] = None
    tpm: Optional[int] = None
    # Our own retries (LiteLLM's are off): exponential backoff with jitter, never sooner than Retry-After.
    max_retries: int = 6
    retry_base_s: float = 1.0
    retry_max_s: float = 60.0
    # A Retry-After longer than this (seconds) fails the request, quoting the provider's wait.
    max_retry_after_s: float = 120.0
    # Consecutive attempts with no reply at all (connection refused, DNS, TLS) after which the run
    # stops, when nothing has succeeded since the start.
    breaker_attempts: int = 5
    # Prices for models missing from LiteLLM's table (local or unlisted); null = LiteLLM's price.
    input_cost_per_token: Optional[float] = None
    output_cost_per_token: Optional[float] = None
    # With prices set above: the price of a prompt token the provider served from its prompt cache
    # (usage.prompt_tokens_details.cached_tokens); null: input_cost_per_token. LiteLLM's own prices
    # already know each model's cached price.
    cached_input_cost_per_token: Optional[float] = None
    # Batch mode: each stage's independent requests (classify, instances, audit, evaluate; bootstrap
    # one round at a time) as one provider batch job at the batch price, through LiteLLM's batch API.
    batch: bool = False
    batch_poll_s: float = 30.0
    batch_poll_max_s: float = 300.0
    batch_max_wait_s: float = 86400.0
    # batch price / live price; null: LiteLLM's listed batch price for the model, else 0.5
    batch_price_factor: Optional[float] = None
    # Let LiteLLM drop sampling parameters a provider does not accept (e.g. presence_penalty).
    drop_params: bool = True
    # True for models that produce simulated data (the loopback server); shown in logs and metrics.
    simulated: bool = False
    loopback: LoopbackConfig = field(default_factory=LoopbackConfig)
    # Several servers or keys for this one model (model=router): LiteLLM's Router balances the
    # load over them and fails over; empty = send to model.name / model.api_base directly.
    deployments: List[DeploymentConfig] = field(default_factory=list)
    router: RouterConfig = field(default_factory=RouterConfig)
    # Extra keyword arguments for litellm.acompletion (headers, api_version, ...).
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeConfig:
    """The LLM that judges data (audit) and responses (evaluate), apart from the generator.

    ``model: null`` (judge=generator) judges with the generator as ``model.*`` configures it;
    otherwise the keys below describe the judge's own endpoint, and the generator's retry,
    timeout and rate settings apply to it too.
    """

    # LiteLLM model string (openai/gpt-4o, anthropic/..., hosted_vllm/...); null: the generator.
    model: Optional[str] = None
    api_base: Optional[str] = None
    # Environment variable holding the judge's key (never the key itself).
    api_key_env: Optional[str] = None
    # Never set: always refused (selfinstruct.config_checks), like model.api_key.
    api_key: Optional[str] = None
    # null: model.max_concurrency.
    max_concurrency: Optional[int] = None
    # Prices for judges missing from LiteLLM's table; null = LiteLLM's price.
    input_cost_per_token: Optional[float] = None
    output_cost_per_token: Optional[float] = None
    # True for the bundled simulated judge (judge=loopback).
    simulated: bool = False
    loopback: LoopbackConfig = field(default_factory=LoopbackConfig)
    # Sampling for every judge request (the audit and evaluate stages' judge prompts use it).
    sampling: Dict[str, Any] = field(default_factory=dict)
    # Extra keyword arguments for litellm.acompletion.
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ScheduleConfig:
    """How many instructions to reach and how each round is shaped."""

    num_instructions: int = MISSING
    num_demos: int = MISSING
    num_machine_demos: int = MISSING
    # Upper bound on prompts sent per round; fewer are sent when fewer are needed to reach the target.
    requests_per_round: int = MISSING
    # Stop with an error after this many consecutive rounds that accept nothing.
    max_stalled_rounds: int = MISSING
    max_instances_per_task: int = MISSING
    seed: int = MISSING


@dataclass
class SeedsConfig:
    path: str = MISSING
    # auto (by content), self_instruct (the original release's JSONL) or alpaca (a JSON list).
    format: str = MISSING


@dataclass
class EncodingTemplates:
    """Prompt encodings for prompt_completion.jsonl; one is drawn at random per example (paper)."""

    with_input: List[str] = field(default_factory=list)
    without_input: List[str] = field(default_factory=list)


@dataclass
class CleaningConfig:
    """Instance cleaning before export (the paper's rules plus size limits)."""

    max_instances_per_task: int = MISSING
    max_field_chars: int = MISSING


@dataclass
class HubConfig:
    """Where the push stage uploads finetune/ (a Hugging Face dataset repository); repo_id null: nowhere."""

    repo_id: Optional[str] = None
    private: bool = True
    # the environment variable holding a write token (a token itself is never accepted in the config)
    token_env: str = "HF_TOKEN"
    timeout_s: float = 60.0
    commit_message: Optional[str] = None


@dataclass
class ExportConfig:
    """Which fine-tuning files the finetune stage writes under finetune/."""

    include_seeds: bool = MISSING
    # name -> {_target_: writer class, params}; ~export.formats.NAME drops one.
    formats: Dict[str, Any] = field(default_factory=dict)
    templates: EncodingTemplates = field(default_factory=EncodingTemplates)
    # Appended to each completion in prompt_completion.jsonl (the paper used <|endoftext|>).
    completion_suffix: str = MISSING
    # Optional system message for openai_chat.jsonl and sharegpt.json.
    system_prompt: Optional[str] = MISSING
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    hub: HubConfig = field(default_factory=HubConfig)


@dataclass
class CacheConfig:
    """The response cache: a repeated, resumed or swept run does not pay twice for a request."""

    enabled: bool = True
    dir: str = "outputs/.cache"


@dataclass
class BudgetConfig:
    """Stop sending (in-flight requests finish, everything is written, exit 0) when reached."""

    max_usd: Optional[float] = None
    max_requests: Optional[int] = None


@dataclass
class LogConfig:
    # Also write prompts and replies to llm_calls.jsonl (off: they can be large or private).
    prompts: bool = False


@dataclass
class ShardConfig:
    """Shard ``index`` of ``count``: its own random stream over the same seeds, for parallel generation."""

    index: int = 0
    count: int = 1


@dataclass
class MergeConfig:
    """The merge stage: run directories (or Hydra sweep directories) whose instructions are merged."""

    inputs: List[str] = field(default_factory=list)


@dataclass
class PipelineConfig:
    # the stages to run, in order (conf/config.yaml; a recipe may change it)
    stages: List[str] = MISSING


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    # the judge of the audit and evaluate stages (conf/judge/: generator, loopback, openai)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    # name -> {_target_: ..., params}; applied in order; the name is the rejection reason.
    filters: Dict[str, Any] = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    seeds: SeedsConfig = field(default_factory=SeedsConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    log: LogConfig = field(default_factory=LogConfig)
    # Print the planned requests, tokens and cost per stage, and send nothing.
    dry_run: bool = False
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    # name -> {_target_: stage class, its parameters} (conf/stages/NAME.yaml); pipeline.stages picks
    # from these; each stage's constructor checks its own parameters.
    stages: Dict[str, Any] = field(default_factory=dict)


def register_configs() -> None:
    """Put the schema in Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="base_config", node=Config)


register_configs()

CONFIG_DIR = str(bundled_dir("conf"))


def to_plain(cfg: Any) -> Any:
    """A resolved plain-Python copy of a config node."""
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
