"""Parse and type-check JSON request bodies of the participant API; the declared size of any
request body (`declared_length`), for the upload views."""

import json
import math
import re
import reprlib
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils import timezone

from studyapp.errors import BadRequest, PayloadTooLarge, Unprocessable

MAX_VIEWPORT_PX = 100_000
# Per trial: more tab switches, blurs or restarts than this are not a participant's doing.
MAX_EVENTS_PER_TRIAL = 10_000
MAX_TRIAL_MS = 24 * 3600 * 1000
# JSON integers longer than this are refused while parsing (no field needs more than 2**62).
MAX_INTEGER_DIGITS = 19
# Text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates).
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"integers must have at most {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _unstorable_text(data: object) -> str | None:
    """The first string (key or value) in parsed JSON that cannot be stored, if any."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and UNSTORABLE_TEXT.search(item):
            return item
    return None


def declared_length(request: HttpRequest) -> int:
    """The body size the client declares (Content-Length), so that an upload can be refused
    before it is read. 0 when absent or not a number (Django then reads no body); a number of
    more than 19 digits counts as the largest size, not as an error."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not (declared.isascii() and declared.isdigit()):
        return 0
    return sys.maxsize if len(declared) > MAX_INTEGER_DIGITS else int(declared)


def declared_size(declared: int) -> str:
    """A ``declared_length`` for a message: "1,234 bytes", or what a 20-digit length declares."""
    if declared == sys.maxsize:
        return f"a length of more than {MAX_INTEGER_DIGITS} digits"
    return f"{declared:,} bytes"


def read_json_object(request: HttpRequest, max_bytes: int) -> dict:
    """The request body as a JSON object, or a 4xx error that says what is wrong."""
    if declared_length(request) > max_bytes:
        raise PayloadTooLarge("too_large", f"The body must be at most {max_bytes} bytes.")
    try:
        body = request.body
    except RequestDataTooBig as error:
        raise PayloadTooLarge(
            "too_large", f"The body must be at most {max_bytes} bytes."
        ) from error
    if len(body) > max_bytes:
        raise PayloadTooLarge("too_large", f"The body must be at most {max_bytes} bytes.")
    try:
        data = json.loads(body, parse_int=_bounded_int)
    except RecursionError as error:
        raise BadRequest("invalid_json", "The body is nested too deeply.") from error
    except ValueError as error:  # also JSONDecodeError and UnicodeDecodeError
        raise BadRequest("invalid_json", f"The body is not valid JSON: {error}.") from error
    if not isinstance(data, dict):
        raise BadRequest("invalid_json", "The body must be a JSON object.")
    if _unstorable_text(data) is not None:
        raise BadRequest(
            "invalid_text", "Text in the body must not contain NUL characters or lone surrogates."
        )
    return data


@dataclass(frozen=True)
class ResponsePayload:
    """A participant's answer to one trial, as sent by the trial runner."""

    trial: int
    rt_ms: float
    choice: int | None = None
    rating: float | None = None
    responded_at: datetime | None = None
    viewport_width: int | None = None
    viewport_height: int | None = None
    refresh_ms: float | None = None
    stimulus_onset_ms: float | None = None
    stimulus_offset_ms: float | None = None
    too_slow: bool = False
    hidden_count: int = 0
    blur_count: int = 0
    fullscreen_exits: int = 0
    interrupted_attempts: int = 0
    bubbles_seed: int | None = None
    bubbles_count: int | None = None
    bubbles_level: float | None = None
    positions: dict[str, list[float]] | None = None
    moves: list[list[float]] | None = None


RESPONSE_FIELDS = {
    "trial",
    "rt_ms",
    "choice",
    "rating",
    "responded_at",
    "viewport",
    "timing",
    "visibility",
    "interrupted_attempts",
    "bubbles",
    "arrangement",
}
ARRANGEMENT_FIELDS = {"positions", "moves"}
MAX_ARRANGEMENT_FACES = 200
MAX_MOVES = 5000
ARENA_TOLERANCE = 1e-6  # positions may reach the rim (radius 1) up to float rounding
BUBBLES_FIELDS = {"seed", "count", "level"}
TIMING_FIELDS = {"refresh_ms", "stimulus_onset_ms", "stimulus_offset_ms", "too_slow"}
VISIBILITY_FIELDS = {"hidden", "blur", "fullscreen_exits"}


def parse_response(data: dict) -> ResponsePayload:
    """Type-check a response body; the meaning (is the choice allowed?) is checked later."""
    unknown = sorted(set(data) - RESPONSE_FIELDS)
    if unknown:
        raise BadRequest("unknown_field", f"Unknown fields: {', '.join(unknown)}.", unknown[0])
    viewport = _object(data, "viewport", {"width", "height"})
    timing = _object(data, "timing", TIMING_FIELDS)
    visibility = _object(data, "visibility", VISIBILITY_FIELDS)
    bubbles = _object(data, "bubbles", BUBBLES_FIELDS)
    onset = _number(timing, "stimulus_onset_ms", low=0, high=MAX_TRIAL_MS, name="timing")
    offset = _number(timing, "stimulus_offset_ms", low=0, high=MAX_TRIAL_MS, name="timing")
    if onset is not None and offset is not None and offset < onset:
        raise BadRequest(
            "out_of_range",
            f"'stimulus_offset_ms' must not precede 'stimulus_onset_ms'; got {offset} < {onset}.",
            "timing",
        )
    refresh = _number(timing, "refresh_ms", low=0, high=1000, name="timing")
    if refresh == 0:
        raise BadRequest("out_of_range", "'refresh_ms' must be above 0.", "timing")
    too_slow = timing.get("too_slow", False)
    if not isinstance(too_slow, bool):
        raise BadRequest(
            "invalid_type",
            f"'too_slow' must be true or false; got {reprlib.repr(too_slow)}.",
            "timing",
        )
    events = {"low": 0, "high": MAX_EVENTS_PER_TRIAL, "name": "visibility"}
    positions, moves = _arrangement(_object(data, "arrangement", ARRANGEMENT_FIELDS))
    return ResponsePayload(
        trial=_integer(data, "trial", required=True),
        rt_ms=_number(data, "rt_ms", required=True),
        choice=_integer(data, "choice"),
        rating=_number(data, "rating"),
        responded_at=_timestamp(data, "responded_at"),
        viewport_width=_integer(viewport, "width", low=0, high=MAX_VIEWPORT_PX, name="viewport"),
        viewport_height=_integer(viewport, "height", low=0, high=MAX_VIEWPORT_PX, name="viewport"),
        refresh_ms=refresh,
        stimulus_onset_ms=onset,
        stimulus_offset_ms=offset,
        too_slow=too_slow,
        hidden_count=_integer(visibility, "hidden", **events) or 0,
        blur_count=_integer(visibility, "blur", **events) or 0,
        fullscreen_exits=_integer(visibility, "fullscreen_exits", **events) or 0,
        interrupted_attempts=_integer(
            data, "interrupted_attempts", low=0, high=MAX_EVENTS_PER_TRIAL
        )
        or 0,
        bubbles_seed=_integer(bubbles, "seed", name="bubbles"),
        bubbles_count=_integer(bubbles, "count", name="bubbles"),
        bubbles_level=_number(bubbles, "level", low=0, high=100, name="bubbles"),
        positions=positions,
        moves=moves,
    )


def _arrangement(arrangement: dict) -> tuple[dict | None, list | None]:
    """An arrangement answer's ``positions`` ({stimulus id: [x, y]}, in the unit disc) and
    ``moves`` ([[ms, stimulus id, x, y], ...] in time order); (None, None) when absent.
    Whether the ids are the trial's faces is checked with the trial (``studyapp.arrangement``).
    """
    if not arrangement:
        return None, None
    positions = arrangement.get("positions")
    if not isinstance(positions, dict) or not 0 < len(positions) <= MAX_ARRANGEMENT_FACES:
        raise BadRequest(
            "invalid_type",
            f"'arrangement.positions' must be an object of 1 to {MAX_ARRANGEMENT_FACES} "
            f"positions; got {reprlib.repr(positions)}.",
            "arrangement",
        )
    checked = {key: _arena_point(value, f"positions[{key!r}]") for key, value in positions.items()}
    moves = arrangement.get("moves", [])
    if not isinstance(moves, list) or len(moves) > MAX_MOVES:
        raise BadRequest(
            "invalid_type",
            f"'arrangement.moves' must be a list of at most {MAX_MOVES} moves.",
            "arrangement",
        )
    parsed, last = [], 0.0
    for k, move in enumerate(moves):
        if not isinstance(move, list) or len(move) != 4:
            raise BadRequest(
                "invalid_type", f"'arrangement.moves[{k}]' must be [ms, id, x, y].", "arrangement"
            )
        ms, item = move[0], move[1]
        if not _finite(ms) or not last <= ms <= MAX_TRIAL_MS:
            raise BadRequest(
                "out_of_range",
                f"'arrangement.moves[{k}]' must have a time in [{last}, {MAX_TRIAL_MS}] ms "
                f"(moves in time order); got {reprlib.repr(ms)}.",
                "arrangement",
            )
        if isinstance(item, bool) or not isinstance(item, int):
            raise BadRequest(
                "invalid_type",
                f"'arrangement.moves[{k}]' must name a stimulus id; got {reprlib.repr(item)}.",
                "arrangement",
            )
        parsed.append([float(ms), item, *_arena_point(move[2:], f"moves[{k}]")])
        last = ms
    return checked, parsed


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _arena_point(value: object, name: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 2 or not all(_finite(v) for v in value):
        raise BadRequest(
            "invalid_type",
            f"'arrangement.{name}' must be [x, y] numbers; got {reprlib.repr(value)}.",
            "arrangement",
        )
    x, y = (float(v) for v in value)
    if x * x + y * y > 1 + ARENA_TOLERANCE:
        raise BadRequest(
            "out_of_range",
            f"'arrangement.{name}' must lie in the arena (x² + y² <= 1); got [{x}, {y}].",
            "arrangement",
        )
    return [x, y]


def _object(data: dict, key: str, fields: set[str]) -> dict:
    """An optional nested object with only the given keys ({} when absent)."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("invalid_type", f"'{key}' must be an object.", key)
    unknown = sorted(set(value) - fields)
    if unknown:
        raise BadRequest("unknown_field", f"Unknown fields in '{key}': {', '.join(unknown)}.", key)
    return value


def _integer(
    data: dict,
    key: str,
    *,
    required: bool = False,
    low: int = 0,
    high: int = 2**62,
    name: str | None = None,
) -> int | None:
    value = data.get(key)
    field = name or key
    if value is None:
        if required:
            raise BadRequest("missing_field", f"'{key}' is required.", field)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(
            "invalid_type", f"'{key}' must be an integer; got {reprlib.repr(value)}.", field
        )
    if not low <= value <= high:
        raise BadRequest("out_of_range", f"'{key}' must be in [{low}, {high}]; got {value}.", field)
    return value


def _number(
    data: dict,
    key: str,
    *,
    required: bool = False,
    low: float = -math.inf,
    high: float = math.inf,
    name: str | None = None,
) -> float | None:
    value = data.get(key)
    field = name or key
    if value is None:
        if required:
            raise BadRequest("missing_field", f"'{key}' is required.", field)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(
            "invalid_type", f"'{key}' must be a finite number; got {reprlib.repr(value)}.", field
        )
    if not low <= value <= high:
        raise BadRequest("out_of_range", f"'{key}' must be in [{low}, {high}]; got {value}.", field)
    return float(value)


def _timestamp(data: dict, key: str) -> datetime | None:
    """An ISO 8601 time with a zone, within ``PARTICIPANT_CLOCK_WINDOW_HOURS`` of now."""
    value = data.get(key)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(
            "invalid_type",
            f"'{key}' must be an ISO 8601 time with a zone; got {reprlib.repr(value)}.",
            key,
        )
    window = timedelta(hours=settings.PARTICIPANT_CLOCK_WINDOW_HOURS)
    now = timezone.now()
    if not now - window <= parsed <= now + window:
        raise Unprocessable(
            "implausible_time",
            f"'{key}' must be within {settings.PARTICIPANT_CLOCK_WINDOW_HOURS} hours of the "
            f"server's time ({now.isoformat(timespec='seconds')}); got {value}.",
            key,
        )
    return parsed
