"""CSV exports streamed from PostgreSQL with COPY (constant memory): a study's responses in
long format, its participants (one row per session, screened-out ones included) and their
attributes (questionnaire answers, attached columns).

Text cells a spreadsheet could run as a formula get a leading ``'`` (``csv_safe``).
"""

from collections.abc import Iterator

from django.db import connection, transaction
from psycopg import sql

from studyapp.bubbles import DEFAULTS as BUBBLES_DEFAULTS
from studyapp.models import Study

# As in ``analysis.csv_cells`` (the pandas side; a test keeps the two equal). Not imported from
# there: ``analysis`` loads scipy and pandas, which web workers do not import.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _sql_text(values) -> str:
    return ", ".join(f"chr({ord(v)})" for v in values)


def csv_safe(expression: str) -> str:
    """SQL for ``expression`` as ``analysis.csv_cells.neutralise_cell`` writes it (OWASP CSV
    injection): a leading ``'`` before ``= + - @``, tab and carriage return, reversibly."""
    return (
        f"CASE WHEN left({expression}, 1) IN ({_sql_text(TRIGGERS)}) "
        f"OR (left({expression}, 1) = chr({ord(QUOTE)}) "
        f"AND substr({expression}, 2, 1) IN ({_sql_text((*TRIGGERS, QUOTE))})) "
        f"THEN chr({ord(QUOTE)}) || {expression} ELSE {expression} END"
    )


# ISO 8601 in UTC ("2026-12-01T22:48:11.878952Z"): the timestamp's text form under DateStyle
# ISO (set for the query), which PostgreSQL writes much faster than to_char with a pattern.
_ISO_UTC = "replace(({} AT TIME ZONE 'UTC')::text, ' ', 'T') || 'Z'"
# Bubbles trials: judging a label (one item), ``choice`` is the label value answered (the
# response stores its index in the sorted values, ``studyapp.bubbles.label_options``); matching
# (reference and two candidates), the candidate chosen.  Both with the trial's seed, the count
# shown, the aperture sigma and the staircase level. The values are listed once per export.
_BUBBLES_SIGMA = f"COALESCE((s.bubbles ->> 'sigma')::float, {BUBBLES_DEFAULTS['sigma']})"
_LABEL_ANSWER = "t.trial_type = 'bubbles' AND cardinality(t.items) = 1"
_CHOICE = f"CASE WHEN {_LABEL_ANSWER} THEN o.options[r.choice + 1] ELSE sc.name END"
# Arrangement trials: no item columns; ``positions`` is JSON {stimulus name: [x, y]} (arena
# radii from the centre, y down) and ``moves`` JSON [[ms, stimulus name, x, y], ...] in order.
_POSITIONS = """(SELECT jsonb_object_agg(x.name, r.positions -> x.id::text)
  FROM studyapp_stimulus x WHERE x.id = ANY(t.items))"""
_MOVES = """(SELECT jsonb_agg(jsonb_build_array(m -> 0, x.name, m -> 2, m -> 3) ORDER BY k)
  FROM jsonb_array_elements(r.moves) WITH ORDINALITY AS e(m, k)
  JOIN studyapp_stimulus x ON x.id = (m ->> 1)::bigint)"""
RESPONSES_QUERY = f"""
WITH bubbles_options AS (
  SELECT array_agg(DISTINCT x.labels ->> (st.bubbles ->> 'label')
                   ORDER BY x.labels ->> (st.bubbles ->> 'label')) AS options
  FROM studyapp_study st JOIN studyapp_stimulus x ON x.stimulus_set_id = st.stimulus_set_id
  WHERE st.id = {{study_id}} AND st.bubbles ->> 'label' IS NOT NULL
)
SELECT {csv_safe("s.slug")} AS study,
       p.pseudonym AS participant,
       CASE WHEN p.excluded THEN 'excluded' ELSE p.status END AS participant_status,
       t.index AS trial_index, t.block, t.trial_type, t.role,
       (SELECT o.index FROM studyapp_trial o WHERE o.id = t.repeat_of_id) AS repeat_of,
       {csv_safe("s1.name")} AS item_1, {csv_safe("s2.name")} AS item_2,
       {csv_safe("s3.name")} AS item_3, {csv_safe(_CHOICE)} AS choice, r.rating,
       split_part(s.rating_scale, '-', 1)::int AS rating_min,
       split_part(s.rating_scale, '-', 2)::int AS rating_max,
       CASE r.correct WHEN true THEN 'true' WHEN false THEN 'false' END AS correct,
       r.rt_ms,
       {_ISO_UTC.format("r.responded_at")} AS responded_at,
       {_ISO_UTC.format("r.received_at")} AS received_at,
       r.viewport_width, r.viewport_height,
       r.refresh_ms, r.stimulus_onset_ms, r.stimulus_offset_ms,
       r.stimulus_offset_ms - r.stimulus_onset_ms AS exposure_measured_ms,
       CASE WHEN r.too_slow THEN 'true' ELSE 'false' END AS too_slow,
       r.hidden_count, r.blur_count, r.fullscreen_exits, r.interrupted_attempts,
       t.bubbles_seed, r.bubbles_count,
       CASE WHEN t.trial_type = 'bubbles' THEN {_BUBBLES_SIGMA} END AS bubbles_sigma,
       r.bubbles_level,
       CASE WHEN t.trial_type = 'arrangement' THEN {_POSITIONS} END AS positions,
       CASE WHEN t.trial_type = 'arrangement' THEN {_MOVES} END AS moves
FROM studyapp_response r
CROSS JOIN bubbles_options o
JOIN studyapp_trial t ON t.id = r.trial_id
JOIN studyapp_participant p ON p.id = t.participant_id
JOIN studyapp_study s ON s.id = p.study_id
LEFT JOIN studyapp_stimulus s1 ON s1.id = t.items[1] AND t.trial_type <> 'arrangement'
LEFT JOIN studyapp_stimulus s2 ON s2.id = t.items[2] AND t.trial_type <> 'arrangement'
LEFT JOIN studyapp_stimulus s3 ON s3.id = t.items[3] AND t.trial_type <> 'arrangement'
LEFT JOIN studyapp_stimulus sc ON sc.id = r.choice AND NOT ({_LABEL_ANSWER})
WHERE p.study_id = {{study_id}}
ORDER BY t.participant_id, t.index
"""


ATTRIBUTES_QUERY = f"""
SELECT p.pseudonym AS participant,
       CASE WHEN p.excluded THEN 'excluded' ELSE p.status END AS participant_status,
       a.source, {csv_safe("a.key")} AS attribute, {csv_safe("a.value")} AS value
FROM studyapp_participantattribute a
JOIN studyapp_participant p ON p.id = a.participant_id
WHERE p.study_id = {{study_id}}
ORDER BY p.id, a.key
"""


def attributes_csv_chunks(*, study: Study, block_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """The participant attributes (questionnaire answers, attached columns), one per row."""
    yield from _copy_csv(ATTRIBUTES_QUERY, study=study, block_bytes=block_bytes)


def responses_csv_chunks(*, study: Study, block_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """Yield the CSV (header first) in blocks of about ``block_bytes``; memory stays flat.

    PostgreSQL sends one message per row; joining them into blocks keeps the per-chunk cost
    of the WSGI server out of the loop. ``work_mem`` is raised for this query only, so the
    sort by participant and trial stays in memory instead of spilling to disk. The original of
    a repeated trial is looked up by a subquery (run for repeats only), not a self-join, which
    would hash every trial of the study (1,000,000 responses: 3.3-3.6 s -> 2.8 s in PostgreSQL).
    Timestamps: see ``_ISO_UTC`` (to_char took 0.6-2 s of the 5 s of a serial run).
    """
    yield from _copy_csv(RESPONSES_QUERY, study=study, block_bytes=block_bytes)


# Screening outcome and the window seen there; a session screened out has no responses, so it
# appears here only.
PARTICIPANTS_QUERY = f"""
SELECT p.pseudonym AS participant, p.source,
       CASE WHEN p.excluded THEN 'excluded' ELSE p.status END AS participant_status,
       {csv_safe("p.exclusion_reason")} AS exclusion_reason,
       p.screening, p.screening_viewport_width, p.screening_viewport_height,
       p.comprehension_failures, p.block_order,
       (SELECT count(*) FROM studyapp_trial t JOIN studyapp_response r ON r.trial_id = t.id
        WHERE t.participant_id = p.id) AS responses,
       p.refused_responses,
       {_ISO_UTC.format("p.started_at")} AS started_at,
       {_ISO_UTC.format("p.completed_at")} AS completed_at
FROM studyapp_participant p
WHERE p.study_id = {{study_id}}
ORDER BY p.started_at, p.id
"""


def participants_csv_chunks(*, study: Study, block_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """Yield the participants CSV (header first), one row per session."""
    yield from _copy_csv(PARTICIPANTS_QUERY, study=study, block_bytes=block_bytes)


def _copy_csv(query_text: str, *, study: Study, block_bytes: int) -> Iterator[bytes]:
    query = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(
        sql.SQL(query_text).format(study_id=sql.Literal(study.pk))
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        block = bytearray()
        with connection.connection.cursor() as cursor, cursor.copy(query) as copy:
            for row in copy:
                block += row
                if len(block) >= block_bytes:
                    yield bytes(block)
                    block.clear()
        if block:
            yield bytes(block)
