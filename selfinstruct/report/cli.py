"""``selfinstruct-report PATH...``: report existing run directories and multirun (sweep) directories.

A run directory gets report.md and figures/*.png, and its Table 1 block is printed; a multirun
directory (``outputs/multirun/DATE/TIME/``, numbered job directories inside) gets sweep.md and
figures/sweep.png, every job its own report, and the sweep table is printed.  Tables go to stdout,
progress to stderr; a path that is neither prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from selfinstruct.errors import SelfInstructError, one_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfinstruct-report",
        description="Write report.md and figures/*.png for selfinstruct run directories, and sweep.md for "
                    "multirun directories (outputs/multirun/DATE/TIME/); print Table 1 and the sweep table.")
    parser.add_argument("paths", nargs="+", metavar="DIR", help="a run directory or a multirun (sweep) directory")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the tables only, no progress lines")
    return parser


def _check(path: Path) -> str:
    """'run' or 'sweep'; raises SelfInstructError naming the path otherwise."""
    from selfinstruct.report.load import is_run_dir
    from selfinstruct.report.sweep import is_sweep_dir

    if not path.exists():
        raise SelfInstructError(f"{path}: no such directory")
    if not path.is_dir():
        raise SelfInstructError(f"{path}: not a directory (give a run directory or a multirun directory)")
    if is_sweep_dir(path):
        return "sweep"
    if is_run_dir(path):
        return "run"
    raise SelfInstructError(
        f"{path}: not a selfinstruct run directory (no metrics.json, instructions.jsonl, instances.jsonl or "
        ".hydra/) nor a multirun directory (no numbered job directories)")


def run(paths: list[Path], *, quiet: bool = False) -> None:
    from selfinstruct.report.run import report_run, table1_text
    from selfinstruct.report.sweep import sweep_text, write_sweep

    kinds = [(path, _check(path)) for path in paths]  # every path is checked before anything is written
    for i, (path, kind) in enumerate(kinds):
        if i:
            print()
        if kind == "sweep":
            rows, sweep_file = write_sweep(path, report_run)
            print(sweep_text(path, rows))
            if not quiet:
                print(f"wrote {sweep_file} and {len(rows)} job reports", file=sys.stderr)
        else:
            report = report_run(path)
            print(table1_text(report))
            if not quiet:
                print(f"wrote {path / 'report.md'} and {len(report.figures)} figures", file=sys.stderr)
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        run([Path(p) for p in args.paths], quiet=args.quiet)
    except SelfInstructError as exc:
        print(f"selfinstruct-report: error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
