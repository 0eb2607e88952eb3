"""config_checks: secrets never in the config, typed groups closed, every number in its range."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Union

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from selfinstruct.config import CONFIG_DIR, Config
from selfinstruct.config_checks import (
    NUMERIC_KEYS,
    check_closed_groups,
    check_command_line,
    check_config,
    check_no_secrets,
    check_ranges,
    is_secret_name,
)
from selfinstruct.errors import ConfigError

SECRET = "sk-abc123456789"
GROUPS = sorted(p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONFIG_DIR) / g).glob("*.yaml"))]


def _compose(overrides: list[str], config_dir: str = CONFIG_DIR, extra_dir: Path | None = None,
             name: str = "config", hydra: bool = False):
    if extra_dir is not None:
        overrides = [f"hydra.searchpath=[file://{extra_dir}]", *overrides]
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        return compose(config_name=name, overrides=overrides, return_hydra_config=hydra)


def _refusal(check: Any, cfg: Any) -> str:
    with pytest.raises(ConfigError) as err:
        check(cfg)
    message = str(err.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------------------
# no false positives
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_bundled_option_passes(group: str, option: str) -> None:
    overrides = [f"+{group}={option}" if group == "experiment" else f"{group}={option}"]
    if (group, option) == ("seeds", "alpaca"):
        overrides.append("seeds.path=my_alpaca.json")
    check_config(_compose(overrides))


def test_bundled_combinations_and_hydras_own_config_pass() -> None:
    check_config(_compose(["model=router", "recipe=alpaca", "filters=strict", "schedule=smoke"]))
    check_config(_compose(["+experiment=alpaca", "model=loopback", "export=alpaca_only"]))
    check_config(_compose(["model=loopback"], hydra=True))  # a config with its hydra node (callbacks)


def test_documented_overrides_pass() -> None:
    check_config(_compose([
        "model=router", "model.name=hosted_vllm/m", "model.api_key_env=MY_VAR",
        'model.deployments=[{api_base:"http://gpu1:8000/v1"},{api_base:"http://gpu2:8000/v1",'
        'max_parallel_requests:16,api_key_env:KEY_2,rpm:500,weight:0.5}]',
        "filters.rouge.threshold=0.6", "filters.length.max_words=100", "~filters.keywords",
        "budget.max_usd=2", "budget.max_requests=1", "shard.count=4", "shard.index=3",
        "model.max_retries=0", "model.rpm=null", "model.router.cooldown_s=0", "model.router.allowed_fails=0",
        "stages.bootstrap.sampling.temperature=2", "stages.bootstrap.sampling.top_p=1",
        "stages.bootstrap.sampling.presence_penalty=-2", "schedule.num_instructions=0",
        "schedule.num_machine_demos=8", "model.retry_max_s=1", "model.input_cost_per_token=0",
        "+model.extra.max_tokens=5", "+model.extra.eos_token=x", "+model.extra.use_auth=true",
        "+model.extra.api_key=null", "+model.extra.headers={X-Trace:abc}",
        "model.api_base=http://localhost:8000/v1",
    ]))


def test_a_run_s_saved_config_passes_and_is_still_checked(tmp_path: Path) -> None:
    # a rerun composes RUN/.hydra/config.yaml without the schema: the checks still hold it to it
    saved = tmp_path / "config.yaml"
    saved.write_text(OmegaConf.to_yaml(_compose(["model=loopback"])))
    check_config(_compose([], config_dir=str(tmp_path)))
    saved.write_text(saved.read_text().replace("schedule:\n", "schedule:\n  num_instrucions: 5\n"))
    assert _refusal(check_config, _compose([], config_dir=str(tmp_path))) == (
        "schedule.num_instrucions: unknown key (did you mean schedule.num_instructions?)")
    saved.write_text(saved.read_text().replace("max_concurrency: 16", "max_concurrency: many"))
    saved.write_text(saved.read_text().replace("  num_instrucions: 5\n", ""))
    assert _refusal(check_config, _compose([], config_dir=str(tmp_path))) == (
        "model.max_concurrency: must be a whole number, got a str")


# ------------------------------------------------------------------------------------------
# closed groups
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["+schedule.num_instrucions=5"], "schedule.num_instrucions: unknown key (did you mean schedule.num_instructions?)"),
     (["++schedule.num_instrucions=5"], "schedule.num_instrucions: unknown key (did you mean schedule.num_instructions?)"),
     (["+model.router.cooldown=5"], "model.router.cooldown: unknown key (did you mean model.router.cooldown_s?)"),
     (["+model.loopback.sed=1"], "model.loopback.sed: unknown key (did you mean model.loopback.seed?)"),
     (["+export.cleaning.max_field_char=5"],
      "export.cleaning.max_field_char: unknown key (did you mean export.cleaning.max_field_chars?)"),
     (["+budget.max_dollars=5"], "budget.max_dollars: unknown key (known: max_usd, max_requests)"),
     (["+dryrun=true"], "dryrun: unknown key (did you mean dry_run?)")],
)
def test_an_added_key_outside_the_schema_is_refused(overrides: list[str], message: str) -> None:
    assert _refusal(check_closed_groups, _compose(overrides)) == message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["+stages.bootstrap.sampling.temprature=0.5"],
      "stages.bootstrap.sampling.temprature: unknown key (did you mean stages.bootstrap.sampling.temperature?)"),
     (["+stages.instances.input_first.tempate=x"], "stages.instances.input_first.tempate: unknown key (known: "
      "template, system, sampling, variables, demos_path, num_demos)"),
     (["stages.bootstrap.reply_format=xml"],
      "stages.bootstrap.reply_format: 'xml' is not one of ('numbered_list', 'alpaca_tasks')")],
)
def test_a_stage_checks_its_own_entry_when_built(overrides: list[str], message: str) -> None:
    from selfinstruct.engine import build_stages

    assert _refusal(build_stages, _compose(overrides)) == message


def test_an_unknown_key_without_a_close_match_lists_the_known_ones() -> None:
    message = _refusal(check_closed_groups, _compose(["+schedule.typo=1"]))
    assert message.startswith("schedule.typo: unknown key (known: num_instructions, num_demos,")


def test_the_open_mappings_stay_open() -> None:
    check_closed_groups(_compose([
        "model=router", "+model.extra.api_version=2024", "+model.loopback.options.near_copy_rate=0.2",
        "+model.deployments.0.extra.api_version=x", "+stages.bootstrap.variables.tone=terse",
        "+filters.mine={_target_:selfinstruct.filters.rules.NonEmpty,anything:1}",
        "+stages.mine={_target_:my.Stage}", "+export.formats.mine={_target_:my.Writer,path:finetune/x.jsonl}",
    ]))


def test_unknown_keys_in_yaml_files_fail_while_composing(tmp_path: Path) -> None:
    # struct mode holds for files (a --config-dir of one's own); only +/++ overrides open nodes
    (tmp_path / "schedule").mkdir()
    (tmp_path / "schedule" / "mine.yaml").write_text("num_instructions: 5\ntypo: 1\n")
    with pytest.raises(ConfigCompositionException):
        _compose(["schedule=mine"], extra_dir=tmp_path)


# ------------------------------------------------------------------------------------------
# ranges
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["model.max_concurrency=0"], "model.max_concurrency: must be at least 1, got 0"),
     (["model.timeout_s=0"], "model.timeout_s: must be more than 0, got 0.0"),
     (["model.timeout_s=inf"], "model.timeout_s: must be a finite number, got inf"),
     (["model.rpm=0"], "model.rpm: must be null or at least 1, got 0"),
     (["model.tpm=-5"], "model.tpm: must be null or at least 1, got -5"),
     (["model.max_retries=-1"], "model.max_retries: must be at least 0, got -1"),
     (["model.retry_base_s=0"], "model.retry_base_s: must be more than 0, got 0.0"),
     (["model.retry_max_s=0.5"], "model.retry_max_s: must be at least model.retry_base_s (1.0), got 0.5"),
     (["model.max_retry_after_s=0"], "model.max_retry_after_s: must be more than 0, got 0.0"),
     (["model.breaker_attempts=0"], "model.breaker_attempts: must be at least 1, got 0"),
     (["model.input_cost_per_token=-1e-6"], "model.input_cost_per_token: must be null or at least 0, got -1e-06"),
     (["model.output_cost_per_token=-1"], "model.output_cost_per_token: must be null or at least 0, got -1.0"),
     (["model.loopback.latency_ms=-1"], "model.loopback.latency_ms: must be at least 0, got -1"),
     (["model.loopback.fault_rate=1.5"], "model.loopback.fault_rate: must be within [0, 1], got 1.5"),
     (["+model.loopback.options.truncate_rate=-0.1"],
      "model.loopback.options.truncate_rate: must be within [0, 1], got -0.1"),
     (["+model.loopback.options.slow_s=-1"], "model.loopback.options.slow_s: must be at least 0, got -1"),
     (["model=router", "model.deployments=[{api_base:a,rpm:0}]"],
      "model.deployments[0].rpm: must be null or at least 1, got 0"),
     (["model=router", "model.deployments=[{api_base:a},{api_base:b,tpm:0}]"],
      "model.deployments[1].tpm: must be null or at least 1, got 0"),
     (["model=router", "model.deployments=[{api_base:a,max_parallel_requests:0}]"],
      "model.deployments[0].max_parallel_requests: must be null or at least 1, got 0"),
     (["model=router", "model.deployments=[{api_base:a,weight:0}]"],
      "model.deployments[0].weight: must be null or more than 0, got 0.0"),
     (["model.router.allowed_fails=-1"], "model.router.allowed_fails: must be at least 0, got -1"),
     (["model.router.cooldown_s=-1"], "model.router.cooldown_s: must be at least 0, got -1.0"),
     (["stages.bootstrap.sampling.temperature=2.5"],
      "stages.bootstrap.sampling.temperature: must be within [0, 2], got 2.5"),
     (["stages.classify.sampling.top_p=0"], "stages.classify.sampling.top_p: must be within (0, 1], got 0"),
     (["stages.instances.input_first.sampling.presence_penalty=3"],
      "stages.instances.input_first.sampling.presence_penalty: must be within [-2, 2], got 3"),
     (["stages.instances.output_first.sampling.frequency_penalty=-2.5"],
      "stages.instances.output_first.sampling.frequency_penalty: must be within [-2, 2], got -2.5"),
     (["stages.bootstrap.sampling.max_tokens=0"], "stages.bootstrap.sampling.max_tokens: must be at least 1, got 0"),
     (["stages.classify.num_demos=0"], "stages.classify.num_demos: must be null or at least 1, got 0"),
     (["stages.bootstrap.num_machine_demos=-1"],
      "stages.bootstrap.num_machine_demos: must be null or at least 0, got -1"),
     (["stages.bootstrap.num_demos=1"],
      "schedule.num_machine_demos: must be within [0, 1] (at most stages.bootstrap.num_demos, "
      "which the bootstrap prompt uses), got 2"),
     (["schedule.num_instructions=-1"], "schedule.num_instructions: must be at least 0, got -1"),
     (["schedule.num_demos=0"], "schedule.num_demos: must be at least 1, got 0"),
     (["schedule.num_machine_demos=-1"], "schedule.num_machine_demos: must be at least 0, got -1"),
     (["schedule.num_machine_demos=9"],
      "schedule.num_machine_demos: must be within [0, 8] (at most schedule.num_demos), got 9"),
     (["schedule.requests_per_round=0"], "schedule.requests_per_round: must be at least 1, got 0"),
     (["schedule.max_stalled_rounds=0"], "schedule.max_stalled_rounds: must be at least 1, got 0"),
     (["schedule.max_instances_per_task=0"], "schedule.max_instances_per_task: must be at least 1, got 0"),
     (["export.cleaning.max_instances_per_task=0"], "export.cleaning.max_instances_per_task: must be at least 1, got 0"),
     (["export.cleaning.max_field_chars=0"], "export.cleaning.max_field_chars: must be at least 1, got 0"),
     (["budget.max_usd=0"], "budget.max_usd: must be null or more than 0, got 0.0"),
     (["budget.max_requests=0"], "budget.max_requests: must be null or at least 1, got 0"),
     (["shard.count=0"], "shard.count: must be at least 1, got 0"),
     (["shard.index=-1"], "shard.index: must be at least 0, got -1"),
     (["shard.count=2", "shard.index=2"], "shard.index: must be within 0..1 (shard.count=2), got 2"),
     (["filters.length.min_words=-1"], "filters.length.min_words: must be at least 0, got -1"),
     (["filters.length.max_words=3"], "filters.length.max_words: must be at least filters.length.min_words (4), got 3")],
)
def test_a_number_out_of_range_is_refused_naming_key_range_and_value(overrides: list[str], message: str) -> None:
    assert _refusal(check_ranges, _compose(overrides)) == message


def test_the_cleaning_limit_follows_the_schedule_through_its_interpolation() -> None:
    # export.cleaning.max_instances_per_task is ${schedule.max_instances_per_task}: the first key wins
    cfg = _compose(["schedule.max_instances_per_task=0"])
    assert _refusal(check_ranges, cfg).startswith("schedule.max_instances_per_task:")


def test_every_numeric_field_of_the_schema_has_a_range() -> None:
    def numeric_paths(cls: type, prefix: tuple[str, ...]) -> typing.Iterator[tuple[str, ...]]:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if typing.get_origin(tp) is Union:
                tp = next(a for a in typing.get_args(tp) if a is not type(None))
            if tp in (int, float):
                yield (*prefix, f.name)
            elif dataclasses.is_dataclass(tp):
                yield from numeric_paths(tp, (*prefix, f.name))
            elif typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
                yield from numeric_paths(typing.get_args(tp)[0], (*prefix, f.name, "*"))

    def covered(path: tuple[str, ...]) -> bool:
        return any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path))
                   for p in (pattern.split(".") for pattern in NUMERIC_KEYS))

    paths = list(numeric_paths(Config, ()))
    assert ("model", "max_retry_after_s") in paths and ("model", "deployments", "*", "weight") in paths
    assert [".".join(p) for p in paths if not covered(p)] == []


def test_new_model_fields_have_their_defaults() -> None:
    cfg = _compose([])
    assert cfg.model.max_retry_after_s == 120.0 and cfg.model.breaker_attempts == 5
    assert cfg.model.api_key is None


# ------------------------------------------------------------------------------------------
# secrets in the composed config
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key", "hint"),
    [(["model.api_key=" + SECRET], "model.api_key", "model.api_key_env=VAR"),
     (["+model.extra.api_key=" + SECRET], "model.extra.api_key", "model.api_key_env=VAR"),
     (["+model.extra.aws_secret_access_key=" + SECRET], "model.extra.aws_secret_access_key", "model.api_key_env=VAR"),
     (["+model.extra.vertexCredentials=" + SECRET], "model.extra.vertexCredentials", "model.api_key_env=VAR"),
     ([f"+model.extra.headers={{Authorization:'Bearer {SECRET}'}}"], "model.extra.headers.Authorization",
      "model.api_key_env=VAR"),
     ([f"+model.extra.headers={{X-Api-Key:{SECRET}}}"], "model.extra.headers.X-Api-Key", "model.api_key_env=VAR"),
     ([f"model.api_base=http://user:{SECRET}@127.0.0.1:9/v1"], "model.api_base", "model.api_key_env=VAR"),
     (["model=router", f"model.deployments=[{{api_base:a}},{{api_base:b,api_key:{SECRET}}}]"],
      "model.deployments[1].api_key", "model.deployments[1].api_key_env=VAR"),
     (["model=router", f"model.deployments=[{{api_base:a,extra:{{token:{SECRET}}}}}]"],
      "model.deployments[0].extra.token", "model.deployments[0].api_key_env=VAR"),
     (["model=router", f'model.deployments=[{{api_base:"http://{SECRET}@gpu1:8000/v1"}}]'],
      "model.deployments[0].api_base", "model.deployments[0].api_key_env=VAR"),
     ([f"+stages.bootstrap.variables.password={SECRET}"], "stages.bootstrap.variables.password",
      "environment variable")],
)
def test_a_secret_in_the_config_is_refused_naming_the_key_never_the_value(
        overrides: list[str], key: str, hint: str) -> None:
    message = _refusal(check_no_secrets, _compose(overrides))
    assert message.startswith(key + ": ") and hint in message and "(nothing was written)" in message
    assert SECRET not in message and "abc123" not in message


def test_a_secret_in_a_yaml_file_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(
        f"name: openai/x\napi_key: null\nextra:\n  api_version: '2024'\n  client_secret: {SECRET}\n")
    message = _refusal(check_config, _compose(["model=mine"], extra_dir=tmp_path))
    assert message.startswith("model.extra.client_secret: a secret in the config would be saved in the run directory")
    assert SECRET not in message


def test_an_interpolated_secret_is_refused_as_well() -> None:
    # one documented way: model.api_key_env names the variable; the config holds no key, nor a route to one
    cfg = _compose(["+model.extra.api_key=${oc.env:SOME_KEY}"])
    assert _refusal(check_no_secrets, cfg).startswith("model.extra.api_key:")


def test_api_key_env_must_name_a_variable() -> None:
    message = _refusal(check_no_secrets, _compose(["model.api_key_env=" + SECRET]))
    assert message.startswith("model.api_key_env: must name an environment variable") and SECRET not in message


def test_secrets_are_checked_first_then_keys_then_ranges() -> None:
    assert _refusal(check_config, _compose([f"+schedule.api_key={SECRET}", "model.max_concurrency=0"])) \
        .startswith("schedule.api_key: a secret")
    assert _refusal(check_config, _compose(["+schedule.typo=1", "model.max_concurrency=0"])) \
        .startswith("schedule.typo: unknown key")
    assert _refusal(check_config, _compose(["model.max_concurrency=0"])) \
        == "model.max_concurrency: must be at least 1, got 0"


@pytest.mark.parametrize(
    "name", ["api_key", "API_KEY", "key", "token", "secret", "password", "passwd", "access_token", "auth",
             "Authorization", "openai_api_key", "hf_token", "client_secret", "db_password", "apiKey", "x-api-key"])
def test_credential_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["api_key_env", "max_tokens", "completion_tokens", "prompt_tokens", "tpm", "stop", "keywords",
             "input_cost_per_token", "output_cost_per_token", "eos_token", "top_k", "tokens", "keys", "author",
             "monkey", "token_limit", "secretary"])
def test_names_that_are_not_credentials(name: str) -> None:
    assert not is_secret_name(name)


# ------------------------------------------------------------------------------------------
# the raw command line, before Hydra
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "key"),
    [(["+model.extra.api_key=sk-abc"], "model.extra.api_key"),
     (["model.api_key=sk-abc"], "model.api_key"),
     (["model.api_base=http://u:sk-abc@127.0.0.1:9/v1"], "model.api_base"),
     (["++model.api_key=sk-abc"], "model.api_key"),
     (["~model.extra.api_key=sk-abc"], "model.extra.api_key"),
     (["-m", "model.api_key=sk-abc,sk-abd"], "model.api_key"),
     (["-m", "model.api_base=http://a/v1,http://u:sk-abc@b/v1"], "model.api_base"),
     (["model.extra={api_key:sk-abc}"], "model.extra.api_key"),
     (["model.extra.headers.Authorization=Bearer sk-abc"], "model.extra.headers.Authorization"),
     (['model.deployments=[{api_base:"http://gpu1:8000/v1",api_key:sk-abc}]'], "model.deployments[0].api_key"),
     (['model.deployments=[{api_base:"http://u:sk-abc@gpu1:8000/v1"}]'], "model.deployments[0].api_base"),
     (["model.deployments.0.extra.access_token=sk-abc"], "model.deployments[0].extra.access_token"),
     (["model.api_key='sk-abc"], "model.api_key"),  # Hydra cannot parse it: its error would echo it
     (["hydra.job.env_set.OPENAI_API_KEY=sk-abc"], "hydra.job.env_set.OPENAI_API_KEY"),
     (["model.api_key_env=sk-abc"], "model.api_key_env"),
     (["--config-dir", "/tmp/conf", "model=loopback", "model.api_key=sk-abc"], "model.api_key")],
)
def test_a_secret_on_the_command_line_is_named_never_echoed(args: list[str], key: str) -> None:
    message = check_command_line(args)
    assert message is not None and message.startswith(key + ": ")
    assert "sk-abc" not in message and "\n" not in message and "(nothing was written)" in message


@pytest.mark.parametrize(
    "args",
    [["model=loopback"], ["schedule.num_instructions=5"], ["-m", "filters.rouge.threshold=0.6,0.7"],
     ["model.api_key_env=MY_VAR"], ['model.deployments=[{api_base:"http://gpu1:8000/v1"}]'],
     ["~model.extra.api_key"], ["model.api_key=null"], ["+model.extra.max_tokens=5"],
     ["--config-dir", "/tmp/conf", "--config-name", "config", "-m", "+experiment=paper"],
     ["--cfg", "job"], ["-i", "config"], ["hydra.run.dir=outputs/a@b"],
     ["cache.dir=${hydra:runtime.output_dir}/.cache"], ["model.api_base=http://localhost:8000/v1"],
     ["pipeline.stages=[instances,finetune]"], ["+model.extra.headers={X-Trace:abc}"], []],
)
def test_ordinary_command_lines_pass(args: list[str]) -> None:
    assert check_command_line(args) is None
