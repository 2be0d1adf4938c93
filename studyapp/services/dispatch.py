"""Durable enqueueing: every job, batch and stimulus import message is recorded on its row and
sent again when lost.

``enqueue`` numbers the message on the row (``dispatch``) and sends it after the transaction
commits, with a short broker timeout; a failed send leaves the row "requested". The sweep
(``jobs_requeue``, run by every worker every ``FACESIM_REQUEUE_INTERVAL_S`` seconds and by
``manage.py requeue_jobs``) sends again what is owed a message and has none:

- "requested" for longer than ``FACESIM_REQUEUE_AFTER_S``: the send failed;
- "sent" for that long while the broker's queue holds fewer messages than are waiting in it: the
  broker lost messages (e.g. a restart without persistence);
- "taken" that long and no live worker runs it (``run_marks``: a worker holds a PostgreSQL
  advisory lock while it runs a message): the worker died, or the broker lost the retry it
  sent, and the broker did not hand the message out again.

A worker runs only the newest message of a row (``message_take``), so a copy that turns up after
a re-send is skipped: a batch never runs twice at once from two messages, and its results are
stored once (artifacts are unique by their inputs).
"""

import logging
from collections import defaultdict
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from kombu.exceptions import KombuError

from studyapp.models import Job, JobBatch, StimulusImport

logger = logging.getLogger(__name__)

PLAN_TASK = "facesim.plan_job"
BATCH_TASK = "facesim.run_batch"
FINALIZE_TASK = "facesim.finalize_job"
IMPORT_TASK = "facesim.import_stimuli"
# An import's face detection runs a network, like a batch: on the GPU when the worker has one.
QUEUE_FOR_TASK = {PLAN_TASK: "cpu", BATCH_TASK: "gpu", FINALIZE_TASK: "cpu", IMPORT_TASK: "gpu"}
# First key of the two-key advisory lock that marks a message as running ("RUN" + 1..4; the
# second key is the row's id): see ``run_marks``.
MARK_KEY_FOR_TASK = {
    PLAN_TASK: 0x52554E01,
    BATCH_TASK: 0x52554E02,
    FINALIZE_TASK: 0x52554E03,
    IMPORT_TASK: 0x52554E04,
}
TASK_FOR_MARK_KEY = {key: task_name for task_name, key in MARK_KEY_FOR_TASK.items()}
State = Job.DispatchState
SWEEP_LOCK = 0x5EED_10B5  # a PostgreSQL advisory lock: one sweep at a time across workers


Row = Job | JobBatch | StimulusImport


def _model(task_name: str) -> type[Row]:
    return {BATCH_TASK: JobBatch, IMPORT_TASK: StimulusImport}.get(task_name, Job)


def enqueue(task_name: str, object_id: int) -> None:
    """Record a new message for the row; send it once the current transaction commits."""
    model = _model(task_name)
    rows = model.objects.filter(pk=object_id)
    rows.update(
        dispatch=F("dispatch") + 1, dispatch_state=State.REQUESTED, dispatch_at=timezone.now()
    )
    dispatch = rows.values_list("dispatch", flat=True).get()
    transaction.on_commit(lambda: _send(task_name, object_id, dispatch))


def _send(task_name: str, object_id: int, dispatch: int) -> bool:
    try:
        current_app.send_task(
            task_name,
            args=[object_id, dispatch],
            queue=QUEUE_FOR_TASK[task_name],
            retry_policy=settings.FACESIM_BROKER_SEND_RETRY,
        )
    except (KombuError, OSError) as error:
        logger.warning(
            "Could not send %s(%s) to the broker (%s); the requeue sweep sends it later.",
            task_name,
            object_id,
            error,
        )
        return False
    _model(task_name).objects.filter(
        pk=object_id, dispatch=dispatch, dispatch_state=State.REQUESTED
    ).update(dispatch_state=State.SENT, dispatch_at=timezone.now())
    return True


def message_take(*, model: type[Row], pk: int, dispatch: int) -> bool:
    """Mark the row's message as taken by this worker; False for an old copy (skip it).

    Call inside the transaction that locks the row.
    """
    updated = model.objects.filter(pk=pk, dispatch=dispatch).update(
        dispatch_state=State.TAKEN, dispatch_at=timezone.now()
    )
    return bool(updated)


def broker_queue_sizes() -> dict[str, int]:
    """Messages waiting in each of our queues (a queue the broker does not know holds none)."""
    sizes = {}
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        for queue in sorted(set(QUEUE_FOR_TASK.values())):
            channel = conn.channel()  # a failed passive declare closes its channel (AMQP)
            try:
                sizes[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except conn.channel_errors:
                sizes[queue] = 0
            finally:
                channel.close()
    return sizes


def rows_marked() -> set[tuple[str, int]]:
    """(task, row id) of every message that a live worker runs now, in this database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND objsubid = 2 AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = ANY(%s)",
            [list(TASK_FOR_MARK_KEY)],
        )
        return {(TASK_FOR_MARK_KEY[key], pk) for key, pk in cursor.fetchall()}


def _owed_messages() -> list[tuple[str, Row]]:
    """(task, row) for every row a worker should be running or about to run."""
    unmet_prerequisite = Job.objects.filter(dependents=OuterRef("pk")).exclude(
        status=Job.Status.SUCCEEDED
    )
    open_batch = JobBatch.objects.filter(job=OuterRef("pk")).exclude(status=JobBatch.Status.DONE)
    plans = Job.objects.filter(status=Job.Status.QUEUED).exclude(Exists(unmet_prerequisite))
    finals = Job.objects.filter(status=Job.Status.RUNNING).exclude(Exists(open_batch))
    batches = JobBatch.objects.filter(
        job__status=Job.Status.RUNNING,
        status__in=[JobBatch.Status.PENDING, JobBatch.Status.RUNNING],
    )
    imports = StimulusImport.objects.exclude(status__in=StimulusImport.FINISHED).defer(
        "metadata_csv"
    )
    return [
        *((PLAN_TASK, job) for job in plans),
        *((FINALIZE_TASK, job) for job in finals),
        *((BATCH_TASK, batch) for batch in batches),
        *((IMPORT_TASK, row) for row in imports),
    ]


def _lost(
    owed: list[tuple[str, Row]], sizes: dict[str, int], marked: set[tuple[str, int]]
) -> list[tuple]:
    now = timezone.now()
    after = timedelta(seconds=settings.FACESIM_REQUEUE_AFTER_S)
    in_queue = defaultdict(int)
    for task_name, row in owed:
        if row.dispatch_state == State.SENT:
            in_queue[QUEUE_FOR_TASK[task_name]] += 1
    short = {queue for queue, count in in_queue.items() if sizes.get(queue, 0) < count}

    def lost(task_name: str, row) -> bool:
        age = now - row.dispatch_at if row.dispatch_at else None
        state = row.dispatch_state
        return (
            state == State.NONE
            or (state == State.REQUESTED and age > after)
            or (state == State.SENT and age > after and QUEUE_FOR_TASK[task_name] in short)
            or (state == State.TAKEN and age > after and (task_name, row.pk) not in marked)
        )

    return [(task_name, row) for task_name, row in owed if lost(task_name, row)]


def jobs_requeue(*, sizes: dict[str, int] | None = None) -> list[tuple[str, int]]:
    """Send again every message that is owed and lost; returns (task, id) of those re-sent.

    ``sizes``: messages waiting per queue (default: asked from the broker). Skipped (nothing
    re-sent) while another sweep runs.
    """
    sizes = broker_queue_sizes() if sizes is None else sizes
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return []
        marked = rows_marked()  # before the rows: a run that ends in between is not owed then
        lost = _lost(_owed_messages(), sizes, marked)
        resent = [(task_name, row.pk) for task_name, row in lost]
        for task_name, pk in resent:
            enqueue(task_name, pk)
    if resent:
        logger.warning("Requeue sweep: sent %d lost messages again: %s", len(resent), resent)
    return resent
