"""The report's figures as PNG files (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import contextvars
import os
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from selfinstruct.data import reporting_disk_full, temp_file_for  # noqa: E402

DPI = 120
_BLUE = "#4C72B0"
_ORANGE = "#DD8452"
_GREEN = "#55A868"
_RED = "#C44E52"
_GREY = "#BBBBBB"
_OBJECT_COLOURS = ("#4C72B0", "#55A868", "#8172B3", "#CCB974")


SIMULATED_WATERMARK = "SIMULATED DATA - not real"
# the text stamped across every figure saved while it is set (watermark()); None: no stamp
_watermark: contextvars.ContextVar[str | None] = contextvars.ContextVar("figure_watermark", default=None)


@contextmanager
def watermark(text: str | None) -> Iterator[None]:
    """Every figure saved inside the block carries ``text`` across it (a simulated run's figures say
    so wherever they are pasted); None stamps nothing."""
    token = _watermark.set(text)
    try:
        yield
    finally:
        _watermark.reset(token)


def _stamp(fig: Any, text: str) -> None:
    """Large, light, diagonal text over the whole figure, with a small solid line at the foot."""
    fig.text(0.5, 0.5, text, transform=fig.transFigure, ha="center", va="center", rotation=25,
             fontsize=34, color=_RED, alpha=0.18, fontweight="bold", zorder=1000)
    fig.text(0.995, 0.005, text, transform=fig.transFigure, ha="right", va="bottom", fontsize=8,
             color=_RED, zorder=1000)


def _save(fig: Any, path: Path) -> Path:
    """Write the PNG whole via a rename (a temporary file named as data.write_text_atomic names its own,
    with the user's umask), then free the figure; a full disk raises DiskFullError naming ``path``."""
    text = _watermark.get()
    if text:
        _stamp(fig, text)
    try:
        with reporting_disk_full(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_file_for(path)
            try:
                with os.fdopen(fd, "wb") as handle:
                    fig.savefig(handle, dpi=DPI, bbox_inches="tight", format="png")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    finally:
        plt.close(fig)
    return path


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666")


def rouge_histogram(scores: Sequence[float], path: Path, *, title: str, xlabel: str,
                    markers: Sequence[tuple[float, str]] = ()) -> Path:
    """Histogram of ROUGE-L F scores in 0.05-wide bins over [0, 1] (the paper's Figure 3), with dotted
    vertical lines at ``markers`` (value, legend label)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bins = np.linspace(0.0, 1.0, 21)
    if scores:
        ax.hist(scores, bins=bins, color=_BLUE, edgecolor="white")
        m = float(np.mean(scores))
        ax.axvline(m, color=_ORANGE, linestyle="--", linewidth=1.5, label=f"mean {m:.3f}")
    else:
        _empty(ax, "no instructions")
    for k, (value, label) in enumerate(markers):
        ax.axvline(value, color=(_RED, _GREEN, "#8172B3")[k % 3], linestyle=":", linewidth=1.5, label=label)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of instructions")
    ax.set_title(title)
    if scores or markers:
        ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _length_panel(ax: Any, values: Sequence[int], title: str, colour: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("length (words)")
    ax.set_ylabel("count")
    ax.grid(axis="y", alpha=0.3)
    if not values:
        _empty(ax, "none")
        return
    arr = np.asarray(values)
    cap = int(np.percentile(arr, 99)) if len(arr) >= 100 else int(arr.max())
    cap = max(cap, 1)
    clipped = int((arr > cap).sum())
    width = max(1, int(np.ceil(cap / 40)))
    bins = np.arange(0, cap + width + 1, width)
    ax.hist(np.minimum(arr, cap), bins=bins, color=colour, edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    note = f"n={len(arr)}, mean {arr.mean():.1f}"
    if clipped:
        note += f"\n{clipped} longer than {cap} shown at {cap}"
    ax.text(0.97, 0.95, note, ha="right", va="top", transform=ax.transAxes, fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#DDDDDD"})


def length_histograms(instructions: Sequence[int], inputs: Sequence[int], outputs: Sequence[int], path: Path,
                      *, suptitle: str) -> Path:
    """Three histograms: instruction, non-empty input and output lengths (the paper's Figure 4)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    _length_panel(axes[0], instructions, "Instructions", _BLUE)
    _length_panel(axes[1], inputs, "Non-empty inputs", _GREEN)
    _length_panel(axes[2], outputs, "Outputs", _ORANGE)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return _save(fig, path)


def verb_object_bars(verbs: Sequence[tuple[str, int]], objects: dict[str, list[tuple[str, int]]], path: Path,
                     *, title: str) -> Path:
    """The top leading verbs as horizontal bars, each split into its top objects (the paper's Figure 2
    as bars)."""
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.42 * len(verbs) + 1.4)))
    if not verbs:
        _empty(ax, "no leading verbs found")
    longest = max((n for _, n in verbs), default=1)
    for row, (verb, n) in enumerate(verbs):
        left = 0
        for k, (obj, m) in enumerate(objects.get(verb, [])):
            ax.barh(row, m, left=left, color=_OBJECT_COLOURS[k % len(_OBJECT_COLOURS)], edgecolor="white")
            room = int(m / longest * 90)  # characters that fit in the segment at this font size
            text = obj if len(obj) <= room else (obj[:room - 1] + "…" if room >= 4 else "")
            if text:
                ax.text(left + m / 2, row, text, ha="center", va="center", fontsize=7, color="white")
            left += m
        if n > left:
            ax.barh(row, n - left, left=left, color=_GREY, edgecolor="white")
        ax.text(n + longest * 0.01, row, str(n), va="center", fontsize=8)
    ax.set_yticks(range(len(verbs)), [v for v, _ in verbs])
    ax.invert_yaxis()
    ax.set_xlim(0, longest * 1.08 if verbs else 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of instructions (coloured: its most common objects; grey: other or none)")
    ax.set_ylabel("leading verb")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _wrap(label: str, width: int = 28) -> str:
    """Wrap at spaces only: an override such as filters.rouge.threshold=0.5 stays on one line."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=False, break_on_hyphens=False)) or label


def sweep_bars(labels: Sequence[str], panels: Sequence[tuple[str, str, Sequence[float | None]]], path: Path,
               *, title: str) -> Path:
    """One bar chart panel per measure, one bar per job (missing values marked n/a)."""
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(max(10, 1.6 * len(labels) * cols), 3.6 * rows), squeeze=False)
    x = np.arange(len(labels))
    colours = [_BLUE, _ORANGE, _GREEN, _RED, "#8172B3", "#937860"]
    for i, (name, unit, values) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(x, heights, color=colours[i % len(colours)])
        for bar, v in zip(bars, values):
            text = "n/a" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_title(name)
        ax.set_ylabel(unit)
        ax.set_xlabel("job")
        ax.set_xticks(x, [_wrap(label) for label in labels], fontsize=8,
                      rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
        top = max((h for h in heights), default=0.0)
        ax.set_ylim(0, top * 1.18 if top > 0 else 1)
        ax.grid(axis="y", alpha=0.3)
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


# Figure 5's rating levels: green (valid) through red (invalid); grey for replies with no rating
RATING_COLOURS = {"A": "#1B7837", "B": "#7FBF7B", "C": "#F4A582", "D": "#D6604D", "unparsed": _GREY}
RATING_LEGEND = {"A": "A: valid and satisfying", "B": "B: acceptable, minor imperfections",
                 "C": "C: responds, significant errors", "D": "D: irrelevant or invalid",
                 "unparsed": "no rating in the judge's reply"}


def rating_bars(labels: Sequence[str], shares_by_level: dict[str, Sequence[float]], path: Path, *,
                title: str = "Ratings of the responses") -> Path:
    """One horizontal 100% bar per model, split into the judge's ratings A-D (the paper's Figure 5);
    ``shares_by_level`` maps a level (A, B, C, D, 'unparsed') to one share in [0, 1] per label.
    The unparsed segment is drawn only where some model has one, so a clean run has the paper's legend."""
    levels = [lv for lv in RATING_COLOURS if lv != "unparsed" or any(shares_by_level.get(lv, ()))]
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.6 * max(len(labels), 1.5)))
    if not labels:
        _empty(ax, "no ratings")
    for level in levels:  # one legend entry per level, even where no model has it
        ax.barh(0, 0, color=RATING_COLOURS[level], label=RATING_LEGEND[level])
    for row in range(len(labels)):
        left = 0.0
        for level in levels:
            value = 100 * float((list(shares_by_level.get(level) or []) + [0.0] * len(labels))[row] or 0.0)
            if value <= 0:
                continue
            ax.barh(row, value, left=left, height=0.65, color=RATING_COLOURS[level], edgecolor="white")
            if value >= 5:
                ax.text(left + value / 2, row, f"{value:.0f}%", ha="center", va="center", fontsize=8,
                        color="white" if level in ("A", "D") else "black")
            left += value
    ax.set_yticks(range(len(labels)), [_wrap(label, 30) for label in labels], fontsize=9)
    ax.set_ylim(len(labels) - 0.5 if labels else 0.5, -0.5)  # first model on top
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of rated responses")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False, title="rating",
              title_fontsize=8)
    return _save(fig, path)


def loss_curve(steps: Sequence[float], losses: Sequence[float], path: Path, *, title: str) -> Path:
    """The training loss by step (the local backend's curve): does it go down, and does it flatten?"""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    if steps:
        ax.plot(steps, losses, color=_BLUE, marker="o" if len(steps) < 40 else None, markersize=3, linewidth=1.5)
    else:
        _empty(ax, "no loss logged")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)
