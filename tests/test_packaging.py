"""The wheel carries its configs, prompts and seeds: an installed selfinstruct runs from any directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.cli_helpers import read_lines, run_cli

REPO = Path(__file__).resolve().parents[1]


def test_wheel_installed_elsewhere_runs_from_another_directory(tmp_path: Path) -> None:
    wheel_dir, target, workdir = tmp_path / "wheel", tmp_path / "site", tmp_path / "elsewhere"
    workdir.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = wheel_dir.glob("selfinstruct-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"selfinstruct/conf/config.yaml", "selfinstruct/prompts/self_instruct/bootstrap.txt",
            "selfinstruct/seeds/seed_tasks.jsonl", "selfinstruct/report/report_template.html",
            "selfinstruct/conf/hydra/help/selfinstruct.yaml"} <= names
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    where = subprocess.run([sys.executable, "-c", "import selfinstruct.config as c; print(c.__file__, c.CONFIG_DIR)"],
                           cwd=workdir, env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=True)
    module_file, config_dir = where.stdout.split()
    assert module_file.startswith(str(target)) and config_dir.startswith(str(target))

    result = run_cli(["model=loopback", "schedule.num_instructions=5", f"hydra.run.dir={workdir / 'run'}"],
                     cwd=workdir, extra_path=str(target))
    assert result.returncode == 0, result.stderr
    assert len(read_lines(workdir / "run" / "instructions.jsonl")) == 5
    assert (workdir / "run" / "report.html").stat().st_size > 10_000  # the template came with the wheel
