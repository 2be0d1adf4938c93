"""Dashboard charts render for ordinary, empty and degenerate data."""

from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pytest

from studyapp import charts

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
PNG = b"\x89PNG"


@pytest.mark.parametrize(
    "make",
    [
        lambda: charts.participants_over_time([]),
        lambda: charts.participants_over_time(
            [
                {
                    "started_at": T0 + timedelta(minutes=i),
                    "completed_at": T0 + timedelta(minutes=i + 5) if i % 2 else None,
                    "excluded": i == 3,
                }
                for i in range(6)
            ]
        ),
        lambda: charts.responses_over_time("hour", []),
        lambda: charts.responses_over_time("hour", [(T0, 10), (T0 + timedelta(hours=1), 25)]),
        lambda: charts.rt_distribution([]),
        lambda: charts.rt_distribution([900.0] * 20),  # every RT equal
        lambda: charts.rt_distribution([10.0, 400.0, 2500.0, 60000.0]),
        lambda: charts.dropout_points([]),
        lambda: charts.dropout_points([0.1, 0.5, 0.5]),
    ],
)
def test_charts_are_pngs(make):
    assert make().startswith(PNG)


def test_two_minutes_of_responses_span_two_minutes_not_an_hour():
    figure = charts.responses_figure("minute", [(T0, 12), (T0 + timedelta(minutes=1), 7)])
    axis = figure.axes[0]
    low, high = (mdates.num2date(x) for x in axis.get_xlim())
    plt.close(figure)
    assert len(axis.patches) == 2
    assert timedelta(minutes=2) < high - low <= timedelta(minutes=5)
    assert axis.get_ylabel() == "responses per minute"
    assert axis.get_xlabel() == "time (UTC)"


def test_time_ticks_are_few_and_readable():
    figure = charts.responses_figure("minute", [(T0 + timedelta(minutes=i), 3) for i in range(90)])
    figure.canvas.draw()
    axis = figure.axes[0]
    labels = [tick.get_text() for tick in axis.get_xticklabels() if tick.get_text()]
    plt.close(figure)
    assert 3 <= len(labels) <= 7
    assert all(len(label) <= 5 for label in labels), labels  # "10:30", not full timestamps


def test_second_ticks_name_their_minute():
    figure, axis = plt.subplots()
    charts._time_axis(axis, [T0, T0 + timedelta(seconds=10)])  # two minutes wide with padding
    figure.canvas.draw()
    labels = [tick.get_text() for tick in axis.get_xticklabels() if tick.get_text()]
    plt.close(figure)
    assert any(label.count(":") == 2 for label in labels), labels  # a tick between minutes
    assert all(":" in label for label in labels), labels  # "09:59:30", not a bare "30"
