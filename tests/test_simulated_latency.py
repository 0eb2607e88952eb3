"""The simulated model's latency distribution: fixed, or lognormal set by its median and p99."""

from __future__ import annotations

import json
import statistics

import pytest

from selfinstruct.simulated import ServerOptions
from selfinstruct.simulated.cli import build_parser, options_from_args
from selfinstruct.simulated.core import _Core, latency_s

DRAWS = 2000


def _draws(options: ServerOptions, n: int = DRAWS) -> list[float]:
    return sorted(latency_s(options, number) for number in range(1, n + 1))


def test_lognormal_draws_have_the_median_and_p99_asked_for():
    draws = _draws(ServerOptions(latency_ms=500, latency_dist="lognormal", latency_p99_ms=2500, seed=7))
    median, p99 = statistics.median(draws), draws[int(0.99 * len(draws))]
    assert median == pytest.approx(0.5, rel=0.08)
    assert p99 == pytest.approx(2.5, rel=0.2)
    assert min(draws) > 0
    # a tail, not a constant: a tenth of requests wait over 1.5x the median (lognormal: ~19%)
    assert sum(d > 0.75 for d in draws) > DRAWS // 10


def test_draws_are_keyed_by_seed_and_request_number():
    options = ServerOptions(latency_ms=200, latency_dist="lognormal", latency_p99_ms=900, seed=1)
    assert [latency_s(options, k) for k in range(1, 50)] == [latency_s(options, k) for k in range(1, 50)]
    other = ServerOptions(latency_ms=200, latency_dist="lognormal", latency_p99_ms=900, seed=2)
    assert [latency_s(options, k) for k in range(1, 50)] != [latency_s(other, k) for k in range(1, 50)]
    assert latency_s(options, 3) != latency_s(options, 4)
    # the fine-tuning API's calls have their own scope
    assert latency_s(options, 3, "api") != latency_s(options, 3)


def test_fixed_is_the_default_and_unchanged():
    assert ServerOptions().latency_dist == "fixed"
    assert set(_draws(ServerOptions(latency_ms=250), 100)) == {0.25}
    assert set(_draws(ServerOptions(), 10)) == {0.0}
    # latency_p99_ms is ignored unless the distribution is lognormal
    assert set(_draws(ServerOptions(latency_ms=250, latency_p99_ms=4000), 10)) == {0.25}


def test_a_chat_reply_waits_the_drawn_latency():
    options = ServerOptions(latency_ms=500, latency_dist="lognormal", latency_p99_ms=2500, seed=5)
    core = _Core(options)
    try:
        body = json.dumps({"model": "loopback", "messages": [{"role": "user", "content": "Hello"}]}).encode()
        delays = [core.chat(body).delay_s for _ in range(20)]
    finally:
        core.close()
    assert delays == [latency_s(options, k) for k in range(1, 21)]


@pytest.mark.parametrize("kwargs", [
    {"latency_dist": "lognormal", "latency_ms": 500, "latency_p99_ms": 0},
    {"latency_dist": "lognormal", "latency_ms": 500, "latency_p99_ms": 500},
    {"latency_dist": "lognormal", "latency_ms": 500, "latency_p99_ms": 400},
    {"latency_dist": "lognormal", "latency_ms": 0, "latency_p99_ms": 2500},
    {"latency_dist": "pareto", "latency_ms": 500, "latency_p99_ms": 2500},
    {"latency_ms": -1},
    {"latency_p99_ms": -1},
])
def test_bad_latency_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="latency"):
        ServerOptions(**kwargs)


def test_cli_flags():
    options = options_from_args(build_parser().parse_args(
        ["--latency-ms", "500", "--latency-dist", "lognormal", "--latency-p99-ms", "2500"]))
    assert (options.latency_dist, options.latency_ms, options.latency_p99_ms) == ("lognormal", 500, 2500)
    defaults = options_from_args(build_parser().parse_args([]))
    assert (defaults.latency_dist, defaults.latency_p99_ms) == ("fixed", 0.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--latency-dist", "pareto"])
    with pytest.raises(ValueError, match="latency_p99_ms"):
        options_from_args(build_parser().parse_args(["--latency-ms", "500", "--latency-dist", "lognormal"]))


def test_model_loopback_options_reach_the_server(monkeypatch):
    """model.loopback.options.latency_dist / latency_p99_ms become ServerOptions fields."""
    from omegaconf import OmegaConf

    import selfinstruct.simulated as simulated
    from selfinstruct.config import ModelConfig
    from selfinstruct.llm.endpoint import open_endpoint

    model = OmegaConf.structured(ModelConfig(name="openai/selfinstruct-loopback"))
    model.loopback.enabled = True
    model.loopback.latency_ms = 500
    model.loopback.options = {"latency_dist": "lognormal", "latency_p99_ms": 2500}
    seen = []

    class FakeServer:
        def __init__(self, options):
            seen.append(options)

        def start(self):
            return "http://127.0.0.1:9/v1"

        def stop(self):
            pass

    monkeypatch.setattr(simulated, "LoopbackServer", FakeServer)
    with open_endpoint(model, "model"):
        pass
    options = seen[0]
    assert (options.latency_dist, options.latency_ms, options.latency_p99_ms) == ("lognormal", 500, 2500)
