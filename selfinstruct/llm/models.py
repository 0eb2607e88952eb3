"""The models a run sends requests to: the generator (``model``), the judge (``judge``) and the models
the evaluate stage asks (``stages.evaluate.models``), each as a full ``ModelConfig`` with the config key
that configures it, so one LLM layer (budget, cache, retries, call log) serves them all and every
error names the right key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from selfinstruct.config import ModelConfig
from selfinstruct.errors import ConfigError

# An evaluate.models entry that means "the generator, as model.* configures it".
GENERATOR = "generator"
# Entries naming the train stage's base model and the model it tuned (train.json).
TRAINED = ("base", "tuned")
# Keys an evaluated model's mapping may set (the rest comes from the generator: retries, timeouts).
_MODEL_KEYS = ("name", "api_base", "api_key_env", "api_key", "max_concurrency", "input_cost_per_token",
               "output_cost_per_token", "simulated", "loopback", "extra", "timeout_s", "rpm", "tpm")
_ENTRY_KEYS = (*_MODEL_KEYS, "label")


@dataclass(frozen=True)
class ModelRef:
    """One model of the run: its full config, the config key that sets it (``model``, ``judge``,
    ``stages.evaluate.models[1]``) and the label tables and files show for it."""

    config: Any  # a ModelConfig node
    where: str
    label: str
    # served by the run itself for the stage that asks it (a locally trained adapter): no endpoint to
    # open or key to check before the run
    local: bool = False
    # "base" or "tuned" for the train stage's models (stages.evaluate.models=[base,tuned]), else None
    trained: str | None = None

    @property
    def name(self) -> str:
        return str(self.config.name)


def name_key(where: str) -> str:
    """The config key holding the model string of the model configured at ``where``."""
    return "judge.model" if where == "judge" else f"{where}.name"


def generator_ref(cfg: DictConfig) -> ModelRef:
    return ModelRef(cfg.model, "model", str(cfg.model.name))


def _derived(cfg: DictConfig, changes: dict[str, Any]) -> Any:
    """The generator's config with its endpoint replaced: retries and timeouts carry over; rate limits,
    deployments and the simulated server do not (they belong to the generator's provider)."""
    base = OmegaConf.merge(OmegaConf.structured(ModelConfig), cfg.model)
    base.rpm = base.tpm = None
    base.deployments = []
    base.api_base = base.api_key_env = None
    base.input_cost_per_token = base.output_cost_per_token = None
    base.simulated = False
    base.loopback = OmegaConf.structured(ModelConfig).loopback
    base.extra = {}
    return OmegaConf.merge(base, {k: v for k, v in changes.items() if v is not None})


def judge_ref(cfg: DictConfig) -> ModelRef:
    """The judge: the generator when ``judge.model`` is null, else the judge's own endpoint."""
    judge = cfg.judge
    if judge.model is None:
        return ModelRef(cfg.model, "model", str(cfg.model.name))
    changes = {key: judge[key] for key in ("api_base", "api_key_env", "max_concurrency", "input_cost_per_token",
                                            "output_cost_per_token", "simulated", "loopback", "extra")}
    changes["name"] = judge.model
    return ModelRef(_derived(cfg, changes), "judge", str(judge.model))


def train_ref(cfg: DictConfig) -> ModelRef:
    """Where the provider's fine-tuning API is: the generator's simulated server when the generator is
    simulated and ``stages.train.api_base`` is unset, else ``stages.train.api_base`` / ``api_key_env``
    (null: the provider's default endpoint and key variable)."""
    train = cfg.stages.get("train") or {}
    if train.get("api_base") is None and cfg.model.loopback.enabled:
        return ModelRef(cfg.model, "model", str(cfg.model.name))
    name = f"{train.get('provider') or 'openai'}/{train.get('base_model')}"
    config = _derived(cfg, {"name": name, "api_base": train.get("api_base"), "api_key_env": train.get("api_key_env")})
    return ModelRef(config, "stages.train", name)


def is_local_training(cfg: DictConfig) -> bool:
    """Whether ``stages.train`` trains locally (train=trl): its models are served by the run itself."""
    target = str((cfg.stages.get("train") or {}).get("_target_") or "")
    return target.rsplit(".", 1)[-1].startswith("Trl")


def trained_ref(cfg: DictConfig, which: str, where: str, tuned_model: str | None = None) -> ModelRef:
    """``base`` or ``tuned`` of ``stages.evaluate.models``: the train stage's base model, or the model it
    tuned (``tuned_model`` from train.json; a placeholder name until the train stage has run)."""
    train = cfg.stages.get("train")
    if train is None:
        raise ConfigError(f"{where}: '{which}' names the train stage's model, but no train stage is configured "
                          f"(pipeline.stages=[...,finetune,train,evaluate])")
    if is_local_training(cfg):
        config = _derived(cfg, {"name": f"openai/selfinstruct-local-{which}", "input_cost_per_token": 0.0,
                                "output_cost_per_token": 0.0})
        return ModelRef(config, where, which, local=True, trained=which)
    provider = train.get("provider") or "openai"
    model = tuned_model if which == "tuned" and tuned_model else str(train.get("base_model"))
    endpoint = train_ref(cfg)
    if endpoint.where == "model":  # the generator's simulated provider: a simulated server of its own
        config = OmegaConf.merge(cfg.model, {"name": f"{provider}/{model}"})
    else:
        config = OmegaConf.merge(endpoint.config, {"name": f"{provider}/{model}"})
    return ModelRef(config, where, which, trained=which)


def evaluated_refs(cfg: DictConfig, entries: Any, key: str) -> list[ModelRef]:
    """``stages.evaluate.models``: each entry ``generator``, ``base`` or ``tuned`` (the train stage's
    models), a LiteLLM model string, or a mapping with ``name`` and any of the model keys
    (``api_base``, ``api_key_env``, prices, ``loopback``, ``label``)."""
    plain = OmegaConf.to_container(entries, resolve=True) if OmegaConf.is_config(entries) else entries
    if not isinstance(plain, list) or not plain:
        raise ConfigError(f"{key}: must be a non-empty list of models (generator, a LiteLLM model string, "
                          f"or a mapping with name: ...)")
    refs: list[ModelRef] = []
    for i, entry in enumerate(plain):
        where = f"{key}[{i}]"
        if entry == GENERATOR:
            ref = ModelRef(cfg.model, "model", str(cfg.model.name))
        elif entry in TRAINED:
            ref = trained_ref(cfg, entry, where)
        elif isinstance(entry, str) and entry.strip():
            ref = ModelRef(_derived(cfg, {"name": entry.strip()}), where, entry.strip())
        elif isinstance(entry, dict):
            unknown = sorted(set(entry) - set(_ENTRY_KEYS))
            if unknown:
                raise ConfigError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(_ENTRY_KEYS)})")
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"{where}.name: a LiteLLM model string is required")
            try:
                config = _derived(cfg, {k: entry.get(k) for k in _MODEL_KEYS})
            except Exception as exc:  # noqa: BLE001 - OmegaConf's validation error names the field
                raise ConfigError(f"{where}: {' '.join(str(exc).split()[:30])}") from None
            ref = ModelRef(config, where, str(entry.get("label") or name))
        else:
            raise ConfigError(f"{where}: expected '{GENERATOR}', a LiteLLM model string or a mapping, got {entry!r}")
        if any(r.label == ref.label for r in refs):
            raise ConfigError(f"{where}: the label '{ref.label}' is used twice; give each entry its own "
                              f"label: ... so their ratings stay apart")
        refs.append(ref)
    return refs
