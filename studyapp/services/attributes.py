"""What is known about participants besides their answers: the questionnaire and attached
recruitment-site exports (Prolific's demographics), stored as ``ParticipantAttribute`` rows."""

import csv
import io
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from studyapp.models import AuditEvent, Participant, ParticipantAttribute, Study
from studyapp.pseudonyms import pseudonymise
from studyapp.services.studies import audit_record

# Prolific's export names the participant "Participant id" (older exports: "participant_id").
PROLIFIC_ID_COLUMNS = ("participant id", "participant_id")
# Columns that identify a person or a submission: used for matching or dropped, never stored.
PROLIFIC_DROPPED = (*PROLIFIC_ID_COLUMNS, "submission id", "submission_id")
MAX_KEY = ParticipantAttribute._meta.get_field("key").max_length
MAX_VALUE = 1000
MAX_COLUMNS = 100


class AttachRejected(ValueError):
    """The upload cannot be attached; the message says why (nothing was written)."""


@dataclass(frozen=True)
class AttachResult:
    rows: int
    matched: int
    unmatched: int
    columns: list[str]


def questionnaire_submit(*, participant: Participant, answers: dict[str, str]) -> Participant:
    """Store a participant's questionnaire answers once; later submissions change nothing."""
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.questionnaire_at is not None:
            return locked
        for key, value in answers.items():
            ParticipantAttribute.objects.update_or_create(
                participant=locked,
                key=key,
                defaults={"value": value, "source": ParticipantAttribute.Source.QUESTIONNAIRE},
            )
        locked.questionnaire_at = timezone.now()
        locked.save(update_fields=["questionnaire_at"])
        return locked


def prolific_export_attach(*, study: Study, upload, max_bytes: int, user) -> AttachResult:
    """Attach the columns of Prolific's demographic export to this study's participants.

    Rows are matched by the keyed hash of Prolific's participant id (the raw id is never
    stored); unmatched rows are counted. The size is checked before the file is read, the
    whole file is parsed before anything is written, and a re-attached column replaces the
    earlier value. Raises ``AttachRejected`` for an oversized or malformed file.
    """
    if upload.size > max_bytes:
        raise AttachRejected(
            f"The file has {upload.size:,} bytes; the limit is {max_bytes:,}. "
            "Export only the demographic columns, or raise FACESIM_ATTRIBUTES_MAX_BYTES."
        )
    id_column, header, rows = _read_csv(upload.read())
    columns = [c for c in header if c.strip().lower() not in PROLIFIC_DROPPED]
    by_pseudonym = dict(Participant.objects.filter(study=study).values_list("pseudonym", "pk"))
    matched = {}
    for row in rows:
        pk = by_pseudonym.get(pseudonymise(row[id_column].strip()))
        if pk is not None:
            matched[pk] = {c.strip(): row[c].strip() for c in columns if row[c].strip()}
    with transaction.atomic():
        for pk, values in matched.items():
            for key, value in values.items():
                ParticipantAttribute.objects.update_or_create(
                    participant_id=pk,
                    key=key,
                    defaults={"value": value, "source": ParticipantAttribute.Source.PROLIFIC},
                )
        result = AttachResult(
            rows=len(rows),
            matched=len(matched),
            unmatched=len(rows) - len(matched),
            columns=[c.strip() for c in columns],
        )
        audit_record(
            action=AuditEvent.Action.ATTACH,
            user=user,
            study=study,
            rows=result.rows,
            matched=result.matched,
            columns=result.columns,
        )
    return result


def _read_csv(data: bytes) -> tuple[str, list[str], list[dict]]:
    """The id column, header and rows of an export (``AttachRejected`` says what is wrong)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise AttachRejected(
            f"The file is not UTF-8 text (byte {error.start}); upload the CSV as Prolific "
            "exports it."
        ) from error
    if "\x00" in text:  # PostgreSQL text cannot hold it
        raise AttachRejected(f"The file has a NUL character (at {text.index(chr(0))}).")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        table = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise AttachRejected(
            f"The file is not a readable CSV (line {reader.line_num}): {error}."
        ) from error
    if not table:
        raise AttachRejected("The file is empty.")
    header = table[0]
    ids = [c for c in header if c.strip().lower() in PROLIFIC_ID_COLUMNS]
    if len(ids) != 1:
        raise AttachRejected(
            "The header must have exactly one participant id column ('Participant id', as in "
            f"Prolific's export); got the columns {header[:20]}."
        )
    names = [c.strip() for c in header]
    if len(set(names)) != len(names) or "" in names:
        raise AttachRejected(f"Every column needs its own non-empty name; got {header[:20]}.")
    if len(header) > MAX_COLUMNS or any(len(n) > MAX_KEY for n in names):
        raise AttachRejected(
            f"At most {MAX_COLUMNS} columns with names of at most {MAX_KEY} characters."
        )
    rows, seen = [], set()
    for number, cells in enumerate(table[1:], start=2):
        if len(cells) != len(header):
            raise AttachRejected(
                f"Row {number} has {len(cells)} cells; the header has {len(header)}."
            )
        row = dict(zip(header, cells, strict=True))
        pid = row[ids[0]].strip()
        if not pid:
            raise AttachRejected(f"Row {number} has no participant id.")
        if pid in seen:
            raise AttachRejected(f"Row {number} repeats a participant id of an earlier row.")
        if any(len(v) > MAX_VALUE for v in cells):
            raise AttachRejected(f"Row {number} has a cell longer than {MAX_VALUE} characters.")
        seen.add(pid)
        rows.append(row)
    return ids[0], header, rows
