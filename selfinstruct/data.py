"""Task and instance records, JSONL reading (with torn-line repair) and every writer a run uses: appends,
atomic rewrites with the umask, disk-full errors naming the file, redaction of secrets (seed files: seeds.py)."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from selfinstruct.secrets import redact
from selfinstruct.errors import DiskFullError, SelfInstructError
from selfinstruct.rundir import FIGURES_DIR, FINETUNE_DIR

log = logging.getLogger(__name__)


@dataclass
class Instance:
    input: str
    output: str


@dataclass
class Task:
    """One task in the original release's shape (seeds and, later, generated tasks)."""

    id: str
    instruction: str
    instances: list[Instance] = field(default_factory=list)
    is_classification: bool | None = None
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_SURROGATE_ESCAPE = re.compile("[\udc80-\udcff]")


def _decode_utf8(data: bytes, path: Path, error: type[SelfInstructError]) -> str:
    """``data`` as text; bytes that are not UTF-8 raise ``error`` naming ``path:line`` and the column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}:{lineno}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})") from None


def iter_json_lines(path: Path, error: type[SelfInstructError]) -> Iterator[tuple[str, Any]]:
    """(``file:line``, parsed value) of each non-blank line of a JSONL file written by someone else;
    a line that is not JSON or not UTF-8 raises ``error`` naming it (no repair: that is read_jsonl's job)."""
    # surrogateescape: a byte that is not UTF-8 becomes one lone surrogate, found below with its line
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:
        for lineno, line in enumerate(handle, start=1):
            where = f"{path}:{lineno}"
            bad = _SURROGATE_ESCAPE.search(line)
            if bad:
                byte = ord(bad.group()) - 0xDC00
                raise error(f"{where}: not valid UTF-8 (byte 0x{byte:02x} at column {bad.start() + 1})")
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None


def _dumps(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file the pipeline wrote; an absent file reads as empty.

    A crash in the middle of an append leaves a torn last line (no newline, or not JSON): it is
    cut off the file and the loss is logged, so a resumed run appends after whole records only.
    A bad line anywhere else is damage we did not make: that is an error naming the line.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    records: list[dict[str, Any]] = []
    offset = 0
    for lineno, raw in enumerate(lines, start=1):
        is_last = lineno == len(lines) or (lineno == len(lines) - 1 and lines[-1] == b"")
        complete = lineno < len(lines)  # followed by a newline
        if raw.strip():
            try:
                records.append(json.loads(raw))
            except json.JSONDecodeError:
                if is_last:
                    _drop_torn_tail(path, offset, len(data) - offset)
                    return records
                raise SelfInstructError(f"{path}:{lineno}: not valid JSON; the file is damaged") from None
            if not complete:  # a whole record whose newline never made it to disk
                with reporting_disk_full(path), path.open("ab") as handle:
                    handle.write(b"\n")
        offset += len(raw) + 1
    return records


def _drop_torn_tail(path: Path, offset: int, size: int) -> None:
    log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted write", path, size)
    with reporting_disk_full(path), path.open("r+b") as handle:
        handle.truncate(offset)
        handle.flush()
        os.fsync(handle.fileno())


# ---------------------------------------------------------------- writing: disk full, file modes, temp files

_DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)


@contextmanager
def reporting_disk_full(path: Path) -> Iterator[None]:
    """Inside: an OSError for want of space or quota (ENOSPC, EDQUOT) becomes a DiskFullError naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _DISK_FULL_ERRNOS:
            raise
        detail = ": disk quota exceeded" if exc.errno != errno.ENOSPC else ""
        error = DiskFullError(path, f"{errno.errorcode[exc.errno]}{detail}; free some space")
        error.errno = exc.errno
        raise error from None  # not chained: the CLI prints an error's innermost cause, which would lose the path


def _umask_now() -> int:
    """The process umask without changing it (Linux reports it in /proc); None where it cannot be read so."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORT_UMASK


def _umask_at_import() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; done once, while imports run single-threaded
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_at_import()


def new_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0o666 less the user's umask."""
    return 0o666 & ~_umask_now()


# Temporary files our writers create next to their destination, ``.NAME.XXXXXXXX.tmp`` (mkstemp's 8 random
# characters); the report's figures once used ``.NAME.png.XXXXXXXX.png``.  Nothing else is ever removed.
TEMP_FILE_RE = re.compile(r"^\.(?P<name>[^/]+)\.[a-z0-9_]{8}\.tmp$")
_OLD_FIGURE_TEMP_RE = re.compile(r"^\.(?P<name>[^/]+\.png)\.[a-z0-9_]{8}\.png$")
# where our writers put files in a run (or sweep) directory, and whether to look in subfolders there
_TEMP_FILE_DIRS: tuple[tuple[str, bool], ...] = (("", False), (FINETUNE_DIR, True), (FIGURES_DIR, False))


def temp_file_for(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (fd, name) named so remove_stale_temp_files can find it,
    with the mode a plain new file would get (mkstemp's own is 0600, unreadable to colleagues)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, new_file_mode())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def remove_stale_temp_files(run_dir: Path) -> int:
    """Remove the temporary files a killed run left in ``run_dir`` (its top level, finetune/ and below,
    figures/) and return how many; call it only while holding the run's lock.

    Only regular files named as our writers name their temporaries are removed: ``.NAME.XXXXXXXX.tmp``
    (and, in figures/, ``.NAME.png.XXXXXXXX.png``); anything else, links included, is left alone.
    """
    removed = 0
    for sub, recursive in _TEMP_FILE_DIRS:
        folder = run_dir / sub if sub else run_dir
        if folder.is_symlink() or not folder.is_dir():
            continue
        candidates = folder.rglob(".*") if recursive else folder.glob(".*")
        for path in sorted(candidates):
            pattern_ok = TEMP_FILE_RE.match(path.name) or (sub == FIGURES_DIR and _OLD_FIGURE_TEMP_RE.match(path.name))
            if not pattern_ok or path.is_symlink() or not path.is_file():
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            log.info("%s: removed a temporary file left by an interrupted run", path)
    return removed


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append whole lines and flush them to disk, so a crash never loses a finished batch.

    A write that fails (disk full: DiskFullError naming the file) is cut back off the file, so no part
    of the batch stays behind; were even that impossible, read_jsonl drops the torn last line on resume.
    """
    records = list(records)
    if not records:
        return
    data = redact("".join(_dumps(record) + "\n" for record in records), key_shapes=False).encode("utf-8")
    with reporting_disk_full(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            size_before = os.fstat(fd).st_size
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except BaseException:
                try:
                    os.ftruncate(fd, size_before)
                except OSError:  # not a regular file, or truncation refused: read_jsonl cuts a torn tail
                    pass
                raise
        finally:
            os.close(fd)


class LineAppender:
    """A file kept open for appending one whole line at a time, each flushed to the kernel at once
    (a killed process loses no written line); fsync on request and at close.  For logs written per
    request (llm_calls.jsonl, spend.jsonl), where reopening the file for each line would cost more."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def write(self, line: str, sync: bool = False) -> None:
        with reporting_disk_full(self.path):
            if self._handle is None:
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write(redact(line, key_shapes=False) + "\n")
            self._handle.flush()
            if sync:
                os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is None:
            return
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:  # a full disk at the very end: what was flushed is in the kernel already
            pass
        self._handle.close()
        self._handle = None


class RecordAppender(LineAppender):
    """A LineAppender of JSON records, for stages that keep each reply the moment it arrives (a killed
    run then asks for none of them again); open it after ``read_jsonl`` has cut any torn last line."""

    def append(self, record: dict[str, Any]) -> None:
        self.write(_dumps(record))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a file whole via a temporary file and a rename: readers see the old or the new file,
    never half of either (for files a stage rewrites: exports, metrics, reordered JSONL).

    The new file gets the user's umask (0o666 & ~umask), as a plain write would; a full disk raises
    DiskFullError naming ``path``, with the old file untouched and the temporary file removed.
    """
    data = redact(text, key_shapes=False).encode("utf-8")  # every file a run writes passes here or below
    with reporting_disk_full(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_for(path)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_jsonl_atomic(path: Path, records: Iterable[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(_dumps(record) + "\n" for record in records))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def iter_instructions(tasks: Iterable[Task]) -> Iterator[str]:
    for task in tasks:
        yield task.instruction
