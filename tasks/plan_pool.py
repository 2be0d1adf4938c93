"""The Celery task that computes participants' plans ahead (``studyapp.services.plan_pool``)."""

from celery import shared_task

from studyapp.services.plan_pool import FILL_TASK, plan_pool_fill
from tasks.jobs import TRANSIENT


@shared_task(
    name=FILL_TASK,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    max_retries=3,
    ignore_result=True,
)
def fill_plan_pool(study_id: int) -> int:
    """Top up one study's pool; safe to run twice at once (fills take turns per chunk)."""
    return plan_pool_fill(study_id=study_id)
