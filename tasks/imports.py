"""The Celery task that runs a staged stimulus import (``studyapp.services.stimulus_imports``)."""

import logging

from celery import shared_task

from studyapp.services.dispatch import IMPORT_TASK
from studyapp.services.stimulus_imports import (
    stimulus_import_fail,
    stimulus_import_run,
    stimulus_import_take,
)
from tasks.jobs import RETRY, TRANSIENT, while_marked

logger = logging.getLogger(__name__)


@shared_task(name=IMPORT_TASK, **RETRY)
@while_marked(IMPORT_TASK)
def import_stimuli(import_id: int, dispatch: int = 0) -> None:
    row = stimulus_import_take(import_id=import_id, dispatch=dispatch)
    if row is None:
        return
    try:
        stimulus_import_run(row)
    except TRANSIENT:
        raise
    except Exception as error:  # not a file's problem (a full disk, a bug): fail it, clearly
        logger.exception("Stimulus import %s failed", import_id)
        stimulus_import_fail(import_id=import_id, error=error)
