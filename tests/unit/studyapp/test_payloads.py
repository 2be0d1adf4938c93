"""Type checks of participant response bodies."""

from datetime import UTC, datetime, timedelta

import pytest

from studyapp.errors import BadRequest
from studyapp.payloads import parse_response


def test_a_full_payload_is_parsed():
    # within FACESIM_PARTICIPANT_CLOCK_WINDOW_HOURS of the server's clock
    responded = datetime.now(UTC) - timedelta(minutes=5)
    payload = parse_response(
        {
            "trial": 3,
            "rt_ms": 812.5,
            "choice": 17,
            "responded_at": responded.isoformat(),
            "viewport": {"width": 1280, "height": 720},
        }
    )
    assert (payload.trial, payload.choice, payload.rt_ms) == (3, 17, 812.5)
    assert payload.responded_at == responded
    assert (payload.viewport_width, payload.viewport_height) == (1280, 720)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"rt_ms": 500}, "missing_field", "trial"),
        ({"trial": 1}, "missing_field", "rt_ms"),
        ({"trial": "1", "rt_ms": 500}, "invalid_type", "trial"),
        ({"trial": 1.5, "rt_ms": 500}, "invalid_type", "trial"),
        ({"trial": True, "rt_ms": 500}, "invalid_type", "trial"),
        ({"trial": -1, "rt_ms": 500}, "out_of_range", "trial"),
        ({"trial": 1, "rt_ms": "fast"}, "invalid_type", "rt_ms"),
        ({"trial": 1, "rt_ms": 500, "choice": [1]}, "invalid_type", "choice"),
        ({"trial": 1, "rt_ms": 500, "rating": "7"}, "invalid_type", "rating"),
        ({"trial": 1, "rt_ms": 500, "responded_at": "yesterday"}, "invalid_type", "responded_at"),
        (
            {"trial": 1, "rt_ms": 500, "responded_at": "2026-11-25T10:00:00"},
            "invalid_type",
            "responded_at",
        ),
        ({"trial": 1, "rt_ms": 500, "viewport": [1, 2]}, "invalid_type", "viewport"),
        ({"trial": 1, "rt_ms": 500, "viewport": {"width": -5}}, "out_of_range", "viewport"),
        ({"trial": 1, "rt_ms": 500, "admin": True}, "unknown_field", "admin"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(body, code, field):
    with pytest.raises(BadRequest) as error:
        parse_response(body)
    assert error.value.code == code
    assert error.value.field == field
    assert error.value.status == 400
