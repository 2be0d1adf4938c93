"""Dashboard charts render for ordinary, empty and degenerate data."""

from datetime import UTC, datetime, timedelta

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
        lambda: charts.responses_per_hour([]),
        lambda: charts.responses_per_hour([(T0, 10), (T0 + timedelta(hours=1), 25)]),
        lambda: charts.rt_distribution([]),
        lambda: charts.rt_distribution([900.0] * 20),  # every RT equal
        lambda: charts.rt_distribution([10.0, 400.0, 2500.0, 60000.0]),
        lambda: charts.dropout_points([]),
        lambda: charts.dropout_points([0.1, 0.5, 0.5]),
    ],
)
def test_charts_are_pngs(make):
    assert make().startswith(PNG)
