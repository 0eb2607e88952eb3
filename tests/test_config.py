"""Every option of every config group composes against the schema; bad values fail naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from selfinstruct.config import CONFIG_DIR
from selfinstruct.config_checks import check_config
from selfinstruct.engine import build_stages
from selfinstruct.errors import ConfigError
from selfinstruct.filters.build import build_filters

GROUPS = sorted(p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir())
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONFIG_DIR) / g).glob("*.yaml"))]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_the_documented_groups_exist() -> None:
    assert {"model", "recipe", "stages", "filters", "schedule", "seeds"} <= set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_builds(group: str, option: str) -> None:
    overrides = [f"+{group}={option}" if group == "experiment" else f"{group}={option}"]
    if (group, option) == ("seeds", "alpaca"):
        overrides.append("seeds.path=my_alpaca.json")
    if group == "stages":  # a multi-select group: this stage alone, and run alone
        overrides = [f"stages=[{option}]", f"pipeline.stages=[{option}]"]
    cfg = _compose(overrides)
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    build_filters(cfg.filters)
    assert [s.name for s in build_stages(cfg)] == list(cfg.pipeline.stages)
    check_config(cfg)  # no false positive on any bundled option


def test_paper_defaults() -> None:
    cfg = _compose([])
    assert cfg.filters.rouge.threshold == 0.7
    assert cfg.filters.length.min_words == 4 and cfg.filters.length.max_words == 150
    assert list(cfg.filters) == ["empty", "length", "keywords", "prefix", "punctuation", "non_ascii", "rouge"]
    assert cfg.schedule.num_demos == 8 and cfg.schedule.num_machine_demos == 2
    s = cfg.stages.bootstrap.sampling
    assert (s.temperature, s.top_p, s.presence_penalty, s.max_tokens) == (0.7, 0.5, 2.0, 1024)
    assert "\n\n" in s.stop and "\n16" in s.stop
    assert not cfg.model.simulated  # the default is a real provider


def test_public_overrides_change_what_they_say() -> None:
    cfg = _compose(["~filters.keywords", "filters.length.max_words=100", "filters.rouge.threshold=0.6",
                    "model.name=anthropic/claude-3-5-haiku-20241022", "model.api_base=http://x/v1",
                    "model.max_concurrency=4", "schedule.num_instructions=500", "schedule.seed=7",
                    "seeds.path=/tmp/s.jsonl", "pipeline.stages=[bootstrap]"])
    assert "keywords" not in cfg.filters
    assert cfg.filters.length.max_words == 100 and cfg.filters.rouge.threshold == 0.6
    assert cfg.model.max_concurrency == 4 and cfg.schedule.num_instructions == 500


@pytest.mark.parametrize(
    ("override", "key"),
    [("schedule.num_instructions=many", "schedule.num_instructions"),
     ("model.max_concurrency=1.5", "model.max_concurrency"),
     ("schedule.rounds=3", "schedule.rounds"),
     ("filters.rouge.thresold=0.5", "filters.rouge.thresold")],
)
def test_wrong_type_or_unknown_key_fails_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigCompositionException) as err:
        _compose([override])
    assert key in str(err.value) + str(err.value.__cause__)


def test_a_key_in_the_config_is_a_known_key_refused_by_name_not_by_hydra() -> None:
    # model.api_key exists only to be refused by our check: Hydra's own error would print the value
    cfg = _compose(["model.api_key=sk-abc123456"])
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value).startswith("model.api_key: ") and "sk-abc123456" not in str(err.value)
    assert "model.api_key_env=" in str(err.value)


def test_composing_and_building_stages_does_not_import_litellm(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from selfinstruct.config import CONFIG_DIR\n"
        "from selfinstruct.engine import prepare_run\n"
        "with initialize_config_dir(config_dir=CONFIG_DIR, version_base='1.3'):\n"
        "    cfg = compose(config_name='config', overrides=['model=loopback'])\n"
        f"stages, ctx = prepare_run(cfg, __import__('pathlib').Path({str(tmp_path)!r}))\n"
        "assert stages and ctx.seeds\n"
        "print('litellm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []  # preparing a run writes nothing
