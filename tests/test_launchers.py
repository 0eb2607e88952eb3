"""Parallel sweeps on Hydra launchers: hydra/launcher=joblib runs a real sweep in worker processes, and
our hydra/launcher=slurm recipe (conf/hydra/launcher/slurm.yaml) composes, builds a valid sbatch
script without Slurm, and runs a real sweep through submitit with the recipe's settings (submitit's
local executor standing in for the cluster)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from selfinstruct.config import CONFIG_DIR
from tests.cli_helpers import read_json, read_lines, run_cli

REPO = Path(__file__).resolve().parent.parent
SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
FINETUNE_FILES = ("prompt_completion.jsonl", "alpaca.json", "openai_chat.jsonl", "sharegpt.json")


def _compose(overrides: list[str]) -> Any:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _job_dirs(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if (p / ".hydra").is_dir()), key=lambda p: int(p.name))


def _worker_pid(job: Path) -> int:
    """The pid the job ran in, as run.json records it."""
    return read_json(job / "run.json")["invocations"][-1]["pid"]


def _call_span(job: Path) -> tuple[float, float]:
    """First and last LLM request of the run (llm_calls.jsonl's ``t``)."""
    times = [line["t"] for line in read_lines(job / "llm_calls.jsonl")]
    return min(times), max(times)


def _assert_complete_job(job: Path, target: int, seed: int) -> None:
    assert len(read_lines(job / "instructions.jsonl")) == target
    metrics = read_json(job / "metrics.json")
    assert metrics["bootstrap"]["accepted"] == target and metrics["simulated_model"] is True
    for name in FINETUNE_FILES:
        assert (job / "finetune" / name).stat().st_size > 0, name
    assert (job / "report.md").is_file()
    assert OmegaConf.load(job / ".hydra" / "config.yaml").schedule.seed == seed
    assert read_json(job / "run.json")["invocations"][-1]["ended"] == "done"


def _assert_sweep_report(sweep: Path, jobs: int) -> None:
    text = (sweep / "sweep.md").read_text(encoding="utf-8")  # written by the sweep_report callback
    assert len([line for line in text.splitlines() if line.startswith("| [")]) == jobs
    assert (sweep / "figures" / "sweep.png").stat().st_size > 0


# --- joblib: jobs in parallel worker processes ----------------------------------------------------

def test_joblib_sweep_runs_the_jobs_at_once_in_worker_processes(tmp_path: Path) -> None:
    sweep, target, seeds = tmp_path / "sweep", 30, [1, 2, 3, 4]
    done = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=loopback", "schedule=smoke",
                    f"schedule.num_instructions={target}", f"schedule.seed={','.join(map(str, seeds))}",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2,backend=loky" in done.stdout + done.stderr  # the launcher that ran

    jobs = _job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]
    for job, seed in zip(jobs, seeds):
        _assert_complete_job(job, target, seed)
    _assert_sweep_report(sweep, len(seeds))

    # separate processes: the jobs ran in loky workers (two, or more if loky replaced one), where the
    # default launcher runs every job in the command's own process
    pids = {job.name: _worker_pid(job) for job in jobs}
    assert len(set(pids.values())) >= 2, pids
    # at the same time: two jobs in different workers were sending requests in overlapping intervals
    spans = {job.name: _call_span(job) for job in jobs}
    overlapping = [(a, b) for a in spans for b in spans
                   if a < b and pids[a] != pids[b] and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]]
    assert overlapping, spans


def test_a_failing_job_does_not_stop_the_others(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=loopback", "schedule=smoke",
                    "schedule.num_instructions=20", "shard.count=2", "shard.index=0,7,1",
                    "pipeline.stages=[bootstrap]", f"hydra.sweep.dir={sweep}"], cwd=tmp_path, timeout=180)
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"sweep: job {sweep / '1'} failed" in done.stderr
    assert "shard.index: must be within 0..1" in (sweep / "1" / "selfinstruct.log").read_text(encoding="utf-8")
    for job in ("0", "2"):  # the jobs around it ran to the end
        assert len(read_lines(sweep / job / "instructions.jsonl")) == 20
        assert read_json(sweep / job / "run.json")["ended"] == "done"


# --- slurm: the recipe, composed and checked without a cluster ------------------------------------

def _readme_slurm_defaults() -> dict[str, Any]:
    """The ``KEY=VALUE`` defaults listed in the README's "Slurm defaults" paragraph."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    paragraph = text.split("Slurm defaults", 1)[1].split("\n\n", 1)[0]
    pairs = re.findall(r"`(\w+)=([^`]+)`", paragraph)
    assert pairs, "README: no Slurm defaults listed"
    return {key: OmegaConf.to_container(OmegaConf.create(f"v: {value}"))["v"] for key, value in pairs}


def test_slurm_recipe_composes_with_the_documented_defaults(tmp_path: Path) -> None:
    cfg = _compose(["hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path}"])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == SLURM_LAUNCHER
    documented = _readme_slurm_defaults()
    assert {"partition", "timeout_min", "cpus_per_task", "mem_gb", "tasks_per_node", "nodes",
            "array_parallelism"} <= set(documented)
    assert {key: launcher[key] for key in documented} == documented
    assert launcher.submitit_folder == f"{tmp_path}/.submitit"  # under the sweep directory
    assert launcher.name == "selfinstruct"


def test_slurm_overrides_apply_and_make_a_valid_sbatch_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from submitit.slurm.slurm import _make_sbatch_string

    cfg = _compose(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=240",
                    "+hydra.launcher.additional_parameters.mail-type=END", f"hydra.sweep.dir={tmp_path}"])
    assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.timeout_min == 240
    launcher = instantiate(cfg.hydra.launcher)  # no Slurm needed to build it
    assert f"{type(launcher).__module__}.{type(launcher).__name__}" == SLURM_LAUNCHER
    params = dict(launcher.params)
    assert params["partition"] == "gpu" and params["submitit_folder"] == f"{tmp_path}/.submitit"

    # The executor SlurmLauncher.launch submits with, built the way it builds it. submitit only looks
    # for an srun on PATH here (it never runs it); it then checks every parameter against sbatch's
    # options and renders the array's sbatch script, which we read instead of submitting it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    executor = submitit.AutoExecutor(folder=params.pop("submitit_folder"), cluster="slurm",
                                     slurm_max_num_timeout=params.pop("max_num_timeout"))
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()
                                  if k != "_target_"})
    script = _make_sbatch_string(command="python -c pass", folder=executor.folder, map_count=20,
                                 **executor._executor.parameters)
    for line in ("--partition=gpu", "--time=240", "--cpus-per-task=2", "--mem=8GB", "--nodes=1",
                 "--ntasks-per-node=1", "--signal=USR2@120", "--job-name=selfinstruct", "--mail-type=END",
                 "--array=0-19%8"):
        assert f"#SBATCH {line}\n" in script, (line, script)
    assert "gpus" not in script and "--gres" not in script
    assert f"--output={tmp_path}/.submitit/%A_%a_0_log.out" in script


# --- submitit end to end, with the recipe's settings, on the local executor -----------------------

def test_sweep_through_submitit_with_the_slurm_recipes_settings(tmp_path: Path) -> None:
    slurm = OmegaConf.to_container(_compose(["hydra/launcher=slurm"]).hydra.launcher, resolve=False)
    local = _compose(["hydra/launcher=submitit_local"]).hydra.launcher
    shared = {k: v for k, v in slurm.items() if k in local and k != "_target_"}
    assert {"timeout_min", "cpus_per_task", "mem_gb", "tasks_per_node", "nodes", "submitit_folder"} <= set(shared)
    settings = [f"hydra.launcher.{k}={'null' if v is None else v}" for k, v in shared.items()]

    sweep, target, seeds = tmp_path / "sweep", 20, [1, 2]
    done = run_cli(["-m", "hydra/launcher=submitit_local", *settings, "model=loopback", "schedule=smoke",
                    f"schedule.num_instructions={target}", f"schedule.seed={','.join(map(str, seeds))}",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in done.stdout + done.stderr

    jobs = _job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1"]
    for job, seed in zip(jobs, seeds):
        _assert_complete_job(job, target, seed)
    _assert_sweep_report(sweep, len(seeds))
    assert len({_worker_pid(job) for job in jobs}) == 2  # one submitit job process each

    # submitit's own record, in the recipe's folder: each job ran to completion under submitit
    logs = sorted((sweep / ".submitit").glob("*_0_log.err"))
    assert len(logs) == 2, sorted(p.name for p in (sweep / ".submitit").iterdir())
    for log in logs:
        assert "Job completed successfully" in log.read_text(encoding="utf-8")
