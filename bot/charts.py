"""PNG charts drawn with matplotlib, headless (the Agg backend: no screen, no GUI toolkit).

Pure functions of plain data (labels, numbers, texts already said in the reader's language), so they run in
the worker process (bot/offload.in_worker) and the event loop never waits for a drawing."""

from __future__ import annotations

import io
from collections.abc import Sequence

WIDTH, HEIGHT, DPI = 8, 4, 100  # inches and dots per inch: an 800 x 400 pixel image, readable in a chat
PIXELS = (WIDTH * DPI, HEIGHT * DPI)


def _figure():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never look for a display
    from matplotlib.figure import Figure

    # A Figure without pyplot keeps no global state between charts drawn in the same worker.
    return Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)  # no bbox_inches="tight": the size stays exactly PIXELS
    return out.getvalue()


def meeting_rate_png(points: Sequence[tuple[str, float | None]], title: str, y_label: str) -> bytes:
    """The meeting rate per week as a line (weeks without a closed check-in are gaps), 0-100%."""
    fig = _figure()
    ax = fig.add_subplot()
    labels = [week for week, _ in points]
    values = [float("nan") if v is None else v for _, v in points]
    ax.plot(range(len(points)), values, marker="o", color="#2e7d32")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.set_ylabel(y_label)
    _week_ticks(ax, labels)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def health_png(history: Sequence[tuple[str, dict[str, int]]], states: Sequence[tuple[str, str]],
               title: str, y_label: str) -> bytes:
    """Pairs in each health state over time, stacked; `states` are (state key, label) in stacking order."""
    fig = _figure()
    ax = fig.add_subplot()
    labels = [day for day, _ in history]
    series = [[counts.get(key, 0) for _, counts in history] for key, _ in states]
    ax.stackplot(range(len(history)), *series, labels=[label for _, label in states])
    ax.set_title(title)
    ax.set_ylabel(y_label)
    _week_ticks(ax, labels)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return _png(fig)


def _week_ticks(ax, labels: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    # At most about 12 labels, so a year of weeks stays readable.
    step = max(1, len(labels) // 12 + (len(labels) % 12 > 0))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize="small")
