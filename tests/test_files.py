"""What the pipeline leaves on disk: file modes under the user's umask, temporary files of a killed
run, a full disk, and prompt templates checked before anything is written or sent."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from selfinstruct.data import append_jsonl, remove_stale_temp_files, temp_file_for, write_text_atomic
from selfinstruct.errors import ConfigError, DiskFullError, one_line
from selfinstruct.prompts import PromptTemplate
from tests.cli_helpers import run_cli
from tests.conftest import REPO_ROOT, LLMServerHandle

DEV_FULL = Path("/dev/full")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set this process's umask (inherited by the runs it starts); restored afterwards."""
    original = os.umask(0o022)
    os.umask(original)
    yield os.umask
    os.umask(original)


# ---------------------------------------------------------------- modes: the user's umask, as a plain write


def test_a_finished_run_is_readable_by_colleagues_under_umask_022(tmp_path: Path, umask: Callable[[int], None]) -> None:
    umask(0o022)
    run_dir = tmp_path / "run"
    result = run_cli(["model=loopback", "schedule.num_instructions=12", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = [p for p in run_dir.rglob("*") if p.is_file() and ".hydra" not in p.parts]
    names = {p.relative_to(run_dir).as_posix() for p in files}
    # every kind of file the stages rewrite whole is there (and so checked below)
    for expected in ("instructions.jsonl", "instances.jsonl", "classify.jsonl", "metrics.json", "run.json",
                     "report.md", "finetune/alpaca.json", "finetune/openai_chat.jsonl"):
        assert expected in names, sorted(names)
    assert any(name.startswith("figures/") and name.endswith(".png") for name in names), sorted(names)
    modes = {p.relative_to(run_dir).as_posix(): oct(_mode(p)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_rewritten_appended_and_figure_files_take_the_umask(tmp_path: Path, umask: Callable[[int], None]) -> None:
    from matplotlib.figure import Figure

    from selfinstruct.report import figures

    umask(0o027)  # not the usual 022: the mode comes from the umask, not from a fixed 0644
    write_text_atomic(tmp_path / "metrics.json", "{}\n")
    write_text_atomic(tmp_path / "metrics.json", '{"again": 1}\n')  # replaced: still the umask's mode
    append_jsonl(tmp_path / "classify.jsonl", [{"id": "a"}])
    fig = Figure()
    fig.add_subplot().plot([1, 2])
    figures._save(fig, tmp_path / "figures" / "lengths.png")
    for name in ("metrics.json", "classify.jsonl", "figures/lengths.png"):
        assert _mode(tmp_path / name) == 0o640, name
    assert (tmp_path / "figures" / "lengths.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["classify.jsonl", "figures", "lengths.png", "metrics.json"]


# ---------------------------------------------------------------- temporary files left by a killed run


def _killed_writer_temp(path: Path) -> Path:
    """What a writer killed between creating its temporary file and the rename leaves behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_for(path)
    os.write(fd, b'{"half": ')
    os.close(fd)
    return Path(tmp)


def test_remove_stale_temp_files_removes_only_what_our_writers_leave(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ours = [
        _killed_writer_temp(run_dir / "instructions.jsonl"),
        _killed_writer_temp(run_dir / "metrics.json"),
        _killed_writer_temp(run_dir / "finetune" / "alpaca.json"),
        _killed_writer_temp(run_dir / "finetune" / "extra" / "chat.jsonl"),  # export paths may nest under finetune/
        _killed_writer_temp(run_dir / "figures" / "lengths.png"),
    ]
    (run_dir / "figures" / ".seed_rouge.png.k3j_9x0a.png").write_bytes(b"png")  # what figures once left
    ours.append(run_dir / "figures" / ".seed_rouge.png.k3j_9x0a.png")
    assert all(p.is_file() for p in ours)

    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    users = {
        "notes.tmp": "x", ".notes.tmp": "x", ".instructions.jsonl.tmp": "x", "instructions.jsonl.abcd1234.tmp": "x",
        ".instructions.jsonl.ABCD1234.tmp": "x", ".instructions.jsonl.abcd123.tmp": "x",
        ".instructions.jsonl.abcd1234.tmp.bak": "x", ".metrics.json.abcd1234.png": "x", "report.md": "x",
        "mine/.data.jsonl.abcd1234.tmp": "x",  # a folder of the user's own
        "finetune/.alpaca.json.abcd1234.TMP": "x", "finetune/.alpaca.json.abcd1234.png": "x",
        ".hydra/.config.yaml.abcd1234.tmp": "x",
    }
    for name, text in users.items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text(text)
    (run_dir / ".dir.abcd1234.tmp").mkdir()  # a folder named like a temporary file
    (run_dir / ".link.json.abcd1234.tmp").symlink_to(outside)  # a link is never ours

    assert remove_stale_temp_files(run_dir) == len(ours)
    assert not any(p.exists() for p in ours)
    for name in users:
        assert (run_dir / name).read_text() == "x", name
    assert (run_dir / ".dir.abcd1234.tmp").is_dir()
    assert (run_dir / ".link.json.abcd1234.tmp").is_symlink() and outside.read_text() == "keep"
    assert remove_stale_temp_files(run_dir) == 0
    assert remove_stale_temp_files(tmp_path / "no_such_run") == 0


def test_a_run_killed_inside_a_rename_write_leaves_a_temp_file_that_is_removed(tmp_path: Path) -> None:
    # a real kill -9 of a process that is writing a large file whole (via its temporary file)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    script = ("import os, sys; from pathlib import Path; import selfinstruct.data as d\n"
              "def stop(fd): print('writing', flush=True); sys.stdin.read()\n"  # blocks until killed
              "os.fsync = stop\n"
              "d.write_text_atomic(Path(sys.argv[1]) / 'instances.jsonl', 'x' * 100000)\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(run_dir)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "writing"
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    left = [p.name for p in run_dir.iterdir()]
    assert len(left) == 1 and left[0].startswith(".instances.jsonl.") and left[0].endswith(".tmp"), left
    assert remove_stale_temp_files(run_dir) == 1
    assert list(run_dir.iterdir()) == []


# ---------------------------------------------------------------- a full disk


def _assert_disk_full_message(exc: DiskFullError, path: Path) -> None:
    message = str(exc)
    assert message.startswith(f"{path}: no space left on device ("), message
    assert message.endswith(")") and "\n" not in message
    assert exc.path == str(path)


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is absent (not Linux?)")
def test_append_to_a_full_device_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "instructions.jsonl"
    path.symlink_to(DEV_FULL)
    with pytest.raises(DiskFullError) as err:
        append_jsonl(path, [{"id": "machine_task_0", "instruction": "Name a fruit."}])
    _assert_disk_full_message(err.value, path)
    assert "ENOSPC" in str(err.value) and err.value.errno == errno.ENOSPC
    assert one_line(err.value) == str(err.value)  # what the command prints: the path is not lost to a cause


_FULL_DISK_SCRIPT = r"""
import json, os, sys
from pathlib import Path
from selfinstruct.data import append_jsonl, read_jsonl, write_text_atomic
from selfinstruct.errors import DiskFullError
from selfinstruct.report import figures
from matplotlib.figure import Figure

root = Path(sys.argv[1])
result = {}
log = root / "instructions.jsonl"
append_jsonl(log, [{"id": f"machine_task_{i}", "instruction": "Name a fruit."} for i in range(3)])
metrics = root / "metrics.json"
write_text_atomic(metrics, '{"old": true}\n')
(root / "figures").mkdir()
before = {"log": log.read_bytes(), "metrics": metrics.read_bytes()}

with open(root / "filler", "wb", buffering=0) as filler:  # fill the file system, then free 12 KiB
    try:
        while True:
            filler.write(b"\0" * 4096)
    except OSError:
        pass
os.truncate(root / "filler", max(0, os.path.getsize(root / "filler") - 12288))

def attempt(name, write):
    try:
        write()
        result[name] = "written"
    except DiskFullError as exc:
        result[name] = str(exc)

big = [{"id": f"machine_task_{i}", "instruction": "x" * 200} for i in range(3, 400)]  # ~90 KB
attempt("append", lambda: append_jsonl(log, big))
attempt("rewrite", lambda: write_text_atomic(metrics, "y" * 200000))
fig = Figure(figsize=(20, 20))
fig.add_subplot().imshow(__import__("numpy").random.default_rng(0).random((400, 400)))
attempt("figure", lambda: figures._save(fig, root / "figures" / "lengths.png"))
result["log_unchanged"] = log.read_bytes() == before["log"]
result["log_records"] = len(read_jsonl(log))
result["metrics_unchanged"] = metrics.read_bytes() == before["metrics"]
result["left"] = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
print(json.dumps(result))
"""


def test_a_full_file_system_fails_whole_and_names_the_file(tmp_path: Path) -> None:
    """On a real, tiny tmpfs (a private mount namespace): an append cut off mid-batch is taken back, a
    rewrite leaves the old file and no temporary file, a figure the same."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to mount a small tmpfs in a private mount namespace")
    mount = tmp_path / "small"
    mount.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(_FULL_DISK_SCRIPT)
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=256k tmpfs "$0"', str(mount)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=256k tmpfs "$0" && exec "$1" "$2" "$0"',
                          str(mount), sys.executable, str(script)],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                         env={**os.environ, "MPLCONFIGDIR": tempfile.mkdtemp(dir=tmp_path)})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for name, path in (("append", "instructions.jsonl"), ("rewrite", "metrics.json"), ("figure", "figures/lengths.png")):
        message = result[name]
        assert message.startswith(f"{mount / path}: no space left on device (ENOSPC"), (name, message)
        assert "\n" not in message
    assert result["log_unchanged"] and result["log_records"] == 3  # not a byte of the failed batch stays
    assert result["metrics_unchanged"]
    assert result["left"] == ["figures", "filler", "instructions.jsonl", "metrics.json"]  # no temporary file


# ---------------------------------------------------------------- prompt templates, checked in prepare


def _write_template(path: Path) -> Path:
    path.write_text("Come up with more tasks.\n{% for demo in demos %}\n{{ loop.index }}. {{ demo }}\n{% endfor %}\n"
                    "{{ undefined_var.attr }}\n", encoding="utf-8")
    return path


def test_check_names_the_template_line_and_key(tmp_path: Path) -> None:
    template = PromptTemplate(str(_write_template(tmp_path / "mine.txt")), "stages.bootstrap.template")
    template.check(demos=["a"], undefined_var={"attr": 1})  # every name given: renders
    with pytest.raises(ConfigError) as err:
        template.check(demos=["a", "b"], next_number=3)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'mine.txt'}:5: template error: 'undefined_var' is undefined"), message
    assert "stages.bootstrap.template" in message and "demos, next_number" in message
    (tmp_path / "typo.txt").write_text("Tasks:\n{{ demos | length + 'x' }}\n")
    with pytest.raises(ConfigError, match=r"typo\.txt:2: template error: .*\(stages\.classify\.template;"):
        PromptTemplate(str(tmp_path / "typo.txt"), "stages.classify.template").check(demos=[])


@pytest.mark.parametrize("key", ["stages.bootstrap.template", "stages.classify.template",
                                 "stages.instances.input_first.template", "stages.instances.output_first.template"])
def test_a_template_error_stops_the_run_before_anything_is_sent(
        tmp_path: Path, llm_server: Callable[..., LLMServerHandle], key: str) -> None:
    server = llm_server()
    template = _write_template(tmp_path / "my_template.txt")
    run_dir = tmp_path / "run"
    result = run_cli(["model.name=openai/sim", f"model.api_base={server.url}", f"{key}={template}",
                      "schedule.num_instructions=5", f"hydra.run.dir={run_dir}"],
                     cwd=tmp_path, env={"OPENAI_API_KEY": "sk-anything"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"{template}:5: template error: 'undefined_var' is undefined ({key};" in last, result.stderr
    assert server.stats()["requests"] == 0
    assert not (run_dir / "instructions.jsonl").exists() and not (run_dir / "run.json").exists()
