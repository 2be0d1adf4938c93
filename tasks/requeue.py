"""The requeue sweep inside each worker: a thread that runs ``jobs_requeue`` (and asks for the
plan-pool fills that are due, ``plan_pools_top_up``) when the worker is ready and every
``FACESIM_REQUEUE_INTERVAL_S`` seconds after (no Celery beat needed). Once an hour it also
deletes the temporary files of saves that a killed process left (``partial_files_remove``)."""

import logging
import math
import threading
import time

from django.conf import settings
from django.db import connection
from kombu.exceptions import KombuError

from studyapp.services.dispatch import jobs_requeue
from studyapp.services.plan_pool import plan_pools_top_up
from studyapp.storage import partial_files_remove

logger = logging.getLogger(__name__)
FILE_SWEEP_INTERVAL_S = 3600
PARTIAL_FILE_MAX_AGE_S = 6 * 3600  # unchanged this long: its save ended without renaming it


class RequeueTimer(threading.Thread):
    def __init__(self, interval_s: float):
        super().__init__(name="facesim-requeue", daemon=True)
        self.interval_s = interval_s
        self.stopped = threading.Event()
        self.files_swept_at = -math.inf

    def run(self) -> None:
        while not self.stopped.is_set():
            self.partial_files_sweep()
            try:
                jobs_requeue()
                plan_pools_top_up()
            except (KombuError, OSError) as error:
                logger.warning(
                    "Requeue sweep: the broker is unreachable (%s); trying later.", error
                )
            except Exception:
                logger.exception("Requeue sweep failed; trying later.")
            finally:
                connection.close()  # this thread's own connection; nothing held between sweeps
            self.stopped.wait(self.interval_s)

    def partial_files_sweep(self) -> None:
        if time.monotonic() - self.files_swept_at < FILE_SWEEP_INTERVAL_S:
            return
        self.files_swept_at = time.monotonic()
        try:
            removed = partial_files_remove(PARTIAL_FILE_MAX_AGE_S)
        except OSError:
            logger.exception("Deleting unfinished saves' temporary files failed; trying later.")
            return
        for path in removed:
            logger.warning("Deleted the temporary file of a save that never finished: %s", path)


_timer: RequeueTimer | None = None


def requeue_timer_start() -> None:
    global _timer
    if settings.FACESIM_REQUEUE_INTERVAL_S > 0 and _timer is None:
        _timer = RequeueTimer(settings.FACESIM_REQUEUE_INTERVAL_S)
        _timer.start()


def requeue_timer_stop() -> None:
    if _timer is not None:
        _timer.stopped.set()
