"""The Celery application: ``celery -A config worker -Q gpu,cpu`` (see README, "Workers")."""

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("facesim")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tasks"], related_name="jobs")
app.autodiscover_tasks(["tasks"], related_name="plan_pool")
app.autodiscover_tasks(["tasks"], related_name="imports")


@worker_ready.connect
def _start_requeue_sweep(**kwargs) -> None:
    """Every worker sends lost job messages again (see ``studyapp.services.dispatch``)."""
    from tasks.requeue import requeue_timer_start

    requeue_timer_start()


@worker_shutdown.connect
def _stop_requeue_sweep(**kwargs) -> None:
    from tasks.requeue import requeue_timer_stop

    requeue_timer_stop()
