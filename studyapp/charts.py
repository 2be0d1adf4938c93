"""Small PNG charts for the dashboard (matplotlib, Agg backend): pictures first."""

import io
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

COLOURS = {"started": "#2f5bd3", "completed": "#1f7a3a", "excluded": "#a23b00"}
SIZE = (6.4, 2.8)


def _time_axis(axis, times: list[datetime], unit: timedelta = timedelta(0)) -> None:
    """The data's own time span (padded by 5 %, at least a minute each side) with a few
    concise ticks; the label names the time zone of the data."""
    first, last = min(times), max(times) + unit
    pad = max((last - first) * 0.05, timedelta(minutes=1))
    axis.set_xlim(first - pad, last + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6, tz=first.tzinfo)
    axis.xaxis.set_major_locator(locator)
    # seconds as "07:42:30", not a bare "30" between "07:42" and "07:43"
    formats = ["%Y", "%b", "%d", "%H:%M", "%H:%M", "%H:%M:%S"]
    formatter = mdates.ConciseDateFormatter(locator, tz=first.tzinfo, formats=formats)
    axis.xaxis.set_major_formatter(formatter)
    axis.set_xlabel(f"time ({first.tzname()})" if first.tzname() else "time")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _empty(message: str) -> bytes:
    figure, axis = plt.subplots(figsize=SIZE)
    axis.text(0.5, 0.5, message, ha="center", va="center", color="#5b6475")
    axis.set_axis_off()
    return _png(figure)


def participants_over_time(timeline: list[dict]) -> bytes:
    """Cumulative participants started, completed and excluded."""
    if not timeline:
        return _empty("No participants yet")
    figure, axis = plt.subplots(figsize=SIZE)
    started = sorted(t["started_at"] for t in timeline)
    completed = sorted(t["completed_at"] for t in timeline if t["completed_at"])
    excluded = sorted(t["started_at"] for t in timeline if t["excluded"])
    for label, times in (("started", started), ("completed", completed), ("excluded", excluded)):
        if times:
            axis.step(
                times,
                np.arange(1, len(times) + 1),
                where="post",
                marker="o",  # a single participant is a dot, not an invisible step
                markersize=3,
                label=f"{label} ({len(times)})",
                color=COLOURS[label],
            )
    axis.set_ylabel("participants")
    axis.legend(loc="upper left", frameon=False)
    _time_axis(axis, started + completed)
    return _png(figure)


TIME_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def responses_figure(unit: str, counts: list[tuple[datetime, int]]):
    """Responses per ``unit`` ("minute", "hour" or "day"): one bar per bucket start."""
    figure, axis = plt.subplots(figsize=SIZE)
    width = TIME_UNITS[unit]
    starts = [start for start, _ in counts]
    counted = [n for _, n in counts]
    axis.bar(starts, counted, width=width * 0.9, align="edge", color=COLOURS["started"])
    axis.set_ylabel(f"responses per {unit}")
    _time_axis(axis, starts, width)
    return figure


def responses_over_time(unit: str, counts: list[tuple[datetime, int]]) -> bytes:
    if not counts:
        return _empty("No responses yet")
    return _png(responses_figure(unit, counts))


def rt_distribution(rts_ms: list[float]) -> bytes:
    if not rts_ms:
        return _empty("No responses yet")
    figure, axis = plt.subplots(figsize=SIZE)
    values = np.clip(np.asarray(rts_ms, dtype=float), 50, None)
    low, high = values.min(), values.max()
    bins = np.geomspace(low / 1.2, max(high, low * 1.5) * 1.2, 40)  # also when all RTs are equal
    axis.hist(values, bins=bins, color=COLOURS["started"])
    axis.set_xscale("log")
    axis.axvline(
        np.median(values), color="black", linestyle="--", label=f"median {np.median(values):.0f} ms"
    )
    axis.set_xlabel("reaction time (ms, log scale)")
    axis.set_ylabel("main trials")
    axis.legend(frameon=False)
    return _png(figure)


def dropout_points(fractions: list[float]) -> bytes:
    if not fractions:
        return _empty("No participant has left early")
    figure, axis = plt.subplots(figsize=SIZE)
    axis.hist(np.asarray(fractions) * 100, bins=np.linspace(0, 100, 21), color=COLOURS["excluded"])
    axis.set_xlabel("left after this % of their trials")
    axis.set_ylabel("sessions")
    return _png(figure)
