"""The ``selfinstruct`` command: compose the config with Hydra and hand it to the engine.

Nothing heavy is imported here: ``--help`` and config composition never import LiteLLM.
Before Hydra sees the command line, it is checked for secrets (nothing is composed, printed or
written with one); inside the job, nothing reaches the run directory until the run holds its lock.
"""

from __future__ import annotations

import logging
import shlex
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from selfinstruct.config import CONFIG_DIR
from selfinstruct.errors import DiskFullError, LLMFatalError, SelfInstructError, one_line
from selfinstruct.rundir import HYDRA_CONFIG_FILE, HYDRA_HYDRA_FILE, HYDRA_OVERRIDES_FILE

log = logging.getLogger("selfinstruct")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _app(cfg: DictConfig) -> None:
    from selfinstruct.engine import run_pipeline
    from selfinstruct.secrets import install_log_redaction, redact

    install_log_redaction()
    cfg = with_named_stages(cfg, list(HydraConfig.get().overrides.task))
    logging.raiseExceptions = False  # a log line that cannot be written (disk full) is not a traceback
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    run_log = RunLogFile(run_dir)
    locked = False

    def on_locked() -> None:
        nonlocal locked
        locked = True
        run_log.attach()
        save_config_record(run_dir, cfg)

    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        outcome = run_pipeline(cfg, run_dir, overrides, on_locked)
    except SelfInstructError as exc:
        message = redact(one_line(exc))
        ran = locked  # the run held its directory: it may have written something worth summing up
        if locked and isinstance(exc, (DiskFullError, LLMFatalError)):
            message += f"; what is done is kept: resume with {resume_command(overrides, run_dir)}"
        if not locked and multirun and run_log.directory_is_new():
            # a sweep job refused in its own new directory: its log says why, for the sweep's summary
            locked = True
            run_log.attach()
        log.error("%s", message)
        if ran:
            print_summary(run_dir, "error", message, resume_command(overrides, run_dir), compact=multirun)
        if multirun:
            # the other jobs of the sweep go on; the sweep callback lists the failed ones and exits 2
            return
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        log.error("interrupted; resume with: %s", resume_command(overrides, run_dir))
        if locked:
            print_summary(run_dir, "interrupted", "aborted", resume_command(overrides, run_dir), compact=multirun)
        raise SystemExit(130) from None
    finally:
        if not locked:  # refused (or a dry run): the directory stays as it was
            run_log.discard()
    if locked:
        print_summary(run_dir, outcome.ended, outcome.detail, resume_command(overrides, run_dir), compact=multirun)
    if outcome.ended == "paused":
        log.warning("run paused: %s. Resume with:\n  %s", outcome.detail, resume_command(overrides, run_dir))
        return
    if outcome.ended == "interrupted":
        log.warning("%s; everything finished so far is written. Resume with:\n  %s",
                    outcome.detail, resume_command(overrides, run_dir))
        raise SystemExit(128 + int(outcome.signal or signal.SIGINT))


class RunLogFile:
    """Hydra's selfinstruct.log handler, held back until the run owns its directory.

    Hydra opens the log file before the job starts; with ``delay: true`` it is created at the
    first line.  Until the lock is taken the handler is off the root logger, so a refused run
    (bad config, another run live) writes no line into somebody else's log.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        root = logging.getLogger()
        self.handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
        for handler in self.handlers:
            root.removeHandler(handler)

    def attach(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.addHandler(handler)

    def directory_is_new(self) -> bool:
        """True when the run directory holds nothing (Hydra made it for this job)."""
        return self.run_dir.is_dir() and not any(self.run_dir.iterdir())

    def discard(self) -> None:
        """Close the held-back handlers; remove the run directory if Hydra made it and it stayed empty."""
        for handler in self.handlers:
            handler.close()
        self.handlers = []
        # Hydra's default run directory is outputs/DATE/TIME under the working directory: the empty
        # folders it made for this run go too, up to (never including) the working directory
        folder, stop = self.run_dir.absolute(), Path.cwd()
        try:
            while folder != stop and stop in folder.parents and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        except OSError:
            pass


def with_named_stages(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``cfg``, composed again when ``pipeline.stages`` names a stage whose file ``stages/NAME.yaml``
    (bundled or in a ``--config-dir`` folder) is not among the ``stages`` group's defaults: so a new
    stage is one YAML file plus ``pipeline.stages=[...,NAME]``.  A name with no file is left for the
    engine to refuse (``pipeline.stages[i]: unknown stage``)."""
    stages = cfg.get("stages") or {}
    missing = [str(n) for n in (cfg.pipeline.stages or []) if n not in stages]
    if not missing:
        return cfg
    from hydra import compose
    from hydra.errors import HydraException

    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "stages"]
    # only entries that are files of the stages group (another group may add one: train=... sets stages.train)
    from hydra.core.global_hydra import GlobalHydra

    options = set(GlobalHydra.instance().config_loader().get_group_options("stages"))
    group = [str(name) for name in stages.keys() if str(name) in options]
    names = ",".join(dict.fromkeys([*group, *missing]))
    try:
        return compose(config_name=HydraConfig.get().job.config_name, overrides=[*kept, f"stages=[{names}]"])
    except HydraException:
        return cfg


def save_config_record(run_dir: Path, cfg: DictConfig) -> None:
    """.hydra/config.yaml, hydra.yaml and overrides.yaml, as Hydra writes them, once the run is ours."""
    from selfinstruct.data import write_text_atomic

    write_text_atomic(run_dir / HYDRA_CONFIG_FILE, OmegaConf.to_yaml(cfg))
    write_text_atomic(run_dir / HYDRA_HYDRA_FILE, OmegaConf.to_yaml(HydraConfig.instance().cfg))
    write_text_atomic(run_dir / HYDRA_OVERRIDES_FILE, OmegaConf.to_yaml(HydraConfig.get().overrides.task))


def print_summary(run_dir: Path, ended: str, detail: str | None, resume: str, compact: bool = False) -> None:
    """The run's summary on stdout (selfinstruct.summary); a sweep's job prints its first lines only
    (sweep.md compares the jobs). A summary that cannot be built is a warning, never a new exit code."""
    from selfinstruct.summary import render_summary

    try:
        text = render_summary(run_dir, ended, detail=detail, resume=resume)
    except Exception as exc:  # noqa: BLE001 - the run's outcome is the news, not its summary
        log.warning("no summary printed (%s)", " ".join(str(exc).split()))
        return
    if compact:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("  "))
    print(text, flush=True)


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """The command that continues this run: the same overrides, pinned to this run directory."""
    kept = [o for o in overrides if not o.startswith("hydra.run.dir=")]
    return " ".join(shlex.quote(part) for part in ["selfinstruct", *kept, f"hydra.run.dir={run_dir}"])


def version_text() -> str:
    """``selfinstruct --version``: ours first, then what a bug report needs (no heavy import)."""
    import platform
    from importlib import metadata

    from selfinstruct import __version__

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"selfinstruct {__version__} (hydra-core {version('hydra-core')}, litellm {version('litellm')}, "
            f"Python {platform.python_version()})")


def main() -> None:
    """Console-script entry point: secrets on the command line are refused before Hydra sees them."""
    from selfinstruct.config_checks import check_command_line
    from selfinstruct.secrets import install_stream_redaction

    install_stream_redaction()
    if "--version" in sys.argv[1:]:
        print(version_text())
        return
    problem = check_command_line(sys.argv[1:])
    if problem:
        print(f"selfinstruct: error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    _app()


if __name__ == "__main__":
    main()
